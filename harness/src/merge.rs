//! Merging units into explorations: the replicas of a randomized exploration into one row
//! ([`combine`], used by an unsharded `run` and by `merge`), and `mountcheck merge DIR…`, which
//! joins the outputs of the shards of one run into one index, one JUnit file and one summary,
//! with the exit status of a single run.
//!
//! Merge rules, per (scenario, backend, lock design): a systematic exploration (one unit) is
//! copied; the replicas of a randomized one become one row whose executions and time are the
//! sums over the replicas, whose verdict is the lowest replica's finding if any replica found
//! one (its report is the row's report), else the lowest replica's checker error if any, else
//! `clean` or `incomplete` from the worst stop reason (`bound` when every replica ran its
//! budget; `time-limit` before `iteration-cap` before `bound` before `exhausted`). The row's seed
//! is the run's, with the number of replicas beside it.
//!
//! Invariant: `merge` writes nothing unless the shards are shards 1..N of one run (same scenario
//! contents, options and tool version), each present once, each with exactly the units that
//! shard owns, and every report they name readable: anything else is bad input (exit 2) naming
//! the directory and what is wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use mountcheck_engine::Stop;

use crate::junit::{self, Case};
use crate::out;
use crate::report::{self, Report, Row, Tally};
use crate::run::{self, BadInput};
use crate::scenario::Expect;
use crate::shard::{self, DisplayOrder, Manifest, Unit};
use crate::verdict::Verdict;

/// One unit's result: its row, and its report when it has one (a finding or a checker error).
#[derive(Clone, Debug)]
pub struct UnitOutcome {
    /// The unit.
    pub unit: Unit,
    /// Its row.
    pub row: Row,
    /// Its report.
    pub report: Option<Report>,
}

impl UnitOutcome {
    /// The outcome of a unit just explored.
    pub fn of(unit: Unit, r: Report) -> UnitOutcome {
        UnitOutcome {
            unit,
            row: Row::of(&r, None),
            report: run::has_report(r.verdict).then_some(r),
        }
    }
}

/// One exploration of a run (its replicas merged): its row and its report.
#[derive(Clone, Debug)]
pub struct Group {
    /// The row.
    pub row: Row,
    /// The report of the replica the verdict comes from, if it has one.
    pub report: Option<Report>,
}

/// How far a stop reason is from a complete, finding-free search, for choosing the worst.
fn severity(s: Stop) -> u8 {
    match s {
        Stop::Exhausted => 0,
        Stop::Bound => 1,
        Stop::IterationCap => 2,
        Stop::TimeLimit => 3,
        Stop::CheckerError => 4,
        Stop::Finding => 5,
    }
}

/// The replicas of one exploration (sorted by replica) as one row (see the module's rules).
fn merge_replicas(mut parts: Vec<UnitOutcome>, allow_incomplete: bool) -> Result<Group, String> {
    parts.sort_by_key(|p| p.unit.replica);
    let expect = Expect::from_name(&parts[0].row.expect).ok_or_else(|| {
        format!(
            "{} / {}: unknown expected verdict `{}`",
            parts[0].row.scenario, parts[0].row.strategy, parts[0].row.expect
        )
    })?;
    let chosen = parts
        .iter()
        .position(|p| matches!(p.row.verdict, Verdict::Finding(_)))
        .or_else(|| {
            parts
                .iter()
                .position(|p| p.row.verdict == Verdict::CheckerError)
        });
    let executions = parts.iter().map(|p| p.row.executions).sum();
    let secs = parts.iter().map(|p| p.row.secs).sum();
    let replicas = parts.len() as u64;
    let mut row = parts[0].row.clone();
    let report = match chosen {
        Some(i) => {
            let c = &parts[i];
            row.verdict = c.row.verdict;
            row.stop = c.row.stop;
            row.checker_error = c.row.checker_error.clone();
            row.report = c.row.report.clone();
            c.report.clone()
        }
        None => {
            let worst = parts
                .iter()
                .map(|p| p.row.stop)
                .max_by_key(|&s| severity(s))
                .unwrap_or(Stop::CheckerError);
            row.stop = worst;
            row.verdict = Verdict::of(worst, None);
            row.checker_error = None;
            row.report = None;
            None
        }
    };
    row.executions = executions;
    row.secs = secs;
    row.replicas = replicas;
    row.ok = row.verdict.meets(expect, allow_incomplete);
    Ok(Group { row, report })
}

