//! `mountcheck catalog`: every historical-bug mutant, and the fixed protocol, on every backend,
//! and which oracle families catch each mutant.
//!
//! For each mutant of `mountcheck_model::Mutant::ALL` the scenario `scenarios/<id>.toml` is
//! explored with its mutant switched on (it must be caught: a finding of the mutant's class) and
//! with the fixed protocol (it must be clean), under loom, PCT and DFS, under the scenario's lock
//! design (or `--lock-design`). Each row shows the verdict and why the exploration stopped. DFS
//! has no reduction and no preemption bound, so it rarely exhausts a scenario within its
//! execution cap: a DFS row that did not is `incomplete` (never `clean`), and the catalog holds
//! DFS to its verdict only where it exhausted. loom must catch every mutant and be clean,
//! exhausted, on every fixed twin; PCT must catch every mutant within its budget and be clean on
//! every fixed twin. Then, with loom, each mutant is explored once per oracle family
//! (`mountcheck_model::Oracle`) with only that family on, which says which families catch it (a
//! mutant whose class belongs to no family, a deadlock, is the checker's). A mutant bound to
//! another lock design than the one chosen is listed as not applicable.
//!
//! Invariant: exit status 0 only when every row is as required; the tables are printed and
//! written to `reports/catalog.md`, each finding's or checker error's report under
//! `reports/catalog/`.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use mountcheck_engine::{bounds, Stop};
use mountcheck_model::{Mutant, Oracle, Oracles, Variant};

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
    /// Skip the per-oracle attribution (loom runs with one oracle family at a time).
    #[arg(long)]
    pub no_attribution: bool,
    /// Bounds, lock design for every mutant (`global`: 2.4's one lock, the historical protocol;
    /// `rwlock`; `read-mostly`: which of the historical bugs the RCU design still lets through;
    /// default: each scenario's own), directories.
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

