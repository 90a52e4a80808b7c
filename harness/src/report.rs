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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mountcheck_engine::{ReplayToken, Stop};
use mountcheck_model::oracle::{Finding, Holder, Step};
use mountcheck_model::program::outcome::{shown, Comparison};
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

/// A table of references with their holders, under `title`: the references still held on an
/// object, or a leak's unmatched references.
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

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown report.
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# {} — {} ({})\n",
        r.scenario.name, r.verdict, r.exploration.strategy
    );
    let _ = writeln!(o, "{}\n", r.scenario.description);
    if let Some(see) = &r.scenario.see {
        let _ = writeln!(o, "See: {see}\n");
    }
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| scenario file | `{}` |", r.scenario.file);
    let _ = writeln!(o, "| model variant | `{}` |", r.scenario.variant);
    let _ = writeln!(o, "| lock design | `{}` |", r.config.lock_design.name());
    let _ = writeln!(o, "| expected | {} |", r.scenario.expect);
    let _ = writeln!(
        o,
        "| verdict | **{}** ({}) |",
        r.verdict,
        if r.as_expected {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    let e = &r.exploration;
    let _ = writeln!(
        o,
        "| backend | {} (worker build: {}) |",
        e.strategy, e.backend
    );
    let mut bounds = format!(
        "max executions {}, time limit {} s",
        e.max_executions, e.time_limit_secs
    );
    if let Some(p) = e.preemption_bound {
        let _ = write!(bounds, ", preemption bound {p}");
    }
    if let Some(b) = e.max_branches {
        let _ = write!(bounds, ", max branches {b}");
    }
    if let Some(d) = e.depth {
        let _ = write!(bounds, ", PCT depth {d}");
    }
    let _ = writeln!(o, "| seed, bounds | seed {}, {bounds} |", e.seed);
    let _ = writeln!(
        o,
        "| executions explored | {} (stopped: {:?}) |",
        e.executions, e.stop
    );
    match &r.linearizability {
        Some(l) => {
            let _ = writeln!(
                o,
                "| linearizability | checked against {} distinct sequential outcomes ({} orders, {} run to their end) |",
                l.outcomes, l.orders, l.feasible
            );
        }
        None => {
            let _ = writeln!(o, "| linearizability | not checked |");
        }
    }
    let _ = writeln!(o, "| tool | {} {} |", r.tool.name, r.tool.version);
    match r.timing.spec_secs {
        Some(spec) => {
            let _ = writeln!(
                o,
                "| time | {:.3} s (sequential specification: {spec:.3} s) |\n",
                r.timing.elapsed_secs
            );
        }
        None => {
            let _ = writeln!(o, "| time | {:.3} s |\n", r.timing.elapsed_secs);
        }
    }
    if let Some(f) = &r.finding {
        let fd = &f.finding;
        let _ = writeln!(o, "## Finding: {}\n", fd.class);
        let _ = writeln!(o, "{}\n", fd.message);
        let who = fd
            .thread
            .map_or("the main thread (quiescence)".to_string(), |t| {
                if t == 0 {
                    "T0 (init / quiescence)".into()
                } else {
                    format!("T{t}")
                }
            });
        let _ = writeln!(
            o,
            "In execution {} by {who}, during `{}`.\n",
            f.execution, fd.op
        );
        if !f.panic_message.is_empty() {
            let _ = writeln!(o, "Checker message: `{}`\n", cell(&f.panic_message));
        }
        if let Some(obj) = &fd.object {
            let _ = writeln!(
                o,
                "### Object {} ({:?}, {:?})\n",
                obj.label, obj.kind, obj.state
            );
            let counts: Vec<String> = obj
                .counts
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
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
                holders_table(&mut o, "References still held:", &obj.holders);
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
            holders_table(&mut o, "### Unmatched references", &fd.unmatched);
        }
        if let Some(cmp) = &fd.comparison {
            comparison(&mut o, cmp);
        }
    }
    if !r.trace.is_empty() {
        let threads = r.trace.iter().map(|s| s.thread).max().unwrap_or(0);
        let _ = writeln!(o, "## Interleaving\n\nOne column per thread (T0 is init: boot, setup, quiescence). Each step: what it did, [locks held], counts.\n");
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
            text.push_str(&cell(&s.action));
            if !s.locks.is_empty() {
                let _ = write!(text, " [{}]", cell(&s.locks.join(", ")));
            }
            if !s.counts.is_empty() {
                let _ = write!(text, " — {}", cell(&s.counts));
            }
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
        o.push('\n');
    }
    if let Some(rp) = &r.replay {
        let _ = writeln!(o, "## Replay\n\n```sh\n{}\n```\n", rp.command);
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
    o
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
    /// The sequential specification's size, when the linearizability check was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizability: Option<SpecInfo>,
    /// Seconds the sequential specification took (computed once per run and design).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_secs: Option<f64>,
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
    let _ = writeln!(o, "| scenario | variant | backend | executions | verdict | expected | as expected | time (s) | sequential orders / outcomes (s) | report |\n|---|---|---|---|---|---|---|---|---|---|");
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
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {spec} | {} |",
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
