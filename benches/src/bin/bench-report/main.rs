//! `bench-report`: runs every measurement of issue 5 and writes `reports/bench.md`.
//!
//! What it measures: (1) the hot lookup paths, by running the criterion bench `lookups`
//! (`cargo bench -p mountcheck-benches --bench lookups`: sample size 20, 2 s of measurement and
//! 0.5 s of warm-up per benchmark, 10 samples / 1 s / 0.3 s for the `model_*` groups) and reading
//! each benchmark's `new/estimates.json` (median and median absolute deviation); (2) the checker's
//! throughput: each of three bundled scenarios explored by the CLI's worker binaries (child
//! process, JSON request, as `mountcheck run` does) and by the same checkers directly in process
//! (`checker-throughput`, built for shuttle and for loom), and a hand-written minimal
//! get_super/umount model under the same checkers; runner and direct rounds alternate, five
//! rounds, the best rate of each reported.
//!
//! The measurements live in `criterion` (the lookup benchmarks read back) and `throughput` (the
//! checker's rates); this file parses the options ([`Options`]), runs the measurements
//! ([`measure`]) and writes what `report` renders from them.
//!
//! Run from the workspace: `cargo run --release -p mountcheck-benches --bin bench-report`
//! (`--skip-criterion` reuses the last criterion run, `--skip-throughput` leaves the checker
//! measurements out, `--skip-loom-bounds` the loom bound table; `--baseline DIR`, with the
//! directory `scripts/bench-baseline.sh COMMIT` prints, adds the side-by-side exploration rate of
//! that commit's `mountcheck` and this one, see [`mountcheck_benches::cli_runs`]). Invariant: the
//! report is written whole at the end (a failed measurement stops the run before anything is
//! written), and every figure in it comes from this run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::Parser;
use criterion::{read_criterion, read_writers, Crit, Writers};
use mountcheck_benches::build;
use mountcheck_benches::cli_runs::{self, SpeedRow, Tool};
use throughput::{build_mountcheck, throughput, Throughput};

mod criterion;
mod report;
mod throughput;

type Res<T> = Result<T, String>;

const PCT_DEPTH: usize = 3;
const PCT_ITERATIONS: usize = 2_000;
const RANDOM_ITERATIONS: usize = 2_000;
const DFS_ITERATIONS: usize = 20_000;
const LOOM_PREEMPTION_BOUND: usize = 2;
const LOOM_MAX_BRANCHES: usize = 20_000;
const REPEATS: usize = 5;
const SEED: u64 = 1;
const SCENARIOS: [&str; 3] = [
    "get-super-vs-umount",
    "open-vs-lazy-umount",
    "clone-vs-mount",
];
const STRATEGIES: [&str; 4] = ["loom", "pct", "random", "dfs"];

fn root() -> PathBuf {
    build::workspace_root()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run_status(cmd: &mut Command, what: &str) -> Res<()> {
    let st = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({st})"))
    }
}

fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" / "))
        .unwrap_or_else(|_| "?".into())
}

/// The loom preemption bounds the bound table tries, in order (it stops at the first one some
/// scenario cannot finish).
const LOOM_BOUNDS: [usize; 5] = [0, 1, 2, 3, 4];

/// The options of `bench-report`, parsed once (an unknown one is an error, exit status 2).
#[derive(Parser, Debug)]
#[command(
    name = "bench-report",
    about = "Run every benchmark and write reports/bench.md"
)]
struct Options {
    /// Reuse the last criterion run (target/bench/criterion-report) instead of running
    /// `cargo bench --bench lookups` again.
    #[arg(long)]
    skip_criterion: bool,
    /// Leave the checker's throughput measurements out.
    #[arg(long)]
    skip_throughput: bool,
    /// Leave the loom preemption-bound table out.
    #[arg(long)]
    skip_loom_bounds: bool,
    /// The directory `scripts/bench-baseline.sh COMMIT` printed: adds the side-by-side
    /// exploration rate of that commit's `mountcheck` and this one.
    #[arg(long, value_name = "DIR")]
    baseline: Option<PathBuf>,
}

