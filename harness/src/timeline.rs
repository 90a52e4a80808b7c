//! The view of a report's trace that the Markdown and HTML reports both render: computed once
//! from a [`Report`], so both show the same rows, the same preemptions and the same summary.
//!
//! What it models: nothing of the kernel; it is how a reader wants the oracle's trace
//! (`mountcheck_model::oracle::trace`) laid out to see a race in a minute (the Lincheck layout:
//! a table of each thread's operations with their results, then the interleaving around the
//! failure). From the report's program, trace and finding it derives:
//!
//! - **phases**: boot, setup and init's fork/join before the threads ([`Phase`]), the threads,
//!   and quiescence (everything from init's first step after its `join`: every task's exit and
//!   the leak checks, all run by the main thread);
//! - **groups**: boot, each setup operation and each quiescence operation as one [`Group`],
//!   folded to one row unless the failing step is in it;
//! - the **summary** ([`Column`] per thread, T0 holding setup and quiescence): every operation
//!   with its result as its return step shows it (everything after the last ` = ` of
//!   `apply`'s `OP = RESULT` step), the failing one marked, the ones that never returned marked
//!   blocked (a deadlock) or cut short (the execution stopped at the finding first);
//! - **switches** between consecutive steps of different threads, each classified
//!   ([`SwitchKind`]); the preemptions are numbered;
//! - the **focused** rows: only steps that name the finding's objects, lock operations of the
//!   threads involved that matter to them, operation starts and returns of every thread, the
//!   steps around each preemption and the failing step, with the number of steps hidden between
//!   kept rows; the **full** rows keep every step (groups still folded, for HTML to expand);
//! - lock hold intervals and the finding's objects' count changes, for the picture.
//!
//! How preemptions are inferred (the trace records steps, not the scheduler's decisions): a
//! switch from thread A to thread B after step i is a preemption unless A could not go on. A
//! could not go on when (1) A's step i or its next step is a join (init waiting for the
//! threads); (2) A's next step takes a lock that, after step i, another thread held in a
//! conflicting mode (read by the `locks` field of each thread's latest step; a lock anyone takes
//! with `spin_lock` is a mutex whatever its label says); (3) A has no later step and every one
//! of its operations returned (it finished); (4) the switch is in quiescence, where the main
//! thread runs every task's exit in turn. A thread with no later step whose operation never
//! returned was stopped for good by the finding: that counts as a preemption, except in a
//! deadlock, where it is blocked. Limits: a thread can block where the trace records no step
//! (inside a model lock taken before its acquisition is recorded, a reader held back by a
//! waiting writer, a condition variable), and a preemption and its resumption with no step of
//! another thread in between are invisible; so the count is what the recorded steps show, which
//! can differ from the checker's own count by those cases.
//!
//! Invariant: the timeline is a pure function of the report, so rendering it is deterministic;
//! every step of the trace is in exactly one full row (a step row or a folded group).

mod infer;

use std::collections::BTreeSet;

use mountcheck_model::oracle::{FindingClass, ObjKind, Step};

pub use infer::{lock_base, lock_op, result_of, CountChange, LockHold};

use crate::report::Report;
use infer::{blocked_by, count_change, lock_holds, mentions, object_tokens};

/// Where a step is in the execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Init boots the kernel.
    Boot,
    /// Init runs the scenario's setup.
    Setup,
    /// Init's other work before the threads (fork).
    Init,
    /// The threads run (init may join here).
    Threads,
    /// After init's join: every task exits and the checks run, on the main thread.
    Quiescence,
}

impl Phase {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Boot => "boot",
            Phase::Setup => "setup",
            Phase::Init => "init",
            Phase::Threads => "threads",
            Phase::Quiescence => "quiescence",
        }
    }
}

