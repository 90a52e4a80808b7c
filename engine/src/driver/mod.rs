//! Exploration drivers, one per checker, chosen at compile time like the model's sync facade.
//!
//! Follows loom's `model::Builder::check` with loom's `checkpoint` feature (loom 0.7
//! `src/model.rs`: the builder stores the path of the next execution to `checkpoint_file` every
//! `checkpoint_interval` executions and resumes from it; so we explore with a large interval,
//! resume from the last stored path with interval 1 to capture the failing execution, and replay
//! one execution from its checkpoint with `max_permutations = 2`), and shuttle's `Runner` with a
//! recording scheduler of our own that serializes every decision with shuttle-engine's
//! `serialize_schedule`, replayable byte for byte by `ReplayScheduler::new_from_encoded`.
//!
//! How an exploration ends is observed, never guessed from a checker's wording, and decided in
//! one place (`stop_reason`):
//!
//! - Budget. loom's `max_permutations` and `max_duration` and shuttle's `Config::max_time` end a
//!   run by returning, exactly as a run that finished does (loom even checks them only every
//!   `checkpoint_interval` executions), so a caller cannot tell "explored everything" from "cut
//!   short". The engine therefore never hands its budget to a systematic checker: it checks the
//!   execution cap and the time limit itself at the start of each execution (`one_execution`)
//!   and, when either is reached, unwinds out of the checker with a private payload
//!   (`BudgetReached`, raised with `resume_unwind`, so no panic hook sees it; loom's coroutines
//!   and shuttle's continuations pass a payload through unchanged). A checker that returns has
//!   then run out of executions on its own: loom's `Execution::step` found no next path, DFS no
//!   next schedule. Randomized schedulers (PCT, random) get the execution count as their own
//!   budget, which is their normal end.
//! - Panic. The ledger knows whether the model raised a finding. Otherwise the panic's location
//!   (which the hook sees) says who panicked: a file of the model's sources is a model panic;
//!   anything else is the checker (loom, shuttle, or this engine). A checker that panics while
//!   every alive model thread is blocked in a model wait (the model's census, std-only and
//!   invisible to the checkers) stopped on a deadlock: that is a `deadlock` finding. Any other
//!   checker panic is a checker error, with the checker's message, never a verdict on the model.
//!
//! Invariant: every execution gets a fresh [`Ledger`] published in [`CURRENT`] before it runs, so
//! whatever stops the execution (a finding, a checker's deadlock panic, an abort after the panic
//! hook) the last execution's ledger is the one read back.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mountcheck_model::oracle::lockdep::LockOrder;
use mountcheck_model::oracle::{Finding, FindingClass};
use mountcheck_model::sync::census;
use mountcheck_model::{execute, Config, Ledger, Program};

#[cfg(any(loom, feature = "shuttle"))]
use crate::Strategy;
use crate::{Failure, ReplayToken, Request, Response, ShrinkInfo, Stop};

/// The ledger of the execution running now.
pub static CURRENT: Mutex<Option<Ledger>> = Mutex::new(None);
/// Executions started so far.
pub static EXECUTIONS: AtomicU64 = AtomicU64::new(0);
/// What the last shrink of a shuttle witness did (read into [`Response::shrink`]).
static SHRINK: Mutex<Option<ShrinkInfo>> = Mutex::new(None);
/// The first panic of the process (set by [`install_panic_hook`]).
static PANIC: Mutex<Option<PanicRecord>> = Mutex::new(None);
/// The exploration's budget, checked before each execution.
static BUDGET: Mutex<Option<Budget>> = Mutex::new(None);
/// Which part of the budget stopped the run, when one did.
static BUDGET_HIT: Mutex<Option<BudgetHit>> = Mutex::new(None);

/// The backend this build explores with.
pub const BACKEND: &str = mountcheck_model::sync::BACKEND;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A panic as the hook saw it, with what the census said at that moment.
#[derive(Clone, Debug)]
struct PanicRecord {
    /// Message and location, as printed.
    message: String,
    /// Raised by the model's own code (its location is under the model's sources).
    in_model: bool,
    /// Every alive model thread was blocked in a model wait when it was raised.
    all_blocked: bool,
}

/// The unwind payload with which the engine stops a checker's run at its budget.
struct BudgetReached;

