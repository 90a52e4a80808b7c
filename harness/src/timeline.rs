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

mod build;
mod infer;

use std::collections::BTreeSet;

use mountcheck_model::oracle::FindingClass;

pub use infer::{lock_base, lock_op, result_of, CountChange, LockHold};

use crate::report::Report;
use infer::lock_holds;

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

impl Timeline {
    /// The timeline of a report.
    pub fn from_report(r: &Report) -> Timeline {
        let trace = &r.trace;
        let finding = r.finding.as_ref().map(|f| &f.finding);
        let facts = build::Facts {
            trace,
            finding,
            class: finding.map_or(String::new(), |f| f.class.name().to_string()),
            deadlock: finding.is_some_and(|f| f.class == FindingClass::Deadlock),
            failing: trace.iter().position(|s| s.failing),
        };
        let threads = trace
            .iter()
            .map(|s| s.thread)
            .max()
            .unwrap_or(0)
            .max(r.program.threads.len());
        // The trace names each step's operation without its asserted result (`Call::op`).
        let setup_ops: Vec<String> = r.program.setup.iter().map(|c| c.op.to_string()).collect();
        let thread_ops: Vec<Vec<String>> = r
            .program
            .threads
            .iter()
            .map(|calls| calls.iter().map(|c| c.op.to_string()).collect())
            .collect();
        let shape = build::shape(&facts, &setup_ops, threads);
        let summary = build::summary(&facts, &shape, &setup_ops, &thread_ops, threads);
        let switches = build::switches(&facts, &shape, &summary);
        let focus = build::focus(finding);
        let touches: Vec<bool> = trace.iter().map(|s| build::touches(s, &focus)).collect();
        let holds = lock_holds(trace);
        let (involved, kept) = build::focused(&facts, &shape, &switches, &focus, &touches, &holds);
        let (counts, object_events) = build::counts(trace, &focus);
        let build::Shape {
            phases,
            groups,
            group_of,
            op_start,
            ..
        } = shape;
        Timeline {
            threads,
            phases,
            groups,
            group_of,
            op_start,
            failing: facts.failing,
            focus,
            involved,
            touches,
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

    /// The locks still held when the execution stopped, one text each
    /// (`T1 holds sb#4.s_umount(w) (since step 12)`, the step numbered as in `trace`): what a
    /// report shows when no step made the finding (a deadlock, a checker's own stop).
    pub fn held_at_stop(&self, trace: &[mountcheck_model::oracle::Step]) -> Vec<String> {
        self.holds
            .iter()
            .filter(|h| h.to.is_none())
            .map(|h| {
                format!(
                    "T{} holds {} (since step {})",
                    h.thread, h.lock, trace[h.from].seq
                )
            })
            .collect()
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