/// Consecutive steps of one thread's operation outside the threads phase: boot, one setup
/// operation, init's fork, one quiescence operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Phase.
    pub phase: Phase,
    /// Thread.
    pub thread: usize,
    /// Operation text.
    pub op: String,
    /// Index of the first step.
    pub first: usize,
    /// Index of the last step.
    pub last: usize,
    /// The operation's result, if its return step is in the group.
    pub result: Option<String>,
    /// Shown as one row (it has more than one step and not the failing one).
    pub folded: bool,
}

impl Group {
    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.last - self.first + 1
    }
}

/// Why the scheduler moved from one thread to another between two steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwitchKind {
    /// The thread could have gone on: the scheduler stopped it.
    Preemption,
    /// The thread waited for a lock another thread held (`lock`, `holder`), or, in a deadlock,
    /// for something the trace does not name.
    Blocked {
        /// The lock it waited for.
        lock: Option<String>,
        /// The thread holding it.
        holder: Option<usize>,
    },
    /// The thread joins the others.
    Joining,
    /// The thread finished its operations.
    Finished,
    /// Quiescence: the main thread runs each task's exit in turn.
    Sequential,
}

/// A switch between step `after` (of `from`) and step `after + 1` (of `to`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    /// Index of the last step of `from` before the switch.
    pub after: usize,
    /// Thread that stopped.
    pub from: usize,
    /// Thread that ran instead.
    pub to: usize,
    /// Why.
    pub kind: SwitchKind,
    /// For a preemption, its number (1-based); 0 otherwise.
    pub number: usize,
}

/// What became of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It returned this result (`0`, `-EBUSY`, …).
    Returned(String),
    /// The finding of this class was made in it.
    Failed(String),
    /// It never returned: blocked (a deadlock).
    Blocked,
    /// It never returned: the execution stopped at the finding first.
    CutShort,
    /// It never started.
    NotStarted,
    /// Quiescence ran its checks and they held.
    Passed,
}

/// One operation of the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpCell {
    /// Operation text.
    pub op: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The operation where the failure happened.
    pub failing: bool,
    /// Index of its first step.
    pub first: Option<usize>,
    /// Index of its last step.
    pub last: Option<usize>,
}

/// One column of the summary: a thread's operations (T0: the setup, then quiescence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Thread.
    pub thread: usize,
    /// Operations, in program order.
    pub ops: Vec<OpCell>,
}

/// One row of the interleaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// A folded group (index into [`Timeline::groups`]).
    Group(usize),
    /// A step (index into the trace).
    Step(usize),
    /// This many steps left out (focused view).
    Hidden(usize),
    /// A preemption mark (index into [`Timeline::switches`]), after the step it follows.
    Preemption(usize),
}

/// The values one count of one of the finding's objects took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountSeries {
    /// The object (`sb#4`).
    pub object: String,
    /// The kernel's field name.
    pub counter: &'static str,
    /// Each change: the step index and what it did.
    pub points: Vec<(usize, CountChange)>,
}

/// An allocation, shutdown or free of one of the finding's objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEvent {
    /// Step index.
    pub index: usize,
    /// The object.
    pub object: String,
    /// `alloc`, `shut down` or `free`.
    pub what: &'static str,
}

/// The view of a report's trace.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// The highest thread number (lanes are T0..=threads).
    pub threads: usize,
    /// Phase of each step.
    pub phases: Vec<Phase>,
    /// The groups of steps outside the threads phase.
    pub groups: Vec<Group>,
    /// For each step, its group.
    pub group_of: Vec<Option<usize>>,
    /// Whether each step starts an operation of its thread.
    pub op_start: Vec<bool>,
    /// Index of the failing step.
    pub failing: Option<usize>,
    /// The finding's objects (`sb#4`): its object, then the objects its message names.
    pub focus: Vec<String>,
    /// Threads involved: the finding's thread and the threads that touched its objects.
    pub involved: BTreeSet<usize>,
    /// Whether each step names one of the finding's objects.
    pub touches: Vec<bool>,
    /// Whether each step is in the focused view.
    pub kept: Vec<bool>,
    /// The summary: one column per thread.
    pub summary: Vec<Column>,
    /// Every switch between threads.
    pub switches: Vec<Switch>,
    /// Every lock hold interval.
    pub holds: Vec<LockHold>,
    /// The counts of the finding's objects.
    pub counts: Vec<CountSeries>,
    /// Allocations, shutdowns and frees of the finding's objects.
    pub object_events: Vec<ObjectEvent>,
}