/// The units' outcomes merged per (scenario, backend, lock design), in `order`.
pub fn combine(
    outcomes: Vec<UnitOutcome>,
    order: &DisplayOrder,
    allow_incomplete: bool,
) -> Result<Vec<Group>, String> {
    let mut by_exploration: BTreeMap<(String, String, String), Vec<UnitOutcome>> = BTreeMap::new();
    for o in outcomes {
        let key = (
            o.unit.scenario.clone(),
            o.unit.backend.name().to_string(),
            o.unit.lock_design.clone(),
        );
        by_exploration.entry(key).or_default().push(o);
    }
    let mut groups = by_exploration
        .into_values()
        .map(|parts| merge_replicas(parts, allow_incomplete))
        .collect::<Result<Vec<_>, _>>()?;
    groups.sort_by_key(|g| order.key(&g.row.scenario, &g.row.strategy));
    Ok(groups)
}

/// Write each group's report into `dir` (Markdown, JSON and HTML page, its replay command naming
/// its new place), remove stale report files, and write `index.md`, `index.html` and
/// `index.json`. Returns the groups with their rows' report paths.
pub fn write_groups(dir: &Path, mut groups: Vec<Group>, command: &str) -> Result<Vec<Group>> {
    std::fs::create_dir_all(dir)?;
    for g in &mut groups {
        let stem = report::stem(&g.row.scenario, &g.row.strategy);
        match g.report.as_mut() {
            Some(r) => {
                if let Some(rp) = r.replay.as_mut().filter(|rp| rp.command.is_some()) {
                    rp.command = Some(format!(
                        "mountcheck replay {}",
                        dir.join(format!("{stem}.json")).display()
                    ));
                }
                let path = run::write_report_set(dir, r)?;
                g.row.report = Some(path.display().to_string());
            }
            None => {
                run::remove_report_set(dir, &stem);
                g.row.report = None;
            }
        }
    }
    let rows: Vec<Row> = groups.iter().map(|g| g.row.clone()).collect();
    report::write_whole(&dir.join("index.md"), &report::index(&rows, command))?;
    let entries: Vec<crate::html::IndexEntry> =
        rows.iter().map(crate::html::IndexEntry::from_row).collect();
    report::write_whole(
        &dir.join("index.html"),
        &crate::html::index_page(command, &entries),
    )?;
    report::write_whole(
        &dir.join("index.json"),
        &(serde_json::to_string_pretty(&rows)? + "\n"),
    )?;
    Ok(groups)
}

