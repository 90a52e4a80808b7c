//! `mountcheck catalog`: every historical-bug mutant, and the fixed protocol, on every backend,
//! and which oracle families catch each mutant.
//!
//! For each mutant of `mountcheck_model::Mutant::ALL` the scenario `scenarios/<id>.toml` is
//! explored with its mutant switched on (it must be caught: a finding of the mutant's class) and
//! with the fixed protocol (it must be clean), under loom, PCT and DFS, under the scenario's lock
//! design (or `--lock-design`). DFS has no reduction and no preemption bound, so it is held to its
//! verdict only where it finishes within its bound. Then, with loom, each mutant is explored once
//! per oracle family (`mountcheck_model::Oracle`) with only that family on, which says which
//! families catch it (a mutant whose class belongs to no family, a deadlock, is the checker's).
//! A mutant bound to another lock design than the one chosen is listed as not applicable.
//!
//! Invariant: exit status 0 only when every mutant is caught by every backend that should catch it
//! and the fixed protocol is clean everywhere; the tables are printed and written to
//! `reports/catalog.md`, each finding's report under `reports/catalog/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use mountcheck_engine::Stop;
use mountcheck_model::{Mutant, Oracle, Oracles, Variant};

use crate::report::{self, Report};
use crate::run::{self, Backend, BadInput, RunArgs};
use crate::scenario::{Expect, Scenario};

/// Options of `mountcheck catalog`.
#[derive(Args, Clone, Debug)]
pub struct CatalogArgs {
    /// Backends, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Backend::Loom, Backend::Pct, Backend::Dfs])]
    pub backend: Vec<Backend>,
    /// Only these mutants (ids), comma separated.
    #[arg(long, value_delimiter = ',')]
    pub mutants: Vec<String>,
    /// loom: preemption bound.
    #[arg(long, default_value_t = 2)]
    pub preemption_bound: usize,
    /// PCT: executions per exploration (the target is a catch within 10 000).
    #[arg(long, default_value_t = 10_000)]
    pub pct_iterations: u64,
    /// DFS: executions per exploration.
    #[arg(long, default_value_t = 20_000)]
    pub dfs_iterations: u64,
    /// loom: executions per exploration.
    #[arg(long, default_value_t = 200_000)]
    pub loom_iterations: u64,
    /// PCT depth.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time bound of one exploration, seconds.
    #[arg(long, default_value_t = 20.0)]
    pub time_limit: f64,
    /// Explorations at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Lock design of the model for every mutant (`global`: 2.4's one lock, the historical
    /// protocol; `rwlock`; `read-mostly`: which of the historical bugs the RCU design still lets
    /// through) [default: each scenario's own `lock_design`, else global].
    #[arg(long)]
    pub lock_design: Option<String>,
    /// Skip the per-oracle attribution (loom runs with one oracle family at a time).
    #[arg(long)]
    pub no_attribution: bool,
    /// Where the scenarios live.
    #[arg(long, default_value = "scenarios")]
    pub scenarios_dir: PathBuf,
    /// Where reports are written.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
}

struct Line {
    mutant: String,
    finding: String,
    backend: &'static str,
    caught: String,
    ok: bool,
    executions: u64,
    secs: f64,
    report: String,
}

