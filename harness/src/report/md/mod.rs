//! The Markdown race report, laid out so a reader gets the race in a minute: a five-line
//! header, the finding, the Lincheck-style summary (each thread's operations with their
//! results), the focused interleaving with its preemptions marked and the failing step last,
//! the object's reference history, and then everything else (the complete interleaving folded
//! in a `<details>` block, which GitHub renders collapsed, the replay token, the checker's
//! message, the tool and the time).
//!
//! What it models: nothing of the kernel; it renders a [`Report`] through its
//! [`Timeline`].
//!
//! Invariant: the text is a pure function of the report (byte-identical for the same report),
//! and it carries everything the report's JSON has except the loom checkpoint itself and the
//! program in machine form (which the summary shows as text).

use std::fmt::Write as _;

use mountcheck_engine::ReplayToken;
use mountcheck_model::oracle::trace::show_count;
use mountcheck_model::oracle::{Counter, Step};

use super::Report;
use crate::timeline::{Outcome, Timeline};

mod interleaving;
mod objects;

use interleaving::{focused, full, summary};
use objects::{comparison, object};

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
