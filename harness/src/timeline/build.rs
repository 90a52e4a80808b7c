//! How a [`Timeline`](super::Timeline) is computed from a report, one part after the other:
//! the trace's shape (phases, groups, operation starts), the summary, the switches, the
//! finding's objects, the focused view, and the count series.
//!
//! What it models: nothing of the kernel; see the parent module for what each part means and
//! how preemptions are inferred.
//!
//! Invariant: each function is a pure function of its arguments; every index it returns is an
//! index into the report's trace.

use std::collections::BTreeSet;

use mountcheck_model::oracle::{Counter, Finding, ObjKind, Step};

use super::infer::{
    blocked_by, count_change, lock_base, lock_op, mentions, object_tokens, result_of, LockHold,
};
use super::{Column, CountSeries, Group, ObjectEvent, OpCell, Outcome, Phase, Switch, SwitchKind};

/// What every part needs to know about the report.
pub(super) struct Facts<'a> {
    /// The trace.
    pub trace: &'a [Step],
    /// The finding.
    pub finding: Option<&'a Finding>,
    /// The finding's class name (empty without a finding).
    pub class: String,
    /// Whether the finding is a deadlock.
    pub deadlock: bool,
    /// Index of the failing step.
    pub failing: Option<usize>,
}

/// The trace's shape.
pub(super) struct Shape {
    /// Phase of each step.
    pub phases: Vec<Phase>,
    /// Groups outside the threads phase.
    pub groups: Vec<Group>,
    /// Each step's group.
    pub group_of: Vec<Option<usize>>,
    /// Whether each step starts an operation of its thread.
    pub op_start: Vec<bool>,
    /// Index of the first quiescence step (the trace's length if none).
    pub quiescence: usize,
}

impl Shape {
    /// Whether step `i` is shown as a step (not inside a folded group).
    fn eligible(&self, i: usize) -> bool {
        !matches!(self.group_of[i], Some(g) if self.groups[g].folded)
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

/// Phases, groups and operation starts. Quiescence starts at init's first step after its join
/// (or, with no join step, at its first `quiescence` step); the threads phase at the first step
/// of another thread before that; init's runs before it are boot, setup operations (their text
/// is a setup operation's) and init's own work after the setup.
pub(super) fn shape(f: &Facts, setup_ops: &[String], threads: usize) -> Shape {
    let trace = f.trace;
    let n = trace.len();
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
    let mut found = Vec::new();
    let mut seen_setup = false;
    for (first, last) in runs(trace, 0..first_thread) {
        let phase = if setup_ops.contains(&trace[first].op) {
            seen_setup = true;
            Phase::Setup
        } else if seen_setup {
            Phase::Init
        } else {
            Phase::Boot
        };
        found.push((phase, first, last));
    }
    for (first, last) in runs(trace, quiescence..n) {
        found.push((Phase::Quiescence, first, last));
    }
    let mut phases = vec![Phase::Threads; n];
    let mut group_of = vec![None; n];
    let groups = found
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
                folded: last > first && !f.failing.is_some_and(|x| (first..=last).contains(&x)),
            }
        })
        .collect();
    // An operation starts at a thread's first step, at a step whose operation differs from the
    // thread's previous step's, and after a return.
    let mut op_start = vec![false; n];
    let mut prev: Vec<Option<usize>> = vec![None; threads + 1];
    for (i, s) in trace.iter().enumerate() {
        op_start[i] = match prev[s.thread] {
            None => true,
            Some(p) => trace[p].op != s.op || result_of(&trace[p]).is_some(),
        };
        prev[s.thread] = Some(i);
    }
    Shape {
        phases,
        groups,
        group_of,
        op_start,
        quiescence,
    }
}