fn kind_prefix(k: ObjKind) -> &'static str {
    match k {
        ObjKind::SuperBlock => "sb",
        ObjKind::Mount => "mnt",
        ObjKind::Namespace => "ns",
    }
}

/// Runs of consecutive steps of one thread's operation within `range`: a run ends where the
/// thread or the operation changes or after an operation's return step.
fn runs(trace: &[Step], range: std::ops::Range<usize>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for i in range {
        let s = &trace[i];
        match out.last_mut() {
            Some((_, last))
                if trace[*last].thread == s.thread
                    && trace[*last].op == s.op
                    && result_of(&trace[*last]).is_none() =>
            {
                *last = i;
            }
            _ => out.push((i, i)),
        }
    }
    out
}

impl Timeline {
    /// The timeline of a report.
    pub fn from_report(r: &Report) -> Timeline {
        let trace = &r.trace;
        let n = trace.len();
        let finding = r.finding.as_ref().map(|f| &f.finding);
        let class = finding.map(|f| f.class.name().to_string());
        let deadlock = finding.is_some_and(|f| f.class == FindingClass::Deadlock);
        let failing = trace.iter().position(|s| s.failing);
        let threads = trace
            .iter()
            .map(|s| s.thread)
            .max()
            .unwrap_or(0)
            .max(r.program.threads.len());

        // Phases.
        let join = trace
            .iter()
            .position(|s| s.thread == 0 && s.action.starts_with("join"));
        let quiescence = match join {
            Some(j) => (j + 1..n).find(|&i| trace[i].thread == 0),
            None => trace
                .iter()
                .position(|s| s.thread == 0 && s.op == "quiescence"),
        }
        .unwrap_or(n);
        let first_thread = (0..quiescence)
            .find(|&i| trace[i].thread != 0)
            .unwrap_or(quiescence);
        let setup_ops: Vec<String> = r.program.setup.iter().map(|o| o.to_string()).collect();
        let mut phases = vec![Phase::Threads; n];
        let mut groups = Vec::new();
        let mut seen_setup = false;
        for (first, last) in runs(trace, 0..first_thread) {
            let op = &trace[first].op;
            let phase = if setup_ops.contains(op) {
                seen_setup = true;
                Phase::Setup
            } else if seen_setup {
                Phase::Init
            } else {
                Phase::Boot
            };
            groups.push((phase, first, last));
        }
        for (first, last) in runs(trace, quiescence..n) {
            groups.push((Phase::Quiescence, first, last));
        }
        let mut group_of = vec![None; n];
        let groups: Vec<Group> = groups
            .into_iter()
            .enumerate()
            .map(|(g, (phase, first, last))| {
                for i in first..=last {
                    phases[i] = phase;
                    group_of[i] = Some(g);
                }
                Group {
                    phase,
                    thread: trace[first].thread,
                    op: trace[first].op.clone(),
                    first,
                    last,
                    result: result_of(&trace[last]).map(str::to_string),
                    folded: last > first && !failing.is_some_and(|f| (first..=last).contains(&f)),
                }
            })
            .collect();

        // Operation starts: the first step of a thread, or one whose operation differs from the
        // thread's previous step's, or that follows its return.
        let mut op_start = vec![false; n];
        let mut prev: Vec<Option<usize>> = vec![None; threads + 1];
        for (i, s) in trace.iter().enumerate() {
            op_start[i] = match prev[s.thread] {
                None => true,
                Some(p) => trace[p].op != s.op || result_of(&trace[p]).is_some(),
            };
            prev[s.thread] = Some(i);
        }

        // The summary.
        let instances = |t: usize, phase: Phase| -> Vec<(usize, usize)> {
            let idx: Vec<usize> = (0..n)
                .filter(|&i| trace[i].thread == t && phases[i] == phase)
                .collect();
            let mut out: Vec<(usize, usize)> = Vec::new();
            for i in idx {
                match out.last_mut() {
                    Some((_, last)) if !op_start[i] => *last = i,
                    _ => out.push((i, i)),
                }
            }
            out
        };
        let cell = |first: usize, last: usize| -> OpCell {
            let fails = failing.is_some_and(|f| (first..=last).contains(&f));
            let outcome = if fails {
                Outcome::Failed(class.clone().unwrap_or_default())
            } else if let Some(res) = result_of(&trace[last]) {
                Outcome::Returned(res.to_string())
            } else if deadlock {
                Outcome::Blocked
            } else {
                Outcome::CutShort
            };
            OpCell {
                op: trace[first].op.clone(),
                outcome,
                failing: fails,
                first: Some(first),
                last: Some(last),
            }
        };
        let align = |planned: Vec<String>, found: Vec<(usize, usize)>| -> Vec<OpCell> {
            let mut found = found.into_iter().peekable();
            let mut out: Vec<OpCell> = planned
                .into_iter()
                .map(|op| match found.next_if(|(f, _)| trace[*f].op == op) {
                    Some((f, l)) => cell(f, l),
                    None => OpCell {
                        op,
                        outcome: Outcome::NotStarted,
                        failing: false,
                        first: None,
                        last: None,
                    },
                })
                .collect();
            out.extend(found.map(|(f, l)| cell(f, l)));
            out
        };
        let mut summary = Vec::new();
        let mut setup = align(setup_ops.clone(), instances(0, Phase::Setup));
        if !trace.is_empty() {
            let q_fails = failing.is_some_and(|f| f >= quiescence)
                || (failing.is_none() && finding.is_some_and(|f| f.thread.is_none()));
            setup.push(OpCell {
                op: "quiescence".into(),
                outcome: if q_fails {
                    Outcome::Failed(class.clone().unwrap_or_default())
                } else if quiescence < n {
                    Outcome::Passed
                } else {
                    Outcome::NotStarted
                },
                failing: q_fails,
                first: (quiescence < n).then_some(quiescence),
                last: (quiescence < n).then_some(n - 1),
            });
        }
        summary.push(Column {
            thread: 0,
            ops: setup,
        });
        for t in 1..=threads {
            let planned = r
                .program
                .threads
                .get(t - 1)
                .map(|ops| ops.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default();
            summary.push(Column {
                thread: t,
                ops: align(planned, instances(t, Phase::Threads)),
            });
        }
        // A finding without a failing step (a deadlock): mark the operation it names.
        if failing.is_none() {
            if let Some(f) = finding {
                if let Some(c) = f
                    .thread
                    .and_then(|t| summary.iter_mut().find(|c| c.thread == t))
                {
                    if let Some(op) = c
                        .ops
                        .iter_mut()
                        .find(|o| o.op == f.op && !matches!(o.outcome, Outcome::Returned(_)))
                    {
                        op.failing = true;
                    }
                }
            }
        }

        // Switches.
        let finished = |t: usize| {
            t == 0
                || summary.iter().find(|c| c.thread == t).is_some_and(|c| {
                    c.ops
                        .iter()
                        .all(|o| matches!(o.outcome, Outcome::Returned(_)))
                })
        };
        let mut switches = Vec::new();
        let mut number = 0;
        for i in 0..n.saturating_sub(1) {
            let (a, b) = (trace[i].thread, trace[i + 1].thread);
            if a == b {
                continue;
            }
            let next = (i + 1..n).find(|&j| trace[j].thread == a && phases[j] != Phase::Quiescence);
            let kind = if phases[i] == Phase::Quiescence || phases[i + 1] == Phase::Quiescence {
                SwitchKind::Sequential
            } else if trace[i].action.starts_with("join")
                || next.is_some_and(|j| trace[j].action.starts_with("join"))
            {
                SwitchKind::Joining
            } else {
                match next {
                    Some(j) => match lock_op(&trace[j].action)
                        .and_then(|op| blocked_by(trace, i, a, &op).map(|h| (op.lock, h)))
                    {
                        Some((lock, holder)) => SwitchKind::Blocked {
                            lock: Some(lock),
                            holder: Some(holder),
                        },
                        None => SwitchKind::Preemption,
                    },
                    None if finished(a) => SwitchKind::Finished,
                    None if deadlock => SwitchKind::Blocked {
                        lock: None,
                        holder: None,
                    },
                    None => SwitchKind::Preemption,
                }
            };
            let num = if kind == SwitchKind::Preemption {
                number += 1;
                number
            } else {
                0
            };
            switches.push(Switch {
                after: i,
                from: a,
                to: b,
                kind,
                number: num,
            });
        }

        // The finding's objects and the threads involved.
        let mut focus: Vec<String> = Vec::new();
        if let Some(f) = finding {
            if let Some(o) = &f.object {
                focus.push(format!("{}#{}", kind_prefix(o.kind), o.oid.0));
                focus.extend(object_tokens(&o.label));
            }
            focus.extend(object_tokens(&f.message));
        }
        let mut uniq = Vec::new();
        for t in focus {
            if !uniq.contains(&t) {
                uniq.push(t);
            }
        }
        let focus = uniq;
        let touches = |s: &Step| {
            focus
                .iter()
                .any(|t| mentions(&s.action, t) || mentions(&s.counts, t))
        };
        let touched: Vec<bool> = trace.iter().map(touches).collect();
        let eligible: Vec<bool> = (0..n)
            .map(|i| !matches!(group_of[i], Some(g) if groups[g].folded))
            .collect();
        let mut involved: BTreeSet<usize> = finding.and_then(|f| f.thread).into_iter().collect();
        for i in (0..n).filter(|&i| eligible[i]) {
            if (focus.is_empty() && phases[i] == Phase::Threads) || touched[i] {
                involved.insert(trace[i].thread);
            }
        }

        // The focused view.
        let holds = lock_holds(trace);
        let core: Vec<bool> = (0..n)
            .map(|i| eligible[i] && (failing == Some(i) || touched[i]))
            .collect();
        let contended: BTreeSet<&str> = switches
            .iter()
            .filter_map(|s| match &s.kind {
                SwitchKind::Blocked {
                    lock: Some(lock), ..
                } => Some(lock.as_str()),
                _ => None,
            })
            .collect();
        let mut kept = core.clone();
        for i in (0..n).filter(|&i| eligible[i]) {
            let s = &trace[i];
            let single = group_of[i].is_some_and(|g| groups[g].steps() == 1);
            if single || op_start[i] || result_of(s).is_some() {
                kept[i] = true;
                continue;
            }
            let Some(op) = lock_op(&s.action) else {
                continue;
            };
            if !involved.contains(&s.thread) {
                continue;
            }
            let own = focus.iter().any(|t| {
                op.lock
                    .strip_prefix(t.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
            });
            let matters = || {
                holds
                    .iter()
                    .filter(|h| h.thread == s.thread && lock_base(&h.lock) == op.lock)
                    .find(|h| {
                        if op.acquire {
                            h.from == i
                        } else {
                            h.to == Some(i)
                        }
                    })
                    .is_some_and(|h| {
                        (h.from..=h.to.unwrap_or(n - 1))
                            .any(|j| trace[j].thread == s.thread && core[j])
                    })
            };
            if focus.is_empty() || own || contended.contains(op.lock.as_str()) || matters() {
                kept[i] = true;
            }
        }
        for s in switches.iter().filter(|s| s.kind == SwitchKind::Preemption) {
            for i in [s.after, s.after + 1] {
                if eligible[i] {
                    kept[i] = true;
                }
            }
        }

        // The finding's objects' counts and lives.
        let mut counts: Vec<CountSeries> = Vec::new();
        let mut object_events = Vec::new();
        for (i, s) in trace.iter().enumerate() {
            let first = object_tokens(&s.action).into_iter().next();
            let Some(obj) = first.filter(|o| focus.contains(o)) else {
                continue;
            };
            if s.action.starts_with("get ") || s.action.starts_with("put ") {
                if let Some(c) = count_change(&s.counts) {
                    match counts
                        .iter_mut()
                        .find(|x| x.object == obj && x.counter == c.counter)
                    {
                        Some(series) => series.points.push((i, c)),
                        None => counts.push(CountSeries {
                            object: obj.clone(),
                            counter: c.counter,
                            points: vec![(i, c)],
                        }),
                    }
                }
            }
            for (prefix, what) in [
                ("alloc ", "alloc"),
                ("shut down ", "shut down"),
                ("free ", "free"),
            ] {
                if s.action.starts_with(prefix) {
                    object_events.push(ObjectEvent {
                        index: i,
                        object: obj.clone(),
                        what,
                    });
                }
            }
        }
        counts.sort_by_key(|c| {
            (
                focus.iter().position(|f| *f == c.object),
                mountcheck_model::oracle::Counter::ALL
                    .iter()
                    .position(|k| k.name() == c.counter),
            )
        });

        Timeline {
            threads,
            phases,
            groups,
            group_of,
            op_start,
            failing,
            focus,
            involved,
            touches: touched,
            kept,
            summary,
            switches,
            holds,
            counts,
            object_events,
        }
    }

    /// The preemptions, in order.
    pub fn preemptions(&self) -> impl Iterator<Item = &Switch> {
        self.switches
            .iter()
            .filter(|s| s.kind == SwitchKind::Preemption)
    }

    /// How many preemptions the trace shows.
    pub fn preemption_count(&self) -> usize {
        self.preemptions().count()
    }

    /// The rows of the interleaving: every step (`focused == false`, folded groups still one
    /// row each) or only the kept ones with the hidden ones counted (a single hidden step
    /// between two rows is shown instead: its row costs the same as the count's).
    pub fn rows(&self, focused: bool) -> Vec<Row> {
        let n = self.phases.len();
        let mut out = Vec::new();
        // The steps left out since the last row: (first, how many). One step alone is shown
        // rather than counted, since its row costs the same.
        let mut hidden: Option<(usize, usize)> = None;
        let flush = |out: &mut Vec<Row>, hidden: &mut Option<(usize, usize)>| match hidden.take() {
            Some((first, 1)) => out.push(Row::Step(first)),
            Some((_, k)) => out.push(Row::Hidden(k)),
            None => {}
        };
        let mut i = 0;
        while i < n {
            if let Some(g) = self.group_of[i].filter(|&g| self.groups[g].folded) {
                flush(&mut out, &mut hidden);
                out.push(Row::Group(g));
                i = self.groups[g].last + 1;
                continue;
            }
            if !focused || self.kept[i] {
                flush(&mut out, &mut hidden);
                out.push(Row::Step(i));
            } else {
                let h = hidden.get_or_insert((i, 0));
                h.1 += 1;
            }
            if let Some(p) = self
                .switches
                .iter()
                .position(|s| s.after == i && s.kind == SwitchKind::Preemption)
            {
                flush(&mut out, &mut hidden);
                out.push(Row::Preemption(p));
            }
            i += 1;
        }
        flush(&mut out, &mut hidden);
        out
    }

    /// The number of steps the focused view leaves out.
    #[cfg(test)]
    pub fn hidden_steps(&self) -> usize {
        self.rows(true)
            .iter()
            .map(|r| match r {
                Row::Hidden(k) => *k,
                _ => 0,
            })
            .sum()
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