fn judge(r: &Report, b: Backend, fixed: bool) -> (String, bool) {
    let finished = !matches!(r.exploration.stop, Stop::ExecutionBound | Stop::TimeBound);
    if fixed {
        let clean = r.verdict == "clean";
        (
            if clean {
                "clean".into()
            } else {
                format!("FINDING: {}", r.verdict)
            },
            clean,
        )
    } else if r.as_expected {
        ("yes".into(), true)
    } else if r.verdict == "clean" && b == Backend::Dfs && !finished {
        ("not finished".into(), true)
    } else if r.verdict == "clean" {
        ("no".into(), false)
    } else {
        (format!("no ({} found instead)", r.verdict), false)
    }
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
/// families catch which mutant. Returns, per mutant, per family, the verdict.
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
    let a = RunArgs {
        scenarios: Vec::new(),
        backend: vec![Backend::Loom],
        preemption_bound: c.preemption_bound,
        max_branches: 20_000,
        depth: c.depth,
        iterations: Some(c.loom_iterations),
        seed: c.seed,
        time_limit: c.time_limit,
        jobs: c.jobs,
        variant: None,
        lock_design: c.lock_design.clone(),
        scenarios_dir: c.scenarios_dir.clone(),
        reports: reports_dir.to_path_buf(),
    };
    let reps = run::explore_all(&runs, &a, "catalog oracles (loom)")?;
    Ok(reps
        .chunks(Oracle::ALL.len())
        .map(|per| {
            per.iter()
                .zip(Oracle::ALL)
                .map(|(r, o)| {
                    let caught = o.classes().iter().any(|cl| cl.name() == r.verdict);
                    if caught {
                        format!("yes ({})", r.verdict)
                    } else if r.verdict == "clean" {
                        "no".into()
                    } else {
                        format!("no ({})", r.verdict)
                    }
                })
                .collect()
        })
        .collect())
}

