//! JUnit XML of a run's explorations, for CI systems' test views (GitHub, GitLab, Jenkins,
//! cargo-nextest's readers), written with `quick-junit`, the crate cargo-nextest uses.
//!
//! One test case per exploration: the suite is the scenario, the case is named after the backend
//! and the lock design (`loom [global]`), its class name is `mountcheck.<scenario>`, its time the
//! exploration's seconds, its properties the seed, the bounds, the executions, the replicas and
//! the stop reason. How a row becomes a case ([`status`]):
//!
//! - `checker-error`: an `<error>` (the checker failed; nothing is known about the scenario);
//! - `incomplete`: `<skipped>`, with the stop reason and the bounds, saying whether the run
//!   accepted it (`--allow-incomplete`, or the catalog's rule for DFS) or not;
//! - any other verdict not as expected: a `<failure>` with the verdict, the finding's message,
//!   the report files and the replay command (or why there is none);
//! - as expected: a pass; an expected finding (a mutant caught) is told in `<system-out>`.
//!
//! Used by `run`, `catalog` and `merge` (any command that has [`report::Row`]s and the reports
//! behind them).
//!
//! Invariant: the counts of every `<testsuite>` and of `<testsuites>` are quick-junit's, computed
//! from the cases themselves; the file is written whole (a temporary name, then a rename).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use crate::report::{self, Report, Row};
use crate::verdict::Verdict;

/// Why `run` accepts an incomplete row that is as expected.
pub const ALLOW_INCOMPLETE: &str = "accepted by --allow-incomplete";

/// One exploration as a test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Its row (a merged row for explorations with replicas).
    pub row: Row,
    /// The report behind `row.report`: the finding or the checker error, and the replay.
    pub report: Option<Report>,
    /// Appended to the case's name, e.g. `replica 2 (seed 3)` for a shard's unit.
    pub qualifier: Option<String>,
    /// Why an `incomplete` row counts as expected, when it does.
    pub accepted_incomplete: &'static str,
}

impl Case {
    /// The case of a row of `run` (and `merge`).
    pub fn of_run(row: Row, report: Option<Report>) -> Case {
        Case {
            row,
            report,
            qualifier: None,
            accepted_incomplete: ALLOW_INCOMPLETE,
        }
    }

    /// `loom [global]`, and the qualifier if any.
    pub fn name(&self) -> String {
        let mut n = format!("{} [{}]", self.row.strategy, self.row.lock_design);
        if let Some(q) = &self.qualifier {
            let _ = write!(n, " {q}");
        }
        n
    }
}

/// The report files of a row: its JSON, its Markdown twin, and the HTML page when one exists.
pub fn report_files(row: &Row) -> Vec<PathBuf> {
    let Some(json) = &row.report else {
        return Vec::new();
    };
    let json = PathBuf::from(json);
    let mut files = vec![json.with_extension("md"), json.clone()];
    let html = json.with_extension("html");
    if html.exists() {
        files.push(html);
    }
    files
}

/// What a reader needs to look further: the report files and the replay command, or why there
/// is none.
fn pointers(c: &Case) -> String {
    let mut o = String::new();
    let files = report_files(&c.row);
    if files.is_empty() {
        let _ = writeln!(
            o,
            "report: none (only a finding or a checker error has a report file)"
        );
    }
    for f in files {
        let _ = writeln!(o, "report: {}", f.display());
    }
    match c.report.as_ref().and_then(|r| r.replay.as_ref()) {
        Some(rp) => match (&rp.command, &rp.unavailable) {
            (Some(cmd), _) => {
                let _ = writeln!(o, "replay: {cmd}");
            }
            (None, why) => {
                let _ = writeln!(
                    o,
                    "replay: none: {}",
                    why.as_deref().unwrap_or("no replay token")
                );
            }
        },
        None => {
            let _ = writeln!(o, "replay: none: there is no failing execution to replay");
        }
    }
    o
}

/// `stop bound after 2000 executions (seed 1, at most 2000 executions, 20 s, PCT depth 3)`.
fn search(row: &Row) -> String {
    format!(
        "stop {} after {} executions ({})",
        row.stop,
        row.executions,
        row.bounds_summary()
    )
}

