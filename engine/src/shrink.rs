//! Fewest preemptions for a shuttle witness: replay-guided shrinking of a failing schedule.
//!
//! What it does: a PCT, random or DFS finding comes with the schedule that produced it, which
//! often carries more context switches than the race needs. Following CHESS's observation that
//! few preemptions explain most bugs (and `../shared/reference/oracles-and-generation.md`:
//! "replay with context switches removed one at a time while the same finding class occurs"),
//! the schedule is turned into a *plan*: the preemptions it made (at a scheduling decision where
//! the running task could have gone on, another task was chosen) and the choices it made where
//! the running task could not go on (it blocked, yielded in a spin loop, or finished). A guided
//! scheduler replays a plan: it keeps the running task running unless the plan preempts it at
//! that point, and follows the plan's choice where the task cannot go on (the lowest-numbered
//! runnable task when the plan has none). Points are named by the task and how many times it
//! had been scheduled, which a task's own progress determines, so a plan stays meaningful when
//! an earlier preemption is dropped. Shrinking drops one preemption at a time, latest first,
//! keeping each drop after which the guided run still fails with the same finding class with
//! fewer preemptions (or as many and fewer steps), re-reading the plan from that run. Before
//! dropping, it tries the witness's own preemption points as small subsets (none, each one, each
//! pair, each triple), CHESS's iterative context bounding restricted to those points; after, it
//! drops pairs. It stops when no candidate helps: the witness is then 2-minimal (no one or two
//! of its preemptions can be removed) and no subset of at most three of its points fails alone.
//!
//! Invariant: the schedule returned is the one the last successful guided run recorded, every
//! decision and random value pushed, so `ReplayScheduler` replays it byte for byte; the search
//! is bounded by [`MAX_SHRINK_RUNS`] guided runs and by the request's time limit, and says which
//! bound stopped it.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mountcheck_model::oracle::FindingClass;
use mountcheck_model::{Config, Program};
use shuttle::scheduler::{ReplayScheduler, Schedule, Scheduler, Task, TaskId};
use shuttle_engine::scheduler::data::random::RandomDataSource;
use shuttle_engine::scheduler::data::DataSource;
use shuttle_engine::scheduler::serialization::serialize_schedule;

use crate::driver::{classify, one_execution, start_guided_run, Ended};
use crate::{Failure, ReplayToken, ShrinkInfo, ShrinkStop};

pub use crate::MAX_SHRINK_RUNS;

/// The largest subset of a witness's preemption points tried whole (see [`shrink`]): 3 points of
/// up to a dozen are a few hundred guided runs at most.
const MAX_SUBSET: usize = 3;