/// `mountcheck catalog`.
pub fn run(c: &CatalogArgs) -> Result<ExitCode> {
    let mutants: Vec<Mutant> = if c.mutants.is_empty() {
        Mutant::ALL.to_vec()
    } else {
        c.mutants
            .iter()
            .map(|id| {
                Mutant::from_id(id)
                    .ok_or_else(|| BadInput(format!("--mutants: unknown mutant `{id}`")))
            })
            .collect::<Result<_, _>>()?
    };
    let cli_design = run::lock_design(c.lock_design.as_deref())?;
    let names: Vec<String> = mutants.iter().map(|m| m.id().to_string()).collect();
    let loaded = run::load_scenarios(&names, &c.scenarios_dir)?;
    for (s, m) in loaded.iter().zip(&mutants) {
        check_catalog_scenario(s, *m)?;
    }
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
        run::override_variant(s, "fixed")?;
    }
    let reports_dir = c.reports.join("catalog");
    let start = Instant::now();
    let mut lines = Vec::new();
    let mut both: Vec<Scenario> = scenarios.iter().chain(fixed.iter()).cloned().collect();
    for &b in &c.backend {
        let iterations = match b {
            Backend::Loom => c.loom_iterations,
            Backend::Pct | Backend::Random | Backend::Stress => c.pct_iterations,
            Backend::Dfs => c.dfs_iterations,
        };
        let a = RunArgs {
            scenarios: Vec::new(),
            backend: vec![b],
            preemption_bound: c.preemption_bound,
            max_branches: 20_000,
            depth: c.depth,
            iterations: Some(iterations),
            seed: c.seed,
            time_limit: c.time_limit,
            jobs: c.jobs,
            variant: None,
            lock_design: c.lock_design.clone(),
            scenarios_dir: c.scenarios_dir.clone(),
            reports: reports_dir.clone(),
        };
        run::check_bounds(&a)?;
        // Lock designs, loom's thread limit and the sequential specifications (computed once,
        // shared by the mutants, their fixed twins and every backend).
        run::prepare(&mut both, &a)?;
        let reps = run::explore_all(&both, &a, &format!("catalog {}", b.name()))?;
        let (mutant_reps, fixed_reps) = reps.split_at(scenarios.len());
        for (i, (mr, fr)) in mutant_reps.iter().zip(fixed_reps).enumerate() {
            let m = active[i];
            let path = if mr.finding.is_some() {
                report::write(&reports_dir, mr)?.display().to_string()
            } else {
                "—".into()
            };
            let (caught, ok) = judge(mr, b, false);
            let execs = mr
                .finding
                .as_ref()
                .map_or(mr.exploration.executions, |f| f.execution);
            lines.push(Line {
                mutant: m.id().into(),
                finding: mr.scenario.expect.clone(),
                backend: b.name(),
                caught,
                ok,
                executions: execs,
                secs: mr.timing.elapsed_secs,
                report: path,
            });
            let mut fr = fr.clone();
            fr.scenario.name = format!("{}-fixed", m.id());
            let fpath = if fr.finding.is_some() {
                report::write(&reports_dir, &fr)?.display().to_string()
            } else {
                "—".into()
            };
            let (verdict, fok) = judge(&fr, b, true);
            lines.push(Line {
                mutant: format!("{} (fixed)", m.id()),
                finding: "clean".into(),
                backend: b.name(),
                caught: verdict,
                ok: fok,
                executions: fr.exploration.executions,
                secs: fr.timing.elapsed_secs,
                report: fpath,
            });
        }
    }
    lines.sort_by(|a, b| a.mutant.cmp(&b.mutant).then(a.backend.cmp(b.backend)));
    let oracles = if c.no_attribution || active.is_empty() {
        None
    } else {
        let mut prepared = scenarios.clone();
        let a = RunArgs {
            scenarios: Vec::new(),
            backend: vec![Backend::Loom],
            preemption_bound: c.preemption_bound,
            max_branches: 20_000,
            depth: c.depth,
            iterations: Some(c.loom_iterations),
            seed: c.seed,
            time_limit: c.time_limit,
            jobs: c.jobs,
            variant: None,
            lock_design: c.lock_design.clone(),
            scenarios_dir: c.scenarios_dir.clone(),
            reports: reports_dir.clone(),
        };
        run::prepare(&mut prepared, &a)?;
        Some(attribution(&prepared, c, &reports_dir)?)
    };
    let all_ok = lines.iter().all(|l| l.ok);
    let mut text = String::new();
    let w = lines.iter().map(|l| l.mutant.len()).max().unwrap_or(6);
    let _ = writeln!(
        text,
        "{:<w$}  {:<16} {:<7} {:<22} {:>11} {:>8}  report",
        "mutant", "finding", "backend", "caught", "executions", "seconds"
    );
    for l in &lines {
        let _ = writeln!(
            text,
            "{:<w$}  {:<16} {:<7} {:<22} {:>11} {:>8.2}  {}",
            l.mutant, l.finding, l.backend, l.caught, l.executions, l.secs, l.report
        );
    }
    let families: Vec<&str> = Oracle::ALL.iter().map(|o| o.name()).collect();
    if let Some(att) = &oracles {
        let _ = writeln!(
            text,
            "\nWhich oracle families catch each mutant (loom, preemption bound {}, one family on at a time):",
            c.preemption_bound
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
    print!("{text}");
    let summary = format!(
        "{} mutants, {} rows, {} as required{}; whole catalog in {:.1} s",
        mutants.len(),
        lines.len(),
        lines.iter().filter(|l| l.ok).count(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(", {} not applicable to this lock design", skipped.len())
        },
        start.elapsed().as_secs_f64()
    );
    println!("\n{summary}");
    let design = match cli_design {
        Some(d) => format!("`{}` for every mutant", d.name()),
        None => "each scenario's own (`global` unless the scenario names one)".to_string(),
    };
    let mut md = format!("# mountcheck catalog\n\nLock design: {design}.\n\n");
    md.push_str("Every mutant must be caught (a finding of its class) by loom and PCT, and by DFS where DFS finishes; the fixed protocol must be clean on every mutant's scenario. `executions` is the execution of the first finding (or all explored when none).\n\n| mutant | finding | backend | caught | executions | seconds | report |\n|---|---|---|---|---|---|---|\n");
    for l in &lines {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.2} | {} |",
            l.mutant, l.finding, l.backend, l.caught, l.executions, l.secs, l.report
        );
    }
    if let Some(att) = &oracles {
        let _ = writeln!(
            md,
            "\n## Which oracles catch each mutant\n\nloom at preemption bound {}, with one oracle family on at a time (`Config.oracles`): `yes` when that family alone reports the mutant (the class it reported in parentheses), `no` when the exploration is clean or ends otherwise (what ended it in parentheses). A deadlock is reported by the checker itself, whatever the oracles.\n",
            c.preemption_bound
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
    std::fs::create_dir_all(&c.reports)?;
    report::write_whole(&c.reports.join("catalog.md"), &md)?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
