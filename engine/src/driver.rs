//! Exploration drivers, one per checker, chosen at compile time like the model's sync facade.
//!
//! Follows loom's `model::Builder::check` (checkpoint files for replay, as `checkers.md`
//! measured: explore with a large checkpoint interval, resume with interval 1 to capture the
//! failing path, replay with `max_permutations = 2`) and shuttle's `Runner` with a recording
//! scheduler of our own that serializes every decision with shuttle-engine's
//! `serialize_schedule`, replayable byte for byte by `ReplayScheduler::new_from_encoded`.
//!
//! Invariant: every execution gets a fresh [`Ledger`] published in [`CURRENT`] before it runs, so
//! whatever stops the execution (a finding, a checker's deadlock panic, an abort after the panic
//! hook) the last execution's ledger is the one read back.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use mountcheck_model::oracle::{Finding, FindingClass};
use mountcheck_model::{execute, Config, Ledger, Program};

#[cfg(any(loom, feature = "shuttle"))]
use crate::Strategy;
use crate::{Failure, ReplayToken, Request, Response, Stop};

/// The ledger of the execution running now.
pub static CURRENT: Mutex<Option<Ledger>> = Mutex::new(None);
/// Executions started so far.
pub static EXECUTIONS: AtomicU64 = AtomicU64::new(0);
/// The first panic message seen (set by [`install_panic_hook`]).
pub static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// The backend this build explores with.
pub const BACKEND: &str = mountcheck_model::sync::BACKEND;

fn one_execution(program: &Program, config: Config) {
    EXECUTIONS.fetch_add(1, Ordering::SeqCst);
    let ledger = Ledger::new();
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(ledger.clone());
    execute(program, config, ledger);
}

/// Record the first panic message of the process (and still print it to stderr).
pub fn install_panic_hook(on_first: impl Fn(&str) + Send + Sync + 'static) {
    std::panic::set_hook(Box::new(move |info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_string()
        };
        let msg = match info.location() {
            Some(l) => format!("{msg} (at {}:{})", l.file(), l.line()),
            None => msg,
        };
        let first = {
            let mut g = PANIC_MESSAGE.lock().unwrap_or_else(|p| p.into_inner());
            if g.is_none() {
                *g = Some(msg.clone());
                true
            } else {
                false
            }
        };
        eprintln!("worker panic: {msg}");
        if first {
            on_first(&msg);
        }
    }));
}

/// Classify a checker panic that the ledger did not raise.
pub fn classify_panic(msg: &str) -> FindingClass {
    let m = msg.to_ascii_lowercase();
    if m.contains("deadlock") {
        FindingClass::Deadlock
    } else if m.contains("exceeded maximum number of branches")
        || m.contains("max_steps")
        || m.contains("exceeded max")
    {
        FindingClass::Crash
    } else {
        FindingClass::Panic
    }
}