/// Every subset of `0..n` with `size` elements, in lexicographic order.
fn subsets(n: usize, size: usize) -> Vec<Vec<usize>> {
    fn go(start: usize, n: usize, size: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == size {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            go(i + 1, n, size, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    go(0, n, size, &mut Vec::new(), &mut out);
    out
}

/// A scheduling point: a task (`None` before the first decision) and how many times it had been
/// scheduled when the decision was made.
type Point = (Option<usize>, usize);

/// What one decision of a recorded run was.
#[derive(Clone, Debug)]
struct Decision {
    prev: Option<usize>,
    prev_count: usize,
    /// The previous task could have gone on (runnable and not yielding).
    could_continue: bool,
    chosen: usize,
}

/// Preemptions and forced choices of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Plan {
    preempt: BTreeMap<Point, usize>,
    forced: BTreeMap<Point, usize>,
    /// The order in which the preemptions happened (latest last), for shrinking latest first.
    order: Vec<Point>,
}

impl Plan {
    fn from_decisions(ds: &[Decision]) -> Plan {
        let mut p = Plan::default();
        for d in ds {
            let at = (d.prev, d.prev_count);
            if d.could_continue && Some(d.chosen) != d.prev {
                p.preempt.insert(at, d.chosen);
                p.order.push(at);
            } else if !d.could_continue {
                p.forced.insert(at, d.chosen);
            }
        }
        p
    }

    fn without(&self, at: Point) -> Plan {
        let mut p = self.clone();
        p.preempt.remove(&at);
        p.order.retain(|x| *x != at);
        p
    }
}

/// How many preemptions a recorded schedule has.
fn preemptions(ds: &[Decision]) -> usize {
    Plan::from_decisions(ds).preempt.len()
}

/// What a guided run records.
#[derive(Default)]
struct Tape {
    schedule: Schedule,
    decisions: Vec<Decision>,
}

/// Replays a plan (see the module documentation), or, with `replay`, an exact schedule while
/// recording its decisions.
struct Guided {
    plan: Plan,
    replay: Option<ReplayScheduler>,
    counts: BTreeMap<usize, usize>,
    started: bool,
    data: RandomDataSource,
    tape: Arc<Mutex<Tape>>,
}

impl Guided {
    fn new(plan: Plan, replay: Option<ReplayScheduler>, seed: u64, tape: Arc<Mutex<Tape>>) -> Self {
        Guided {
            plan,
            replay,
            counts: BTreeMap::new(),
            started: false,
            data: RandomDataSource::initialize(seed),
            tape,
        }
    }
}

impl Scheduler for Guided {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        let seed = match &mut self.replay {
            Some(r) => r.new_execution()?.seed,
            None => self.data.reinitialize(),
        };
        let mut t = self.tape.lock().unwrap_or_else(|p| p.into_inner());
        *t = Tape {
            schedule: Schedule::new(seed),
            decisions: Vec::new(),
        };
        Some(Schedule::new(seed))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let ids: Vec<TaskId> = runnable.iter().map(|t| t.id()).collect();
        let prev = current.map(usize::from);
        let prev_count = prev.map_or(0, |p| self.counts.get(&p).copied().unwrap_or(0));
        let could_continue = !is_yielding && current.is_some_and(|c| ids.contains(&c));
        let pick = |want: Option<&usize>| {
            want.and_then(|w| ids.iter().copied().find(|t| usize::from(*t) == *w))
        };
        let chosen = match &mut self.replay {
            Some(r) => r.next_task(runnable, current, is_yielding)?,
            None => {
                let at = (prev, prev_count);
                if could_continue {
                    pick(self.plan.preempt.get(&at)).or(current)?
                } else {
                    let others: Vec<TaskId> = ids
                        .iter()
                        .copied()
                        .filter(|t| Some(*t) != current || ids.len() == 1)
                        .collect();
                    pick(self.plan.forced.get(&at))
                        .or_else(|| others.iter().copied().min_by_key(|t| usize::from(*t)))?
                }
            }
        };
        *self.counts.entry(usize::from(chosen)).or_default() += 1;
        let mut t = self.tape.lock().unwrap_or_else(|p| p.into_inner());
        t.schedule.push_task(chosen);
        t.decisions.push(Decision {
            prev,
            prev_count,
            could_continue,
            chosen: usize::from(chosen),
        });
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        self.tape
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .schedule
            .push_random();
        match &mut self.replay {
            Some(r) => r.next_u64(),
            None => self.data.next_u64(),
        }
    }
}

/// One guided run: the finding class (if the run failed), the failure, and the tape.
fn guided_run(
    program: &Program,
    cfg: Config,
    sched: Guided,
    tape: &Arc<Mutex<Tape>>,
    max_steps: usize,
) -> (Option<FindingClass>, Option<Failure>, Tape) {
    start_guided_run();
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.max_steps = shuttle::MaxSteps::FailAfter(max_steps);
    let program = program.clone();
    let r = catch_unwind(AssertUnwindSafe(move || {
        shuttle::Runner::new(sched, config).run(move || one_execution(&program, cfg));
    }));
    let tape = std::mem::take(&mut *tape.lock().unwrap_or_else(|p| p.into_inner()));
    match r {
        Ok(()) => (None, None, tape),
        Err(_) => {
            let token = ReplayToken::Shuttle {
                schedule: serialize_schedule(&tape.schedule),
            };
            match classify(token) {
                Ended::Finding(f) => (Some(f.finding.class), Some(*f), tape),
                Ended::CheckerError(_) => (None, None, tape),
            }
        }
    }
}

/// Shrink the failing `schedule` of `program` (whose finding has class `class`) to a witness
/// with fewer preemptions: the witness's schedule (encoded) and what was done. `None` when the
/// schedule does not reproduce the class at all.
pub fn shrink(
    program: &Program,
    cfg: Config,
    schedule: &str,
    class: FindingClass,
    time_limit: Duration,
) -> Option<(String, ShrinkInfo)> {
    let start = Instant::now();
    let tape = Arc::new(Mutex::new(Tape::default()));
    let replay = ReplayScheduler::new_from_encoded(schedule);
    // Each guided run may take this many scheduling steps: the original length with room to
    // spare (a plan that drops a preemption may run a spinning task longer before it blocks).
    let original_len = shuttle_engine::scheduler::serialization::deserialize_schedule(schedule)
        .map_or(0, |s| s.len());
    let max_steps = original_len.saturating_mul(4).max(10_000);
    let (got, failure, first) = guided_run(
        program,
        cfg,
        Guided::new(Plan::default(), Some(replay), 0, tape.clone()),
        &tape,
        max_steps,
    );
    if got != Some(class) {
        return None;
    }
    let seed = first.schedule.seed;
    let mut best = failure?;
    let mut best_decisions = first.decisions.clone();
    let before = (preemptions(&first.decisions), first.decisions.len());
    let mut plan = Plan::from_decisions(&first.decisions);
    let mut runs = 1;
    // Candidates, in rounds, each round over the current witness's plan: first, in the manner of
    // CHESS's iterative context bounding, every subset of its preemption points of 0, 1, 2, …
    // points (up to [`MAX_SUBSET`], fewer than it has), with its forced choices kept and then
    // with them left to the default; then every plan with one of its preemptions dropped, then
    // two. The first candidate that fails with the same class and fewer preemptions (or as many
    // and fewer steps) becomes the witness and a new round starts; a round with none ends it.
    let stop = 'search: loop {
        let order = plan.order.clone();
        let n = order.len();
        let mut cands: Vec<Plan> = Vec::new();
        for size in 0..n.min(MAX_SUBSET + 1) {
            for keep in subsets(n, size) {
                let mut p = Plan::default();
                for i in keep {
                    p.preempt.insert(order[i], plan.preempt[&order[i]]);
                    p.order.push(order[i]);
                }
                let mut with_forced = p.clone();
                with_forced.forced = plan.forced.clone();
                cands.push(with_forced);
                cands.push(p);
            }
        }
        for j in (0..n).rev() {
            cands.push(plan.without(order[j]));
        }
        for j in (0..n).rev() {
            for i in (0..j).rev() {
                cands.push(plan.without(order[i]).without(order[j]));
            }
        }
        let mut improved = false;
        for cand in cands {
            if runs >= MAX_SHRINK_RUNS {
                break 'search ShrinkStop::RunCap;
            }
            if start.elapsed() >= time_limit {
                break 'search ShrinkStop::TimeLimit;
            }
            runs += 1;
            let (got, failure, t) = guided_run(
                program,
                cfg,
                Guided::new(cand, None, seed, tape.clone()),
                &tape,
                max_steps,
            );
            let Some(f) = failure.filter(|_| got == Some(class)) else {
                continue;
            };
            let next = Plan::from_decisions(&t.decisions);
            let better = next.preempt.len() < plan.preempt.len()
                || (next.preempt.len() == plan.preempt.len()
                    && t.decisions.len() < best_decisions.len());
            if better {
                plan = next;
                best = f;
                best_decisions = t.decisions;
                improved = true;
                break;
            }
        }
        if !improved {
            break ShrinkStop::Minimal;
        }
    };
    let info = ShrinkInfo {
        preemptions_before: before.0,
        preemptions_after: preemptions(&best_decisions),
        steps_before: before.1,
        steps_after: best_decisions.len(),
        runs,
        stop,
    };
    let ReplayToken::Shuttle { schedule } = best.replay else {
        return None;
    };
    Some((schedule, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(prev: Option<usize>, prev_count: usize, could_continue: bool, chosen: usize) -> Decision {
        Decision {
            prev,
            prev_count,
            could_continue,
            chosen,
        }
    }

    #[test]
    fn subsets_of_each_size() {
        assert_eq!(subsets(3, 0), vec![Vec::<usize>::new()]);
        assert_eq!(subsets(3, 2), vec![vec![0, 1], vec![0, 2], vec![1, 2]]);
        assert_eq!(subsets(4, 3).len(), 4);
    }

    #[test]
    fn a_plan_separates_preemptions_from_forced_choices() {
        let ds = [
            d(None, 0, false, 0),
            d(Some(0), 1, true, 1),  // preemption of 0 after 1 step
            d(Some(1), 1, false, 0), // 1 blocked
            d(Some(0), 2, true, 0),  // 0 goes on
            d(Some(0), 3, true, 2),  // preemption
        ];
        let p = Plan::from_decisions(&ds);
        assert_eq!(p.preempt.len(), 2);
        assert_eq!(p.forced.len(), 2);
        assert_eq!(p.order, vec![(Some(0), 1), (Some(0), 3)]);
        assert_eq!(p.without((Some(0), 3)).preempt.len(), 1);
        assert_eq!(preemptions(&ds), 2);
    }
}
