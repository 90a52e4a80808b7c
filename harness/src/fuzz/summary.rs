//! The campaign's figures: the findings ([`FoundInfo`]), the counts of scenarios, explorations
//! and executions, and the coverage table ([`Summary`]), printed, written as `fuzz.json` and
//! as this campaign's section of `fuzz.md` (other sections kept).
//!
//! Invariant: a section of `fuzz.md` is replaced whole, between its begin and end markers;
//! every other section of the file is kept byte for byte.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::coverage::Coverage;
use crate::report::{self};

/// One finding of the campaign, as `fuzz.json` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct FoundInfo {
    /// The scenario file written.
    pub file: String,
    /// The finding class.
    pub class: String,
    /// Which generated scenario (1-based, in generation order) found it.
    pub scenario: usize,
    /// Calls of the generated scenario.
    pub calls_before: usize,
    /// Calls of the shrunk scenario.
    pub calls_after: usize,
    /// Explorations shrinking spent.
    pub shrink_steps: usize,
    /// The backends that found it again at `mountcheck run`'s default bounds.
    pub reproduced_by: Vec<String>,
    /// The fewest preemptions of its witness (loom's iterative bounds, else shuttle's shrink).
    pub preemptions: Option<usize>,
    /// For a mutant: whether the fixed protocol is clean on the shrunk scenario under PCT and the
    /// campaign's other samplers (a finding that the fixed protocol shares is not the mutant's).
    pub fixed_twin_clean: Option<bool>,
    /// Seconds from the campaign's start to the end of the batch that found it.
    pub secs: f64,
}

/// The campaign's figures (`fuzz.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The generator's seed.
    pub seed: u64,
    /// The variant explored.
    pub variant: String,
    /// The lock design explored.
    pub lock_design: String,
    /// The budget, seconds.
    pub budget_secs: f64,
    /// Scenarios generated and explored.
    pub scenarios: usize,
    /// Draws skipped (no thread left after dropping invalid calls, too many sequential orders,
    /// or a specification that failed).
    pub skipped: usize,
    /// Explorations (scenario × backend).
    pub explorations: usize,
    /// Executions of all explorations (shrinking's not included).
    pub executions: u64,
    /// Explorations that stopped early (incomplete).
    pub incomplete: usize,
    /// Explorations where the checker failed.
    pub checker_errors: usize,
    /// Specifications the fixed protocol could not compute (a finding in a sequential order).
    pub spec_failures: Vec<String>,
    /// Seconds of the campaign.
    pub elapsed_secs: f64,
    /// Seconds to the first finding.
    pub first_find_secs: Option<f64>,
    /// Scenarios tried up to and including the first that found something.
    pub first_find_scenarios: Option<usize>,
    /// Findings, one per distinct shrunk scenario.
    pub found: Vec<FoundInfo>,
    /// Findings that shrank to a scenario already found.
    pub duplicates: usize,
    /// For a mutant: calls of its hand-written scenario (`scenarios/<id>.toml`).
    pub hand_written_calls: Option<usize>,
    /// The op × op coverage.
    pub coverage: Coverage,
}

/// The summary: figures, findings, coverage (printed, and this campaign's section of
/// `fuzz.md`).
pub fn summary_markdown(s: &Summary, command: &str) -> String {
    let mut o = format!(
        "## Campaign: variant `{}`, lock design `{}`, seed {}\n\n`{command}`\n\n",
        s.variant, s.lock_design, s.seed
    );
    o.push_str(&format!(
        "- {} scenario(s) explored ({} draw(s) skipped), {} exploration(s), {} execution(s), {:.1} s (budget {:.0} s)\n",
        s.scenarios, s.skipped, s.explorations, s.executions, s.elapsed_secs, s.budget_secs
    ));
    o.push_str(&format!(
        "- {} incomplete exploration(s), {} checker error(s), {} specification failure(s)\n",
        s.incomplete,
        s.checker_errors,
        s.spec_failures.len()
    ));
    match (s.first_find_secs, s.first_find_scenarios) {
        (Some(t), Some(n)) => o.push_str(&format!(
            "- first finding after {t:.1} s, at scenario {n}\n"
        )),
        _ => o.push_str("- nothing found\n"),
    }
    if !s.found.is_empty() {
        o.push_str(
            "\n| found | class | calls (generated → shrunk) | shrink explorations | reproduced by | fewest preemptions | fixed twin clean |\n|---|---|---|---|---|---|---|\n"
        );
        for f in &s.found {
            o.push_str(&format!(
                "| `{}` | {} | {} → {} | {} | {} | {} | {} |\n",
                f.file,
                f.class,
                f.calls_before,
                f.calls_after,
                f.shrink_steps,
                if f.reproduced_by.is_empty() {
                    "—".to_string()
                } else {
                    f.reproduced_by.join(", ")
                },
                f.preemptions.map_or("—".into(), |p| p.to_string()),
                f.fixed_twin_clean.map_or("—".to_string(), |c| if c {
                    "yes".into()
                } else {
                    "**no**".into()
                })
            ));
        }
        if s.duplicates > 0 {
            o.push_str(&format!(
                "\n{} more finding(s) shrank to a scenario above.\n",
                s.duplicates
            ));
        }
    }
    o.push_str("\n### Operations run concurrently (scenarios per pair)\n\n");
    o.push_str(&s.coverage.markdown());
    o
}

/// Replace the section `key` of the Markdown file at `path` (between `<!-- begin KEY -->` and
/// `<!-- end KEY -->`) with `body`, keeping the others; sections are kept sorted by key.
pub fn update_section(path: &Path, key: &str, body: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut sections: std::collections::BTreeMap<String, String> = Default::default();
    let mut rest = old.as_str();
    while let Some(b) = rest.find("<!-- begin ") {
        let after = &rest[b + "<!-- begin ".len()..];
        let Some(k_end) = after.find(" -->") else {
            break;
        };
        let k = after[..k_end].to_string();
        let end_marker = format!("<!-- end {k} -->");
        let Some(e) = after.find(&end_marker) else {
            break;
        };
        let content = after[k_end + " -->".len()..e]
            .trim_matches('\n')
            .to_string();
        sections.insert(k, content);
        rest = &after[e + end_marker.len()..];
    }
    sections.insert(key.to_string(), body.trim_matches('\n').to_string());
    let mut o = String::from(
        "# Fuzzing campaigns\n\nWritten by `mountcheck fuzz` (one section per campaign: lock design and variant) and `scripts/fuzz-catalog.sh` (the catalog's time-to-find table); see reports/README.md.\n\n",
    );
    for (k, v) in &sections {
        o.push_str(&format!("<!-- begin {k} -->\n{v}\n<!-- end {k} -->\n\n"));
    }
    report::write_whole(path, &o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_and_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fuzz.md");
        update_section(&p, "catalog", "| table |").unwrap();
        update_section(&p, "campaign global fixed", "first body").unwrap();
        update_section(&p, "campaign global fixed", "second body").unwrap();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(
            t.contains("| table |") && t.contains("second body") && !t.contains("first body"),
            "{t}"
        );
        assert_eq!(t.matches("<!-- begin ").count(), 2, "{t}");
    }
}
