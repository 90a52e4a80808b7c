//! `mountcheck catalog`: every historical-bug mutant, and the fixed protocol, on every backend.
//!
//! For each mutant of `mountcheck_model::Mutant::ALL` the scenario `scenarios/<id>.toml` is
//! explored with its mutant switched on (it must be caught: a finding of the mutant's class) and
//! with the fixed protocol (it must be clean), under loom, PCT and DFS. Each row shows the verdict
//! and why the exploration stopped. DFS has no reduction and no preemption bound, so it rarely
//! exhausts a scenario within its execution cap: a DFS row that did not is `incomplete` (never
//! `clean`), and the catalog holds DFS to its verdict only where it exhausted. loom must catch
//! every mutant and be clean, exhausted, on every fixed twin; PCT must catch every mutant within
//! its budget and be clean on every fixed twin.
//!
//! Invariant: exit status 0 only when every row is as required; the table is printed and written
//! to `reports/catalog.md`, each finding's or checker error's report under `reports/catalog/`.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use mountcheck_engine::{bounds, Stop};
use mountcheck_model::{Mutant, Variant};

use crate::junit;
use crate::options::{self, ExploreOptions};
use crate::out;
use crate::report::{self, Report, Row, Tally};
use crate::run::{self, Backend, BadInput, Settings};
use crate::scenario::{Expect, Scenario};
use crate::verdict::Verdict;

/// PCT (and random, stress) executions per catalog exploration: the catalog's target is every
/// mutant caught within 10 000 executions (the slowest, `expiry-get-namespace`, needs about
/// 1 700 with seed 1).
pub const CATALOG_PCT_ITERATIONS: u64 = 10_000;

/// Options of `mountcheck catalog`.
#[derive(Args, Clone, Debug)]
pub struct CatalogArgs {
    /// Backends, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Backend::Loom, Backend::Pct, Backend::Dfs])]
    pub backend: Vec<Backend>,
    /// Only these mutants (ids), comma separated.
    #[arg(long, value_delimiter = ',', value_parser = options::mutant)]
    pub mutants: Vec<Mutant>,
    /// PCT, random and stress: executions per exploration.
    #[arg(long, default_value_t = CATALOG_PCT_ITERATIONS, value_parser = options::ranged_u64(bounds::ITERATIONS_RANGE))]
    pub pct_iterations: u64,
    /// DFS: executions per exploration.
    #[arg(long, default_value_t = bounds::DEFAULT_DFS_ITERATIONS, value_parser = options::ranged_u64(bounds::ITERATIONS_RANGE))]
    pub dfs_iterations: u64,
    /// loom: executions per exploration.
    #[arg(long, default_value_t = bounds::DEFAULT_LOOM_ITERATIONS, value_parser = options::ranged_u64(bounds::ITERATIONS_RANGE))]
    pub loom_iterations: u64,
    /// Bounds, lock design (`global`: 2.4's one lock, the historical protocol; `read-mostly`:
    /// which of the historical bugs the RCU design still lets through), directories.
    #[command(flatten)]
    pub opts: ExploreOptions,
    /// Also write the catalog's rows as JUnit XML to FILE: a test case per (mutant, backend),
    /// fixed twins included (suite `<mutant>-fixed`); a mutant not caught is a failure.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
}

/// Why the catalog accepts an incomplete DFS row.
const DFS_INCOMPLETE: &str =
    "accepted: the catalog holds DFS to its verdict only where it exhausts its space";

struct Line {
    mutant: String,
    expected: String,
    backend: &'static str,
    verdict: Verdict,
    stop: Stop,
    ok: bool,
    executions: u64,
    secs: f64,
    report: String,
}

/// Whether a row is as the catalog requires: the mutant caught (its class) or the fixed twin
/// clean; `incomplete` is accepted from DFS (held to its verdict only where it exhausted) and,
/// on a fixed twin, from any backend with `--allow-incomplete`.
fn judge(r: &Report, b: Backend, expect: Expect, allow_incomplete: bool) -> bool {
    let allow = allow_incomplete && expect == Expect::Clean;
    r.verdict.meets(expect, allow) || (b == Backend::Dfs && r.verdict == Verdict::Incomplete)
}

