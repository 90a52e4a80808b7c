//! The report's views of the objects: a wrong result's comparison (the observed results and mount
//! tables beside the nearest sequential outcomes) and the finding's object (its state, counts,
//! the references held with their holders, and its history).
//!
//! Invariant: each view is a pure function of the report.

use super::{cell, show_named_count};
use crate::report::Report;
use mountcheck_model::oracle::Holder;
use mountcheck_model::program::outcome::{shown, Comparison};
use std::fmt::Write as _;

/// The observed results and mount tables beside the nearest sequential outcomes.
pub(super) fn comparison(o: &mut String, cmp: &Comparison) {
    let _ = writeln!(
        o,
        "### Results and mount tables: this execution beside the nearest sequential orders\n\n{} distinct outcomes of {} orders that run to their end (of {}). A result in parentheses is not compared: the kernel does not make that operation atomic (see the atomicity table of `scenarios/README.md`).\n",
        cmp.outcomes, cmp.feasible, cmp.orders
    );
    let mut header = String::from("| thread | call | observed |");
    let mut rule = String::from("|---|---|---|");
    for i in 0..cmp.nearest.len() {
        let _ = write!(header, " nearest #{} |", i + 1);
        rule.push_str("---|");
    }
    let _ = writeln!(o, "{header}\n{rule}");
    for (t, calls) in cmp.calls.iter().enumerate() {
        for (i, call) in calls.iter().enumerate() {
            let observed = cmp.observed.results.get(t).and_then(|v| v.get(i));
            let compared = cmp
                .compared
                .get(t)
                .and_then(|v| v.get(i))
                .copied()
                .unwrap_or(true);
            let seen = match observed {
                Some(r) if compared => shown(*r),
                Some(r) => format!("({})", shown(*r)),
                None => "—".into(),
            };
            let mut row = format!("| T{} | `{}` | {seen} |", t + 1, cell(call));
            for n in &cmp.nearest {
                let seq = n.outcome.results.get(t).and_then(|v| v.get(i));
                let mark = if compared && seq != observed {
                    " ≠"
                } else {
                    ""
                };
                let _ = write!(
                    row,
                    " {}{mark} |",
                    seq.map_or("—".to_string(), |r| shown(*r))
                );
            }
            let _ = writeln!(o, "{row}");
        }
    }
    let keys: std::collections::BTreeSet<&usize> = cmp
        .observed
        .tables
        .keys()
        .chain(cmp.nearest.iter().flat_map(|n| n.outcome.tables.keys()))
        .collect();
    for k in keys {
        let rows = |t: &mountcheck_model::program::outcome::Tables| {
            t.get(k).map_or("(not in use)".to_string(), |v| {
                v.iter()
                    .map(|r| cell(&r.to_string()))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
        };
        let mut row = format!(
            "| mount table of T{k}'s namespace | | {} |",
            rows(&cmp.observed.tables)
        );
        for n in &cmp.nearest {
            let _ = write!(row, " {} |", rows(&n.outcome.tables));
        }
        let _ = writeln!(o, "{row}");
    }
    o.push('\n');
    for (i, n) in cmp.nearest.iter().enumerate() {
        let _ = writeln!(
            o,
            "Nearest #{} ({} difference{}) is the outcome of the order: {}\n",
            i + 1,
            n.distance,
            if n.distance == 1 { "" } else { "s" },
            cmp.order_text(n)
        );
    }
}

/// A table of references with their holders, under `title`.
pub(super) fn holders_table(o: &mut String, title: &str, holders: &[Holder]) {
    let _ = writeln!(
        o,
        "{title}\n\n| count | holder | taken by | in | step |\n|---|---|---|---|---|"
    );
    for h in holders {
        let _ = writeln!(
            o,
            "| {} | {} | T{} | `{}` | {} |",
            h.counter.name(),
            cell(&h.tag),
            h.thread,
            cell(&h.op),
            h.step
        );
    }
    o.push('\n');
}

pub(super) fn object(o: &mut String, r: &Report) {
    let Some(f) = &r.finding else {
        return;
    };
    let fd = &f.finding;
    if let Some(obj) = &fd.object {
        let _ = writeln!(
            o,
            "## Object {} ({:?}, {:?})\n",
            obj.label, obj.kind, obj.state
        );
        let counts: Vec<String> = obj
            .counts
            .iter()
            .map(|(k, v)| format!("{k} = {}", show_named_count(k, *v)))
            .collect();
        let _ = writeln!(
            o,
            "Counts when found: {}\n",
            if counts.is_empty() {
                "none".into()
            } else {
                counts.join(", ")
            }
        );
        if !obj.holders.is_empty() {
            holders_table(o, "References still held:", &obj.holders);
        }
        let _ = writeln!(
            o,
            "Reference history:\n\n| step | thread | operation | what |\n|---|---|---|---|"
        );
        for h in &obj.history {
            let _ = writeln!(
                o,
                "| {} | T{} | `{}` | {} |",
                h.step,
                h.thread,
                cell(&h.op),
                cell(&h.what)
            );
        }
        o.push('\n');
    }
    if !fd.unmatched.is_empty() {
        holders_table(o, "### Unmatched references", &fd.unmatched);
    }
}
