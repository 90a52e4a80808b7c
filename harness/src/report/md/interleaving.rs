//! The report's views of the interleaving: the Lincheck-style summary (each thread's operations
//! with their results, the failing one marked), the focused interleaving (the finding's objects'
//! steps, boot and setup folded, each preemption marked, the failing step last) and the complete
//! interleaving (every step with the locks held and the counts), collapsed.
//!
//! Invariant: each view is a pure function of the report and its timeline.

use super::{cell, focus_note, outcome_suffix, plural, step_text};
use crate::report::Report;
use crate::timeline::{Row, Timeline};
use std::fmt::Write as _;

pub(super) fn thread_header(o: &mut String, first: &str, t: &Timeline) {
    let mut header = format!("| {first} |");
    let mut rule = String::from("|---|");
    for th in 0..=t.threads {
        let _ = write!(header, " T{th} |");
        rule.push_str("---|");
    }
    let _ = writeln!(o, "{header}\n{rule}");
}

pub(super) fn summary(o: &mut String, t: &Timeline) {
    let _ = writeln!(
        o,
        "## Summary\n\nEach thread's operations with their results (T0 runs the setup, then quiescence: every task exits and the leak checks run); ✗ marks where the failure happened.\n"
    );
    let mut header = String::from("|");
    let mut rule = String::from("|");
    for c in &t.summary {
        if c.thread == 0 {
            header.push_str(" setup (T0) |");
        } else {
            let _ = write!(header, " T{} |", c.thread);
        }
        rule.push_str("---|");
    }
    let _ = writeln!(o, "{header}\n{rule}");
    let cols = t.summary.len();
    let text = |op: &crate::timeline::OpCell| {
        let name = if op.op == "quiescence" {
            "quiescence".to_string()
        } else {
            format!("`{}`", cell(&op.op))
        };
        let s = format!("{name}{}", cell(&outcome_suffix(&op.op, &op.outcome)));
        if op.failing {
            format!("**✗ {s}**")
        } else {
            s
        }
    };
    let line = |o: &mut String, col: usize, s: String| {
        let mut row = String::from("|");
        for c in 0..cols {
            if c == col {
                let _ = write!(row, " {s} |");
            } else {
                row.push_str(" |");
            }
        }
        let _ = writeln!(o, "{row}");
    };
    let setup = &t.summary[0].ops;
    let (quiescence, setup) = setup
        .split_last()
        .map_or((None, &setup[..]), |(q, s)| (Some(q), s));
    for op in setup {
        line(o, 0, text(op));
    }
    let rows = t.summary[1..]
        .iter()
        .map(|c| c.ops.len())
        .max()
        .unwrap_or(0);
    for k in 0..rows {
        let mut row = String::from("| |");
        for c in &t.summary[1..] {
            match c.ops.get(k) {
                Some(op) => {
                    let _ = write!(row, " {} |", text(op));
                }
                None => row.push_str(" |"),
            }
        }
        let _ = writeln!(o, "{row}");
    }
    if let Some(q) = quiescence {
        line(o, 0, text(q));
    }
    o.push('\n');
}

