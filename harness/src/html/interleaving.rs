//! The report page's views of the interleaving: the Lincheck-style summary (each thread's
//! operations with their results), the focused interleaving (the finding's objects' steps, each
//! preemption marked, the failing step last) and the full interleaving, one column per thread,
//! whose folded rows open to their steps. The same views as the Markdown report's
//! (`report::md`), as HTML tables.
//!
//! Invariant: every text from the report is escaped ([`super::esc`]); each view is a pure
//! function of the report and its timeline.

use super::{esc, plural};
use crate::report::md::{focus_note, outcome_suffix, step_text};
use crate::report::Report;
use crate::timeline::{OpCell, Row, Timeline};
use std::fmt::Write as _;

pub(super) fn summary_cell(op: &OpCell) -> String {
    let name = if op.op == "quiescence" {
        "quiescence".to_string()
    } else {
        format!("<code>{}</code>", esc(&op.op))
    };
    let text = format!("{name}{}", esc(&outcome_suffix(&op.op, &op.outcome)));
    let class = match &op.outcome {
        _ if op.failing => " class=\"failing\"",
        crate::timeline::Outcome::Blocked | crate::timeline::Outcome::CutShort => {
            " class=\"blocked\""
        }
        crate::timeline::Outcome::NotStarted => " class=\"notrun\"",
        _ => "",
    };
    if op.failing {
        format!("<td{class}>✗ {text}</td>")
    } else {
        format!("<td{class}>{text}</td>")
    }
}

