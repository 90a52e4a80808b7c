//! Race reports: the Markdown a person reads, its JSON twin, and the index of a run.
//!
//! The JSON schema is [`Report`] (`schema = "mountcheck-report/2"`), documented field by field
//! below and in `reports/README.md`. A report holds the scenario and variant, the verdict and the
//! stop reason behind it, the finding with the object's reference history (or the checker's
//! message), the interleaving (every step with its thread, operation, locks held and counts), the
//! replay token and command (or why there is none), the tool version, backend, seed, bounds,
//! executions explored, and, in a field of its own, the time. The index of a run has one
//! [`Row`] per exploration, clean ones included, with the same verdict, stop reason, bounds and
//! time.
//!
//! Invariant: everything but `timing` is a function of the scenario, the variant, the backend,
//! the seed and the bounds, so the same inputs give byte-identical JSON apart from `timing`.

pub(crate) mod md;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mountcheck_engine::{ReplayToken, Stop};

use crate::verdict::Verdict;
use mountcheck_model::oracle::{Finding, Step};
use mountcheck_model::{Config, Program};
use serde::{Deserialize, Serialize};

/// Schema id of [`Report`].
pub const SCHEMA: &str = "mountcheck-report/2";

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

/// The bounds an exploration ran under.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Seed (shuttle random / PCT).
    pub seed: u64,
    /// Bound on executions (`--iterations`).
    pub max_executions: u64,
    /// Bound on time, seconds.
    pub time_limit_secs: f64,
    /// loom's preemption bound.
    pub preemption_bound: Option<usize>,
    /// loom's branch bound.
    pub max_branches: Option<usize>,
    /// PCT depth.
    pub depth: Option<usize>,
}

impl Bounds {
    /// One line for tables: `seed 1, 200000 executions, 20 s, preemption bound 2, ...`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "seed {}, at most {} executions, {} s",
            self.seed, self.max_executions, self.time_limit_secs
        );
        if let Some(p) = self.preemption_bound {
            let _ = write!(s, ", preemption bound {p}");
        }
        if let Some(b) = self.max_branches {
            let _ = write!(s, ", max branches {b}");
        }
        if let Some(d) = self.depth {
            let _ = write!(s, ", PCT depth {d}");
        }
        s
    }
}

/// The exploration's settings and extent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exploration {
    /// Strategy: loom, pct, random, dfs, stress.
    pub strategy: String,
    /// Worker build: loom, shuttle, std.
    pub backend: String,
    /// The bounds.
    #[serde(flatten)]
    pub bounds: Bounds,
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

/// How to replay, or why the failing execution cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// The token.
    pub token: ReplayToken,
    /// The command that replays it; `None` when the token cannot replay it.
    pub command: Option<String>,
    /// Why there is no replay command, when there is none.
    pub unavailable: Option<String>,
    /// For a `lock-order` finding: the lock-order graph the exploration had before the failing
    /// execution, which the replay starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_order: Option<mountcheck_model::oracle::lockdep::PriorOrder>,
}

/// Time figures, kept apart so the rest is reproducible byte for byte.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Seconds the exploration took in the worker.
    pub elapsed_secs: f64,
    /// Seconds spent minimizing the witness (see [`crate::witness`]).
    #[serde(default)]
    pub witness_secs: f64,
    /// Seconds the scenario's sequential specification took to compute (once per run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_secs: Option<f64>,
}

/// The size of the sequential specification the linearizability oracle compared with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecInfo {
    /// Orders of the threads' operations (merges keeping each thread's order).
    pub orders: u64,
    /// Orders that ran to their end (the others block for ever).
    pub feasible: u64,
    /// Distinct outcomes.
    pub outcomes: u64,
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
    /// The sequential specification's size, when the linearizability check was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizability: Option<SpecInfo>,
    /// The program explored (what replay re-runs), with its sequential specification.
    pub program: Program,
    /// The model configuration.
    pub config: Config,
    /// Settings and extent.
    pub exploration: Exploration,
    /// `clean`, `incomplete`, the class found, or `checker-error`.
    pub verdict: Verdict,
    /// Whether the verdict is the expected one.
    pub as_expected: bool,
    /// The finding.
    pub finding: Option<FindingInfo>,
    /// The checker's message, when the checker failed (verdict `checker-error`).
    pub checker_error: Option<String>,
    /// Every step of the failing execution.
    pub trace: Vec<Step>,
    /// Replay token and command.
    pub replay: Option<Replay>,
    /// How the witness was minimized, and how minimal it is known to be.
    #[serde(default)]
    pub witness: Option<crate::witness::Witness>,
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

/// The verdict cell of a report's header: the verdict and whether it was expected.
pub fn verdict_cell(r: &Report) -> String {
    format!(
        "**{}** ({})",
        r.verdict,
        if r.as_expected {
            "as expected"
        } else {
            "NOT as expected"
        }
    )
}

/// The Markdown report (see [`md`] for its layout).
pub fn markdown(r: &Report) -> String {
    markdown_with(r, &verdict_cell(r))
}

/// The Markdown report with `verdict` in its verdict cell (a replay says what it reproduced).
pub fn markdown_with(r: &Report, verdict: &str) -> String {
    md::render(r, verdict)
}

