//! The fixed protocol under shuttle's PCT and DFS schedulers: each concurrent scenario of issue 2
//! must produce no finding and reach the interleaving classes its classifier names
//! (`common::Scenario`); the planted bug (get_super without the s_count pin) must be caught by PCT
//! as a use after free.
//!
//! Run: `CARGO_TARGET_DIR=target/shuttle cargo test -p mountcheck-model --features shuttle
//! --release --test shuttle -- --nocapture` (each test prints its execution count and time).
//!
//! Schedulers: `shuttle::check_pct(f, 2000, 3)` and `shuttle::check_dfs(f, Some(20000))`, written
//! out as a `Runner` so the PCT seed is fixed (the run is reproducible) and the execution count is
//! returned: PCT depth [`PCT_DEPTH`] = 3 with [`PCT_ITERATIONS`] = 2 000 executions; DFS bounded
//! to [`DFS_ITERATIONS`] = 20 000 executions. DFS enumerates every scheduling point with no
//! reduction and finishes none of these scenarios within its bound; it varies the last decisions
//! first, so within the bound it reaches only the classes decided late in the program (one class;
//! two for open vs lazy umount and for two opens of one new file: the count each DFS test
//! requires, DFS being deterministic).
//!
//! Measured in --release on the project's 2-core machine: PCT 2 000 executions in 0.5 to 0.8 s
//! per scenario (1.2 to 2.8 s with the machine loaded by other builds), every class reached; DFS
//! 20 000 executions in 4.5 to 8 s per scenario (10 to 29 s loaded); the planted bug is caught by
//! PCT after 32 executions.
#![cfg(feature = "shuttle")]

mod common;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use common::{
    check_classes, extra_scenarios, planted, scenarios, Classifier, Explored, Failure, Recorder,
    Scenario,
};
use mountcheck_model::oracle::{FindingClass, ObjKind};
use mountcheck_model::{Config, Mutant, Program, Variant};
use shuttle::scheduler::{DfsScheduler, PctScheduler, Scheduler};

/// PCT's bug depth.
const PCT_DEPTH: usize = 3;
/// PCT executions per scenario.
const PCT_ITERATIONS: usize = 2_000;
/// The PCT seed (fixed: a reproducible run).
const PCT_SEED: u64 = 1;
/// DFS's bound on executions.
const DFS_ITERATIONS: usize = 20_000;

/// The current exploration's executions, ledger and classes.
static REC: Recorder = Recorder::new();

/// Explore `p` under `cfg` with `scheduler`, classifying every execution with `classify` if given.
fn explore<S: Scheduler + 'static>(
    p: &Program,
    cfg: Config,
    scheduler: S,
    classify: Option<Classifier>,
) -> Explored {
    let _serial = REC.begin();
    let p = p.clone();
    let start = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| {
        shuttle::Runner::new(scheduler, shuttle::Config::default())
            .run(move || REC.execution(&p, cfg, classify))
    }));
    let executions = REC.executions();
    if let Ok(n) = &r {
        assert_eq!(*n, executions, "shuttle's count and ours");
    }
    Explored {
        executions,
        secs: start.elapsed().as_secs_f64(),
        failure: REC.failure(&r),
        classes: REC.classes(),
    }
}

fn scenario(name: &str) -> Scenario {
    scenarios()
        .into_iter()
        .chain(extra_scenarios())
        .find(|s| s.name == name)
        .expect("a scenario")
}

/// Explore scenario `name` and fail on any finding or panic; return what was explored.
fn clean<S: Scheduler + 'static>(name: &str, what: &str, scheduler: S) -> (Scenario, Explored) {
    let s = scenario(name);
    let e = explore(&s.program, Config::default(), scheduler, Some(s.classify));
    println!(
        "shuttle {what} {}: {} executions in {:.2} s; classes {:?}",
        s.name, e.executions, e.secs, e.classes
    );
    match &e.failure {
        Some(Failure::Finding(f)) => panic!("{}: finding under the fixed protocol: {f}", s.name),
        Some(Failure::Panic(m)) => panic!("{}: panic under the fixed protocol: {m}", s.name),
        None => {}
    }
    (s, e)
}