/// Everything one run measured, which `report::render` writes out.
struct Measurements {
    /// Seconds the measurements took.
    elapsed_secs: f64,
    /// `/proc/loadavg` before and after measuring.
    load_before: String,
    load_after: String,
    /// The criterion estimates of the lookup benchmarks.
    crit: Crit,
    /// The writers' measured paces in the "+ writer" benchmarks.
    writers: Writers,
    /// The checker's throughput (`None` with `--skip-throughput`).
    tp: Option<Throughput>,
    /// The baseline's commit and the side-by-side rows (with `--baseline`).
    speed: Option<(String, Vec<SpeedRow>)>,
    /// How many scenarios, and the loom bound table (`None` with `--skip-loom-bounds`).
    bounds: Option<(usize, cli_runs::BoundTable)>,
}

/// Run every measurement the options ask for.
fn measure(o: &Options, root: &Path) -> Res<Measurements> {
    let bench_target = root.join("target").join("bench");
    let crit_dir = bench_target.join("criterion-report");
    let started = Instant::now();
    let load_before = loadavg();

    if !o.skip_criterion {
        let _ = std::fs::remove_dir_all(&crit_dir);
        std::fs::create_dir_all(&crit_dir).map_err(|e| e.to_string())?;
        eprintln!("bench-report: cargo bench --bench lookups (a few minutes)");
        run_status(
            Command::new(cargo())
                .current_dir(root)
                .args(["bench", "-p", "mountcheck-benches", "--bench", "lookups"])
                .env("CARGO_TARGET_DIR", &bench_target)
                .env("CRITERION_HOME", &crit_dir)
                .env("MOUNTCHECK_BENCH_OUT", &crit_dir)
                .env_remove("RUSTFLAGS"),
            "cargo bench",
        )?;
    }
    let crit = read_criterion(&crit_dir)?;
    let writers = read_writers(&crit_dir.join("writers.jsonl"));
    let tp = if o.skip_throughput {
        None
    } else {
        Some(throughput()?)
    };

    let new_tool = Tool {
        exe: build_mountcheck()?,
        scenarios: root.join("scenarios"),
    };
    let speed = match &o.baseline {
        Some(dir) => {
            let old = Tool {
                exe: dir.join("target").join("release").join("mountcheck"),
                scenarios: dir.join("scenarios"),
            };
            if !old.exe.exists() {
                return Err(format!(
                    "{}: no baseline binary (run scripts/bench-baseline.sh first)",
                    old.exe.display()
                ));
            }
            let rev = output(
                "git",
                &["-C", &dir.to_string_lossy(), "rev-parse", "--short", "HEAD"],
            );
            Some((
                rev,
                cli_runs::side_by_side(
                    &old,
                    &new_tool,
                    &SCENARIOS,
                    &["loom", "pct"],
                    &[],
                    REPEATS,
                )?,
            ))
        }
        None => None,
    };
    let bounds = if o.skip_loom_bounds {
        None
    } else {
        let names: Vec<String> = cli_runs::scenario_threads(&new_tool)?
            .into_iter()
            .filter(|(_, n)| (2..=3).contains(n))
            .map(|(name, _)| name)
            .collect();
        Some((
            names.len(),
            cli_runs::loom_bounds(&new_tool, &names, &LOOM_BOUNDS)?,
        ))
    };

    let load_after = loadavg();
    Ok(Measurements {
        elapsed_secs: started.elapsed().as_secs_f64(),
        load_before,
        load_after,
        crit,
        writers,
        tp,
        speed,
        bounds,
    })
}

fn main() -> ExitCode {
    let o = Options::parse();
    let root = root();
    let written = measure(&o, &root).and_then(|m| {
        let md = report::render(&m, &root);
        let out = root.join("reports").join("bench.md");
        std::fs::create_dir_all(out.parent().expect("reports dir")).map_err(|e| e.to_string())?;
        std::fs::write(&out, md).map_err(|e| e.to_string())?;
        Ok(out)
    });
    match written {
        Ok(out) => {
            eprintln!("bench-report: wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Options;
    use clap::{CommandFactory, Parser};

    #[test]
    fn the_options_parse_into_their_types_and_a_misspelt_one_is_refused() {
        Options::command().debug_assert();
        let o = Options::try_parse_from(["bench-report", "--skip-criterion", "--baseline", "/b"])
            .expect("valid options");
        assert!(o.skip_criterion && !o.skip_throughput && !o.skip_loom_bounds);
        assert_eq!(o.baseline.as_deref(), Some(std::path::Path::new("/b")));
        let e = Options::try_parse_from(["bench-report", "--skip-critrion"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        assert_eq!(e.exit_code(), 2);
        let e = Options::try_parse_from(["bench-report", "--baseline"]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "--baseline needs its directory");
    }
}