/// `mountcheck catalog`.
pub fn run(c: &CatalogArgs) -> Result<ExitCode> {
    if c.backend.is_empty() {
        return Err(BadInput("--backend needs at least one backend".into()).into());
    }
    let mutants: Vec<Mutant> = if c.mutants.is_empty() {
        Mutant::ALL.to_vec()
    } else {
        c.mutants.clone()
    };
    let names: Vec<String> = mutants.iter().map(|m| m.id().to_string()).collect();
    let scenarios = run::load_scenarios(&names, &c.opts.scenarios_dir)?;
    for (s, m) in scenarios.iter().zip(&mutants) {
        if s.variant != Variant::Mutant(*m) || s.expect != Expect::Finding(m.expected()) {
            return Err(BadInput(format!(
                "{}: the catalog scenario of `{}` must say variant = \"{}\" and expect = \"{}\"",
                s.file.display(),
                m.id(),
                m.id(),
                m.expected().name()
            ))
            .into());
        }
    }
    let mut fixed = scenarios.clone();
    for s in &mut fixed {
        run::override_variant(s, Variant::Fixed);
    }
    let reports_dir = c.opts.reports.join("catalog");
    run::probe_reports_dir(&reports_dir)?;
    if let Some(j) = &c.junit {
        junit::probe(j)?;
    }
    let mut cases: Vec<junit::Case> = Vec::new();
    let start = Instant::now();
    let mut lines = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    for &b in &c.backend {
        let iterations = match b {
            Backend::Loom => c.loom_iterations,
            Backend::Pct | Backend::Random | Backend::Stress => c.pct_iterations,
            Backend::Dfs => c.dfs_iterations,
        };
        let set = Settings {
            opts: &c.opts,
            iterations: Some(iterations),
            reports: &reports_dir,
        };
        let tasks: Vec<(&Scenario, Backend)> = scenarios
            .iter()
            .chain(fixed.iter())
            .map(|s| (s, b))
            .collect();
        let mut reps = run::explore_all(&tasks, &set, &format!("catalog {}", b.name()))?;
        let (mutant_reps, fixed_reps) = reps.split_at_mut(scenarios.len());
        for (i, (mr, fr)) in mutant_reps.iter().zip(fixed_reps.iter_mut()).enumerate() {
            let m = mutants[i];
            fr.scenario.name = format!("{}-fixed", m.id());
            for (r, expect, label) in [
                (mr, Expect::Finding(m.expected()), m.id().to_string()),
                (&*fr, Expect::Clean, format!("{} (fixed)", m.id())),
            ] {
                let path = if run::has_report(r.verdict) {
                    report::write(&reports_dir, r)?.display().to_string()
                } else {
                    for ext in ["json", "md"] {
                        let stem = report::stem(&r.scenario.name, b.name());
                        let _ = std::fs::remove_file(reports_dir.join(format!("{stem}.{ext}")));
                    }
                    "—".into()
                };
                rows.push(Row::of(r, None));
                let ok = judge(r, b, expect, c.opts.allow_incomplete);
                let written = run::has_report(r.verdict);
                let mut row = Row::of(r, written.then(|| path.clone()));
                row.ok = ok;
                cases.push(junit::Case {
                    row,
                    report: written.then(|| r.clone()),
                    qualifier: None,
                    accepted_incomplete: if b == Backend::Dfs {
                        DFS_INCOMPLETE
                    } else {
                        junit::ALLOW_INCOMPLETE
                    },
                });
                lines.push(Line {
                    mutant: label,
                    expected: expect.name().into(),
                    backend: b.name(),
                    verdict: r.verdict,
                    stop: r.exploration.stop,
                    ok,
                    executions: r
                        .finding
                        .as_ref()
                        .map_or(r.exploration.executions, |f| f.execution),
                    secs: r.timing.elapsed_secs,
                    report: path,
                });
            }
        }
    }
    lines.sort_by(|a, b| a.mutant.cmp(&b.mutant).then(a.backend.cmp(b.backend)));
    let all_ok = lines.iter().all(|l| l.ok);
    let mut text = String::new();
    let w = lines.iter().map(|l| l.mutant.len()).max().unwrap_or(6);
    let _ = writeln!(
        text,
        "{:<w$}  {:<15} {:<7} {:<15} {:<14} {:<3} {:>11} {:>8}  report",
        "mutant", "expected", "backend", "verdict", "stop", "ok", "executions", "seconds"
    );
    for l in &lines {
        let _ = writeln!(
            text,
            "{:<w$}  {:<15} {:<7} {:<15} {:<14} {:<3} {:>11} {:>8.2}  {}",
            l.mutant,
            l.expected,
            l.backend,
            l.verdict.name(),
            l.stop.name(),
            if l.ok { "yes" } else { "NO" },
            l.executions,
            l.secs,
            l.report
        );
    }
    out::print(&text)?;
    let t = Tally::of(&rows);
    let summary = format!(
        "{} mutants, {} rows: {} clean, {} incomplete ({} of them DFS), {} with findings, {} checker errors; {} as required, {} not; whole catalog in {:.1} s",
        mutants.len(),
        lines.len(),
        t.clean,
        t.incomplete,
        lines
            .iter()
            .filter(|l| l.backend == Backend::Dfs.name() && l.verdict == Verdict::Incomplete)
            .count(),
        t.findings,
        t.checker_errors,
        lines.iter().filter(|l| l.ok).count(),
        lines.iter().filter(|l| !l.ok).count(),
        start.elapsed().as_secs_f64()
    );
    out::println(&format!("\n{summary}"))?;
    let mut md = format!(
        "# mountcheck catalog\n\nLock design: `{}`.\n\n",
        c.opts.lock_design.0.name()
    );
    md.push_str("Every mutant must be caught (a finding of its class) by loom and PCT, and by DFS where DFS exhausts its space; the fixed protocol must be clean on every mutant's scenario (loom: exhausted within the preemption bound; PCT: its whole budget run). A DFS row whose search stopped at its execution cap is `incomplete`, accepted (`ok`) but not evidence. `executions` is the execution of the first finding (or all explored when none); `stop` says why the exploration ended.\n\n| mutant | expected | backend | verdict | stop | ok | executions | seconds | report |\n|---|---|---|---|---|---|---|---|---|\n");
    for l in &lines {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            l.mutant,
            l.expected,
            l.backend,
            l.verdict,
            l.stop,
            if l.ok { "yes" } else { "**no**" },
            l.executions,
            l.secs,
            l.report
        );
    }
    let _ = writeln!(md, "\n{summary}\n");
    for m in &mutants {
        let _ = writeln!(md, "- `{}`: {}. See: {}", m.id(), m.description(), m.see());
    }
    report::write_whole(&c.opts.reports.join("catalog.md"), &md)?;
    if let Some(j) = &c.junit {
        junit::write(j, "mountcheck catalog", &cases)?;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
