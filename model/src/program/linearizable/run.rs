//! One sequential run of a program: init's setup, the fork of each thread's task, then one order
//! of the threads' operations, each run whole, with an operation that blocks (a `umount` whose
//! `kill_super` waits for an `s_umount` another thread's `get_super` holds) suspended where it
//! waits and resumed, in task order, once its wait can be satisfied (Lincheck's suspension of
//! blocking operations), on the task threads of [`crate::sync::seq`] or inline on the caller's.
//!
//! Invariant: a run ends with no operation suspended, or it is abandoned as infeasible (an order
//! that needs a suspended thread's next operation, or ends with one still waiting); the polls
//! of one order are bounded by [`super::MAX_POLLS_PER_ORDER`].

use super::{RunError, SpecError, MAX_POLLS_PER_ORDER};
use crate::error::OpResult;
use crate::kernel::Config;
use crate::oracle::Ledger;
use crate::program::exec::{apply_checked, setup_default, OpOutcome};
use crate::program::outcome::{observe, Outcome};
use crate::program::{Call, Program};
use crate::sync::seq::{Event, Group};
use crate::task::Task;
use std::sync::{Arc, Mutex, MutexGuard};

type Slot = Arc<Mutex<Option<Task>>>;

fn slot(s: &Slot) -> MutexGuard<'_, Option<Task>> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a thread's current operation stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    /// No operation under way.
    Idle,
    /// Suspended in this wait.
    Blocked(String),
    /// In a retry loop.
    Yielded,
}

/// One run of the program's setup and of one order.
pub(super) struct Run<'a> {
    program: &'a Program,
    cfg: Config,
    group: &'a Group,
    /// Every operation runs on the coordinator's thread ([`Group::run_inline`]); the first that
    /// would wait ends the run with [`RunError::WouldWait`].
    inline: bool,
    slots: Vec<Slot>,
    pending: Vec<Pending>,
    doing: Vec<String>,
    results: Vec<Vec<Option<OpResult>>>,
    polls: usize,
}

impl<'a> Run<'a> {
    pub(super) fn new(program: &'a Program, cfg: Config, group: &'a Group, inline: bool) -> Self {
        let n = program.threads.len();
        Run {
            program,
            cfg,
            group,
            inline,
            slots: (0..=n).map(|_| Arc::new(Mutex::new(None))).collect(),
            pending: vec![Pending::Idle; n + 1],
            doing: vec![String::new(); n + 1],
            results: vec![Vec::new(); n],
            polls: 0,
        }
    }

    /// Run `f` as task `t` (`doing` names it in a runner's error): on the coordinator's thread
    /// when the run is inline, else on the task's thread.
    fn exec<R: Send + 'static>(
        &self,
        t: usize,
        doing: &str,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<Event, RunError> {
        if self.inline {
            match self.group.run_inline(f) {
                Event::WouldWait => Err(RunError::WouldWait),
                ev => Ok(ev),
            }
        } else {
            Ok(self.group.run(t, doing, f)?)
        }
    }

    /// Boot, then the setup as init (task 0); its results.
    pub(super) fn setup(&mut self) -> Result<Vec<OpResult>, RunError> {
        let (s0, cfg) = (self.slots[0].clone(), self.cfg);
        let ev = self.exec(0, "booting", move || {
            *slot(&s0) = Some(Task::boot(cfg, Ledger::new()));
        })?;
        if let Event::Failed(m) = ev {
            return Err(SpecError::Runner(format!("boot failed: {m}")).into());
        }
        let implied = setup_default();
        let mut out = Vec::new();
        for (index, call) in self.program.setup.iter().enumerate() {
            let s0 = self.slots[0].clone();
            let c = call.clone();
            let doing = format!("running setup call `{}`", call.op);
            let ev = self.exec(0, &doing, move || {
                let mut g = slot(&s0);
                let init = g.as_mut().expect("init booted");
                apply_checked(init, &c, None).result
            })?;
            let r = match ev {
                Event::Done(v) => *v.downcast::<OpResult>().expect("an OpResult"),
                Event::Blocked(w) => {
                    self.group.abandon(0)?;
                    return Err(SpecError::Setup {
                        index,
                        msg: format!("`{}` blocks for ever ({w}): init is the only task", call.op),
                    }
                    .into());
                }
                Event::Failed(m) => {
                    return Err(SpecError::Setup {
                        index,
                        msg: format!("`{}` fails in the fixed protocol: {m}", call.op),
                    }
                    .into())
                }
                other => {
                    let _ = self.group.abandon(0);
                    return Err(SpecError::Runner(format!(
                        "setup call `{}` stopped with {other:?}",
                        call.op
                    ))
                    .into());
                }
            };
            let want = call.expect.as_ref().unwrap_or(&implied);
            if !want.admits(r) {
                return Err(RunError::Spec(SpecError::Setup {
                    index,
                    msg: format!(
                        "`{}` returns {r} in the fixed protocol, but the setup says {want}{}",
                        call.op,
                        if call.expect.is_none() {
                            " (a setup call with no assertion must succeed)"
                        } else {
                            ""
                        }
                    ),
                }));
            }
            out.push(r);
        }
        Ok(out)
    }

