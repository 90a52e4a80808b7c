//! The fixed protocol under shuttle's PCT and DFS schedulers: the concurrent scenarios of issue 2
//! must produce no finding, and the planted bug (get_super without the s_count pin) must be caught
//! by PCT. Run with `cargo test -p mountcheck-model --features shuttle --release`.
//!
//! Bounds: PCT depth 3, 2 000 executions; DFS 20 000 executions (DFS has no reduction and does not
//! finish these scenarios; it is a bounded search here).
#![cfg(feature = "shuttle")]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use common::{clean_scenarios, planted};
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::{execute, Config, Ledger, Mutant, Program, Variant};
use shuttle::scheduler::{DfsScheduler, PctScheduler, Scheduler};

static LAST: Mutex<Option<Ledger>> = Mutex::new(None);
static SERIAL: Mutex<()> = Mutex::new(());

fn explore<S: Scheduler + 'static>(
    p: &Program,
    cfg: Config,
    s: S,
) -> (usize, Option<mountcheck_model::Finding>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = p.clone();
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    let mut n = 0;
    let r = catch_unwind(AssertUnwindSafe(|| {
        n = shuttle::Runner::new(s, config).run(move || {
            let ledger = Ledger::new();
            *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(ledger.clone());
            execute(&p, cfg, ledger);
        });
    }));
    match r {
        Ok(()) => (n, None),
        Err(_) => (
            n,
            LAST.lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .and_then(|l| l.finding()),
        ),
    }
}

#[test]
fn fixed_protocol_is_clean_under_pct() {
    for (name, p) in clean_scenarios() {
        let (n, f) = explore(
            &p,
            Config::default(),
            PctScheduler::new_from_seed(1, 3, 2_000),
        );
        assert_eq!(f, None, "{name}");
        assert_eq!(n, 2_000, "{name}");
    }
}

#[test]
fn fixed_protocol_is_clean_under_dfs() {
    for (name, p) in clean_scenarios() {
        let (n, f) = explore(
            &p,
            Config::default(),
            DfsScheduler::new(Some(20_000), false),
        );
        assert_eq!(f, None, "{name}");
        assert!(n > 100, "{name}: {n}");
    }
}

#[test]
fn planted_get_super_without_pin_is_caught_by_pct() {
    let cfg = Config {
        variant: Variant::Mutant(Mutant::GetSuperNoPin),
        ..Config::default()
    };
    let (n, f) = explore(&planted(), cfg, PctScheduler::new_from_seed(1, 3, 10_000));
    let f = f.expect("PCT missed get_super without the s_count pin");
    assert!(n <= 10_000);
    assert_eq!(f.class, FindingClass::UseAfterFree);
}
