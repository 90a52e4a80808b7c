//! The checker's explorations run directly in this process, for the runner-overhead comparison:
//! the model's program executed by a shuttle `Runner` with the PCT, random or DFS scheduler, as
//! `check_pct` / `check_random` / `check_dfs` do but with the runner's seed (built with
//! `--features shuttle`) or by `loom::model::Builder::check` (built with `--cfg loom`),
//! exactly as a hand-written test would, and the hand-written minimal get_super/umount model
//! ([`mountcheck_benches::toy`]) under the same checkers.
//!
//! What it measures: executions per second of one exploration of a fixed size (PCT, random: a
//! fixed number of executions; DFS: a bound on executions or the whole space; loom: the whole
//! space within a preemption bound). Usage: `checker-throughput INPUT.json`, where the input
//! holds the programs and the bounds (see [`Input`]); one JSON line per measurement on stdout.
//!
//! Invariant: the programs are the fixed protocol, so every exploration runs to its bound; a
//! finding would panic, and a panicking measurement is reported as an error, never as a rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mountcheck_model::{Config, Program};
use serde::Deserialize;

/// One program to explore.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Scenario {
    name: String,
    program: Program,
}

/// What to run.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Input {
    scenarios: Vec<Scenario>,
    pct_depth: usize,
    pct_iterations: usize,
    random_iterations: usize,
    dfs_iterations: usize,
    loom_preemption_bound: usize,
    loom_max_branches: usize,
    repeats: usize,
    seed: u64,
}

static EXECUTIONS: AtomicU64 = AtomicU64::new(0);

#[allow(dead_code)]
fn report(backend: &str, scenario: &str, strategy: &str, f: impl FnOnce()) {
    EXECUTIONS.store(0, Ordering::SeqCst);
    let start = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let secs = start.elapsed().as_secs_f64();
    let line = match r {
        Ok(()) => serde_json::json!({
            "backend": backend,
            "scenario": scenario,
            "strategy": strategy,
            "executions": EXECUTIONS.load(Ordering::SeqCst),
            "secs": secs,
        }),
        Err(_) => serde_json::json!({
            "backend": backend,
            "scenario": scenario,
            "strategy": strategy,
            "error": "the exploration panicked",
        }),
    };
    println!("{line}");
}

/// What each exploration runs: every scenario's program, then the hand-written toy (`None`).
#[allow(dead_code)]
fn subjects(input: &Input) -> Vec<(String, Option<Program>)> {
    input
        .scenarios
        .iter()
        .map(|s| (s.name.clone(), Some(s.program.clone())))
        .chain(std::iter::once(("toy".to_string(), None)))
        .collect()
}

/// One execution of a subject: the model running a program, or the toy.
#[allow(dead_code)]
fn execution(p: &Option<Program>) {
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
    match p {
        Some(p) => {
            mountcheck_model::execute(p, Config::default(), mountcheck_model::Ledger::new());
        }
        None => mountcheck_benches::toy::execution(),
    }
}

#[cfg(all(feature = "shuttle", not(loom)))]
fn run(input: &Input) {
    for _ in 0..input.repeats {
        for (name, p) in &subjects(input) {
            let body = {
                let p = p.clone();
                move || execution(&p)
            };
            // What `shuttle::check_pct` / `check_random` / `check_dfs` do, with the seed the
            // runner's request carries, so both explore the same schedules.
            use shuttle::scheduler::{DfsScheduler, PctScheduler, RandomScheduler};
            let run = |s: Box<dyn shuttle::scheduler::Scheduler + Send>| {
                let b = body.clone();
                move || {
                    shuttle::Runner::new(s, shuttle::Config::new()).run(b.clone());
                }
            };
            report(
                "shuttle",
                name,
                "pct",
                run(Box::new(PctScheduler::new_from_seed(
                    input.seed,
                    input.pct_depth,
                    input.pct_iterations,
                ))),
            );
            report(
                "shuttle",
                name,
                "random",
                run(Box::new(RandomScheduler::new_from_seed(
                    input.seed,
                    input.random_iterations,
                ))),
            );
            report(
                "shuttle",
                name,
                "dfs",
                run(Box::new(DfsScheduler::new(
                    Some(input.dfs_iterations),
                    false,
                ))),
            );
        }
    }
}

#[cfg(loom)]
fn run(input: &Input) {
    for _ in 0..input.repeats {
        for (name, p) in &subjects(input) {
            // As a hand-written loom test would (loom's defaults), then with the worker's
            // `max_threads = 5` (room for four scenario threads), to tell the two costs apart.
            for (strategy, max_threads) in [("loom", None), ("loom-mt5", Some(5))] {
                report("loom", name, strategy, || {
                    let mut b = loom::model::Builder::new();
                    if let Some(t) = max_threads {
                        b.max_threads = t;
                    }
                    b.preemption_bound = Some(input.loom_preemption_bound);
                    b.max_branches = input.loom_max_branches;
                    let p = p.clone();
                    b.check(move || execution(&p));
                });
            }
        }
    }
}

#[cfg(not(any(loom, feature = "shuttle")))]
fn run(_: &Input) {
    eprintln!(
        "checker-throughput: build it with `--features shuttle` or `RUSTFLAGS=\"--cfg loom\"`"
    );
    std::process::exit(2);
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: checker-throughput INPUT.json");
        std::process::exit(2);
    };
    let input: Input = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(i) => i,
        Err(e) => {
            eprintln!("checker-throughput: {path}: {e}");
            std::process::exit(2);
        }
    };
    run(&input);
}