/// The status of a case (see the module's documentation).
pub fn status(c: &Case) -> TestCaseStatus {
    let row = &c.row;
    let finding = c
        .report
        .as_ref()
        .and_then(|r| r.finding.as_ref())
        .map(|f| f.finding.message.clone());
    match row.verdict {
        Verdict::CheckerError => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_type("checker-error");
            s.set_message(format!(
                "checker error: {}",
                row.checker_error.as_deref().unwrap_or("(no message)")
            ));
            s.set_description(format!("{}\n{}", search(row), pointers(c)));
            s
        }
        Verdict::Incomplete => {
            let mut s = TestCaseStatus::skipped();
            s.set_type("incomplete");
            let judged = if row.ok {
                c.accepted_incomplete.to_string()
            } else {
                format!(
                    "NOT as expected: {} was expected (the run's exit status is 1)",
                    row.expect
                )
            };
            s.set_message(format!(
                "incomplete: the search stopped early, {}; {judged}",
                search(row)
            ));
            s
        }
        v if !row.ok => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(v.name());
            let what = match (v, &finding) {
                (Verdict::Finding(_), Some(m)) => m.clone(),
                (Verdict::Clean, _) => format!("nothing found, {}", search(row)),
                _ => search(row),
            };
            s.set_message(format!("verdict {v}, expected {}: {what}", row.expect));
            s.set_description(format!("{}\n{}", search(row), pointers(c)));
            s
        }
        _ => TestCaseStatus::success(),
    }
}

fn case(c: &Case) -> TestCase {
    let row = &c.row;
    let mut t = TestCase::new(c.name(), status(c));
    t.set_classname(format!("mountcheck.{}", row.scenario));
    t.set_time(Duration::from_secs_f64(row.secs.max(0.0)));
    let b = &row.bounds;
    let mut props = vec![
        ("verdict", row.verdict.to_string()),
        ("expected", row.expect.clone()),
        ("stop", row.stop.to_string()),
        ("executions", row.executions.to_string()),
        ("seed", b.seed.to_string()),
        ("replicas", row.replicas.to_string()),
        ("max_executions", b.max_executions.to_string()),
        ("time_limit_secs", b.time_limit_secs.to_string()),
        ("variant", row.variant.clone()),
        ("lock_design", row.lock_design.clone()),
    ];
    if let Some(p) = b.preemption_bound {
        props.push(("preemption_bound", p.to_string()));
    }
    if let Some(m) = b.max_branches {
        props.push(("max_branches", m.to_string()));
    }
    if let Some(d) = b.depth {
        props.push(("depth", d.to_string()));
    }
    t.add_properties(props.into_iter().map(|(k, v)| Property::new(k, v)));
    if let (Verdict::Finding(class), true) = (row.verdict, row.ok) {
        let message = c
            .report
            .as_ref()
            .and_then(|r| r.finding.as_ref())
            .map_or(String::new(), |f| f.finding.message.clone());
        t.set_system_out(format!(
            "expected finding: {class}: {message}\n{}\n{}",
            search(row),
            pointers(c)
        ));
    }
    t
}

/// The JUnit document: a `<testsuites>` named `name` with one suite per scenario (in order of
/// first appearance) and one case per row.
pub fn document(name: &str, cases: &[Case]) -> quick_junit::Report {
    let mut order: Vec<&str> = Vec::new();
    let mut by_scenario: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for c in cases {
        let s = c.row.scenario.as_str();
        if !by_scenario.contains_key(s) {
            order.push(s);
        }
        by_scenario.entry(s).or_default().push(c);
    }
    let mut doc = quick_junit::Report::new(name);
    let mut total = 0.0;
    for s in order {
        let mut suite = TestSuite::new(s);
        let mut secs = 0.0;
        for c in &by_scenario[s] {
            secs += c.row.secs.max(0.0);
            suite.add_test_case(case(c));
        }
        if let Some(first) = by_scenario[s].first() {
            suite.add_property(Property::new("variant", first.row.variant.clone()));
            suite.add_property(Property::new("expected", first.row.expect.clone()));
        }
        suite.set_time(Duration::from_secs_f64(secs));
        total += secs;
        doc.add_test_suite(suite);
    }
    doc.set_time(Duration::from_secs_f64(total));
    doc
}