/// One row of the index / summary: one exploration, clean ones included.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// Scenario.
    pub scenario: String,
    /// Variant.
    pub variant: String,
    /// Lock design.
    pub lock_design: String,
    /// Strategy (the backend as the CLI names it).
    pub strategy: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Why the exploration stopped.
    pub stop: Stop,
    /// Executions explored (summed over the replicas).
    pub executions: u64,
    /// Replicas of a randomized exploration, merged into this row (`--replicas`): replica r ran
    /// seed `bounds.seed + r` with the whole execution budget. Absent in JSON when 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub replicas: u64,
    /// The bounds it ran under.
    #[serde(flatten)]
    pub bounds: Bounds,
    /// Expected.
    pub expect: String,
    /// As expected.
    pub ok: bool,
    /// Seconds.
    pub secs: f64,
    /// Report path (findings and checker errors only).
    pub report: Option<String>,
    /// The checker's message, for a checker error.
    pub checker_error: Option<String>,
    /// The sequential specification's size, when the linearizability check was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizability: Option<SpecInfo>,
    /// Seconds the sequential specification took (computed once per run and design).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_secs: Option<f64>,
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

impl Row {
    /// The row of report `r`, written to `report` if it was.
    pub fn of(r: &Report, report: Option<String>) -> Row {
        Row {
            scenario: r.scenario.name.clone(),
            variant: r.scenario.variant.clone(),
            lock_design: r.config.lock_design.name().to_string(),
            strategy: r.exploration.strategy.clone(),
            verdict: r.verdict,
            stop: r.exploration.stop,
            executions: r.exploration.executions,
            replicas: 1,
            bounds: r.exploration.bounds.clone(),
            expect: r.scenario.expect.clone(),
            ok: r.as_expected,
            secs: r.timing.elapsed_secs,
            report,
            checker_error: r.checker_error.clone(),
            linearizability: r.linearizability.clone(),
            spec_secs: r.timing.spec_secs,
        }
    }

    /// The bounds' summary, and the replicas' seeds when there are several.
    pub fn bounds_summary(&self) -> String {
        let mut s = self.bounds.summary();
        if self.replicas > 1 {
            let _ = write!(
                s,
                ", {} replicas (seeds {} to {})",
                self.replicas,
                self.bounds.seed,
                self.bounds.seed.saturating_add(self.replicas - 1)
            );
        }
        s
    }
}

/// The counts of a run's verdicts, for the summary line and the index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Explorations.
    pub total: usize,
    /// `clean`.
    pub clean: usize,
    /// `incomplete`.
    pub incomplete: usize,
    /// A finding class.
    pub findings: usize,
    /// `checker-error`.
    pub checker_errors: usize,
    /// As expected.
    pub as_expected: usize,
}

impl Tally {
    /// Count `rows`.
    pub fn of(rows: &[Row]) -> Tally {
        let mut t = Tally {
            total: rows.len(),
            ..Tally::default()
        };
        for r in rows {
            match r.verdict {
                Verdict::Clean => t.clean += 1,
                Verdict::Incomplete => t.incomplete += 1,
                Verdict::Finding(_) => t.findings += 1,
                Verdict::CheckerError => t.checker_errors += 1,
            }
            t.as_expected += usize::from(r.ok);
        }
        t
    }

    /// `N explorations: C clean, I incomplete, F findings, E checker errors; X as expected, Y not`.
    pub fn line(&self) -> String {
        format!(
            "{} exploration{}: {} clean, {} incomplete, {} with findings, {} checker errors; {} as expected, {} not",
            self.total,
            if self.total == 1 { "" } else { "s" },
            self.clean,
            self.incomplete,
            self.findings,
            self.checker_errors,
            self.as_expected,
            self.total - self.as_expected
        )
    }
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
        "{:<w$}  {:<8} {:<16} {:<14} {:>11}  {:<16} {:>8}  ok",
        "scenario", "backend", "verdict", "stop", "executions", "expected", "time"
    );
    for r in rows {
        let _ = writeln!(
            o,
            "{:<w$}  {:<8} {:<16} {:<14} {:>11}  {:<16} {:>7.2}s  {}",
            r.scenario,
            r.strategy,
            r.verdict.name(),
            r.stop.name(),
            r.executions,
            r.expect,
            r.secs,
            if r.ok { "yes" } else { "NO" }
        );
    }
    for r in rows {
        if let Some(m) = &r.checker_error {
            let _ = writeln!(o, "checker error in {} / {}: {m}", r.scenario, r.strategy);
        }
    }
    o
}

/// `reports/index.md` over the last run.
pub fn index(rows: &[Row], command: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# mountcheck run\n\nCommand: `{command}`\n");
    let _ = writeln!(o, "{}.\n", Tally::of(rows).line());
    let _ = writeln!(o, "| scenario | variant | backend | verdict | stop | executions | bounds | expected | as expected | time (s) | sequential orders / outcomes (s) | report |\n|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let rep = r.report.as_ref().map_or("—".to_string(), |p| {
            let name = Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let md = name.replace(".json", ".md");
            format!("[{md}]({md})")
        });
        let spec = match (&r.linearizability, r.spec_secs) {
            (Some(l), Some(t)) => format!("{} / {} ({t:.3})", l.orders, l.outcomes),
            (Some(l), None) => format!("{} / {}", l.orders, l.outcomes),
            _ => "not checked".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {spec} | {} |",
            r.scenario,
            r.variant,
            r.strategy,
            r.verdict,
            r.stop,
            r.executions,
            r.bounds_summary(),
            r.expect,
            if r.ok { "yes" } else { "**no**" },
            r.secs,
            rep
        );
    }
    o
}
