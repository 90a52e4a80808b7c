//! The pages that list explorations: the index of a run and the catalog of mutants.
//!
//! What it models: nothing of the kernel. Their inputs are small structs of their own
//! ([`IndexEntry`], [`CatalogEntry`]), easy to fill from a run's rows or the catalog's lines.
//!
//! Invariant: every text is escaped; every link is the relative path given, so a page links
//! files next to it.

use std::fmt::Write as _;
use std::path::Path;

use super::{esc, page};
use crate::report;

/// One exploration of a run, for [`index_page`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Scenario name.
    pub scenario: String,
    /// Model variant.
    pub variant: String,
    /// Backend (strategy).
    pub backend: String,
    /// Executions explored.
    pub executions: u64,
    /// Verdict.
    pub verdict: String,
    /// Why the exploration stopped.
    pub stop: String,
    /// Expected verdict.
    pub expected: String,
    /// Whether they agree.
    pub ok: bool,
    /// The report page, relative to the index (findings only).
    pub report: Option<String>,
}

impl IndexEntry {
    /// The entry of an index row; its report link is the HTML twin of the row's JSON report,
    /// next to the index. (Used by `run` once it writes `index.html`; until then by tests.)
    pub fn from_row(row: &report::Row) -> Self {
        IndexEntry {
            scenario: row.scenario.clone(),
            variant: row.variant.clone(),
            backend: row.strategy.clone(),
            executions: row.executions,
            verdict: row.verdict.to_string(),
            stop: row.stop.to_string(),
            expected: row.expect.clone(),
            ok: row.ok,
            report: row.report.as_ref().and_then(|p| {
                Path::new(p)
                    .with_extension("html")
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            }),
        }
    }
}

/// `reports/index.html`: every exploration of a run with its verdict, linking each report.
pub fn index_page(command: &str, rows: &[IndexEntry]) -> String {
    let mut o = String::new();
    let ok = rows.iter().filter(|r| r.ok).count();
    let _ = writeln!(
        o,
        "<h1>mountcheck run</h1>\n<p>Command: <code>{}</code></p>\n<p>{ok} of {} explorations reached their expected verdict.</p>",
        esc(command),
        rows.len()
    );
    o.push_str("<table class=\"index\">\n<thead><tr><th>scenario</th><th>variant</th><th>backend</th><th>executions</th><th>verdict</th><th>stopped</th><th>expected</th><th>as expected</th><th>report</th></tr></thead>\n<tbody>\n");
    for r in rows {
        let link = r.report.as_ref().map_or("—".to_string(), |p| {
            format!("<a href=\"{}\">{}</a>", esc(p), esc(p))
        });
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{link}</td></tr>",
            esc(&r.scenario),
            esc(&r.variant),
            esc(&r.backend),
            r.executions,
            esc(&r.verdict),
            esc(&r.stop),
            esc(&r.expected),
            if r.ok { "ok" } else { "bad" },
            if r.ok { "yes" } else { "no" }
        );
    }
    o.push_str("</tbody>\n</table>\n");
    page("mountcheck run", &o)
}

/// One backend's result on a mutant or on its fixed twin, for [`catalog_page`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogResult {
    /// Backend.
    pub backend: String,
    /// The fixed twin (`true`) or the mutant.
    pub fixed: bool,
    /// What happened: `yes`, `no`, `not finished`, `clean`, `FINDING: leak`, ….
    pub outcome: String,
    /// Whether that is what the catalog requires.
    pub ok: bool,
    /// Executions (of the first finding, or explored).
    pub executions: u64,
    /// The report page, relative to the catalog page.
    pub report: Option<String>,
}

/// One mutant of the catalog, for [`catalog_page`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Mutant id.
    pub mutant: String,
    /// The finding class it must be caught with.
    pub expected: String,
    /// What the bug is.
    pub description: String,
    /// Its kernel fix.
    pub see: String,
    /// Results per backend, mutant and fixed twin.
    pub results: Vec<CatalogResult>,
}

/// The catalog page: a row per mutant, a column per backend with the mutant's and the fixed
/// twin's results, each linking its report (`reports/catalog.html`).
pub fn catalog_page(lock_design: &str, entries: &[CatalogEntry]) -> String {
    let mut backends: Vec<&str> = Vec::new();
    for e in entries {
        for r in &e.results {
            if !backends.contains(&r.backend.as_str()) {
                backends.push(&r.backend);
            }
        }
    }
    let all = entries.iter().flat_map(|e| &e.results).count();
    let ok = entries
        .iter()
        .flat_map(|e| &e.results)
        .filter(|r| r.ok)
        .count();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<h1>mountcheck catalog</h1>\n<p>Lock design: {}. Every mutant must be caught (a finding of its class) by loom and PCT, and by DFS where DFS finishes; the fixed protocol must be clean on every mutant's scenario. {} mutants, {ok} of {all} results as required.</p>",
        esc(lock_design),
        entries.len()
    );
    o.push_str("<table class=\"catalog\">\n<thead><tr><th>mutant</th><th>finding</th>");
    for b in &backends {
        let _ = write!(o, "<th>{}</th>", esc(b));
    }
    o.push_str("<th>see</th></tr></thead>\n<tbody>\n");
    for e in entries {
        let _ = write!(
            o,
            "<tr><td><code>{}</code><br><span class=\"note\">{}</span></td><td>{}</td>",
            esc(&e.mutant),
            esc(&e.description),
            esc(&e.expected)
        );
        for b in &backends {
            o.push_str("<td>");
            for r in e.results.iter().filter(|r| r.backend == *b) {
                let _ = write!(
                    o,
                    "<div>{}: <span class=\"{}\">{}</span> ({} executions)",
                    if r.fixed { "fixed" } else { "mutant" },
                    if r.ok { "ok" } else { "bad" },
                    esc(&r.outcome),
                    r.executions
                );
                if let Some(p) = &r.report {
                    let _ = write!(o, " <a href=\"{}\">report</a>", esc(p));
                }
                o.push_str("</div>");
            }
            o.push_str("</td>");
        }
        let _ = writeln!(o, "<td>{}</td></tr>", esc(&e.see));
    }
    o.push_str("</tbody>\n</table>\n");
    page("mountcheck catalog", &o)
}