pub(super) fn focused(o: &mut String, r: &Report, t: &Timeline) {
    let rows = t.rows(true);
    let shown = rows.iter().filter(|x| matches!(x, Row::Step(_))).count();
    let _ = writeln!(
        o,
        "## Interleaving (focused: {} of {} steps, {})\n",
        shown,
        r.trace.len(),
        plural(t.preemption_count(), "preemption", "preemptions")
    );
    let _ = writeln!(
        o,
        "{} ⋮ N: N steps not shown (all are in the full interleaving below). ⇄ marks a preemption: the scheduler stopped a thread that could have gone on.\n",
        focus_note(t)
    );
    thread_header(o, "step", t);
    let mut last_op: Vec<String> = vec![String::new(); t.threads + 1];
    let blank = |thread: usize, text: &str| {
        let mut row = String::new();
        for th in 0..=t.threads {
            if th == thread {
                let _ = write!(row, " {text} |");
            } else {
                row.push_str(" |");
            }
        }
        row
    };
    for row in rows {
        match row {
            Row::Group(g) => {
                let g = &t.groups[g];
                let mut text = if g.op == "boot" || g.op.is_empty() {
                    "**boot**".to_string()
                } else {
                    format!("**`{}`**", cell(&g.op))
                };
                if let Some(res) = &g.result {
                    let _ = write!(text, " = {}", cell(res));
                }
                let _ = write!(text, " ({} steps folded)", g.steps());
                last_op[g.thread] = g.op.clone();
                let _ = writeln!(
                    o,
                    "| {}–{} |{}",
                    r.trace[g.first].seq,
                    r.trace[g.last].seq,
                    blank(g.thread, &text)
                );
            }
            Row::Step(i) => {
                let s = &r.trace[i];
                let mut text = String::new();
                if last_op[s.thread] != s.op || t.op_start[i] {
                    let _ = write!(text, "**`{}`**<br>", cell(&s.op));
                    last_op[s.thread] = s.op.clone();
                }
                if s.failing {
                    let _ = write!(text, "**✗ {}**", cell(&step_text(s)));
                } else {
                    text.push_str(&cell(&step_text(s)));
                }
                let _ = writeln!(o, "| {} |{}", s.seq, blank(s.thread, &text));
            }
            Row::Hidden(k) => {
                let _ = writeln!(o, "| ⋮ {k} |{}", blank(usize::MAX, ""));
            }
            Row::Preemption(p) => {
                let sw = &t.switches[p];
                let mut row = String::new();
                for th in 0..=t.threads {
                    if th == sw.from {
                        let _ = write!(
                            row,
                            " ⇄ **preemption {}**: T{} stopped after step {} |",
                            sw.number, sw.from, r.trace[sw.after].seq
                        );
                    } else if th == sw.to {
                        let _ = write!(row, " T{} runs instead |", sw.to);
                    } else {
                        row.push_str(" |");
                    }
                }
                let _ = writeln!(o, "| ⇄ |{row}");
            }
        }
    }
    o.push('\n');
    if t.failing.is_none() {
        if let Some(f) = &r.finding {
            let _ = writeln!(
                o,
                "No step made the finding: the checker reported it ({}).\n",
                f.finding.class
            );
            let held = t.held_at_stop(&r.trace);
            if !held.is_empty() {
                let _ = writeln!(
                    o,
                    "Locks held when the execution stopped: {}.\n",
                    held.join("; ")
                );
            }
        }
    }
}

/// The complete interleaving, every step, collapsed.
pub(super) fn full(o: &mut String, r: &Report) {
    if r.trace.is_empty() {
        return;
    }
    let threads = r.trace.iter().map(|s| s.thread).max().unwrap_or(0);
    let _ = writeln!(
        o,
        "## Full interleaving\n\n<details>\n<summary>All {} steps, one column per thread (T0 is init: boot, setup, quiescence). Each step: what it did, [locks held], counts.</summary>\n",
        r.trace.len()
    );
    let mut header = String::from("| step |");
    let mut rule = String::from("|---|");
    for t in 0..=threads {
        let _ = write!(header, " T{t} |");
        rule.push_str("---|");
    }
    let _ = writeln!(o, "{header}\n{rule}");
    let mut last_op: Vec<String> = vec![String::new(); threads + 1];
    for s in &r.trace {
        let mut text = String::new();
        if last_op[s.thread] != s.op {
            let _ = write!(text, "**`{}`**<br>", cell(&s.op));
            last_op[s.thread] = s.op.clone();
        }
        text.push_str(&cell(&step_text(s)));
        let mut row = format!("| {} |", s.seq);
        for t in 0..=threads {
            if t == s.thread {
                let _ = write!(row, " {text} |");
            } else {
                row.push_str(" |");
            }
        }
        let _ = writeln!(o, "{row}");
    }
    o.push_str("\n</details>\n\n");
}