    /// Fork the threads' tasks from init.
    pub(super) fn fork(&mut self) -> Result<(), RunError> {
        let slots = self.slots.clone();
        let ev = self.exec(0, "forking the threads' tasks", move || {
            let g = slot(&slots[0]);
            let init = g.as_ref().expect("init booted");
            init.ctx.set_op("fork");
            for (i, s) in slots.iter().enumerate().skip(1) {
                *slot(s) = Some(init.fork(i).expect("init is alive while forking"));
            }
        })?;
        match ev {
            Event::Done(_) => Ok(()),
            other => Err(SpecError::Runner(format!("fork stopped with {other:?}")).into()),
        }
    }

    /// Record what stopped task `t`.
    fn note(&mut self, t: usize, ev: Event) -> Result<(), RunError> {
        match ev {
            Event::Done(v) => {
                let o = *v.downcast::<OpOutcome>().expect("an OpOutcome");
                self.results[t - 1].push(Some(o.result));
                self.pending[t] = Pending::Idle;
            }
            Event::Blocked(w) => self.pending[t] = Pending::Blocked(w),
            Event::Yielded => self.pending[t] = Pending::Yielded,
            Event::StillBlocked => {}
            Event::Failed(m) => {
                return Err(SpecError::Runner(format!(
                    "T{t} `{}` raised in the fixed protocol, in a sequential order: {m}",
                    self.doing[t]
                ))
                .into())
            }
            Event::Abandoned => {
                return Err(
                    SpecError::Runner(format!("T{t} `{}` unwound unasked", self.doing[t])).into(),
                )
            }
            Event::WouldWait => return Err(RunError::WouldWait),
        }
        Ok(())
    }

    /// Resume every suspended task whose wait is now satisfiable (in task order, each until it
    /// finishes or blocks again), then let a yielding task go on; until nothing moves.
    fn settle(&mut self) -> Result<(), RunError> {
        loop {
            if self.polls > MAX_POLLS_PER_ORDER {
                let stuck: Vec<String> = self
                    .pending
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| **p != Pending::Idle)
                    .map(|(t, p)| format!("T{t} in `{}` ({p:?})", self.doing[t]))
                    .collect();
                return Err(SpecError::Runner(format!(
                    "livelock: more than {MAX_POLLS_PER_ORDER} polls in one order without every operation ending; {}",
                    stuck.join("; ")
                ))
                .into());
            }
            let blocked = (1..self.pending.len())
                .filter(|t| matches!(self.pending[*t], Pending::Blocked(_)))
                .collect::<Vec<_>>();
            let mut moved = false;
            for t in blocked {
                self.polls += 1;
                let doing = format!("resuming `{}`", self.doing[t]);
                match self.group.poll(t, &doing)? {
                    Event::StillBlocked => {}
                    ev => {
                        self.note(t, ev)?;
                        moved = true;
                        break;
                    }
                }
            }
            if moved {
                continue;
            }
            let Some(t) = (1..self.pending.len()).find(|t| self.pending[*t] == Pending::Yielded)
            else {
                return Ok(());
            };
            self.polls += 1;
            let doing = format!("resuming `{}` after a yield", self.doing[t]);
            let ev = self.group.poll(t, &doing)?;
            self.note(t, ev)?;
        }
    }

    /// Run `order` after the setup and the forks, the calls of `failed` (thread, index) failing
    /// without effect where they stand; `None` when the order is infeasible (a thread's next
    /// operation is asked for while its current one is suspended, or one is still suspended at
    /// the end).
    pub(super) fn order(
        &mut self,
        order: &[u8],
        failed: &[(usize, usize)],
    ) -> Result<Option<Outcome>, RunError> {
        let mut next = vec![0usize; self.slots.len()];
        let skip = |t: usize, next: &mut Vec<usize>, results: &mut Vec<Vec<Option<OpResult>>>| {
            while failed.contains(&(t - 1, next[t])) {
                results[t - 1].push(None);
                next[t] += 1;
            }
        };
        for &t in order {
            let t = usize::from(t);
            if self.pending[t] != Pending::Idle {
                return Ok(None);
            }
            skip(t, &mut next, &mut self.results);
            let call: Call = self.program.threads[t - 1][next[t]].clone();
            next[t] += 1;
            self.doing[t] = call.op.to_string();
            let s = self.slots[t].clone();
            let doing = format!("running `{}`", call.op);
            let ev = self.exec(t, &doing, move || {
                let mut g = slot(&s);
                let task = g.as_mut().expect("forked");
                apply_checked(task, &call, None)
            })?;
            self.note(t, ev)?;
            self.settle()?;
        }
        if self.pending.iter().any(|p| *p != Pending::Idle) {
            return Ok(None);
        }
        for t in 1..self.slots.len() {
            skip(t, &mut next, &mut self.results);
        }
        let guards: Vec<MutexGuard<'_, Option<Task>>> = self.slots.iter().map(slot).collect();
        let tasks: Vec<&Task> = guards
            .iter()
            .map(|g| g.as_ref().expect("every task exists"))
            .collect();
        let tables = observe(&tasks);
        drop(tasks);
        drop(guards);
        Ok(Some(Outcome {
            results: std::mem::take(&mut self.results),
            tables,
        }))
    }

    /// Unwind every suspended task, so the group's threads are idle for the next order.
    pub(super) fn abandon_pending(&mut self) -> Result<(), RunError> {
        for t in 0..self.pending.len() {
            if self.pending[t] != Pending::Idle {
                self.group.abandon(t)?;
                self.pending[t] = Pending::Idle;
            }
        }
        Ok(())
    }
}