pub(super) fn summary(o: &mut String, t: &Timeline) {
    let _ = writeln!(
        o,
        "<section id=\"summary\">\n<h2>Summary</h2>\n<p class=\"note\">Each thread's operations with their results (T0 runs the setup, then quiescence: every task exits and the leak checks run); ✗ marks where the failure happened.</p>\n<table class=\"summary\">\n<thead><tr>"
    );
    for c in &t.summary {
        if c.thread == 0 {
            o.push_str("<th>setup (T0)</th>");
        } else {
            let _ = write!(o, "<th>T{}</th>", c.thread);
        }
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    let cols = t.summary.len();
    let setup = &t.summary[0].ops;
    let (quiescence, setup) = setup
        .split_last()
        .map_or((None, &setup[..]), |(q, s)| (Some(q), s));
    let lone = |o: &mut String, c: &OpCell| {
        let _ = writeln!(
            o,
            "<tr>{}{}</tr>",
            summary_cell(c),
            "<td></td>".repeat(cols - 1)
        );
    };
    for op in setup {
        lone(o, op);
    }
    let rows = t.summary[1..]
        .iter()
        .map(|c| c.ops.len())
        .max()
        .unwrap_or(0);
    for k in 0..rows {
        o.push_str("<tr><td></td>");
        for c in &t.summary[1..] {
            match c.ops.get(k) {
                Some(op) => o.push_str(&summary_cell(op)),
                None => o.push_str("<td></td>"),
            }
        }
        o.push_str("</tr>\n");
    }
    if let Some(q) = quiescence {
        lone(o, q);
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

pub(super) fn trace_head(o: &mut String, t: &Timeline) {
    o.push_str("<thead><tr><th>step</th>");
    for th in 0..=t.threads {
        let _ = write!(o, "<th>T{th}</th>");
    }
    o.push_str("</tr></thead>\n<tbody>\n");
}

/// A row with `text` (markup) in `thread`'s column.
pub(super) fn lane_row(
    o: &mut String,
    class: &str,
    seq: &str,
    t: &Timeline,
    thread: usize,
    text: &str,
) {
    let _ = write!(
        o,
        "<tr class=\"{class}\"><td class=\"seq\">{}</td>",
        esc(seq)
    );
    for th in 0..=t.threads {
        if th == thread {
            let _ = write!(o, "<td class=\"cell\">{text}</td>");
        } else {
            o.push_str("<td></td>");
        }
    }
    o.push_str("</tr>\n");
}

/// The rows of an interleaving table; with `expand`, a folded group opens to its steps.
pub(super) fn trace_rows(o: &mut String, r: &Report, t: &Timeline, rows: &[Row], expand: bool) {
    let mut last_op: Vec<String> = vec![String::new(); t.threads + 1];
    for row in rows {
        match *row {
            Row::Group(g) => {
                let g = &t.groups[g];
                let mut label = if g.op == "boot" || g.op.is_empty() {
                    "<span class=\"opname\">boot</span>".to_string()
                } else {
                    format!("<code class=\"opname\">{}</code>", esc(&g.op))
                };
                if let Some(res) = &g.result {
                    let _ = write!(label, " = {}", esc(res));
                }
                let _ = write!(label, " ({} steps folded)", g.steps());
                last_op[g.thread] = g.op.clone();
                let text = if expand {
                    let mut d = format!("<details><summary>{label}</summary><ol class=\"steps\">");
                    for s in &r.trace[g.first..=g.last] {
                        let _ = write!(d, "<li>{}: {}</li>", s.seq, esc(&step_text(s)));
                    }
                    d.push_str("</ol></details>");
                    d
                } else {
                    label
                };
                let seq = format!("{}–{}", r.trace[g.first].seq, r.trace[g.last].seq);
                lane_row(o, "fold", &seq, t, g.thread, &text);
            }
            Row::Step(i) => {
                let s = &r.trace[i];
                let mut text = String::new();
                if last_op[s.thread] != s.op || t.op_start[i] {
                    let _ = write!(text, "<code class=\"opname\">{}</code><br>", esc(&s.op));
                    last_op[s.thread] = s.op.clone();
                }
                if s.failing {
                    let _ = write!(text, "✗ {}", esc(&step_text(s)));
                } else {
                    text.push_str(&esc(&step_text(s)));
                }
                let class = if s.failing { "step failing" } else { "step" };
                lane_row(o, class, &s.seq.to_string(), t, s.thread, &text);
            }
            Row::Hidden(k) => {
                let _ = writeln!(
                    o,
                    "<tr class=\"hidden\"><td class=\"seq\">⋮</td><td colspan=\"{}\">{} not shown</td></tr>",
                    t.threads + 1,
                    plural(k, "step", "steps")
                );
            }
            Row::Preemption(p) => {
                let sw = &t.switches[p];
                o.push_str("<tr class=\"preempt\"><td class=\"seq\">⇄</td>");
                for th in 0..=t.threads {
                    if th == sw.from {
                        let _ = write!(
                            o,
                            "<td>⇄ preemption {}: T{} stopped after step {}</td>",
                            sw.number, sw.from, r.trace[sw.after].seq
                        );
                    } else if th == sw.to {
                        let _ = write!(o, "<td>T{} runs instead</td>", sw.to);
                    } else {
                        o.push_str("<td></td>");
                    }
                }
                o.push_str("</tr>\n");
            }
        }
    }
}

pub(super) fn focused(o: &mut String, r: &Report, t: &Timeline) {
    let rows = t.rows(true);
    let shown = rows.iter().filter(|x| matches!(x, Row::Step(_))).count();
    let _ = writeln!(
        o,
        "<section id=\"focused\">\n<h2>Interleaving (focused: {shown} of {} steps, {})</h2>",
        r.trace.len(),
        plural(t.preemption_count(), "preemption", "preemptions")
    );
    let _ = writeln!(
        o,
        "<p class=\"note\">{} Every step is in the full interleaving below.</p>\n<table class=\"trace focused\">",
        esc(&focus_note(t))
    );
    trace_head(o, t);
    trace_rows(o, r, t, &rows, false);
    o.push_str("</tbody>\n</table>\n");
    if t.failing.is_none() {
        if let Some(f) = &r.finding {
            let _ = writeln!(
                o,
                "<p>No step made the finding: the checker reported it ({}).</p>",
                esc(f.finding.class.name())
            );
            let held = t.held_at_stop(&r.trace);
            if !held.is_empty() {
                let _ = writeln!(
                    o,
                    "<p>Locks held when the execution stopped: {}.</p>",
                    esc(&held.join("; "))
                );
            }
        }
    }
    o.push_str("</section>\n");
}

pub(super) fn full(o: &mut String, r: &Report, t: &Timeline) {
    if r.trace.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<section id=\"full\">\n<h2>Full interleaving</h2>\n<details>\n<summary>All {} steps, one column per thread (T0 is init: boot, setup, quiescence); each folded row opens to its steps. Each step: what it did, [locks held], counts.</summary>\n<table class=\"trace full\">",
        r.trace.len()
    );
    trace_head(o, t);
    trace_rows(o, r, t, &t.rows(false), true);
    o.push_str("</tbody>\n</table>\n</details>\n</section>\n");
}
