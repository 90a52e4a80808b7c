//! The shuttle driver: shuttle's `Runner` with PCT, random, DFS or replay scheduling, under a
//! recording scheduler of our own that serializes every decision (shuttle-engine's
//! `serialize_schedule`), so a failing execution replays byte for byte
//! (`ReplayScheduler::new_from_encoded`).
//!
//! Invariant: the recorded schedule is the one the failing execution ran, decision for
//! decision; a schedule handed to replay is checked before it runs ([`check_schedule`]).

use super::*;
use shuttle::scheduler::{
    DfsScheduler, PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler, Task, TaskId,
};
use shuttle_engine::scheduler::serialization::{deserialize_schedule, serialize_schedule};
use std::sync::Arc;

/// What the recording scheduler shares with the driver.
#[derive(Default)]
struct Seen {
    /// The current execution's schedule, every decision pushed.
    schedule: Option<Schedule>,
    /// Executions begun.
    begun: u64,
    /// Some decision had two or more runnable threads to choose from.
    choice: bool,
    /// The run ended because the program has a single schedule.
    single_schedule: bool,
}

/// Wraps a scheduler: keeps the current execution's schedule, and ends the run after the
/// first execution of a program that never offered a choice (its only schedule has run; PCT
/// would refuse to go on, asserting that the test exercised no concurrency).
struct Recording<S> {
    inner: S,
    seen: Arc<Mutex<Seen>>,
}

impl<S: Scheduler> Scheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        {
            let mut seen = lock(&self.seen);
            if seen.begun > 0 && !seen.choice {
                seen.single_schedule = true;
                return None;
            }
        }
        let s = self.inner.new_execution()?;
        let mut seen = lock(&self.seen);
        seen.begun += 1;
        seen.schedule = Some(Schedule::new(s.seed));
        Some(s)
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let t = self.inner.next_task(runnable, current, is_yielding)?;
        let mut seen = lock(&self.seen);
        seen.choice |= runnable.len() > 1;
        if let Some(s) = seen.schedule.as_mut() {
            s.push_task(t);
        }
        Some(t)
    }

    fn next_u64(&mut self) -> u64 {
        if let Some(s) = lock(&self.seen).schedule.as_mut() {
            s.push_random();
        }
        self.inner.next_u64()
    }
}

fn runner<S: Scheduler + 'static>(req: &Request, inner: S) -> Run {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut config = shuttle::Config::new();
    // No `max_time`: the engine's budget stops the run (see the module documentation).
    config.failure_persistence = shuttle::FailurePersistence::None;
    let sched = Recording {
        inner,
        seen: seen.clone(),
    };
    let program = req.program.clone();
    let cfg = req.config;
    let r = catch_unwind(AssertUnwindSafe(move || {
        shuttle::Runner::new(sched, config).run(move || one_execution(&program, cfg));
    }));
    let seen = lock(&seen);
    let schedule = seen.schedule.as_ref().map(serialize_schedule);
    Run {
        end: RunEnd::of(r),
        replay: ReplayToken::Shuttle {
            schedule: schedule.unwrap_or_default(),
        },
        single_schedule: seen.single_schedule,
        checkpoint: None,
    }
}

/// Check that a shuttle schedule (a replay token's) decodes, so that replaying it cannot
/// make shuttle panic on it.
pub fn check_schedule(schedule: &str) -> Result<(), String> {
    deserialize_schedule(schedule)
        .map(|_| ())
        .ok_or_else(|| "the shuttle schedule does not decode".to_string())
}

pub(super) fn run(req: &Request) -> Result<Run, String> {
    let n = usize::try_from(req.max_executions).unwrap_or(usize::MAX);
    Ok(match &req.strategy {
        Strategy::Pct { depth } => runner(req, PctScheduler::new_from_seed(req.seed, *depth, n)),
        Strategy::Random => runner(req, RandomScheduler::new_from_seed(req.seed, n)),
        // Unbounded: the engine's budget stops DFS, so a DFS that returns has exhausted.
        Strategy::Dfs => runner(req, DfsScheduler::new(None, false)),
        Strategy::ReplayShuttle { schedule } => {
            check_schedule(schedule)?;
            runner(req, ReplayScheduler::new_from_encoded(schedule))
        }
        Strategy::ShrinkShuttle { schedule, class } => {
            check_schedule(schedule)?;
            let limit = Duration::from_secs_f64(req.time_limit_secs);
            let Some((witness, info)) =
                crate::shrink::shrink(&req.program, req.config, schedule, *class, limit)
            else {
                return Err(format!(
                    "the schedule to shrink does not reproduce a {class} finding"
                ));
            };
            *lock(&SHRINK) = Some(info);
            // Replay the witness as a fresh exploration of one execution: its finding is
            // classified like any other, and the token is the schedule that replays it.
            begin(req, Instant::now());
            runner(req, ReplayScheduler::new_from_encoded(&witness))
        }
        other => {
            return Err(format!(
                "strategy `{}` is not a shuttle strategy",
                other.name()
            ))
        }
    })
}