/// What part of the budget stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BudgetHit {
    /// The execution cap (`Request::max_executions`).
    Executions,
    /// The time limit.
    Time,
}

#[derive(Clone, Copy, Debug)]
struct Budget {
    max_executions: u64,
    time_limit: Duration,
    start: Instant,
}

/// The lock-order graph of the exploration running now: every execution's ledger records into it,
/// so lockdep sees an inversion between two executions (see `mountcheck_model::oracle::lockdep`).
static LOCK_ORDER: Mutex<Option<LockOrder>> = Mutex::new(None);

/// One execution of the program, as every checker's closure runs it: first the budget (the
/// execution cap and the time limit, checked before the execution so that a stopped run ends
/// between executions; at least one execution always runs), then a fresh ledger (recording into
/// the exploration's lock-order graph, with the room the previous execution's ledger needed) and
/// census.
pub(crate) fn one_execution(program: &Program, config: Config) {
    let done = EXECUTIONS.load(Ordering::SeqCst);
    if let Some(b) = *lock(&BUDGET) {
        let hit = if done >= b.max_executions {
            Some(BudgetHit::Executions)
        } else if done > 0 && b.start.elapsed() >= b.time_limit {
            Some(BudgetHit::Time)
        } else {
            None
        };
        if let Some(hit) = hit {
            *lock(&BUDGET_HIT) = Some(hit);
            std::panic::resume_unwind(Box::new(BudgetReached));
        }
    }
    EXECUTIONS.fetch_add(1, Ordering::SeqCst);
    let order = lock(&LOCK_ORDER).get_or_insert_with(LockOrder::new).clone();
    // The previous execution's ledger (if any) sizes this one: room, not content.
    let capacity = lock(&CURRENT)
        .as_ref()
        .map(Ledger::capacity)
        .unwrap_or_default();
    let ledger = Ledger::in_exploration_sized(&order, capacity);
    *lock(&CURRENT) = Some(ledger.clone());
    census::reset();
    execute(program, config, ledger);
}

/// Record the first panic of the process (and still print it to stderr), then call `on_first`.
pub fn install_panic_hook(on_first: impl Fn() + Send + Sync + 'static) {
    let model_dir = mountcheck_model::source_dir();
    std::panic::set_hook(Box::new(move |info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_string()
        };
        let in_model = info
            .location()
            .is_some_and(|l| !model_dir.is_empty() && l.file().starts_with(model_dir));
        let message = match info.location() {
            Some(l) => format!("{msg} (at {}:{})", l.file(), l.line()),
            None => msg,
        };
        let first = {
            let mut g = lock(&PANIC);
            if g.is_none() {
                *g = Some(PanicRecord {
                    message: message.clone(),
                    in_model,
                    all_blocked: census::all_blocked(),
                });
                true
            } else {
                false
            }
        };
        eprintln!("worker panic: {message}");
        if first {
            on_first();
        }
    }));
}

/// How an execution that panicked ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The model broke an invariant, panicked, or deadlocked.
    Finding(Box<Failure>),
    /// The checker failed: its message.
    CheckerError(String),
}

/// Classify the panic that stopped the current execution (see the module documentation): the
/// ledger's finding; else a panic of the model's code; else, from the checker, a deadlock if every
/// alive model thread was blocked in a model wait, or a checker error.
pub fn classify(replay: ReplayToken) -> Ended {
    let ledger = lock(&CURRENT).clone();
    let panic = lock(&PANIC).clone();
    let panic_message = panic
        .as_ref()
        .map(|p| p.message.clone())
        .unwrap_or_default();
    let trace = ledger.as_ref().map(Ledger::trace).unwrap_or_default();
    let finding = match ledger.as_ref().and_then(Ledger::finding) {
        Some(f) => f,
        None => {
            let class = match &panic {
                Some(p) if p.in_model => FindingClass::Panic,
                Some(p) if p.all_blocked && ledger.is_some() => FindingClass::Deadlock,
                Some(p) => return Ended::CheckerError(p.message.clone()),
                None => {
                    return Ended::CheckerError(
                        "the checker stopped the exploration without a message".into(),
                    )
                }
            };
            let last = trace.last().cloned();
            let message = if class == FindingClass::Deadlock {
                format!("every thread is blocked; {}", blocked_summary(&trace))
            } else {
                panic_message.clone()
            };
            Finding {
                class,
                message,
                thread: last.as_ref().map(|s| s.thread),
                op: last.map(|s| s.op).unwrap_or_default(),
                object: None,
                unmatched: Vec::new(),
                comparison: None,
            }
        }
    };
    // A lock-order finding can close its cycle on edges of earlier executions: keep them.
    let prior_order = ledger
        .as_ref()
        .filter(|_| finding.class == FindingClass::LockOrder)
        .map(|l| l.lock_order().before(l.execution()));
    Ended::Finding(Box::new(Failure {
        finding,
        trace,
        execution: EXECUTIONS.load(Ordering::SeqCst),
        panic_message,
        replay,
        prior_order,
    }))
}