/// The summary: T0's setup operations and quiescence, then each thread's operations, each
/// matched in program order with the steps that ran it.
pub(super) fn summary(
    f: &Facts,
    sh: &Shape,
    setup_ops: &[String],
    thread_ops: &[Vec<String>],
    threads: usize,
) -> Vec<Column> {
    let trace = f.trace;
    let n = trace.len();
    let instances = |t: usize, phase: Phase| -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for i in (0..n).filter(|&i| trace[i].thread == t && sh.phases[i] == phase) {
            match out.last_mut() {
                Some((_, last)) if !sh.op_start[i] => *last = i,
                _ => out.push((i, i)),
            }
        }
        out
    };
    let cell = |first: usize, last: usize| -> OpCell {
        let fails = f.failing.is_some_and(|x| (first..=last).contains(&x));
        let outcome = if fails {
            Outcome::Failed(f.class.clone())
        } else if let Some(res) = result_of(&trace[last]) {
            Outcome::Returned(res.to_string())
        } else if f.deadlock {
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
    let align = |planned: &[String], found: Vec<(usize, usize)>| -> Vec<OpCell> {
        let mut found = found.into_iter().peekable();
        let mut out: Vec<OpCell> = planned
            .iter()
            .map(|op| match found.next_if(|(x, _)| trace[*x].op == *op) {
                Some((x, l)) => cell(x, l),
                None => OpCell {
                    op: op.clone(),
                    outcome: Outcome::NotStarted,
                    failing: false,
                    first: None,
                    last: None,
                },
            })
            .collect();
        out.extend(found.map(|(x, l)| cell(x, l)));
        out
    };
    let mut setup = align(setup_ops, instances(0, Phase::Setup));
    if n > 0 {
        let q = sh.quiescence;
        let q_fails = f.failing.is_some_and(|x| x >= q)
            || (f.failing.is_none() && f.finding.is_some_and(|x| x.thread.is_none()));
        setup.push(OpCell {
            op: "quiescence".into(),
            outcome: if q_fails {
                Outcome::Failed(f.class.clone())
            } else if q < n {
                Outcome::Passed
            } else {
                Outcome::NotStarted
            },
            failing: q_fails,
            first: (q < n).then_some(q),
            last: (q < n).then_some(n - 1),
        });
    }
    let mut summary = vec![Column {
        thread: 0,
        ops: setup,
    }];
    for t in 1..=threads {
        let planned = thread_ops.get(t - 1).map_or(&[][..], |v| &v[..]);
        summary.push(Column {
            thread: t,
            ops: align(planned, instances(t, Phase::Threads)),
        });
    }
    // A finding without a failing step (a deadlock): mark the operation it names.
    if f.failing.is_none() {
        let named = f.finding.and_then(|x| Some((x.thread?, &x.op)));
        if let Some((t, op)) = named {
            if let Some(cell) = summary
                .iter_mut()
                .filter(|c| c.thread == t)
                .flat_map(|c| c.ops.iter_mut())
                .find(|o| o.op == *op && !matches!(o.outcome, Outcome::Returned(_)))
            {
                cell.failing = true;
            }
        }
    }
    summary
}

/// Every switch between threads, classified (see the parent module for the inference).
pub(super) fn switches(f: &Facts, sh: &Shape, summary: &[Column]) -> Vec<Switch> {
    let trace = f.trace;
    let n = trace.len();
    let finished = |t: usize| {
        t == 0
            || summary.iter().find(|c| c.thread == t).is_some_and(|c| {
                c.ops
                    .iter()
                    .all(|o| matches!(o.outcome, Outcome::Returned(_)))
            })
    };
    let mut out = Vec::new();
    let mut number = 0;
    for i in 0..n.saturating_sub(1) {
        let (a, b) = (trace[i].thread, trace[i + 1].thread);
        if a == b {
            continue;
        }
        let next = (i + 1..n).find(|&j| trace[j].thread == a && sh.phases[j] != Phase::Quiescence);
        let kind = if sh.phases[i] == Phase::Quiescence || sh.phases[i + 1] == Phase::Quiescence {
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
                None if f.deadlock => SwitchKind::Blocked {
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
        out.push(Switch {
            after: i,
            from: a,
            to: b,
            kind,
            number: num,
        });
    }
    out
}

fn kind_prefix(k: ObjKind) -> &'static str {
    match k {
        ObjKind::SuperBlock => "sb",
        ObjKind::Mount => "mnt",
        ObjKind::Namespace => "ns",
    }
}

/// The finding's objects: its object, then the objects its message names.
pub(super) fn focus(finding: Option<&Finding>) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    if let Some(f) = finding {
        if let Some(o) = &f.object {
            all.push(format!("{}#{}", kind_prefix(o.kind), o.oid.0));
            all.extend(object_tokens(&o.label));
        }
        all.extend(object_tokens(&f.message));
    }
    let mut out = Vec::new();
    for t in all {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Whether a step names one of the objects.
pub(super) fn touches(s: &Step, focus: &[String]) -> bool {
    focus
        .iter()
        .any(|t| mentions(&s.action, t) || mentions(&s.counts, t))
}

/// The threads involved and the steps the focused view keeps.
pub(super) fn focused(
    f: &Facts,
    sh: &Shape,
    switches: &[Switch],
    focus: &[String],
    touches: &[bool],
    holds: &[LockHold],
) -> (BTreeSet<usize>, Vec<bool>) {
    let trace = f.trace;
    let n = trace.len();
    let mut involved: BTreeSet<usize> = f.finding.and_then(|x| x.thread).into_iter().collect();
    for i in (0..n).filter(|&i| sh.eligible(i)) {
        if (focus.is_empty() && sh.phases[i] == Phase::Threads) || touches[i] {
            involved.insert(trace[i].thread);
        }
    }
    let core: Vec<bool> = (0..n)
        .map(|i| sh.eligible(i) && (f.failing == Some(i) || touches[i]))
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
    for i in (0..n).filter(|&i| sh.eligible(i)) {
        let s = &trace[i];
        let single = sh.group_of[i].is_some_and(|g| sh.groups[g].steps() == 1);
        if single || sh.op_start[i] || result_of(s).is_some() {
            kept[i] = true;
            continue;
        }
        let Some(op) = lock_op(&s.action) else {
            continue;
        };
        if !involved.contains(&s.thread) {
            continue;
        }
        // A lock of one of the objects (`sb#4.s_umount`).
        let own = focus.iter().any(|t| {
            op.lock
                .strip_prefix(t.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        });
        // A hold during which the thread touched the objects or failed.
        let around = || {
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
                    (h.from..=h.to.unwrap_or(n - 1)).any(|j| trace[j].thread == s.thread && core[j])
                })
        };
        if focus.is_empty() || own || contended.contains(op.lock.as_str()) || around() {
            kept[i] = true;
        }
    }
    for s in switches.iter().filter(|s| s.kind == SwitchKind::Preemption) {
        for i in [s.after, s.after + 1] {
            if sh.eligible(i) {
                kept[i] = true;
            }
        }
    }
    (involved, kept)
}

/// The objects' count changes (from their get and put steps) and their allocations, shutdowns
/// and frees.
pub(super) fn counts(trace: &[Step], focus: &[String]) -> (Vec<CountSeries>, Vec<ObjectEvent>) {
    let mut counts: Vec<CountSeries> = Vec::new();
    let mut events = Vec::new();
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
                events.push(ObjectEvent {
                    index: i,
                    object: obj.clone(),
                    what,
                });
            }
        }
    }
    counts.sort_by_key(|c| {
        (
            focus.iter().position(|x| *x == c.object),
            Counter::ALL.iter().position(|k| k.name() == c.counter),
        )
    });
    (counts, events)
}
