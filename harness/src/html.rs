//! HTML pages: a race report with its picture, the index of a run, and the catalog.
//!
//! What it models: nothing of the kernel; it renders [`Report`]s. Each page is one
//! self-contained HTML5 file: inline CSS, no script, no font, no image, nothing fetched, so it
//! opens offline from the file system. A report's page has the same parts as the Markdown
//! report (see `report::md`): the five-line header, the finding, the summary, the focused
//! interleaving (all from one [`Timeline`]), then the picture ([`svg`]: a swimlane per thread),
//! the object's reference history, and the full interleaving in a `<details>` element whose
//! folded boot, setup and quiescence rows open one by one.
//!
//! Invariant: every text that comes from a report is escaped ([`esc`]), so a page's markup is
//! the renderer's own; pages are pure functions of their input (byte-identical for the same
//! report), and the SVG is well-formed XML.

mod listing;
mod svg;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mountcheck_engine::ReplayToken;

use crate::report::md::{bounds, focus_note, outcome_suffix, show_named_count, step_text, who};
use crate::report::{self, Report};
use crate::timeline::{OpCell, Row, Timeline};

pub use listing::{index_page, IndexEntry};
// Used by `catalog` once it writes its page; until then by tests.
#[cfg_attr(not(test), allow(unused_imports))]
pub use listing::{catalog_page, CatalogEntry, CatalogResult};