/// Each thread's last operation and the locks it held there, for a deadlock's message.
fn blocked_summary(trace: &[mountcheck_model::oracle::Step]) -> String {
    let mut last: std::collections::BTreeMap<usize, &mountcheck_model::oracle::Step> =
        std::collections::BTreeMap::new();
    for s in trace {
        last.insert(s.thread, s);
    }
    last.values()
        .filter(|s| {
            !s.action.ends_with("= 0")
                && !s.action.ends_with("= NULL")
                && !s.action.contains(" = -")
        })
        .map(|s| {
            format!(
                "T{} in `{}` after {} holding [{}]",
                s.thread,
                s.op,
                s.action,
                s.locks.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a checker's run ended, as the driver observed it.
#[derive(Debug)]
enum RunEnd {
    /// The checker returned by itself.
    Returned,
    /// The engine's budget stopped it before the next execution.
    Budget(BudgetHit),
    /// An execution panicked (a finding, a model panic, or the checker).
    Panicked,
}

impl RunEnd {
    fn of(r: std::thread::Result<()>) -> RunEnd {
        match r {
            Ok(()) => RunEnd::Returned,
            Err(p) if p.is::<BudgetReached>() => {
                RunEnd::Budget(lock(&BUDGET_HIT).unwrap_or(BudgetHit::Executions))
            }
            Err(_) => RunEnd::Panicked,
        }
    }
}

/// What a backend's run produced.
struct Run {
    end: RunEnd,
    /// How to re-run the current execution, if it failed.
    replay: ReplayToken,
    /// The program has a single schedule (no scheduling point ever had two runnable threads), so
    /// the one execution explored all of it.
    single_schedule: bool,
    /// loom only: the last checkpoint stored.
    checkpoint: Option<String>,
}

/// Why the exploration stopped, and its finding or checker error: the one place that decides it.
fn stop_reason(req: &Request, run: Run) -> (Stop, Option<Failure>, Option<String>) {
    let systematic = req.strategy.is_systematic();
    match run.end {
        RunEnd::Panicked => match classify(run.replay) {
            Ended::Finding(f) => (Stop::Finding, Some(*f), None),
            Ended::CheckerError(m) => (Stop::CheckerError, None, Some(m)),
        },
        RunEnd::Budget(BudgetHit::Time) => (Stop::TimeLimit, None, None),
        RunEnd::Budget(BudgetHit::Executions) if systematic => (Stop::IterationCap, None, None),
        RunEnd::Budget(BudgetHit::Executions) => (Stop::Bound, None, None),
        RunEnd::Returned if EXECUTIONS.load(Ordering::SeqCst) == 0 => (
            Stop::CheckerError,
            None,
            Some("the checker returned without running any execution".into()),
        ),
        RunEnd::Returned if systematic || run.single_schedule => (Stop::Exhausted, None, None),
        RunEnd::Returned => (Stop::Bound, None, None),
    }
}

/// Start an exploration of `req` (at `start`): no execution yet, a fresh lock-order graph, no
/// panic seen, and the request's budget.
fn begin(req: &Request, start: Instant) {
    EXECUTIONS.store(0, Ordering::SeqCst);
    let order = LockOrder::new();
    if let Some(prior) = &req.prior_order {
        order.resume(prior);
    }
    *lock(&LOCK_ORDER) = Some(order);
    *lock(&PANIC) = None;
    *lock(&BUDGET_HIT) = None;
    *lock(&CURRENT) = None;
    *lock(&BUDGET) = Some(Budget {
        max_executions: req.max_executions,
        time_limit: Duration::from_secs_f64(req.time_limit_secs),
        start,
    });
}

/// Run the request with this build's checker.
pub fn explore(req: &Request) -> Result<Response, String> {
    if req.strategy.backend() != BACKEND {
        return Err(format!(
            "strategy `{}` needs the {} build of the worker, this one is {BACKEND}",
            req.strategy.name(),
            req.strategy.backend()
        ));
    }
    req.check()?;
    let start = Instant::now();
    begin(req, start);
    let run = imp::run(req)?;
    let checkpoint = run.checkpoint.clone();
    let (stop, failure, checker_error) = stop_reason(req, run);
    // Name the bounds the checker ran under: a checker's own limit is one of them.
    let checker_error =
        checker_error.map(|m| format!("{BACKEND} failed ({}): {m}", req.bounds_summary()));
    Ok(Response {
        backend: BACKEND.to_string(),
        executions: EXECUTIONS.load(Ordering::SeqCst),
        stop,
        failure,
        checker_error,
        elapsed_secs: start.elapsed().as_secs_f64(),
        checkpoint,
        shrink: lock(&SHRINK).take(),
    })
}

/// Forget the last panic and lift the budget: each guided run of a shrink is classified on its
/// own, and their number is bounded by the shrink itself (`mountcheck_engine::shrink`).
#[cfg(all(feature = "shuttle", not(loom)))]
pub(crate) fn start_guided_run() {
    *lock(&PANIC) = None;
    *lock(&BUDGET) = None;
}

/// What the panic hook writes before a possible abort: the current execution classified.
pub fn response_at_panic() -> Response {
    let (stop, failure, checker_error) = match classify(ReplayToken::None) {
        Ended::Finding(f) => (Stop::Finding, Some(*f), None),
        Ended::CheckerError(m) => (Stop::CheckerError, None, Some(m)),
    };
    Response {
        backend: BACKEND.to_string(),
        executions: EXECUTIONS.load(Ordering::SeqCst),
        stop,
        failure,
        checker_error,
        elapsed_secs: 0.0,
        checkpoint: None,
        shrink: None,
    }
}

#[cfg(not(any(loom, feature = "shuttle")))]
mod on_threads;
#[cfg(not(any(loom, feature = "shuttle")))]
use on_threads as imp;

#[cfg(all(feature = "shuttle", not(loom)))]
mod on_shuttle;
#[cfg(all(feature = "shuttle", not(loom)))]
use on_shuttle as imp;

#[cfg(loom)]
mod on_loom;
#[cfg(loom)]
use on_loom as imp;

#[cfg(all(feature = "shuttle", not(loom)))]
pub use imp::check_schedule;

#[cfg(all(test, not(any(loom, feature = "shuttle"))))]
mod tests {
    use super::*;
    use mountcheck_model::oracle::Oid;

    /// The only test of this crate that touches the process-wide panic hook and statics.
    #[test]
    fn a_panic_is_told_apart_by_who_raised_it_not_by_its_wording() {
        install_panic_hook(|| {});
        *lock(&CURRENT) = Some(Ledger::new());
        // The model's own code panics without a finding (an object the ledger never allocated).
        *lock(&PANIC) = None;
        let r = catch_unwind(|| {
            Ledger::new().report(Oid(7));
        });
        assert!(r.is_err());
        assert!(lock(&PANIC).as_ref().is_some_and(|p| p.in_model));
        match classify(ReplayToken::None) {
            Ended::Finding(f) => assert_eq!(f.finding.class, FindingClass::Panic),
            other => panic!("a model panic classified as {other:?}"),
        }
        // Anything else panicking (a checker), with a message that names no deadlock and no
        // bound: a checker error carrying its message, whatever it says.
        *lock(&PANIC) = None;
        let r = catch_unwind(|| panic!("deadlock! exceeded max_steps (words that used to decide)"));
        assert!(r.is_err());
        assert!(lock(&PANIC).as_ref().is_some_and(|p| !p.in_model));
        match classify(ReplayToken::None) {
            Ended::CheckerError(m) => assert!(m.contains("words that used to decide"), "{m}"),
            other => panic!("a checker panic classified as {other:?}"),
        }
        // On real threads the census never says "all blocked": a deadlock there is the bounded
        // waits' finding, never a guess.
        assert!(!census::all_blocked());
        let _ = std::panic::take_hook();
        *lock(&PANIC) = None;
        *lock(&CURRENT) = None;
    }
}
