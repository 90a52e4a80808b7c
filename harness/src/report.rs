//! Race reports: the Markdown a person reads, its JSON twin, and the index of a run.
//!
//! The JSON schema is [`Report`] (`schema = "mountcheck-report/1"`), documented field by field
//! below and in `reports/README.md`. A report holds the scenario and variant, the finding with the
//! object's reference history, the interleaving (every step with its thread, operation, locks
//! held and counts), the replay token and command, the tool version, backend, seed, bounds,
//! executions explored, and, in a field of its own, the time.
//!
//! Invariant: everything but `timing` is a function of the scenario, the variant, the backend,
//! the seed and the bounds, so the same inputs give byte-identical JSON apart from `timing`.

pub(crate) mod md;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mountcheck_engine::{ReplayToken, Stop};
use mountcheck_model::oracle::{Finding, Step};
use mountcheck_model::{Config, Program};
use serde::{Deserialize, Serialize};

/// Schema id of [`Report`].
pub const SCHEMA: &str = "mountcheck-report/1";

/// The tool that wrote a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `mountcheck`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// The scenario a report is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Name.
    pub name: String,
    /// File, relative to the workspace when possible.
    pub file: String,
    /// Description.
    pub description: String,
    /// Reference.
    pub see: Option<String>,
    /// Model variant id (`fixed` or a mutant id).
    pub variant: String,
    /// Expected verdict.
    pub expect: String,
}

/// The exploration's settings and extent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exploration {
    /// Strategy: loom, pct, random, dfs, stress, replay.
    pub strategy: String,
    /// Worker build: loom, shuttle, std.
    pub backend: String,
    /// Seed (shuttle random / PCT).
    pub seed: u64,
    /// Bound on executions.
    pub max_executions: u64,
    /// Bound on time, seconds.
    pub time_limit_secs: f64,
    /// loom's preemption bound.
    pub preemption_bound: Option<usize>,
    /// loom's branch bound.
    pub max_branches: Option<usize>,
    /// PCT depth.
    pub depth: Option<usize>,
    /// Executions explored.
    pub executions: u64,
    /// Why it stopped.
    pub stop: Stop,
}

/// The failing execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingInfo {
    /// The oracle's finding: class, message, thread, operation, object with its history, and the
    /// unmatched references of a leak.
    #[serde(flatten)]
    pub finding: Finding,
    /// 1-based index of the failing execution.
    pub execution: u64,
    /// The panic as the checker saw it.
    pub panic_message: String,
}

/// How to replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// The token.
    pub token: ReplayToken,
    /// The command that replays it.
    pub command: String,
}

/// Time figures, kept apart so the rest is reproducible byte for byte.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Seconds the exploration took in the worker.
    pub elapsed_secs: f64,
}

/// A race report (`reports/<scenario>--<strategy>.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `mountcheck-report/1`.
    pub schema: String,
    /// The tool.
    pub tool: Tool,
    /// The scenario.
    pub scenario: ScenarioInfo,
    /// The program explored (what replay re-runs).
    pub program: Program,
    /// The model configuration.
    pub config: Config,
    /// Settings and extent.
    pub exploration: Exploration,
    /// `clean` or the class found.
    pub verdict: String,
    /// Whether the verdict is the expected one.
    pub as_expected: bool,
    /// The finding.
    pub finding: Option<FindingInfo>,
    /// Every step of the failing execution.
    pub trace: Vec<Step>,
    /// Replay token and command.
    pub replay: Option<Replay>,
    /// Time figures.
    pub timing: Timing,
}

/// File stem of a report.
pub fn stem(scenario: &str, strategy: &str) -> String {
    format!("{scenario}--{strategy}")
}

/// Write `<dir>/<stem>.json` and `.md` (each written whole, then renamed into place).
pub fn write(dir: &Path, r: &Report) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stem = stem(&r.scenario.name, &r.exploration.strategy);
    let json = dir.join(format!("{stem}.json"));
    write_whole(&json, &(serde_json::to_string_pretty(r)? + "\n"))?;
    write_whole(&dir.join(format!("{stem}.md")), &markdown(r))?;
    Ok(json)
}

/// Write a file whole: a temporary name, then rename.
pub fn write_whole(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The Markdown report (see [`md`] for its layout).
pub fn markdown(r: &Report) -> String {
    md::render(r)
}

/// One row of the index / summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// Scenario.
    pub scenario: String,
    /// Variant.
    pub variant: String,
    /// Strategy.
    pub strategy: String,
    /// Executions.
    pub executions: u64,
    /// Verdict.
    pub verdict: String,
    /// Expected.
    pub expect: String,
    /// As expected.
    pub ok: bool,
    /// Seconds.
    pub secs: f64,
    /// Report path (findings only).
    pub report: Option<String>,
}

/// The plain-text summary table.
pub fn table(rows: &[Row]) -> String {
    let mut o = String::new();
    let w = rows
        .iter()
        .map(|r| r.scenario.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        o,
        "{:<w$}  {:<8} {:>11}  {:<16} {:<16} {:>8}  ok",
        "scenario", "backend", "executions", "verdict", "expected", "time"
    );
    for r in rows {
        let _ = writeln!(
            o,
            "{:<w$}  {:<8} {:>11}  {:<16} {:<16} {:>7.2}s  {}",
            r.scenario,
            r.strategy,
            r.executions,
            r.verdict,
            r.expect,
            r.secs,
            if r.ok { "yes" } else { "NO" }
        );
    }
    o
}

/// `reports/index.md` over the last run.
pub fn index(rows: &[Row], command: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# mountcheck run\n\nCommand: `{command}`\n");
    let ok = rows.iter().filter(|r| r.ok).count();
    let _ = writeln!(
        o,
        "{ok} of {} explorations reached their expected verdict.\n",
        rows.len()
    );
    let _ = writeln!(o, "| scenario | variant | backend | executions | verdict | expected | as expected | time (s) | report |\n|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let rep = r.report.as_ref().map_or("—".to_string(), |p| {
            let name = Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let md = name.replace(".json", ".md");
            format!("[{md}]({md})")
        });
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            r.scenario,
            r.variant,
            r.strategy,
            r.executions,
            r.verdict,
            r.expect,
            if r.ok { "yes" } else { "**no**" },
            r.secs,
            rep
        );
    }
    o
}
