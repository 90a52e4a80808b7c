//! The installed binary is self-contained: `cargo install --path harness --root DIR` gives a
//! `mountcheck` that runs every backend from any directory, with no source tree and no cargo at
//! run time (its workers are itself, re-executed; see harness/src/worker.rs).
//!
//! The install reuses this workspace's target directory and the dev profile (`--debug`), whose
//! exploring crates are optimised (see the workspace Cargo.toml), so it costs seconds after the
//! test build. The run happens in an empty temporary directory with `PATH` stripped of cargo.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn an_installed_binary_runs_every_backend_from_another_directory() {
    let root = tempfile::tempdir().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"));
    let st = Command::new(&cargo)
        .current_dir(workspace())
        .args([
            "install",
            "--quiet",
            "--offline",
            "--locked",
            "--debug",
            "--path",
            "harness",
            "--root",
        ])
        .arg(root.path())
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo install");
    assert!(st.success(), "cargo install failed: {st}");
    let exe = root.path().join("bin").join("mountcheck");
    assert!(exe.exists());

    let elsewhere = tempfile::tempdir().unwrap();
    let scenarios = workspace().join("scenarios");
    let out = Command::new(&exe)
        .current_dir(elsewhere.path())
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CARGO")
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "run",
            "get-super-no-pin",
            "--backend",
            "loom,pct,dfs,random,stress",
        ])
        .arg("--scenarios-dir")
        .arg(&scenarios)
        .args([
            "--iterations",
            "3000",
            "--time-limit",
            "30",
            "--allow-incomplete",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(
        !stderr.contains("cargo"),
        "the installed binary tried to run cargo: {stderr}"
    );
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(elsewhere.path().join("reports").join("index.json"))
            .expect("reports/index.json in the directory it ran from"),
    )
    .unwrap();
    let rows = index
        .as_array()
        .or_else(|| index["rows"].as_array())
        .expect("index rows");
    assert_eq!(rows.len(), 5, "one exploration per backend: {index}");
    for row in rows {
        let text = row.to_string();
        assert!(
            !text.contains("crash") && !text.contains("checker-error"),
            "{text}"
        );
    }
    // The systematic and PCT backends catch the planted bug.
    for b in ["loom", "pct"] {
        let row = rows
            .iter()
            .find(|r| r.to_string().contains(&format!("\"{b}\"")))
            .unwrap_or_else(|| panic!("no {b} row"));
        assert!(row.to_string().contains("use-after-free"), "{row}");
    }
}
