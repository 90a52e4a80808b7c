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

mod interleaving;
mod listing;
mod svg;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mountcheck_engine::ReplayToken;

use crate::report::md::{bounds, show_named_count, who};
use crate::report::{self, Report};
use crate::timeline::Timeline;
use interleaving::{focused, full, summary};

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

/// The style sheet every page carries (`html/page.css`, inlined: a page fetches nothing).
const CSS: &str = concat!("\n", include_str!("html/page.css"));

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