/// Escape text for HTML and XML (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The style sheet every page carries.
const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:20px 28px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:17px;margin:26px 0 8px;padding-bottom:3px;border-bottom:1px solid #d0d7de}
code,pre,.mono,table.trace td,table.summary td{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
p code,li code{overflow-wrap:anywhere}
ul.facts{margin:0 0 10px;padding-left:20px}
p.note{color:#57606a;font-size:13px;max-width:70em}
p.message{font-size:15px;font-weight:600;color:#82071e}
table{border-collapse:collapse;margin:6px 0 12px}
th,td{border:1px solid #d0d7de;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f6f8fa;font-weight:600}
table.trace td{max-width:42em;overflow-wrap:anywhere}
table.trace td.seq{color:#57606a;white-space:nowrap;text-align:right}
tr.fold td{background:#f6f8fa;color:#424a53}
tr.hidden td{color:#8c959f;font-style:italic;background:#fbfbfc}
tr.preempt td{background:#fbefff;color:#6e2a8a;font-weight:600}
td.failing,tr.failing td.cell{background:#ffebe9;color:#82071e;font-weight:600}
td.blocked{background:#fff8c5}
td.notrun{color:#8c959f}
.opname{font-weight:600}
.ok{color:#1a7f37;font-weight:600}
.bad{color:#cf222e;font-weight:600}
details>summary{cursor:pointer}
ol.steps{margin:4px 0 2px 0;padding-left:0;list-style:none}
ol.steps li{white-space:normal}
.scroll{display:inline-block;max-width:100%;overflow-x:auto;border:1px solid #d0d7de;border-radius:4px;background:#fff}
.legend span{display:inline-block;margin-right:14px}
footer{margin-top:30px;color:#57606a;font-size:12px}
svg.swimlanes text{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:10px;fill:#24292f}
svg.swimlanes .lane{fill:#f6f8fa}
svg.swimlanes .lane.odd{fill:#ffffff}
svg.swimlanes .lane-label{font-size:13px;font-weight:700}
svg.swimlanes .lock-label,svg.swimlanes .value-label{fill:#57606a}
svg.swimlanes .axis-line{stroke:#8c959f}
svg.swimlanes .tick,svg.swimlanes .axis-title{fill:#57606a}
svg.swimlanes .op-band path{fill:none;stroke:#6e7781;stroke-width:1}
svg.swimlanes .op-band text{fill:#0550ae}
svg.swimlanes .step rect{stroke:#8c959f;stroke-width:0.8}
svg.swimlanes .step text{font-size:11px;font-weight:700}
svg.swimlanes .k-lock rect{fill:#ddf4ff}
svg.swimlanes .k-unlock rect{fill:#eef6fb}
svg.swimlanes .k-get rect{fill:#dafbe1}
svg.swimlanes .k-put rect{fill:#fff1e5}
svg.swimlanes .k-alloc rect{fill:#eaeef2}
svg.swimlanes .k-free rect{fill:#ffd8d3}
svg.swimlanes .k-ret rect{fill:#e7e3ff}
svg.swimlanes .k-note rect{fill:#ffffff}
svg.swimlanes .step.focus rect{stroke:#0969da;stroke-width:1.6}
svg.swimlanes .step.dim{opacity:0.35}
svg.swimlanes .step.failing rect{fill:#cf222e;stroke:#82071e;stroke-width:2.5}
svg.swimlanes .step.failing text{fill:#ffffff;font-size:13px}
svg.swimlanes .failing-band{fill:#ffd8d3;opacity:0.6}
svg.swimlanes .fold rect{fill:#eaeef2;stroke:#afb8c1;stroke-dasharray:3 2}
svg.swimlanes .fold text{fill:#424a53}
svg.swimlanes .hold-w{fill:#54aeff}
svg.swimlanes .hold-r{fill:#b6e3ff}
svg.swimlanes .preempt-line{stroke:#8250df;stroke-width:2;stroke-dasharray:6 3}
svg.swimlanes .preempt-mark{fill:#8250df}
svg.swimlanes .preempt-label{fill:#8250df;font-weight:700;font-size:12px}
svg.swimlanes .blocked-line{stroke:#9a6700;stroke-width:2;stroke-dasharray:2 2}
svg.swimlanes .blocked-label{fill:#9a6700;font-weight:700}
svg.swimlanes .chart-bg{fill:#fbfbfc;stroke:#eaeef2}
svg.swimlanes .chart-title{font-weight:700;font-size:11px}
svg.swimlanes .grid{stroke:#eaeef2}
svg.swimlanes .count-line{fill:none;stroke:#0969da;stroke-width:2}
svg.swimlanes .count-point{fill:#0969da}
svg.swimlanes .object-event line{stroke:#57606a;stroke-dasharray:2 2}
svg.swimlanes .ev-free line{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:none}
svg.swimlanes .ev-free text{fill:#cf222e;font-weight:700}
"#;

/// A whole page.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The page of one report.
pub fn report_page(r: &Report) -> String {
    let t = Timeline::from_report(r);
    let mut o = String::new();
    header(&mut o, r, &t);
    finding(&mut o, r);
    if !r.trace.is_empty() {
        summary(&mut o, &t);
        focused(&mut o, r, &t);
        let _ = writeln!(
            o,
            "<section id=\"picture\">\n<h2>Picture</h2>\n<p class=\"note\">One lane per thread on a shared step axis (folded groups are one wide column); above the boxes, the operation each run of steps belongs to; below them, a bar per lock while the thread holds it (dark: exclusive, light: shared); under the lanes, each count of {} by value. Hover over anything for its full text.</p>\n<p class=\"legend note\"><span>L lock</span><span>U unlock</span><span>+ get</span><span>− put</span><span>A alloc</span><span>F free / shut down</span><span>= returns</span><span>J join</span><span>· other</span><span>✗ the failing step (red column)</span><span>P<i>n</i> preemption (dashed line)</span><span>dotted: waits for a held lock</span><span>blue outline: touches {}</span><span>faded: not in the focused view</span></p>\n<div class=\"scroll\">\n{}</div>\n</section>",
            esc(&focus_text(&t)),
            esc(&focus_text(&t)),
            svg::swimlanes(r, &t)
        );
    }
    object(&mut o, r);
    full(&mut o, r, &t);
    replay(&mut o, r);
    page(
        &format!(
            "{} — {} ({})",
            r.scenario.name, r.verdict, r.exploration.strategy
        ),
        &o,
    )
}

fn focus_text(t: &Timeline) -> String {
    if t.focus.is_empty() {
        "the finding's objects".into()
    } else {
        t.focus.join(", ")
    }
}

/// Write `<dir>/<stem>.html` whole (a temporary name, then rename), as [`report::write`] does
/// for the JSON and Markdown.
pub fn write_report_page(dir: &Path, r: &Report) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stem = report::stem(&r.scenario.name, &r.exploration.strategy);
    let path = dir.join(format!("{stem}.html"));
    report::write_whole(&path, &report_page(r))?;
    Ok(path)
}

fn header(o: &mut String, r: &Report, t: &Timeline) {
    let e = &r.exploration;
    let _ = writeln!(
        o,
        "<header>\n<h1>{} — {} ({})</h1>\n<ul class=\"facts\">",
        esc(&r.scenario.name),
        esc(&r.verdict.to_string()),
        esc(&e.strategy)
    );
    let _ = writeln!(
        o,
        "<li><b>Scenario</b>: <code>{}</code>, model variant <code>{}</code>, lock design <code>{}</code></li>",
        esc(&r.scenario.file),
        esc(&r.scenario.variant),
        esc(r.config.lock_design.name())
    );
    let _ = writeln!(
        o,
        "<li><b>Verdict</b>: <b>{}</b>, expected {} (<span class=\"{}\">{}</span>)</li>",
        esc(&r.verdict.to_string()),
        esc(&r.scenario.expect),
        if r.as_expected { "ok" } else { "bad" },
        if r.as_expected {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    let _ = writeln!(
        o,
        "<li><b>Search</b>: {} (worker build: {}), {}; {} executions explored; stopped: <code>{}</code> ({})</li>",
        esc(&e.strategy),
        esc(&e.backend),
        esc(&bounds(r)),
        e.executions,
        esc(&e.stop.to_string()),
        esc(e.stop.meaning())
    );
    if let Some(msg) = &r.checker_error {
        let _ = writeln!(
            o,
            "<li><b>Checker error</b>: the checker failed, so nothing can be said about the scenario: <code>{}</code></li>",
            esc(msg)
        );
    }
    match &r.finding {
        Some(f) => {
            let _ = writeln!(
                o,
                "<li><b>Witness</b>: execution {}, {}, <span class=\"preemptions\">{}</span>{}</li>",
                f.execution,
                plural(r.trace.len(), "step", "steps"),
                plural(t.preemption_count(), "preemption", "preemptions"),
                r.witness.as_ref().map_or(String::new(), |w| format!(
                    " (the witness: {}; {})",
                    plural(w.preemptions, "preemption", "preemptions"),
                    esc(&w.minimality)
                ))
            );
        }
        None => {
            let _ = writeln!(o, "<li><b>Witness</b>: none</li>");
        }
    }
    match &r.replay {
        Some(rp) => match (&rp.command, &rp.unavailable) {
            (Some(cmd), _) => {
                let _ = writeln!(o, "<li><b>Replay</b>: <code>{}</code></li>", esc(cmd));
            }
            (None, why) => {
                let _ = writeln!(
                    o,
                    "<li><b>Replay</b>: none: {}</li>",
                    esc(why.as_deref().unwrap_or("no replay token"))
                );
            }
        },
        None => {
            let _ = writeln!(o, "<li><b>Replay</b>: none</li>");
        }
    }
    let _ = writeln!(o, "</ul>");
    let _ = writeln!(o, "<p>{}</p>", esc(&r.scenario.description));
    if let Some(see) = &r.scenario.see {
        let _ = writeln!(o, "<p>See: {}</p>", esc(see));
    }
    let _ = writeln!(o, "</header>");
}

fn finding(o: &mut String, r: &Report) {
    let Some(f) = &r.finding else {
        return;
    };
    let fd = &f.finding;
    let _ = writeln!(
        o,
        "<section id=\"finding\">\n<h2>Finding: {}</h2>\n<p class=\"message\">{}</p>\n<p>By {}, during <code>{}</code>, in execution {}.</p>\n</section>",
        esc(fd.class.name()),
        esc(&fd.message),
        esc(&who(fd.thread)),
        esc(&fd.op),
        f.execution
    );
}

fn summary_cell(op: &OpCell) -> String {
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

fn summary(o: &mut String, t: &Timeline) {
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

fn trace_head(o: &mut String, t: &Timeline) {
    o.push_str("<thead><tr><th>step</th>");
    for th in 0..=t.threads {
        let _ = write!(o, "<th>T{th}</th>");
    }
    o.push_str("</tr></thead>\n<tbody>\n");
}

/// A row with `text` (markup) in `thread`'s column.
fn lane_row(o: &mut String, class: &str, seq: &str, t: &Timeline, thread: usize, text: &str) {
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
fn trace_rows(o: &mut String, r: &Report, t: &Timeline, rows: &[Row], expand: bool) {
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

fn focused(o: &mut String, r: &Report, t: &Timeline) {
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
                    "<p>Locks held when the execution stopped: {}.</p>",
                    esc(&held.join("; "))
                );
            }
        }
    }
    o.push_str("</section>\n");
}

fn holders_table(o: &mut String, title: &str, holders: &[mountcheck_model::oracle::Holder]) {
    let _ = writeln!(
        o,
        "<p>{}</p>\n<table class=\"holders\"><thead><tr><th>count</th><th>holder</th><th>taken by</th><th>in</th><th>step</th></tr></thead><tbody>",
        esc(title)
    );
    for h in holders {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>T{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(h.counter.name()),
            esc(&h.tag),
            h.thread,
            esc(&h.op),
            h.step
        );
    }
    o.push_str("</tbody></table>\n");
}

fn object(o: &mut String, r: &Report) {
    let Some(f) = &r.finding else {
        return;
    };
    let fd = &f.finding;
    if fd.object.is_none() && fd.unmatched.is_empty() {
        return;
    }
    o.push_str("<section id=\"object\">\n");
    if let Some(obj) = &fd.object {
        let _ = writeln!(
            o,
            "<h2>Object {} ({:?}, {:?})</h2>",
            esc(&obj.label),
            obj.kind,
            obj.state
        );
        let counts: Vec<String> = obj
            .counts
            .iter()
            .map(|(k, v)| format!("{k} = {}", show_named_count(k, *v)))
            .collect();
        let _ = writeln!(
            o,
            "<p>Counts when found: {}</p>",
            esc(&if counts.is_empty() {
                "none".to_string()
            } else {
                counts.join(", ")
            })
        );
        if !obj.holders.is_empty() {
            holders_table(o, "References still held:", &obj.holders);
        }
        o.push_str("<p>Reference history:</p>\n<table class=\"history\"><thead><tr><th>step</th><th>thread</th><th>operation</th><th>what</th></tr></thead><tbody>\n");
        for h in &obj.history {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>T{}</td><td><code>{}</code></td><td>{}</td></tr>",
                h.step,
                h.thread,
                esc(&h.op),
                esc(&h.what)
            );
        }
        o.push_str("</tbody></table>\n");
    }
    if !fd.unmatched.is_empty() {
        holders_table(o, "Unmatched references:", &fd.unmatched);
    }
    o.push_str("</section>\n");
}

fn full(o: &mut String, r: &Report, t: &Timeline) {
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

fn replay(o: &mut String, r: &Report) {
    o.push_str("<section id=\"replay\">\n<h2>Replay</h2>\n");
    if let Some(rp) = &r.replay {
        let _ = match (&rp.command, &rp.unavailable) {
            (Some(cmd), _) => writeln!(o, "<pre><code>{}</code></pre>", esc(cmd)),
            (None, why) => writeln!(
                o,
                "<p>This execution cannot be replayed: {}.</p>",
                esc(why.as_deref().unwrap_or("no replay token"))
            ),
        };
        let _ = match &rp.token {
            ReplayToken::Shuttle { schedule } => {
                writeln!(o, "<p>shuttle schedule: <code>{}</code></p>", esc(schedule))
            }
            ReplayToken::Loom { checkpoint } => writeln!(
                o,
                "<p>loom checkpoint: {} bytes of JSON, in the report's JSON twin.</p>",
                checkpoint.len()
            ),
            ReplayToken::None => {
                writeln!(o, "<p>Real threads: this execution cannot be replayed.</p>")
            }
        };
    } else {
        o.push_str("<p>None.</p>\n");
    }
    if let Some(f) = &r.finding {
        if !f.panic_message.is_empty() {
            let _ = writeln!(
                o,
                "<p>Checker message: <code>{}</code></p>",
                esc(&f.panic_message)
            );
        }
    }
    let _ = writeln!(
        o,
        "</section>\n<footer>Written by {} {}; the exploration took {:.3} s.</footer>",
        esc(&r.tool.name),
        esc(&r.tool.version),
        r.timing.elapsed_secs
    );
}

#[cfg(test)]
mod tests;
