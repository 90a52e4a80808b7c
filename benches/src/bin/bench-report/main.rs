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
//! checker's rates); this file runs them and writes the report.
//!
//! Run from the workspace: `cargo run --release -p mountcheck-benches --bin bench-report`
//! (`--skip-criterion` reuses the last criterion run, `--skip-throughput` leaves the checker
//! measurements out, `--skip-loom-bounds` the loom bound table; `--baseline DIR`, with the
//! directory `scripts/bench-baseline.sh COMMIT` prints, adds the side-by-side exploration rate of
//! that commit's `mountcheck` and this one, see [`mountcheck_benches::cli_runs`]). Invariant: the
//! report is written whole at the end (a failed measurement stops the run before anything is
//! written), and every figure in it comes from this run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use criterion::{
    cell, lookup_table, model_table, pct, ratio, read_criterion, read_writers, x, FX_ANCHOR,
};
use mountcheck_benches::build;
use mountcheck_benches::cli_runs::{self, SpeedRow, Tool};
use mountcheck_model::LockDesign;
use throughput::{build_mountcheck, throughput};

mod criterion;
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

// ---------------------------------------------------------------- report

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" / "))
        .unwrap_or_else(|_| "?".into())
}

/// The loom preemption bounds the bound table tries, in order (it stops at the first one some
/// scenario cannot finish).
const LOOM_BOUNDS: [usize; 5] = [0, 1, 2, 3, 4];

fn speed_section(md: &mut String, rev: &str, rows: &[SpeedRow]) {
    let _ = writeln!(md, "\n## Exploration rate against the baseline\n");
    let _ = writeln!(
        md,
        "`mountcheck run SCENARIO --backend B` with each tool's default bounds (loom: preemption \
         bound 2; PCT: depth 3, 2 000 executions, seed 1), side by side: the baseline is the \
         `mountcheck` of commit {rev} (built by `scripts/bench-baseline.sh`, with its own \
         workers and scenario files), this tool is the current checkout. Each rate is executions \
         over the seconds the worker spent exploring (from each run's `index.json`), the best of \
         {REPEATS} rounds that alternate the two tools. The current model has more scheduling \
         points per execution (every access the oracle checks is one, issue 12), so loom \
         explores more executions for the same scenario; the rate is per execution.\n"
    );
    let _ = writeln!(md, "| scenario | backend | baseline executions | baseline exec/s | executions now | exec/s now | speed-up |");
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {} | {:.0} | {:.2}x |",
            r.scenario,
            r.backend,
            r.old.0,
            r.old.1,
            r.new.0,
            r.new.1,
            r.speedup()
        );
    }
}