/// Build the failure of the current execution from its ledger and the panic message.
pub fn current_failure(replay: ReplayToken) -> Option<Failure> {
    let ledger = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
    let panic_message = PANIC_MESSAGE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_default();
    let finding = match ledger.finding() {
        Some(f) => f,
        None => {
            let class = classify_panic(&panic_message);
            let trace = ledger.trace();
            let last = trace.last().cloned();
            let mut message = panic_message.clone();
            if class == FindingClass::Deadlock {
                message = format!("every thread is blocked; {}", blocked_summary(&trace));
            }
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
    Some(Failure {
        finding,
        trace: ledger.trace(),
        execution: EXECUTIONS.load(Ordering::SeqCst),
        panic_message,
        replay,
    })
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

/// Run the request with this build's checker.
pub fn explore(req: &Request) -> Result<Response, String> {
    if req.strategy.backend() != BACKEND {
        return Err(format!(
            "strategy `{}` needs the {} build of the worker, this one is {BACKEND}",
            req.strategy.name(),
            req.strategy.backend()
        ));
    }
    EXECUTIONS.store(0, Ordering::SeqCst);
    let start = Instant::now();
    let (stop, failure, checkpoint) = imp::run(req)?;
    Ok(Response {
        backend: BACKEND.to_string(),
        executions: EXECUTIONS.load(Ordering::SeqCst),
        stop,
        failure,
        elapsed_secs: start.elapsed().as_secs_f64(),
        checkpoint,
    })
}

type Outcome = (Stop, Option<Failure>, Option<String>);

/// Why an exploration that found nothing stopped: its time bound, its execution bound, or because
/// the checker had nothing left to explore.
#[cfg(any(loom, feature = "shuttle"))]
fn clean_stop(req: &Request, start: Instant) -> Stop {
    if start.elapsed().as_secs_f64() >= req.time_limit_secs {
        Stop::TimeBound
    } else if EXECUTIONS.load(Ordering::SeqCst) >= req.max_executions {
        Stop::ExecutionBound
    } else {
        Stop::Complete
    }
}

#[cfg(not(any(loom, feature = "shuttle")))]
mod imp {
    use super::*;

    /// Real threads: run the program again and again until a finding or a bound.
    pub fn run(req: &Request) -> Result<Outcome, String> {
        let start = Instant::now();
        for _ in 0..req.max_executions {
            if start.elapsed().as_secs_f64() >= req.time_limit_secs {
                return Ok((Stop::TimeBound, None, None));
            }
            let r = catch_unwind(AssertUnwindSafe(|| one_execution(&req.program, req.config)));
            if r.is_err() {
                return Ok((Stop::Finding, current_failure(ReplayToken::None), None));
            }
        }
        Ok((Stop::ExecutionBound, None, None))
    }
}

#[cfg(all(feature = "shuttle", not(loom)))]
mod imp {
    use super::*;
    use shuttle::scheduler::{
        DfsScheduler, PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler, Task,
        TaskId,
    };
    use shuttle_engine::scheduler::serialization::serialize_schedule;
    use std::sync::Arc;
    use std::time::Duration;

    /// Wraps a scheduler and keeps the current execution's schedule, every decision pushed.
    struct Recording<S> {
        inner: S,
        current: Arc<Mutex<Schedule>>,
    }

    impl<S: Scheduler> Scheduler for Recording<S> {
        fn new_execution(&mut self) -> Option<Schedule> {
            let s = self.inner.new_execution()?;
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Schedule::new(s.seed);
            Some(s)
        }

        fn next_task(
            &mut self,
            runnable: &[&Task],
            current: Option<TaskId>,
            is_yielding: bool,
        ) -> Option<TaskId> {
            let t = self.inner.next_task(runnable, current, is_yielding)?;
            self.current
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_task(t);
            Some(t)
        }

        fn next_u64(&mut self) -> u64 {
            self.current
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_random();
            self.inner.next_u64()
        }
    }

    fn runner<S: Scheduler + 'static>(req: &Request, inner: S) -> Outcome {
        let current = Arc::new(Mutex::new(Schedule::new(0)));
        let mut config = shuttle::Config::new();
        config.max_time = Some(Duration::from_secs_f64(req.time_limit_secs));
        config.failure_persistence = shuttle::FailurePersistence::None;
        let sched = Recording {
            inner,
            current: current.clone(),
        };
        let program = req.program.clone();
        let cfg = req.config;
        let start = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(move || {
            shuttle::Runner::new(sched, config).run(move || one_execution(&program, cfg));
        }));
        match r {
            Ok(()) => {
                let stop = clean_stop(req, start);
                (stop, None, None)
            }
            Err(_)
                if PANIC_MESSAGE
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_deref()
                    .is_some_and(|m| m.contains("did not exercise any concurrency")) =>
            {
                // PCT refuses a program with a single runnable thread at every step: there is
                // exactly one schedule, and it ran without a finding.
                *PANIC_MESSAGE.lock().unwrap_or_else(|p| p.into_inner()) = None;
                (Stop::Complete, None, None)
            }
            Err(_) => {
                let schedule =
                    serialize_schedule(&current.lock().unwrap_or_else(|p| p.into_inner()));
                (
                    Stop::Finding,
                    current_failure(ReplayToken::Shuttle { schedule }),
                    None,
                )
            }
        }
    }

    pub fn run(req: &Request) -> Result<Outcome, String> {
        let n = usize::try_from(req.max_executions).unwrap_or(usize::MAX);
        Ok(match &req.strategy {
            Strategy::Pct { depth } => {
                runner(req, PctScheduler::new_from_seed(req.seed, *depth, n))
            }
            Strategy::Random => runner(req, RandomScheduler::new_from_seed(req.seed, n)),
            Strategy::Dfs => runner(req, DfsScheduler::new(Some(n), false)),
            Strategy::ReplayShuttle { schedule } => {
                if shuttle_engine::scheduler::serialization::deserialize_schedule(schedule)
                    .is_none()
                {
                    return Err("the replay token is not a valid shuttle schedule".into());
                }
                runner(req, ReplayScheduler::new_from_encoded(schedule))
            }
            other => {
                return Err(format!(
                    "strategy `{}` is not a shuttle strategy",
                    other.name()
                ))
            }
        })
    }
}

#[cfg(loom)]
mod imp {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    /// Checkpoint interval while exploring: large, because storing the path costs (see
    /// `checkers.md`: interval 1 is about 4x slower). A failure is then captured by resuming from
    /// the last checkpoint with interval 1.
    pub const EXPLORE_CHECKPOINT_INTERVAL: usize = 512;

    fn builder(
        req: &Request,
        max_branches: usize,
        preemption_bound: Option<usize>,
    ) -> loom::model::Builder {
        let mut b = loom::model::Builder::new();
        b.max_threads = 5;
        b.max_branches = max_branches;
        b.preemption_bound = preemption_bound;
        b.max_duration = Some(Duration::from_secs_f64(req.time_limit_secs));
        b.max_permutations = usize::try_from(req.max_executions).ok();
        b.log = false;
        b.location = false;
        b
    }

    fn checkpoint_path(req: &Request, name: &str) -> Result<PathBuf, String> {
        let dir = req
            .scratch_dir
            .as_ref()
            .ok_or("loom needs a scratch directory for its checkpoint")?;
        Ok(PathBuf::from(dir).join(name))
    }

    fn check(req: &Request, b: loom::model::Builder, path: &PathBuf) -> Outcome {
        let program = req.program.clone();
        let cfg = req.config;
        let start = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            b.check(move || one_execution(&program, cfg))
        }));
        let stored = std::fs::read_to_string(path).ok();
        match r {
            Ok(()) => {
                let stop = clean_stop(req, start);
                (stop, None, stored)
            }
            Err(_) => {
                let token = ReplayToken::Loom {
                    checkpoint: stored.clone().unwrap_or_default(),
                };
                (Stop::Finding, current_failure(token), stored)
            }
        }
    }

    pub fn run(req: &Request) -> Result<Outcome, String> {
        match &req.strategy {
            Strategy::Loom {
                preemption_bound,
                max_branches,
            } => {
                let path = checkpoint_path(req, "loom-checkpoint.json")?;
                let mut b = builder(req, *max_branches, *preemption_bound);
                b.checkpoint_file = Some(path.clone());
                match &req.resume_checkpoint {
                    // Capture: resume at the last stored path, store before every execution, so
                    // the file names the failing execution when the panic stops the run.
                    Some(cp) => {
                        if cp.is_empty() {
                            // Failed before the first checkpoint: capture from the start.
                            let _ = std::fs::remove_file(&path);
                        } else {
                            std::fs::write(&path, cp)
                                .map_err(|e| format!("cannot write the checkpoint: {e}"))?;
                        }
                        b.checkpoint_interval = 1;
                    }
                    None => {
                        let _ = std::fs::remove_file(&path);
                        b.checkpoint_interval = EXPLORE_CHECKPOINT_INTERVAL;
                    }
                }
                Ok(check(req, b, &path))
            }
            Strategy::ReplayLoom {
                checkpoint,
                max_branches,
            } => {
                if serde_json::from_str::<serde_json::Value>(checkpoint).is_err() {
                    return Err("the replay token is not a loom checkpoint (JSON)".into());
                }
                let path = checkpoint_path(req, "loom-replay.json")?;
                std::fs::write(&path, checkpoint)
                    .map_err(|e| format!("cannot write the checkpoint: {e}"))?;
                let mut b = builder(req, *max_branches, None);
                b.checkpoint_file = Some(path.clone());
                b.checkpoint_interval = 1;
                b.max_permutations = Some(2);
                let (stop, failure, _) = check(req, b, &path);
                // The token of a replay is the checkpoint it replayed, unchanged.
                let failure = failure.map(|mut f| {
                    f.replay = ReplayToken::Loom {
                        checkpoint: checkpoint.clone(),
                    };
                    f
                });
                Ok((stop, failure, None))
            }
            other => Err(format!(
                "strategy `{}` is not a loom strategy",
                other.name()
            )),
        }
    }
}
