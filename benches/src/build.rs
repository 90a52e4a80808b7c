//! Building the benchmark binaries once per checker backend (the benchmark report runs from a
//! source checkout, with cargo).
//!
//! What it does: `checker-throughput` runs the model directly under one checker, so it is built
//! once per backend, each build in its own target directory under `target/`, as cargo-fuzz does
//! for sanitizer builds: std (no flags), shuttle (`--features shuttle`), loom
//! (`RUSTFLAGS="--cfg loom"`). The `mountcheck` binary itself needs no such builds: it links the
//! three backends (see `backends/README.md`), and [`mountcheck_spec`] builds it once.
//!
//! Invariant: a build either succeeds and returns the path of an up-to-date binary, or returns a
//! [`BuildError`] naming what failed; nothing is half-built from a caller's point of view (cargo
//! replaces the binary only when the build succeeds).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The backend is not `std`, `shuttle` or `loom`.
    #[error("unknown backend build `{0}` (expected std, shuttle or loom)")]
    UnknownBackend(String),
    /// cargo could not be started.
    #[error("cannot run cargo to build {what}: {source}")]
    Spawn {
        /// The binary being built.
        what: String,
        /// The error of the spawn.
        source: std::io::Error,
    },
    /// cargo ran and failed.
    #[error("building {what} failed ({status})")]
    Failed {
        /// The binary being built.
        what: String,
        /// cargo's exit status.
        status: std::process::ExitStatus,
    },
}

/// One binary to build for one backend.
#[derive(Clone, Copy, Debug)]
pub struct BuildSpec<'a> {
    /// The cargo package.
    pub package: &'a str,
    /// The binary target.
    pub bin: &'a str,
    /// `std`, `shuttle` or `loom`.
    pub backend: &'a str,
    /// Name of the target directory under `<root>/target/`, e.g. `worker-loom`.
    pub target_dir: &'a str,
}

/// The workspace root (where `Cargo.toml`, `scenarios/` and `target/` live).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where [`build_for_backend`] puts `spec`'s binary (it may not exist yet).
pub fn binary_path(root: &Path, spec: &BuildSpec<'_>) -> PathBuf {
    root.join("target")
        .join(spec.target_dir)
        .join("release")
        .join(spec.bin)
}

/// `cargo build --release` of `spec` in workspace `root`, with the backend's feature or cfg, into
/// its own target directory; returns the binary's path. Cheap when it is up to date.
pub fn build_for_backend(root: &Path, spec: &BuildSpec<'_>) -> Result<PathBuf, BuildError> {
    let what = format!("{} for {}", spec.bin, spec.backend);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            spec.package,
            "--bin",
            spec.bin,
        ])
        .env(
            "CARGO_TARGET_DIR",
            root.join("target").join(spec.target_dir),
        );
    match spec.backend {
        "loom" => {
            cmd.env("RUSTFLAGS", "--cfg loom");
        }
        "shuttle" => {
            cmd.args(["--features", "shuttle"]).env_remove("RUSTFLAGS");
        }
        "std" => {
            cmd.env_remove("RUSTFLAGS");
        }
        other => return Err(BuildError::UnknownBackend(other.to_string())),
    }
    let status = cmd.status().map_err(|source| BuildError::Spawn {
        what: what.clone(),
        source,
    })?;
    if !status.success() {
        return Err(BuildError::Failed { what, status });
    }
    Ok(binary_path(root, spec))
}

/// The spec of the `mountcheck` binary (every backend linked in; target directory `bench-cli`),
/// whose hidden `__worker` subcommand is what `mountcheck run` runs per exploration.
pub fn mountcheck_spec() -> BuildSpec<'static> {
    BuildSpec {
        package: "mountcheck",
        bin: "mountcheck",
        backend: "std",
        target_dir: "bench-cli",
    }
}

/// The spec of `checker-throughput` for `backend` (target directory `bench-<backend>`).
pub fn throughput_spec(backend: &str) -> BuildSpec<'_> {
    BuildSpec {
        package: "mountcheck-benches",
        bin: "checker-throughput",
        backend,
        target_dir: match backend {
            "loom" => "bench-loom",
            "shuttle" => "bench-shuttle",
            _ => "bench-std",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_backend_is_refused_before_cargo_runs() {
        let spec = BuildSpec {
            backend: "tsan",
            ..throughput_spec("std")
        };
        let e = build_for_backend(Path::new("/nonexistent"), &spec).unwrap_err();
        assert!(
            matches!(e, BuildError::UnknownBackend(ref b) if b == "tsan"),
            "{e}"
        );
    }

    #[test]
    fn each_backend_has_its_own_target_directory() {
        let root = Path::new("/w");
        let dirs: Vec<PathBuf> = ["std", "shuttle", "loom"]
            .iter()
            .map(|b| binary_path(root, &throughput_spec(b)))
            .collect();
        assert_eq!(
            dirs[2],
            Path::new("/w/target/bench-loom/release/checker-throughput")
        );
        assert!(dirs[0] != dirs[1] && dirs[1] != dirs[2]);
    }
}