/// Check before any work that `path` can be written: its directory is created and probed.
pub fn probe(path: &Path) -> Result<(), crate::run::BadInput> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    crate::run::probe_reports_dir(dir)
        .map_err(|e| crate::run::BadInput(format!("--junit {}: {}", path.display(), e.0)))?;
    if path.is_dir() {
        return Err(crate::run::BadInput(format!(
            "--junit {}: error: is a directory",
            path.display()
        )));
    }
    Ok(())
}

/// Write the JUnit document of `cases` to `path`, whole.
pub fn write(path: &Path, name: &str, cases: &[Case]) -> Result<()> {
    let xml = document(name, cases).to_string()?;
    report::write_whole(path, &xml)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Bounds;
    use mountcheck_engine::Stop;
    use mountcheck_model::FindingClass;

    fn row(verdict: Verdict, stop: Stop, expect: &str, ok: bool) -> Row {
        Row {
            scenario: "s".into(),
            variant: "fixed".into(),
            lock_design: "global".into(),
            strategy: "pct".into(),
            verdict,
            stop,
            executions: 7,
            replicas: 1,
            bounds: Bounds {
                seed: 1,
                max_executions: 7,
                time_limit_secs: 20.0,
                preemption_bound: None,
                max_branches: None,
                depth: Some(3),
            },
            expect: expect.into(),
            ok,
            secs: 0.5,
            report: None,
            checker_error: (verdict == Verdict::CheckerError).then(|| "loom gave up".into()),
            linearizability: None,
            spec_secs: None,
        }
    }

    fn kind(c: &Case) -> &'static str {
        match status(c) {
            TestCaseStatus::Success { .. } => "pass",
            TestCaseStatus::Skipped { .. } => "skipped",
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                ..
            } => "failure",
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            } => "error",
        }
    }

    #[test]
    fn each_verdict_becomes_the_status_it_should() {
        let uaf = Verdict::Finding(FindingClass::UseAfterFree);
        let cases = [
            (row(Verdict::Clean, Stop::Bound, "clean", true), "pass"),
            (row(uaf, Stop::Finding, "use-after-free", true), "pass"),
            (row(uaf, Stop::Finding, "clean", false), "failure"),
            (
                row(Verdict::Clean, Stop::Bound, "use-after-free", false),
                "failure",
            ),
            (
                row(Verdict::CheckerError, Stop::CheckerError, "clean", false),
                "error",
            ),
            (
                row(Verdict::Incomplete, Stop::TimeLimit, "clean", false),
                "skipped",
            ),
            (
                row(Verdict::Incomplete, Stop::TimeLimit, "clean", true),
                "skipped",
            ),
        ];
        for (r, want) in cases {
            let c = Case::of_run(r, None);
            assert_eq!(kind(&c), want, "{:?}", c.row);
        }
        let accepted = Case::of_run(
            row(Verdict::Incomplete, Stop::IterationCap, "clean", true),
            None,
        );
        let TestCaseStatus::Skipped {
            message: Some(m), ..
        } = status(&accepted)
        else {
            panic!("not skipped")
        };
        assert!(m.as_str().contains("iteration-cap"), "{}", m.as_str());
        assert!(m.as_str().contains(ALLOW_INCOMPLETE), "{}", m.as_str());
        assert!(
            m.as_str().contains("at most 7 executions"),
            "{}",
            m.as_str()
        );
    }

    #[test]
    fn the_document_counts_its_cases() {
        let uaf = Verdict::Finding(FindingClass::UseAfterFree);
        let mut other = row(Verdict::CheckerError, Stop::CheckerError, "clean", false);
        other.scenario = "t".into();
        let cases: Vec<Case> = [
            row(Verdict::Clean, Stop::Bound, "clean", true),
            row(uaf, Stop::Finding, "clean", false),
            row(Verdict::Incomplete, Stop::TimeLimit, "clean", false),
            other,
        ]
        .into_iter()
        .map(|r| Case::of_run(r, None))
        .collect();
        let doc = document("mountcheck run", &cases);
        assert_eq!(
            (doc.tests, doc.failures, doc.errors, doc.skipped),
            (4, 1, 1, 1)
        );
        assert_eq!(doc.test_suites.len(), 2);
        assert_eq!(doc.test_suites[0].name.as_str(), "s");
        assert_eq!(doc.test_suites[0].tests, 3);
        assert_eq!(doc.test_suites[1].errors, 1);
    }
}