/// Check that each mutant's scenario says its variant, its class and, for a mutant bound to one
/// lock design, that design.
pub fn check_catalog_scenario(s: &Scenario, m: Mutant) -> Result<(), BadInput> {
    let design_ok = match m.lock_design() {
        Some(d) => s.lock_design == Some(d),
        None => true,
    };
    if s.variant != Variant::Mutant(m) || s.expect != Expect::Finding(m.expected()) || !design_ok {
        return Err(BadInput(format!(
            "{}: the catalog scenario of `{}` must say variant = \"{}\" and expect = \"{}\"{}",
            s.file.display(),
            m.id(),
            m.id(),
            m.expected().name(),
            m.lock_design()
                .map(|d| format!(" and lock_design = \"{}\"", d.name()))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// One loom exploration per (mutant, oracle family), each with only that family on: which
/// families catch which mutant. Returns, per mutant, per family, the cell.
fn attribution(
    scenarios: &[Scenario],
    c: &CatalogArgs,
    reports_dir: &std::path::Path,
) -> Result<Vec<Vec<String>>> {
    let mut runs: Vec<Scenario> = Vec::new();
    for s in scenarios {
        for o in Oracle::ALL {
            let mut one = s.clone();
            one.oracles = Oracles::only(o);
            runs.push(one);
        }
    }
    let set = Settings {
        opts: &c.opts,
        iterations: Some(c.loom_iterations),
        reports: reports_dir,
        minimize_witness: true,
    };
    let tasks: Vec<(&Scenario, Backend)> = runs.iter().map(|s| (s, Backend::Loom)).collect();
    let reps = run::explore_all(&tasks, &set, "catalog oracles (loom)")?;
    Ok(reps
        .chunks(Oracle::ALL.len())
        .map(|per| {
            per.iter()
                .zip(Oracle::ALL)
                .map(|(r, o)| match r.verdict {
                    Verdict::Finding(cl) if o.classes().contains(&cl) => format!("yes ({cl})"),
                    Verdict::Clean => "no".into(),
                    v => format!("no ({v})"),
                })
                .collect()
        })
        .collect())
}

/// The catalog page's entries: per mutant, each backend's result on the mutant and on its fixed
/// twin, linking the HTML report (relative to `reports/catalog.html`).
fn catalog_entries(mutants: &[Mutant], lines: &[Line]) -> Vec<crate::html::CatalogEntry> {
    mutants
        .iter()
        .map(|m| {
            let fixed_label = format!("{} (fixed)", m.id());
            let results = lines
                .iter()
                .filter(|l| l.mutant == m.id() || l.mutant == fixed_label)
                .map(|l| crate::html::CatalogResult {
                    backend: l.backend.to_string(),
                    fixed: l.mutant == fixed_label,
                    outcome: format!("{} ({})", l.verdict, l.stop),
                    ok: l.ok,
                    executions: l.executions,
                    report: (l.report != "—").then(|| {
                        let name = std::path::Path::new(&l.report)
                            .file_name()
                            .map(|n| n.to_string_lossy().replace(".json", ".html"))
                            .unwrap_or_default();
                        format!("catalog/{name}")
                    }),
                })
                .collect();
            crate::html::CatalogEntry {
                mutant: m.id().to_string(),
                expected: m.expected().name().to_string(),
                description: m.description().to_string(),
                see: m.see().to_string(),
                results,
            }
        })
        .collect()
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
    let loaded = run::load_scenarios(&names, &c.opts.scenarios_dir)?;
    for (s, m) in loaded.iter().zip(&mutants) {
        check_catalog_scenario(s, *m)?;
    }
    let cli_design = c.opts.lock_design.map(|d| d.0);
    // A mutant bound to another design than the one chosen has no code to run there.
    let mut skipped: Vec<(Mutant, String)> = Vec::new();
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut active: Vec<Mutant> = Vec::new();
    for (s, m) in loaded.into_iter().zip(&mutants) {
        let d = cli_design.or(s.lock_design).unwrap_or_default();
        match m.lock_design() {
            Some(md) if md != d => skipped.push((
                *m,
                format!(
                    "its code is in the {} design only, and this catalog runs {}",
                    md.name(),
                    d.name()
                ),
            )),
            _ => {
                scenarios.push(s);
                active.push(*m);
            }
        }
    }
    let mut fixed = scenarios.clone();
    for s in &mut fixed {
        run::override_variant(s, Variant::Fixed);
    }
    // Lock designs and the sequential specifications (computed once, shared by the mutants,
    // their fixed twins and every backend).
    run::prepare(&mut scenarios, None, &c.opts)?;
    run::prepare(&mut fixed, None, &c.opts)?;
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
            minimize_witness: true,
        };
        let tasks: Vec<(&Scenario, Backend)> = scenarios
            .iter()
            .chain(fixed.iter())
            .map(|s| (s, b))
            .collect();
        let mut reps = run::explore_all(&tasks, &set, &format!("catalog {}", b.name()))?;
        let (mutant_reps, fixed_reps) = reps.split_at_mut(scenarios.len());
        for (i, (mr, fr)) in mutant_reps.iter().zip(fixed_reps.iter_mut()).enumerate() {
            let m = active[i];
            fr.scenario.name = format!("{}-fixed", m.id());
            let expect = scenarios[i].expect;
            for (r, expect, label) in [
                (mr, expect, m.id().to_string()),
                (&*fr, Expect::Clean, format!("{} (fixed)", m.id())),
            ] {
                let path = if run::has_report(r.verdict) {
                    run::write_report_set(&reports_dir, r)?
                        .display()
                        .to_string()
                } else {
                    run::remove_report_set(&reports_dir, &report::stem(&r.scenario.name, b.name()));
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
    let oracles = if c.no_attribution || active.is_empty() {
        None
    } else {
        Some(attribution(&scenarios, c, &reports_dir)?)
    };
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
    let families: Vec<&str> = Oracle::ALL.iter().map(|o| o.name()).collect();
    if let Some(att) = &oracles {
        let _ = writeln!(
            text,
            "\nWhich oracle families catch each mutant (loom, preemption bound {}, one family on at a time):",
            c.opts.preemption_bound
        );
        let mw = active.iter().map(|m| m.id().len()).max().unwrap_or(6);
        let _ = writeln!(text, "{:<mw$}  {}", "mutant", families.join(" | "));
        for (m, row) in active.iter().zip(att) {
            let _ = writeln!(text, "{:<mw$}  {}", m.id(), row.join(" | "));
        }
    }
    for (m, why) in &skipped {
        let _ = writeln!(text, "{}: not applicable: {why}", m.id());
    }
    out::print(&text)?;
    let t = Tally::of(&rows);
    let summary = format!(
        "{} mutants{}, {} rows: {} clean, {} incomplete ({} of them DFS), {} with findings, {} checker errors; {} as required, {} not; whole catalog in {:.1} s",
        mutants.len(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({} not applicable to this lock design)", skipped.len())
        },
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
    let design = match cli_design {
        Some(d) => format!("`{}` for every mutant", d.name()),
        None => "each scenario's own (`global` unless the scenario names one)".to_string(),
    };
    let mut md = format!("# mountcheck catalog\n\nLock design: {design}.\n\n");
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
    if let Some(att) = &oracles {
        let _ = writeln!(
            md,
            "\n## Which oracles catch each mutant\n\nloom at preemption bound {}, with one oracle family on at a time (`Config.oracles`): `yes` when that family alone reports the mutant (the class it reported in parentheses), `no` when the exploration is clean or ends otherwise (what ended it in parentheses). A deadlock is reported by the checker itself, whatever the oracles.\n",
            c.opts.preemption_bound
        );
        let _ = writeln!(
            md,
            "| mutant | expected | {} |\n|---|---|{}",
            families.join(" | "),
            "---|".repeat(families.len())
        );
        for (m, row) in active.iter().zip(att) {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                m.id(),
                m.expected().name(),
                row.join(" | ")
            );
        }
    }
    for (m, why) in &skipped {
        let _ = writeln!(md, "\n`{}`: not applicable: {why}.", m.id());
    }
    let _ = writeln!(md, "\n{summary}\n");
    for m in &mutants {
        let _ = writeln!(
            md,
            "- `{}`: {}. Trigger: {}. See: {}",
            m.id(),
            m.description(),
            m.trigger(),
            m.see()
        );
    }
    report::write_whole(&c.opts.reports.join("catalog.md"), &md)?;
    report::write_whole(
        &c.opts.reports.join("catalog.html"),
        &crate::html::catalog_page(&design.replace('`', ""), &catalog_entries(&active, &lines)),
    )?;
    if let Some(j) = &c.junit {
        junit::write(j, "mountcheck catalog", &cases)?;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scenarios_dir() -> PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace")
            .join("scenarios")
    }

    #[test]
    fn every_mutant_has_its_scenario_and_it_names_the_mutant() {
        let root = scenarios_dir().parent().expect("workspace").to_path_buf();
        for &m in Mutant::ALL {
            let file = root.join(m.scenario_file());
            assert!(
                file.exists(),
                "{} has no scenario {}",
                m.id(),
                file.display()
            );
            let s = crate::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
            check_catalog_scenario(&s, m).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn every_scenario_of_a_mutant_is_that_mutants_file() {
        for f in crate::scenario::bundled(&scenarios_dir()).expect("scenarios") {
            let s = crate::scenario::load(&f).unwrap_or_else(|e| panic!("{e}"));
            if let Variant::Mutant(m) = s.variant {
                assert_eq!(
                    f.file_name().map(|n| n.to_string_lossy().into_owned()),
                    Some(format!("{}.toml", m.id())),
                    "{} explores {} but is not its catalog scenario",
                    f.display(),
                    m.id()
                );
            }
        }
    }

    #[test]
    fn a_design_bound_mutant_needs_its_design_in_the_scenario() {
        let m = Mutant::LegitimizeNoRecheck;
        let root = scenarios_dir().parent().expect("workspace").to_path_buf();
        let mut s = crate::scenario::load(&root.join(m.scenario_file())).unwrap();
        assert!(check_catalog_scenario(&s, m).is_ok());
        s.lock_design = None;
        let e = check_catalog_scenario(&s, m).unwrap_err();
        assert!(e.0.contains("lock_design = \"read-mostly\""), "{e}");
    }
}
