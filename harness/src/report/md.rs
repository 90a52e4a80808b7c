//! The Markdown race report, laid out so a reader gets the race in a minute: a five-line
//! header, the finding, the Lincheck-style summary (each thread's operations with their
//! results), the focused interleaving with its preemptions marked and the failing step last,
//! the object's reference history, and then everything else (the complete interleaving folded
//! in a `<details>` block, which GitHub renders collapsed, the replay token, the checker's
//! message, the tool and the time).
//!
//! What it models: nothing of the kernel; it renders a [`Report`] through its
//! [`Timeline`](crate::timeline::Timeline).
//!
//! Invariant: the text is a pure function of the report (byte-identical for the same report),
//! and it carries everything the report's JSON has except the loom checkpoint itself and the
//! program in machine form (which the summary shows as text).

use std::fmt::Write as _;

use mountcheck_engine::ReplayToken;
use mountcheck_model::oracle::trace::show_count;
use mountcheck_model::oracle::{Counter, Holder, Step};
use mountcheck_model::program::outcome::{shown, Comparison};

use super::Report;
use crate::timeline::{Outcome, Row, Timeline};

/// A table cell: no pipe, no line break.
pub(super) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A count as a reader thinks of it (`s_count` near its bias as `S_BIAS + n`).
pub(crate) fn show_named_count(name: &str, v: isize) -> String {
    Counter::ALL
        .iter()
        .find(|c| c.name() == name)
        .map_or_else(|| v.to_string(), |c| show_count(*c, v))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `seed 1, at most 200000 executions, 20 s, preemption bound 2, …`.
pub(crate) fn bounds(r: &Report) -> String {
    r.exploration.bounds.summary()
}

/// Who made the finding: `T1`, `T0 (init / quiescence)`, or the main thread.
pub(crate) fn who(thread: Option<usize>) -> String {
    thread.map_or("the main thread (quiescence)".to_string(), |t| {
        if t == 0 {
            "T0 (init / quiescence)".into()
        } else {
            format!("T{t}")
        }
    })
}

/// What a summary cell says after the operation's text: ` = 0`, `: FAILS (leak)`, ….
pub(crate) fn outcome_suffix(op: &str, o: &Outcome) -> String {
    match o {
        Outcome::Returned(res) => format!(" = {res}"),
        Outcome::Failed(class) => format!(": FAILS ({class})"),
        Outcome::Blocked => ": blocked, never returned".into(),
        Outcome::CutShort => ": cut short, never returned".into(),
        Outcome::NotStarted if op == "quiescence" => ": not reached".into(),
        Outcome::NotStarted => ": not started".into(),
        Outcome::Passed => ": checks passed".into(),
    }
}

/// What the focused view keeps, in a sentence.
pub(crate) fn focus_note(t: &Timeline) -> String {
    let threads = t
        .involved
        .iter()
        .map(|th| format!("T{th}"))
        .collect::<Vec<_>>()
        .join(", ");
    let threads = if threads.is_empty() {
        "the threads".to_string()
    } else {
        threads
    };
    let what = if t.focus.is_empty() {
        format!("Only the lock operations of {threads}")
    } else {
        let objs = t.focus.join(", ");
        format!(
            "Only the steps that touch {objs}, the lock operations of {threads} around them, on the locks of {objs} or on a lock a thread waited for"
        )
    };
    format!(
        "{what}, each thread's operation starts and returns, the steps around each preemption and the failing step; boot, each setup operation and each quiescence operation are folded to one row."
    )
}

/// What a step cell shows: action, [locks held], counts.
pub(crate) fn step_text(s: &Step) -> String {
    let mut text = s.action.clone();
    if !s.locks.is_empty() {
        let _ = write!(text, " [{}]", s.locks.join(", "));
    }
    if !s.counts.is_empty() {
        let _ = write!(text, " — {}", s.counts);
    }
    text
}

/// The Markdown report, with `verdict` in its verdict line (the report's own verdict and whether
/// it was expected, or what a replay reproduced).
pub fn render(r: &Report, verdict: &str) -> String {
    let t = Timeline::from_report(r);
    let mut o = String::new();
    header(&mut o, r, &t, verdict);
    checker_error(&mut o, r);
    finding(&mut o, r);
    if !r.trace.is_empty() {
        summary(&mut o, &t);
        focused(&mut o, r, &t);
    }
    object(&mut o, r);
    full(&mut o, r);
    replay(&mut o, r);
    o
}

fn header(o: &mut String, r: &Report, t: &Timeline, verdict: &str) {
    let e = &r.exploration;
    let _ = writeln!(
        o,
        "# {} — {} ({})\n",
        r.scenario.name, r.verdict, e.strategy
    );
    let _ = writeln!(
        o,
        "- **Scenario**: `{}`, model variant `{}`, lock design `{}`",
        r.scenario.file,
        r.scenario.variant,
        r.config.lock_design.name()
    );
    let _ = writeln!(
        o,
        "- **Verdict**: {verdict}, expected {}",
        r.scenario.expect,
    );
    let _ = writeln!(
        o,
        "- **Search**: {} (worker build: {}), {}; {} executions explored; stopped: `{}` ({})",
        e.strategy,
        e.backend,
        bounds(r),
        e.executions,
        e.stop,
        e.stop.meaning()
    );
    match &r.finding {
        Some(f) => {
            let _ = writeln!(
                o,
                "- **Witness**: execution {}, {}, {}",
                f.execution,
                plural(r.trace.len(), "step", "steps"),
                match &r.witness {
                    Some(w) => format!(
                        "{} ({}; {} marked in the timeline)",
                        plural(w.preemptions, "preemption", "preemptions"),
                        w.minimality,
                        plural(t.preemption_count(), "switch", "switches")
                    ),
                    None => plural(t.preemption_count(), "preemption", "preemptions"),
                }
            );
        }
        None => {
            let _ = writeln!(o, "- **Witness**: none");
        }
    }
    match &r.replay {
        Some(rp) => match (&rp.command, &rp.unavailable) {
            (Some(cmd), _) => {
                let _ = writeln!(o, "- **Replay**: `{cmd}`\n");
            }
            (None, why) => {
                let _ = writeln!(
                    o,
                    "- **Replay**: none: {}\n",
                    why.as_deref().unwrap_or("no replay token")
                );
            }
        },
        None => {
            let _ = writeln!(o, "- **Replay**: none\n");
        }
    }
    let _ = writeln!(o, "{}\n", r.scenario.description);
    if let Some(see) = &r.scenario.see {
        let _ = writeln!(o, "See: {see}\n");
    }
}

fn checker_error(o: &mut String, r: &Report) {
    if let Some(msg) = &r.checker_error {
        let _ = writeln!(
            o,
            "## Checker error\n\nThe checker failed, so nothing can be said about the scenario:\n\n```text\n{msg}\n```\n"
        );
    }
}

fn finding(o: &mut String, r: &Report) {
    let Some(f) = &r.finding else {
        return;
    };
    let fd = &f.finding;
    let _ = writeln!(o, "## Finding: {}\n", fd.class);
    let _ = writeln!(o, "{}\n", fd.message);
    let _ = writeln!(
        o,
        "By {}, during `{}`, in execution {}.\n",
        who(fd.thread),
        fd.op,
        f.execution
    );
    if let Some(cmp) = &fd.comparison {
        comparison(o, cmp);
    }
}

/// The observed results and mount tables beside the nearest sequential outcomes.
fn comparison(o: &mut String, cmp: &Comparison) {
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

fn thread_header(o: &mut String, first: &str, t: &Timeline) {
    let mut header = format!("| {first} |");
    let mut rule = String::from("|---|");
    for th in 0..=t.threads {
        let _ = write!(header, " T{th} |");
        rule.push_str("---|");
    }
    let _ = writeln!(o, "{header}\n{rule}");
}

fn summary(o: &mut String, t: &Timeline) {
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

fn focused(o: &mut String, r: &Report, t: &Timeline) {
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
            let held: Vec<String> = t
                .holds
                .iter()
                .filter(|h| h.to.is_none())
                .map(|h| {
                    format!(
                        "T{} holds {} (since step {})",
                        h.thread, h.lock, r.trace[h.from].seq
                    )
                })
                .collect();
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

/// A table of references with their holders, under `title`.
fn holders_table(o: &mut String, title: &str, holders: &[Holder]) {
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

fn object(o: &mut String, r: &Report) {
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

/// The complete interleaving, every step, collapsed.
fn full(o: &mut String, r: &Report) {
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

fn replay(o: &mut String, r: &Report) {
    if let Some(rp) = &r.replay {
        match (&rp.command, &rp.unavailable) {
            (Some(cmd), _) => {
                let _ = writeln!(o, "## Replay\n\n```sh\n{cmd}\n```\n");
            }
            (None, why) => {
                let _ = writeln!(
                    o,
                    "## Replay\n\nThis execution cannot be replayed: {}.\n",
                    why.as_deref().unwrap_or("no replay token")
                );
            }
        }
        match &rp.token {
            ReplayToken::Shuttle { schedule } => {
                let _ = writeln!(o, "shuttle schedule: `{schedule}`\n");
            }
            ReplayToken::Loom { checkpoint } => {
                let _ = writeln!(
                    o,
                    "loom checkpoint: {} bytes of JSON, in the report's JSON twin.\n",
                    checkpoint.len()
                );
            }
            ReplayToken::None => {
                let _ = writeln!(o, "Real threads: this execution cannot be replayed.\n");
            }
        }
    }
    if let Some(f) = &r.finding {
        if !f.panic_message.is_empty() {
            let _ = writeln!(o, "Checker message: `{}`\n", cell(&f.panic_message));
        }
    }
    match &r.linearizability {
        Some(l) => {
            let _ = writeln!(
                o,
                "Linearizability: checked against {} distinct sequential outcomes ({} orders, {} run to their end){}.\n",
                l.outcomes,
                l.orders,
                l.feasible,
                r.timing
                    .spec_secs
                    .map(|t| format!("; the sequential specification took {t:.3} s"))
                    .unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(o, "Linearizability: not checked.\n");
        }
    }
    let _ = writeln!(
        o,
        "Written by {} {}; the exploration took {:.3} s.",
        r.tool.name, r.tool.version, r.timing.elapsed_secs
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::fixtures;

    /// The lines of the table that starts at the first line after `heading`.
    fn table_after<'a>(md: &'a str, heading: &str) -> Vec<&'a str> {
        let from = md.find(heading).expect(heading);
        md[from..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .collect()
    }

    #[test]
    fn the_report_reads_header_finding_summary_focus_object_then_everything() {
        let r = fixtures::get_super_race();
        let md = crate::report::markdown(&r);
        let header: Vec<&str> = md
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with("- "))
            .collect();
        assert_eq!(header.len(), 5, "{md}");
        assert_eq!(
            header[3],
            "- **Witness**: execution 7, 31 steps, 1 preemption"
        );
        let order = [
            "## Finding: use-after-free",
            "## Summary",
            "## Interleaving (focused: 16 of 31 steps, 1 preemption)",
            "## Object sb#4 (ram0)",
            "## Full interleaving",
            "<details>",
            "</details>",
            "## Replay",
            "Checker message:",
            "Written by mountcheck 0.1.0",
        ];
        let mut at = 0;
        for h in order {
            let p = md[at..]
                .find(h)
                .unwrap_or_else(|| panic!("{h} after {at}:\n{md}"));
            at += p + h.len();
        }
        assert_eq!(
            md,
            crate::report::markdown(&r.clone()),
            "byte-identical for the same report"
        );
    }

    #[test]
    fn the_summary_marks_the_failure_and_what_never_ran() {
        let md = crate::report::markdown(&fixtures::get_super_race());
        let rows = table_after(&md, "## Summary");
        assert_eq!(
            rows,
            vec![
                "| `mkdir /mnt` = 0 | | |",
                "| `mount ram0 /mnt` = 0 | | |",
                "| | **✗ `get_super ram0 as sb`: FAILS (use-after-free)** | `umount /mnt` = 0 |",
                "| | `drop_super sb`: not started | |",
                "| quiescence: not reached | | |",
            ]
        );
        let md = crate::report::markdown(&fixtures::deadlock());
        assert!(md.contains("**✗ `umount /mnt`: blocked, never returned**"));
        assert!(md.contains("`mkdir /x`: not started"));
        assert!(md.contains(
            "Locks held when the execution stopped: T1 holds sb#4.s_umount(r) (since step 5)."
        ));
    }

    #[test]
    fn the_focused_interleaving_folds_marks_the_preemption_and_ends_on_the_failing_step() {
        let md = crate::report::markdown(&fixtures::get_super_race());
        let rows = table_after(&md, "## Interleaving (focused");
        assert_eq!(rows[0], "| 0–2 | **boot** (3 steps folded) | | |");
        assert_eq!(
            rows[1],
            "| 3–5 | **`mkdir /mnt`** = 0 (3 steps folded) | | |"
        );
        assert!(rows
            .contains(&"| ⇄ | | ⇄ **preemption 1**: T1 stopped after step 15 | T2 runs instead |"));
        assert!(rows.contains(&"| ⋮ 2 | | | |"), "{rows:#?}");
        let last = rows.last().unwrap();
        assert!(
            last.starts_with("| 30 | | **✗ FAILS (use-after-free):"),
            "{last}"
        );
        // The full table has every step.
        let full = table_after(&md, "## Full interleaving");
        assert_eq!(full.len(), 31);
    }

    #[test]
    fn counts_near_the_bias_are_symbolic_in_the_object_section() {
        assert_eq!(show_named_count("s_count", 1 << 30), "S_BIAS");
        assert_eq!(show_named_count("s_count", (1 << 30) + 2), "S_BIAS + 2");
        assert_eq!(
            show_named_count("mnt_count", 1 << 30),
            (1 << 30).to_string()
        );
        assert_eq!(show_named_count("unknown", 3), "3");
    }
}