/// PCT: no finding, the full iteration count, and every interleaving class.
fn clean_under_pct(name: &str) {
    let (s, e) = clean(
        name,
        "PCT",
        PctScheduler::new_from_seed(PCT_SEED, PCT_DEPTH, PCT_ITERATIONS),
    );
    assert_eq!(e.executions, PCT_ITERATIONS, "{name}");
    check_classes(&s, &e.classes);
}

/// DFS: no finding, the full bound, and at least `min_classes` of the scenario's classes.
fn clean_under_dfs(name: &str, min_classes: usize) {
    let (s, e) = clean(name, "DFS", DfsScheduler::new(Some(DFS_ITERATIONS), false));
    assert_eq!(e.executions, DFS_ITERATIONS, "{name}: DFS finished early");
    let known: BTreeSet<String> = s.classes.iter().map(|c| c.to_string()).collect();
    assert!(
        e.classes.is_subset(&known),
        "{name}: unexpected classes {:?}",
        e.classes.difference(&known).collect::<Vec<_>>()
    );
    assert!(
        e.classes.len() >= min_classes,
        "{name}: DFS reached only {:?}",
        e.classes
    );
}

#[test]
fn shuttle_pct_get_super_vs_umount_is_clean() {
    clean_under_pct("get_super vs umount");
}

#[test]
fn shuttle_pct_open_vs_lazy_umount_is_clean() {
    clean_under_pct("open vs lazy umount");
}

#[test]
fn shuttle_pct_exit_vs_umount_is_clean() {
    clean_under_pct("exit vs umount");
}

#[test]
fn shuttle_pct_clone_vs_mount_is_clean() {
    clean_under_pct("clone vs mount");
}

#[test]
fn shuttle_dfs_get_super_vs_umount_is_clean() {
    clean_under_dfs("get_super vs umount", 1);
}

#[test]
fn shuttle_dfs_open_vs_lazy_umount_is_clean() {
    clean_under_dfs("open vs lazy umount", 2);
}

#[test]
fn shuttle_dfs_exit_vs_umount_is_clean() {
    clean_under_dfs("exit vs umount", 1);
}

#[test]
fn shuttle_dfs_clone_vs_mount_is_clean() {
    clean_under_dfs("clone vs mount", 1);
}

#[test]
fn shuttle_pct_two_opens_of_one_new_file_are_clean() {
    clean_under_pct("two opens of one new file");
}

#[test]
fn shuttle_dfs_two_opens_of_one_new_file_are_clean() {
    // DFS enumerates the latest scheduling points first, and every access the oracle checks is
    // a scheduling point (model/src/life.rs): within its bound it stays in the subtree where T1
    // runs first, so it reaches the one class where T1 creates the file (PCT and loom reach both).
    clean_under_dfs("two opens of one new file", 1);
}

#[test]
fn shuttle_pct_catches_get_super_without_the_s_count_pin() {
    let cfg = Config {
        variant: Variant::Mutant(Mutant::GetSuperNoPin),
        ..Config::default()
    };
    let e = explore(
        &planted(),
        cfg,
        PctScheduler::new_from_seed(PCT_SEED, PCT_DEPTH, PCT_ITERATIONS),
        None,
    );
    let f = match e.failure {
        Some(Failure::Finding(f)) => f,
        other => panic!(
            "PCT missed get_super without the s_count pin in {} executions: {other:?}",
            e.executions
        ),
    };
    println!(
        "shuttle PCT planted get-super-no-pin: caught after {} executions in {:.2} s: {f}",
        e.executions, e.secs
    );
    assert!(e.executions <= PCT_ITERATIONS);
    assert_eq!(f.class, FindingClass::UseAfterFree, "{f}");
    assert_eq!(f.thread, Some(1), "{f}");
    let obj = f.object.as_ref().expect("the finding names the object");
    assert_eq!(obj.kind, ObjKind::SuperBlock, "{f}");
    assert!(obj.label.ends_with("(ram0)"), "{f}");
}