fn loom_bounds_section(md: &mut String, n: usize, table: &cli_runs::BoundTable) {
    let _ = writeln!(md, "\n## Loom: the preemption bound that finishes\n");
    let _ = writeln!(
        md,
        "Every bundled scenario with 2 or 3 threads ({n}), on the fixed protocol \
         (`--variant fixed`), under loom at each preemption bound with the default time limit \
         (20 s per exploration); the table stops at the first bound some scenario does not \
         finish. Largest bound at which all of them exhaust their space: **{}**.\n",
        cli_runs::largest_exhausted(table).map_or("none".to_string(), |b| b.to_string())
    );
    let _ = writeln!(
        md,
        "| bound | exhausted | slowest scenario | its executions | its seconds | not finished |"
    );
    let _ = writeln!(md, "|---:|---:|---|---:|---:|---|");
    for (b, rows) in table {
        let done = rows
            .iter()
            .filter(|r| r.stop.as_deref() == Some("exhausted"))
            .count();
        let slowest = rows.iter().max_by(|a, b| a.secs.total_cmp(&b.secs));
        let not: Vec<String> = rows
            .iter()
            .filter(|r| r.stop.as_deref() != Some("exhausted"))
            .map(|r| format!("{} ({})", r.scenario, r.stop.as_deref().unwrap_or("?")))
            .collect();
        let _ = writeln!(
            md,
            "| {b} | {done} of {} | {} | {} | {:.2} | {} |",
            rows.len(),
            slowest.map_or("–", |r| r.scenario.as_str()),
            slowest.map_or(0, |r| r.executions),
            slowest.map_or(0.0, |r| r.secs),
            if not.is_empty() {
                "–".to_string()
            } else {
                not.join(", ")
            }
        );
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("bench-report: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let skip_criterion = args.iter().any(|a| a == "--skip-criterion");
    let skip_throughput = args.iter().any(|a| a == "--skip-throughput");
    let skip_loom_bounds = args.iter().any(|a| a == "--skip-loom-bounds");
    let baseline = args
        .iter()
        .position(|a| a == "--baseline")
        .map(|i| {
            args.get(i + 1)
                .map(PathBuf::from)
                .ok_or("--baseline needs the directory scripts/bench-baseline.sh printed")
        })
        .transpose()?;
    let root = root();
    let bench_target = root.join("target").join("bench");
    let crit_dir = bench_target.join("criterion-report");
    let started = Instant::now();
    let load_before = loadavg();

    if !skip_criterion {
        let _ = std::fs::remove_dir_all(&crit_dir);
        std::fs::create_dir_all(&crit_dir).map_err(|e| e.to_string())?;
        eprintln!("bench-report: cargo bench --bench lookups (a few minutes)");
        run_status(
            Command::new(cargo())
                .current_dir(&root)
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
    let tp = if skip_throughput {
        None
    } else {
        Some(throughput()?)
    };

    let new_tool = Tool {
        exe: build_mountcheck()?,
        scenarios: root.join("scenarios"),
    };
    let speed = match &baseline {
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
    let bounds = if skip_loom_bounds {
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
    let mut md = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        md,
        "# Benchmarks: hot lookup paths and checker throughput\n"
    );
    let _ = writeln!(
        md,
        "Written by `cargo run --release -p mountcheck-benches --bin bench-report`, which runs every \
         measurement below itself (about {:.0} min on this machine).\n",
        (started.elapsed().as_secs_f64() / 60.0).ceil()
    );
    let _ = writeln!(
        md,
        "- Date: {}",
        output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    let _ = writeln!(
        md,
        "- Machine: {nproc} CPUs (`nproc`), {cpu} (`/proc/cpuinfo`), shared with other work while \
         measuring: load average {load_before} at the start, {load_after} at the end \
         (`/proc/loadavg`, 1/5/15 min)"
    );
    let _ = writeln!(
        md,
        "- Build: {}, commit {}{}",
        output("rustc", &["--version"]),
        output(
            "git",
            &[
                "-C",
                &root.to_string_lossy(),
                "rev-parse",
                "--short",
                "HEAD"
            ]
        ),
        if output(
            "git",
            &["-C", &root.to_string_lossy(), "status", "--porcelain"]
        )
        .is_empty()
        {
            ""
        } else {
            " with uncommitted changes"
        }
    );
    let _ = writeln!(
        md,
        "- criterion 0.5: sample size 20, 2 s measurement, 0.5 s warm-up per benchmark (the `model_*` \
         groups: 10 samples, 1 s, 0.3 s). Each figure is criterion's median time per operation and, \
         after ±, the median absolute deviation as a share of it.\n"
    );

    let _ = writeln!(md, "## Hot lookup paths\n");
    let _ = writeln!(
        md,
        "Each operation runs the design's read side with no oracle bookkeeping \
         (`TreeLock::lookup_quiet`: the first mount on the key, its `Arc` cloned, no `mnt_count` \
         pin; `Kernel::find_super_quiet` / `unpin_super_quiet`: search, `s_count` pin and put) on a \
         kernel built through the model's API (`mountcheck_benches::{{mount_farm, mount_chain, \
         super_farm}}`), and the anchor looks the same keys up, in the same order, in a plain \
         unsynchronized `HashMap` with std's default hasher (a clone of the kernel's hash; for \
         `get_super` a `HashMap` by device). The read-mostly design's tables hash with FxHash; the \
         row \"HashMap with FxHash\" is the same anchor with that hasher, to show how much of a \
         difference is the hash function's. \"+ writer\" runs a \
         second thread on the same kernel doing mount/umount in a loop through the model's API \
         (lookup and walk: `attach_mnt`/`detach_mnt` of a spare mount on `/w` under the tree lock, \
         the pins put after it; get_super: `get_sb` of a fresh device then `deactivate_super`, \
         which lists, kills and unlists a super_block); \"read throughput kept\" is the time \
         without the writer over the time with it.\n"
    );
    let _ = writeln!(
        md,
        "### `lookup_mnt`: the mount hash probe of (parent mount, mountpoint)\n"
    );
    lookup_table(
        &mut md,
        &crit,
        &writers,
        "lookup_mnt",
        "mounts",
        &[10, 1_000, 100_000],
        &[FX_ANCHOR],
    );
    let _ = writeln!(
        md,
        "\n### Path walk: mount crossings (`follow_down` at each, one read section per crossing)\n"
    );
    lookup_table(
        &mut md,
        &crit,
        &writers,
        "walk",
        "crossings",
        &[1, 4, 16],
        &[FX_ANCHOR],
    );
    let _ = writeln!(
        md,
        "\n### `get_super(dev)`: search of `super_blocks` and the `s_count` pin (and its put)\n"
    );
    lookup_table(
        &mut md,
        &crit,
        &writers,
        "get_super",
        "super_blocks",
        &[10, 1_000, 10_000],
        &[
            FX_ANCHOR,
            (
                "vec-scan",
                "plain `Vec` scan (the list's own algorithm, unsynchronized)",
            ),
        ],
    );
    let _ = writeln!(md, "\n### The same operations through the model's entry points (oracle recording every step)\n");
    let _ = writeln!(md, "`Kernel::lookup_mnt` + `mntput`, `Kernel::path_walk` + `path_release` of `/c/…/c`, `Kernel::get_super` + `drop_super`; no writer.\n");
    let _ = writeln!(md, "`lookup_mnt`:\n");
    model_table(
        &mut md,
        &crit,
        "model_lookup_mnt",
        "mounts",
        &[10, 1_000, 100_000],
    );
    let _ = writeln!(md, "\n`path_walk`:\n");
    model_table(&mut md, &crit, "model_walk", "crossings", &[1, 4, 16]);
    let _ = writeln!(md, "\n`get_super`:\n");
    model_table(
        &mut md,
        &crit,
        "model_get_super",
        "super_blocks",
        &[10, 1_000, 10_000],
    );

    if let Some(tp) = &tp {
        let _ = writeln!(md, "\n## The checker's throughput\n");
        let _ = writeln!(
            md,
            "Executions per second of one exploration of the fixed protocol (programs from {}): \
             loom with preemption bound {LOOM_PREEMPTION_BOUND} (the whole bounded space), PCT depth \
             {PCT_DEPTH} for {PCT_ITERATIONS} executions, random for {RANDOM_ITERATIONS}, DFS bounded at \
             {DFS_ITERATIONS}. **Runner**: the worker binary `mountcheck run` uses, in a child process \
             with a JSON request, timed from spawn to exit (in brackets: the rate over the exploration \
             time the worker reports, without process start and JSON). **Direct**: the same program \
             explored in process by a shuttle `Runner` with the same scheduler and seed (what \
             `shuttle::check_pct` / `check_random` / `check_dfs` run) or \
             `loom::model::Builder::check` (in brackets for loom: with the worker's `max_threads = 5` \
             instead of loom's default 4). **Toy**: a hand-written 30-line get_super/umount model \
             (`mountcheck_benches::toy`) under the same checker and bounds. Runner and direct runs alternate, \
             {REPEATS} rounds; each rate is the best of its {REPEATS} runs.\n",
            tp.source
        );
        let _ = writeln!(md, "| scenario | checker | executions | runner exec/s | direct exec/s | runner overhead (direct / runner) | toy exec/s | model cost (toy / direct) |");
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|");
        for sc in SCENARIOS {
            for s in STRATEGIES {
                let r = tp.runner.get(&(sc.to_string(), s.to_string()));
                let d = tp.direct.get(&(sc.to_string(), s.to_string()));
                let t = tp.direct.get(&("toy".to_string(), s.to_string()));
                let mt5 = tp
                    .direct
                    .get(&(sc.to_string(), "loom-mt5".to_string()))
                    .filter(|_| s == "loom");
                let _ = writeln!(
                    md,
                    "| {sc} | {s} | {} | {} | {} | {} | {} | {} |",
                    r.map_or("–".into(), |r| r.0.to_string()),
                    r.map_or("–".into(), |r| format!("{:.0} [{:.0}]", r.1, r.2)),
                    match (d, mt5) {
                        (Some(d), Some(m)) => format!("{:.0} ({:.0} with max_threads 5)", d.1, m.1),
                        (Some(d), None) => format!("{:.0}", d.1),
                        _ => "–".into(),
                    },
                    x(r.zip(d).map(|(r, d)| d.1 / r.1)),
                    t.map_or("–".into(), |t| format!("{:.0} ({} ex.)", t.1, t.0)),
                    x(t.zip(d).map(|(t, d)| t.1 / d.1)),
                );
            }
        }
    }

    if let Some((rev, rows)) = &speed {
        speed_section(&mut md, rev, rows);
    }
    if let Some((n, table)) = &bounds {
        loom_bounds_section(&mut md, *n, table);
    }

    // ---------------------------------------------------------------- targets
    let _ = writeln!(md, "\n## Targets\n");
    let mut lines = Vec::new();
    if let Some((rev, rows)) = &speed {
        let worst = rows
            .iter()
            .map(SpeedRow::speedup)
            .fold(f64::INFINITY, f64::min);
        lines.push(format!(
            "- Executions per second at least 2x the baseline ({rev}) on the three scenarios, loom and PCT: **{}** (worst {worst:.2}x).",
            if worst >= 2.0 { "met" } else { "not met" }
        ));
    }
    if let Some((n, table)) = &bounds {
        lines.push(format!(
            "- Largest loom preemption bound at which every bundled 2- and 3-thread scenario ({n}) explores to completion within the default time limit: **{}**.",
            cli_runs::largest_exhausted(table).map_or("none".to_string(), |b| b.to_string())
        ));
    }
    let rm = LockDesign::ReadMostly.name();
    for (group, sizes) in [
        ("lookup_mnt", [10usize, 1_000, 100_000]),
        ("walk", [1, 4, 16]),
        ("get_super", [10, 1_000, 10_000]),
    ] {
        let ratios: Vec<String> = sizes
            .iter()
            .map(|&n| {
                let r = ratio(cell(&crit, group, rm, n), cell(&crit, group, "hashmap", n));
                format!("{n}: {}", x(r))
            })
            .collect();
        let met = sizes.iter().all(|&n| {
            ratio(cell(&crit, group, rm, n), cell(&crit, group, "hashmap", n))
                .is_some_and(|r| r <= 1.5)
        });
        lines.push(format!(
            "- Read-mostly `{group}` within 1.5x of the plain HashMap at every size: **{}** ({}).",
            if met { "met" } else { "not met" },
            ratios.join(", ")
        ));
        let kept: Vec<String> = sizes
            .iter()
            .map(|&n| {
                let k = ratio(
                    cell(&crit, group, rm, n),
                    cell(&crit, group, &format!("{rm}+writer"), n),
                );
                format!("{n}: {}", pct(k))
            })
            .collect();
        let met = sizes.iter().all(|&n| {
            ratio(
                cell(&crit, group, rm, n),
                cell(&crit, group, &format!("{rm}+writer"), n),
            )
            .is_some_and(|k| k >= 0.9)
        });
        let paced: Vec<String> = sizes
            .iter()
            .map(|&n| {
                let k = ratio(
                    cell(&crit, group, rm, n),
                    cell(&crit, group, &format!("{rm}+writer-1k"), n),
                );
                format!("{n}: {}", pct(k))
            })
            .collect();
        lines.push(format!(
            "- Read-mostly `{group}` read throughput with a concurrent writer at least 90% of it without one: **{}** with the writer in a tight loop ({}); with the writer at ~1 000 cycles/s: {}.",
            if met { "met" } else { "not met" },
            kept.join(", "),
            paced.join(", ")
        ));
    }
    if let Some(tp) = &tp {
        let mut worst = 0.0f64;
        let mut all = Vec::new();
        for ((sc, s), r) in &tp.runner {
            if let Some(d) = tp.direct.get(&(sc.clone(), s.clone())) {
                let o = d.1 / r.1;
                worst = worst.max(o);
                all.push(format!("{sc}/{s}: {o:.2}x"));
            }
        }
        lines.push(format!(
            "- Runner overhead at most 1.2x over the direct in-process exploration: **{}** (worst {worst:.2}x; {}).",
            if worst <= 1.2 { "met" } else { "not met" },
            all.join(", ")
        ));
    }
    for l in lines {
        let _ = writeln!(md, "{l}");
    }
    let notes = root.join("benches").join("REPORT_NOTES.md");
    if let Ok(n) = std::fs::read_to_string(&notes) {
        let _ = writeln!(md, "\n{}", n.trim_end());
    }
    let out = root.join("reports").join("bench.md");
    std::fs::create_dir_all(out.parent().expect("reports dir")).map_err(|e| e.to_string())?;
    std::fs::write(&out, md).map_err(|e| e.to_string())?;
    eprintln!("bench-report: wrote {}", out.display());
    Ok(())
}
