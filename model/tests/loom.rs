//! The fixed protocol under loom: the concurrent scenarios of issue 2 explored exhaustively within
//! a preemption bound must produce no finding, and the planted bug (get_super without the s_count
//! pin) must be caught. Run with `RUSTFLAGS="--cfg loom" cargo test -p mountcheck-model --release`.
//!
//! Bound: LOOM_PREEMPTION_BOUND = 2 (exhaustive below it; about 100 to 2 300 executions per
//! scenario here, a second or two each in --release) and max_branches 20 000.
#![cfg(loom)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::{clean_scenarios, planted};
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::{execute, Config, Ledger, Mutant, Program, Variant};

const LOOM_PREEMPTION_BOUND: usize = 2;

static LAST: Mutex<Option<Ledger>> = Mutex::new(None);
static SERIAL: Mutex<()> = Mutex::new(());

/// Explore `p`; return (executions, the finding of the failing execution if any).
fn explore(p: &Program, cfg: Config) -> (usize, Option<mountcheck_model::Finding>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    static N: AtomicUsize = AtomicUsize::new(0);
    N.store(0, Ordering::SeqCst);
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(LOOM_PREEMPTION_BOUND);
    b.max_branches = 20_000;
    let p = p.clone();
    let r = catch_unwind(AssertUnwindSafe(|| {
        b.check(move || {
            N.fetch_add(1, Ordering::SeqCst);
            let ledger = Ledger::new();
            *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(ledger.clone());
            execute(&p, cfg, ledger);
        })
    }));
    let n = N.load(Ordering::SeqCst);
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
fn fixed_protocol_is_clean_under_loom() {
    for (name, p) in clean_scenarios() {
        let (n, f) = explore(&p, Config::default());
        println!("{name}: {n} executions");
        assert_eq!(f, None, "{name}");
        assert!(
            n > 10,
            "{name}: only {n} executions: the threads did not interleave"
        );
    }
}

#[test]
fn planted_get_super_without_pin_is_caught_by_loom() {
    let cfg = Config {
        variant: Variant::Mutant(Mutant::GetSuperNoPin),
        ..Config::default()
    };
    let (n, f) = explore(&planted(), cfg);
    let f = f.expect("loom missed get_super without the s_count pin");
    println!("caught after {n} executions: {f}");
    assert_eq!(f.class, FindingClass::UseAfterFree);
    assert!(f.message.contains("ram0"), "{f}");
}