/// Print the summary of `rows` (the table and the counts) and return the exit status of a run:
/// 0 when every verdict is as expected, else 1.
pub fn finish(rows: &[Row], dir: &Path, start: Instant) -> Result<ExitCode> {
    out::print(&report::table(rows))?;
    let t = Tally::of(rows);
    out::println(&format!(
        "\n{}; {:.1} s; reports in {} (index.md)",
        t.line(),
        start.elapsed().as_secs_f64(),
        dir.display()
    ))?;
    Ok(if t.as_expected == t.total {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Options of `mountcheck merge`.
#[derive(Args, Clone, Debug)]
pub struct MergeArgs {
    /// The shards' reports directories (each with the shard.json that `run --shard` wrote):
    /// shards 1..N of one run, each once, in any order.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged reports, index.md and index.json are written.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// Also write the merged explorations as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// Read `dir`'s manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest, BadInput> {
    let path = dir.join(shard::MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BadInput(format!(
                "{}: error: not a shard's output: there is no {} (a directory written by `mountcheck run --shard K/N` that finished has one)",
                dir.display(),
                shard::MANIFEST
            )))
        }
        Err(e) => {
            return Err(BadInput(format!(
                "{}: error: cannot read: {e}",
                path.display()
            )))
        }
    };
    let at = |e: serde_json::Error| {
        BadInput(format!(
            "{}:{}:{}: error: not a mountcheck shard manifest: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(at)?;
    let schema = v.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    if schema != shard::MANIFEST_SCHEMA {
        return Err(BadInput(format!(
            "{}: error: schema: the manifest's schema is `{schema}`; this mountcheck reads `{}`",
            path.display(),
            shard::MANIFEST_SCHEMA
        )));
    }
    serde_json::from_str(&text).map_err(at)
}

/// Check that `shards` (read from `dirs`) are shards 1..N of one run, each once, each with the
/// units it owns.
pub fn check_shards(dirs: &[PathBuf], shards: &[Manifest]) -> Result<(), BadInput> {
    let shown = |i: usize| dirs[i].display().to_string();
    // One run: group the directories by run identity.
    let mut runs: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, m) in shards.iter().enumerate() {
        match runs.iter_mut().find(|(r, _)| shards[*r].run == m.run) {
            Some((_, members)) => members.push(i),
            None => runs.push((i, vec![i])),
        }
    }
    if runs.len() > 1 {
        runs.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
        let (main, _) = runs[0];
        let mut msg = String::from(
            "error: the shards are not all of one run (scenarios by content, options and tool version must agree):",
        );
        for (r, members) in &runs[1..] {
            let names: Vec<String> = members.iter().map(|&i| shown(i)).collect();
            msg.push_str(&format!(
                "\n  {} {} of another run ({}) than {} ({}): {}",
                names.join(", "),
                if members.len() == 1 {
                    "is a shard"
                } else {
                    "are shards"
                },
                shards[*r].run.id(),
                shown(main),
                shards[main].run.id(),
                shards[main].run.differences(&shards[*r].run).join("; ")
            ));
        }
        return Err(BadInput(msg));
    }
    let n = shards[0].shard.spec.count;
    for (i, m) in shards.iter().enumerate() {
        if m.shard.spec.count != n {
            return Err(BadInput(format!(
                "{}: error: it is shard {} but {} is shard {}: the shards of one run are split N ways alike",
                shown(i),
                m.shard.spec,
                shown(0),
                shards[0].shard.spec
            )));
        }
    }
    let mut by_index: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, m) in shards.iter().enumerate() {
        if let Some(first) = by_index.insert(m.shard.spec.index, i) {
            return Err(BadInput(format!(
                "error: shard {} is given twice: {} and {}",
                m.shard.spec,
                shown(first),
                shown(i)
            )));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        let have: Vec<String> = by_index
            .iter()
            .map(|(k, &i)| format!("{k}/{n} ({})", shown(i)))
            .collect();
        return Err(BadInput(format!(
            "error: shard{} {} of run {} {} missing (given: {})",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            shards[0].run_id,
            if missing.len() == 1 { "is" } else { "are" },
            have.join(", ")
        )));
    }
    let planned = shards[0]
        .run
        .units()
        .map_err(|e| BadInput(format!("{}: error: {e}", shown(0))))?;
    for (i, m) in shards.iter().enumerate() {
        let owned: Vec<&Unit> = planned
            .iter()
            .filter(|u| m.shard.spec.owns(u.position))
            .collect();
        let listed: Vec<&Unit> = m.units.iter().map(|u| &u.unit).collect();
        if m.units_total != planned.len() || owned != listed {
            return Err(BadInput(format!(
                "{}: error: shard {} of run {} lists {} units of {}, but owns {} of the run's {} units: its manifest does not match its run",
                shown(i),
                m.shard.spec,
                m.run_id,
                listed.len(),
                m.units_total,
                owned.len(),
                planned.len()
            )));
        }
    }
    Ok(())
}

/// The outcomes a shard's manifest lists, with their reports read from `dir`.
fn outcomes(dir: &Path, m: &Manifest) -> Result<Vec<UnitOutcome>, BadInput> {
    m.units
        .iter()
        .map(|u| {
            let report = match &u.report_file {
                Some(f) => {
                    let path = dir.join(f);
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        BadInput(format!("{}: error: cannot read: {e}", path.display()))
                    })?;
                    let r: Report = serde_json::from_str(&text).map_err(|e| {
                        BadInput(format!(
                            "{}:{}:{}: error: not a mountcheck report: {e}",
                            path.display(),
                            e.line(),
                            e.column()
                        ))
                    })?;
                    Some(r)
                }
                None => None,
            };
            Ok(UnitOutcome {
                unit: u.unit.clone(),
                row: u.row.clone(),
                report,
            })
        })
        .collect()
}

/// `mountcheck merge DIR… [--reports OUT] [--junit FILE]`.
pub fn merge(a: &MergeArgs, command: &str) -> Result<ExitCode> {
    let start = Instant::now();
    let shards = a
        .dirs
        .iter()
        .map(|d| read_manifest(d))
        .collect::<Result<Vec<_>, _>>()?;
    check_shards(&a.dirs, &shards)?;
    let mut all = Vec::new();
    for (d, m) in a.dirs.iter().zip(&shards) {
        all.extend(outcomes(d, m)?);
    }
    run::probe_reports_dir(&a.reports)?;
    let out_dir = std::fs::canonicalize(&a.reports).unwrap_or_else(|_| a.reports.clone());
    for d in &a.dirs {
        if std::fs::canonicalize(d).is_ok_and(|c| c == out_dir) {
            return Err(BadInput(format!(
                "--reports {}: error: it is one of the shards' directories; merge into another",
                a.reports.display()
            ))
            .into());
        }
    }
    if let Some(j) = &a.junit {
        junit::probe(j)?;
    }
    // Shard 1's order of rows (all shards have the same identity; the order of the command line
    // may differ between them).
    let first = shards
        .iter()
        .find(|m| m.shard.spec.index == 1)
        .unwrap_or(&shards[0]);
    let units = all.len();
    let groups = combine(all, &first.order, first.run.allow_incomplete).map_err(BadInput)?;
    let groups = write_groups(&a.reports, groups, command)?;
    if let Some(j) = &a.junit {
        let cases: Vec<Case> = groups
            .iter()
            .map(|g| Case::of_run(g.row.clone(), g.report.clone()))
            .collect();
        junit::write(j, "mountcheck run (merged)", &cases)?;
    }
    out::println(&format!(
        "merged {} shards of run {}: {units} units into {} explorations",
        shards.len(),
        first.run_id,
        groups.len()
    ))?;
    let rows: Vec<Row> = groups.into_iter().map(|g| g.row).collect();
    finish(&rows, &a.reports, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Bounds;
    use crate::run::Backend;
    use mountcheck_model::FindingClass;

    fn outcome(replica: u64, verdict: Verdict, stop: Stop, executions: u64) -> UnitOutcome {
        UnitOutcome {
            unit: Unit {
                position: replica as usize,
                scenario: "s".into(),
                backend: Backend::Pct,
                lock_design: "global".into(),
                replica,
                seed: 5 + replica,
            },
            row: Row {
                scenario: "s".into(),
                variant: "fixed".into(),
                lock_design: "global".into(),
                strategy: "pct".into(),
                verdict,
                stop,
                executions,
                replicas: 1,
                bounds: Bounds {
                    seed: 5 + replica,
                    max_executions: 100,
                    time_limit_secs: 20.0,
                    preemption_bound: None,
                    max_branches: None,
                    depth: Some(3),
                },
                expect: "clean".into(),
                ok: false,
                secs: 1.0,
                report: matches!(verdict, Verdict::Finding(_) | Verdict::CheckerError)
                    .then(|| format!("r{replica}.json")),
                checker_error: None,
                linearizability: None,
                spec_secs: None,
            },
            report: None,
        }
    }

    fn one(parts: Vec<UnitOutcome>) -> Row {
        let order = DisplayOrder {
            scenarios: vec!["s".into()],
            backends: vec!["pct".into()],
        };
        let g = combine(parts, &order, false).unwrap();
        assert_eq!(g.len(), 1);
        g.into_iter().next().unwrap().row
    }

    #[test]
    fn replicas_that_ran_their_budget_merge_into_a_clean_bound_row() {
        let r = one(vec![
            outcome(1, Verdict::Clean, Stop::Bound, 100),
            outcome(0, Verdict::Clean, Stop::Bound, 100),
        ]);
        assert_eq!(
            (r.verdict, r.stop, r.executions),
            (Verdict::Clean, Stop::Bound, 200)
        );
        assert_eq!((r.replicas, r.bounds.seed, r.secs), (2, 5, 2.0));
        assert!(r.ok);
    }

    #[test]
    fn the_lowest_replicas_finding_wins() {
        let uaf = Verdict::Finding(FindingClass::UseAfterFree);
        let leak = Verdict::Finding(FindingClass::Leak);
        let r = one(vec![
            outcome(0, Verdict::Clean, Stop::Bound, 100),
            outcome(2, uaf, Stop::Finding, 3),
            outcome(1, leak, Stop::Finding, 40),
            outcome(3, Verdict::CheckerError, Stop::CheckerError, 0),
        ]);
        assert_eq!((r.verdict, r.stop), (leak, Stop::Finding));
        assert_eq!(r.executions, 143);
        assert_eq!(r.report.as_deref(), Some("r1.json"));
        assert!(!r.ok);
    }

    #[test]
    fn a_checker_error_or_an_early_stop_is_never_merged_into_clean() {
        let r = one(vec![
            outcome(0, Verdict::Clean, Stop::Bound, 100),
            outcome(1, Verdict::CheckerError, Stop::CheckerError, 0),
        ]);
        assert_eq!(
            (r.verdict, r.stop),
            (Verdict::CheckerError, Stop::CheckerError)
        );
        assert_eq!(r.report.as_deref(), Some("r1.json"));
        let r = one(vec![
            outcome(0, Verdict::Incomplete, Stop::TimeLimit, 50),
            outcome(1, Verdict::Clean, Stop::Bound, 100),
        ]);
        assert_eq!((r.verdict, r.stop), (Verdict::Incomplete, Stop::TimeLimit));
        assert_eq!(r.report, None);
        let r = one(vec![
            outcome(0, Verdict::Clean, Stop::Exhausted, 1),
            outcome(1, Verdict::Clean, Stop::Bound, 100),
        ]);
        assert_eq!((r.verdict, r.stop), (Verdict::Clean, Stop::Bound));
    }

    #[test]
    fn one_unit_is_copied() {
        let r = one(vec![outcome(0, Verdict::Incomplete, Stop::IterationCap, 9)]);
        assert_eq!(
            (r.verdict, r.stop, r.executions, r.replicas),
            (Verdict::Incomplete, Stop::IterationCap, 9, 1)
        );
    }
}
