//! The text of `reports/bench.md`, rendered from one run's [`Measurements`]: the machine and
//! build, the hot lookup paths (criterion's medians against the `HashMap` anchors), the
//! checker's throughput, the baseline comparison and the loom bound table when measured, the
//! targets met or not, and the hand-written notes of `benches/REPORT_NOTES.md`.
//!
//! Invariant: rendering measures nothing: every figure comes from [`Measurements`] (or, for the
//! machine and build lines, from the system at the time of writing).

use std::fmt::Write as _;
use std::path::Path;

use mountcheck_benches::cli_runs::{self, SpeedRow};
use mountcheck_benches::{DEPTHS, MOUNTS, SUPERS};
use mountcheck_model::LockDesign;

use super::criterion::{cell, lookup_table, model_table, pct, ratio, x, Crit, Writers, FX_ANCHOR};
use super::throughput::Throughput;
use super::{
    output, Measurements, DFS_ITERATIONS, LOOM_PREEMPTION_BOUND, PCT_DEPTH, PCT_ITERATIONS,
    RANDOM_ITERATIONS, REPEATS, SCENARIOS, STRATEGIES,
};

/// The whole report.
pub(super) fn render(m: &Measurements, root: &Path) -> String {
    let mut out = String::new();
    let md = &mut out;
    header(md, m, root);
    lookups(md, &m.crit, &m.writers);
    if let Some(tp) = &m.tp {
        throughput_section(md, tp);
    }
    if let Some((rev, rows)) = &m.speed {
        speed_section(md, rev, rows);
    }
    if let Some((n, table)) = &m.bounds {
        loom_bounds_section(md, *n, table);
    }
    targets(md, m);
    let notes = root.join("benches").join("REPORT_NOTES.md");
    if let Ok(n) = std::fs::read_to_string(&notes) {
        let _ = writeln!(md, "\n{}", n.trim_end());
    }
    out
}

/// The title, how it was made, and the machine and build it ran on.
fn header(md: &mut String, m: &Measurements, root: &Path) {
    let Measurements {
        load_before,
        load_after,
        ..
    } = m;
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
        (m.elapsed_secs / 60.0).ceil()
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
}

/// The hot lookup paths: each design against its anchors, then through the model's entry points.
fn lookups(md: &mut String, crit: &Crit, writers: &Writers) {
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
        md,
        crit,
        writers,
        "lookup_mnt",
        "mounts",
        &MOUNTS,
        &[FX_ANCHOR],
    );
    let _ = writeln!(
        md,
        "\n### Path walk: mount crossings (`follow_down` at each, one read section per crossing)\n"
    );
    lookup_table(
        md,
        crit,
        writers,
        "walk",
        "crossings",
        &DEPTHS,
        &[FX_ANCHOR],
    );
    let _ = writeln!(
        md,
        "\n### `get_super(dev)`: search of `super_blocks` and the `s_count` pin (and its put)\n"
    );
    lookup_table(
        md,
        crit,
        writers,
        "get_super",
        "super_blocks",
        &SUPERS,
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
    model_table(md, crit, "model_lookup_mnt", "mounts", &MOUNTS);
    let _ = writeln!(md, "\n`path_walk`:\n");
    model_table(md, crit, "model_walk", "crossings", &DEPTHS);
    let _ = writeln!(md, "\n`get_super`:\n");
    model_table(md, crit, "model_get_super", "super_blocks", &SUPERS);
}

/// The checker's throughput: runner, direct and toy rates per scenario and checker.
fn throughput_section(md: &mut String, tp: &Throughput) {
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

/// Each target, met or not, with its figures.
fn targets(md: &mut String, m: &Measurements) {
    let Measurements {
        crit,
        tp,
        speed,
        bounds,
        ..
    } = m;
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
        ("lookup_mnt", MOUNTS),
        ("walk", DEPTHS),
        ("get_super", SUPERS),
    ] {
        // Each size's read-mostly time over that of `anchor`, measured once.
        let against = |anchor: &str| -> Vec<(usize, Option<f64>)> {
            sizes
                .iter()
                .map(|&n| {
                    (
                        n,
                        ratio(cell(crit, group, rm, n), cell(crit, group, anchor, n)),
                    )
                })
                .collect()
        };
        let show = |rs: &[(usize, Option<f64>)], f: fn(Option<f64>) -> String| -> String {
            rs.iter()
                .map(|&(n, r)| format!("{n}: {}", f(r)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let to_map = against("hashmap");
        let met = to_map.iter().all(|(_, r)| r.is_some_and(|r| r <= 1.5));
        lines.push(format!(
            "- Read-mostly `{group}` within 1.5x of the plain HashMap at every size: **{}** ({}).",
            if met { "met" } else { "not met" },
            show(&to_map, x)
        ));
        let kept = against(&format!("{rm}+writer"));
        let met = kept.iter().all(|(_, k)| k.is_some_and(|k| k >= 0.9));
        let paced = against(&format!("{rm}+writer-1k"));
        lines.push(format!(
            "- Read-mostly `{group}` read throughput with a concurrent writer at least 90% of it without one: **{}** with the writer in a tight loop ({}); with the writer at ~1 000 cycles/s: {}.",
            if met { "met" } else { "not met" },
            show(&kept, pct),
            show(&paced, pct)
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
}
