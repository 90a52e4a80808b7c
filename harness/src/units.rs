//! How `mountcheck run` runs its units of work: the run planned as units (scenario, backend,
//! lock design, replica; see `shard`), the units of this shard (all of them without `--shard`)
//! explored in child processes, and their results written either as a shard's output (a row and
//! a report per unit, and the manifest `shard.json` for `merge`) or, unsharded, merged per
//! exploration into the usual index (`merge::combine`, the same rules `merge` applies to shards).
//!
//! Invariant: everything that can be bad input (the shard and its environment, the replicas'
//! seed range, the scenario files' hashes, the reports directory and the JUnit file) is checked
//! before any exploration starts or any file is written; a shard's manifest is written last, so
//! a shard that did not finish has none (and an earlier run's manifest is removed first).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use crate::junit::{self, Case};
use crate::merge::{self, UnitOutcome};
use crate::options::{self, ExploreOptions};
use crate::report::{self, Report};
use crate::run::{self, Backend, BadInput, RunArgs, Settings};
use crate::scenario::Scenario;
use crate::shard::{
    self, DisplayOrder, Manifest, Resolved, RunIdentity, ScenarioDigest, ShardArg, Unit, UnitResult,
};

/// Options of `run` for CI systems and clusters.
#[derive(Args, Clone, Debug)]
pub struct DistArgs {
    /// Randomized backends (pct, random, stress): run each exploration R times, with the seeds
    /// SEED, SEED+1, ..., SEED+R-1, each with the whole --iterations budget, merged into one row
    /// (executions and time summed; a finding wins, the lowest replica's first). Systematic
    /// backends (loom, dfs) run once: their search is deterministic, so a replica would explore
    /// the same executions again.
    #[arg(long, value_name = "R", default_value_t = 1, value_parser = options::ranged_u64(shard::REPLICAS_RANGE))]
    pub replicas: u64,
    /// Run only shard K of N (1-based, e.g. 2/4): the units (scenario, backend, lock design,
    /// replica) whose position in the run's canonical list (sorted by scenario, backend, lock
    /// design, replica) is K-1 modulo N. `env` reads K and N from a Slurm job array
    /// (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT), a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, MOUNTCHECK_SHARD_COUNT) or MOUNTCHECK_SHARD_INDEX (1-based) and
    /// MOUNTCHECK_SHARD_COUNT (a GitHub Actions matrix). A shard writes one row and report per
    /// unit and shard.json for `mountcheck merge`.
    #[arg(long, value_name = "K/N|env", value_parser = shard::shard_arg)]
    pub shard: Option<ShardArg>,
    /// Also write the explorations as JUnit XML to FILE (one test case per exploration).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// The identity of the run `a` over `scenarios` (see [`RunIdentity`]).
pub fn identity(a: &RunArgs, scenarios: &[Scenario]) -> Result<RunIdentity, BadInput> {
    let mut digests = scenarios
        .iter()
        .map(|s| {
            ScenarioDigest::of(&s.name, &s.file)
                .map_err(|e| BadInput(format!("{}: error: cannot read: {e}", s.file.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    digests.sort_by(|x, y| x.name.cmp(&y.name));
    let mut backends: Vec<String> = a.backend.iter().map(|b| b.name().to_string()).collect();
    backends.sort();
    backends.dedup();
    let o = &a.opts;
    Ok(RunIdentity {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        scenarios: digests,
        variant: a.variant.map(|v| v.id().to_string()),
        backends,
        lock_design: run_design(a).to_string(),
        replicas: a.dist.replicas,
        seed: o.seed,
        iterations: a.iterations,
        preemption_bound: o.preemption_bound,
        max_branches: o.max_branches,
        depth: o.depth,
        time_limit_secs: o.time_limit,
        allow_incomplete: o.allow_incomplete,
    })
}

/// The run's lock design as the command line chose it: one design for every scenario, or
/// `scenario` when each scenario explores its own (`lock_design` in the file, else global; the
/// file's digest is part of the run's identity).
pub fn run_design(a: &RunArgs) -> &'static str {
    a.opts.lock_design.map_or("scenario", |d| d.0.name())
}

/// The order of `run`'s rows: scenarios as loaded, backends as given (each once).
pub fn display_order(a: &RunArgs, scenarios: &[Scenario]) -> DisplayOrder {
    let mut backends: Vec<String> = Vec::new();
    for b in &a.backend {
        if !backends.iter().any(|x| x == b.name()) {
            backends.push(b.name().to_string());
        }
    }
    DisplayOrder {
        scenarios: scenarios.iter().map(|s| s.name.clone()).collect(),
        backends,
    }
}

/// `mountcheck run` once its scenarios are loaded and prepared: plan, check, print `preamble`
/// (what preparing took) once all input is known good, explore this shard's units (all without
/// `--shard`), write and summarize.
pub fn run(
    a: &RunArgs,
    scenarios: &[Scenario],
    command: &str,
    preamble: Option<&str>,
) -> Result<ExitCode> {
    let shard = a
        .dist
        .shard
        .map(ShardArg::resolve)
        .transpose()
        .map_err(BadInput)?;
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let units = shard::plan(
        &names,
        &a.backend,
        run_design(a),
        a.dist.replicas,
        a.opts.seed,
    )
    .map_err(BadInput)?;
    let identity = identity(a, scenarios)?;
    let dir = &a.opts.reports;
    run::probe_reports_dir(dir)?;
    if let Some(j) = &a.dist.junit {
        junit::probe(j)?;
    }
    remove_manifest(dir)?;
    if let Some(p) = preamble {
        crate::out::println(p)?;
    }
    let start = Instant::now();
    let mine: Vec<Unit> = units
        .iter()
        .filter(|u| shard.as_ref().is_none_or(|s| s.spec.owns(u.position)))
        .cloned()
        .collect();
    let reports = explore(a, scenarios, &mine, shard.as_ref())?;
    let outcomes: Vec<UnitOutcome> = mine
        .into_iter()
        .zip(reports)
        .map(|(unit, r)| UnitOutcome::of(unit, r))
        .collect();
    let order = display_order(a, scenarios);
    match shard {
        Some(s) => {
            let manifest = Manifest {
                schema: shard::MANIFEST_SCHEMA.to_string(),
                shard: s,
                run_id: identity.id(),
                run: identity,
                order,
                units_total: units.len(),
                units: Vec::new(),
                command: command.to_string(),
            };
            write_shard(a, manifest, outcomes, start)
        }
        None => {
            let groups =
                merge::combine(outcomes, &order, a.opts.allow_incomplete).map_err(BadInput)?;
            let groups = merge::write_groups(dir, groups, command)?;
            if let Some(j) = &a.dist.junit {
                let cases: Vec<Case> = groups
                    .iter()
                    .map(|g| Case::of_run(g.row.clone(), g.report.clone()))
                    .collect();
                junit::write(j, "mountcheck run", &cases)?;
            }
            let rows: Vec<_> = groups.into_iter().map(|g| g.row).collect();
            merge::finish(&rows, dir, start)
        }
    }
}

/// Explore `units`, each with its replica's seed.
fn explore(
    a: &RunArgs,
    scenarios: &[Scenario],
    units: &[Unit],
    shard: Option<&Resolved>,
) -> Result<Vec<Report>> {
    let by_name: HashMap<&str, &Scenario> =
        scenarios.iter().map(|s| (s.name.as_str(), s)).collect();
    let replicas = usize::try_from(a.dist.replicas)?;
    let seeded: Vec<ExploreOptions> = (0..replicas)
        .map(|r| ExploreOptions {
            seed: a.opts.seed + r as u64,
            ..a.opts.clone()
        })
        .collect();
    let mut tasks: Vec<(&Scenario, Backend, Settings<'_>)> = Vec::new();
    for u in units {
        let s = by_name
            .get(u.scenario.as_str())
            .ok_or_else(|| anyhow::anyhow!("unit of unknown scenario {}", u.scenario))?;
        let opts = &seeded[usize::try_from(u.replica)?];
        debug_assert_eq!(opts.seed, u.seed);
        tasks.push((
            s,
            u.backend,
            Settings {
                opts,
                iterations: a.iterations,
                reports: &a.opts.reports,
                minimize_witness: true,
            },
        ));
    }
    let label = shard.map_or("exploring".to_string(), |s| format!("shard {}", s.spec));
    run::explore_each(&tasks, a.opts.jobs, &label)
}

/// Remove `dir`'s manifest, if any: it describes an earlier run's files.
fn remove_manifest(dir: &Path) -> Result<(), BadInput> {
    match std::fs::remove_file(dir.join(shard::MANIFEST)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BadInput(format!(
            "{}: error: cannot remove the earlier run's {}: {e}",
            dir.display(),
            shard::MANIFEST
        ))),
    }
}

/// File stem of a unit's report in a shard's directory: the exploration's, and the replica
/// after the first (two replicas of one exploration may share a shard).
pub fn unit_stem(u: &Unit) -> String {
    let stem = report::stem(&u.scenario, u.backend.name());
    if u.replica == 0 {
        stem
    } else {
        format!("{stem}--replica{}", u.replica)
    }
}

/// A shard's output: a report per unit with a finding or a checker error, the index of its
/// units, the JUnit file if asked, and the manifest last.
fn write_shard(
    a: &RunArgs,
    mut manifest: Manifest,
    outcomes: Vec<UnitOutcome>,
    start: Instant,
) -> Result<ExitCode> {
    let dir = &a.opts.reports;
    let replicated = a.dist.replicas > 1;
    let mut cases = Vec::new();
    for mut o in outcomes {
        let stem = unit_stem(&o.unit);
        let json = dir.join(format!("{stem}.json"));
        let file = match o.report.as_mut() {
            Some(r) => {
                if let Some(rp) = r.replay.as_mut().filter(|rp| rp.command.is_some()) {
                    rp.command = Some(format!("mountcheck replay {}", json.display()));
                }
                report::write_whole(&json, &(serde_json::to_string_pretty(r)? + "\n"))?;
                report::write_whole(&dir.join(format!("{stem}.md")), &report::markdown(r))?;
                report::write_whole(
                    &dir.join(format!("{stem}.html")),
                    &crate::html::report_page(r),
                )?;
                o.row.report = Some(json.display().to_string());
                Some(format!("{stem}.json"))
            }
            None => {
                run::remove_report_set(dir, &stem);
                None
            }
        };
        let mut case = Case::of_run(o.row.clone(), o.report.clone());
        if replicated && shard::replicable(o.unit.backend) {
            case.qualifier = Some(format!(
                "replica {} (seed {})",
                o.unit.replica + 1,
                o.unit.seed
            ));
        }
        cases.push(case);
        manifest.units.push(UnitResult {
            unit: o.unit,
            report_file: file,
            row: o.row,
        });
    }
    let rows: Vec<_> = manifest.units.iter().map(|u| u.row.clone()).collect();
    report::write_whole(
        &dir.join("index.md"),
        &report::index(&rows, &manifest.command),
    )?;
    report::write_whole(
        &dir.join("index.json"),
        &(serde_json::to_string_pretty(&rows)? + "\n"),
    )?;
    if let Some(j) = &a.dist.junit {
        junit::write(
            j,
            &format!("mountcheck run (shard {})", manifest.shard.spec),
            &cases,
        )?;
    }
    let spec = manifest.shard.spec;
    let (ran, total) = (manifest.units.len(), manifest.units_total);
    report::write_whole(
        &dir.join(shard::MANIFEST),
        &(serde_json::to_string_pretty(&manifest)? + "\n"),
    )?;
    crate::out::println(&format!(
        "shard {spec} ({}): {ran} of the run's {total} units (run {})",
        manifest.shard.source, manifest.run_id
    ))?;
    merge::finish(&rows, dir, start)
}
