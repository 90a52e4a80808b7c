//! JUnit XML of `run` and `catalog`, read back the way a CI system reads it: the document must
//! have the JUnit schema's required shape (`testsuites` / `testsuite` with name and counts that
//! agree with their cases, `testcase` with name and classname, at most one of `failure`, `error`,
//! `skipped` each), and every exploration of the run's index must be a case with the status its
//! verdict calls for: a failure for a verdict not as expected (a mutant not caught included), an
//! error for a checker error, a skip for an incomplete search, a pass otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mountcheck"))
        .current_dir(workspace())
        .args(args)
        .output()
        .expect("run mountcheck");
    eprintln!(
        "--- mountcheck {}\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A test case as read from the XML.
#[derive(Debug)]
struct Case {
    suite: String,
    name: String,
    classname: String,
    /// `pass`, `failure`, `error` or `skipped`.
    status: &'static str,
    message: String,
    body: String,
    system_out: String,
    properties: Vec<(String, String)>,
}

fn count(node: roxmltree::Node, attr: &str) -> usize {
    let v = node
        .attribute(attr)
        .unwrap_or_else(|| panic!("<{}> has no `{attr}`", node.tag_name().name()));
    v.parse()
        .unwrap_or_else(|e| panic!("<{}> {attr}={v:?}: {e}", node.tag_name().name()))
}

fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

/// Check the JUnit schema's required shape and return the cases.
fn junit_cases(xml: &str) -> Vec<Case> {
    let doc = roxmltree::Document::parse(xml).expect("the JUnit file is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut cases = Vec::new();
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for suite in elements(root) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let name = suite.attribute("name").expect("testsuite name");
        assert!(!name.is_empty());
        let mut n = [0usize; 4];
        for child in elements(suite) {
            match child.tag_name().name() {
                "properties" => {
                    for p in elements(child) {
                        assert_eq!(p.tag_name().name(), "property");
                        assert!(p.attribute("name").is_some() && p.attribute("value").is_some());
                    }
                }
                "system-out" | "system-err" => {}
                "testcase" => {
                    let case_name = child.attribute("name").expect("testcase name");
                    let classname = child.attribute("classname").expect("testcase classname");
                    assert!(!case_name.is_empty() && !classname.is_empty());
                    if let Some(t) = child.attribute("time") {
                        assert!(t.parse::<f64>().is_ok_and(|t| t >= 0.0), "time {t:?}");
                    }
                    let mut status = "pass";
                    let (mut message, mut body, mut system_out) =
                        (String::new(), String::new(), String::new());
                    let mut properties = Vec::new();
                    for e in elements(child) {
                        match e.tag_name().name() {
                            s @ ("failure" | "error" | "skipped") => {
                                assert_eq!(
                                    status, "pass",
                                    "{case_name}: more than one of failure, error, skipped"
                                );
                                status = match s {
                                    "failure" => "failure",
                                    "error" => "error",
                                    _ => "skipped",
                                };
                                message = e.attribute("message").unwrap_or_default().to_string();
                                if s != "skipped" {
                                    assert!(
                                        !message.is_empty(),
                                        "{case_name}: {s} without message"
                                    );
                                }
                                body = e.text().unwrap_or_default().to_string();
                            }
                            "system-out" => {
                                system_out = e.text().unwrap_or_default().to_string();
                            }
                            "system-err" => {}
                            "properties" => {
                                for p in elements(e) {
                                    assert_eq!(p.tag_name().name(), "property");
                                    properties.push((
                                        p.attribute("name").unwrap().to_string(),
                                        p.attribute("value").unwrap().to_string(),
                                    ));
                                }
                            }
                            other => panic!("{case_name}: unexpected <{other}> in a testcase"),
                        }
                    }
                    n[0] += 1;
                    match status {
                        "failure" => n[1] += 1,
                        "error" => n[2] += 1,
                        "skipped" => n[3] += 1,
                        _ => {}
                    }
                    cases.push(Case {
                        suite: name.to_string(),
                        name: case_name.to_string(),
                        classname: classname.to_string(),
                        status,
                        message,
                        body,
                        system_out,
                        properties,
                    });
                }
                other => panic!("unexpected <{other}> in a testsuite"),
            }
        }
        assert_eq!(count(suite, "tests"), n[0], "suite {name}: tests");
        assert_eq!(count(suite, "failures"), n[1], "suite {name}: failures");
        assert_eq!(count(suite, "errors"), n[2], "suite {name}: errors");
        assert_eq!(count(suite, "skipped"), n[3], "suite {name}: skipped");
        tests += n[0];
        failures += n[1];
        errors += n[2];
        skipped += n[3];
    }
    assert_eq!(count(root, "tests"), tests);
    assert_eq!(count(root, "failures"), failures);
    assert_eq!(count(root, "errors"), errors);
    if root.attribute("skipped").is_some() {
        assert_eq!(count(root, "skipped"), skipped);
    }
    cases
}

fn property<'a>(c: &'a Case, name: &str) -> &'a str {
    c.properties
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{}/{}: no property {name}", c.suite, c.name))
}

/// The planted mutant on a program where nothing unmounts: it cannot show, so it is not caught.
const MISSED: &str = r#"name = "missed"
description = "get_super without the s_count pin, but nothing unmounts: the mutant cannot show."
variant = "get-super-no-pin"
expect = "use-after-free"
setup = ["mkdir /mnt", "mount ram0 /mnt"]
[[thread]]
ops = ["get_super ram0 as sb", "statfs sb", "drop_super sb"]
"#;

/// The planted mutant where it shows, with the wrong expectation.
const WRONG: &str = r#"name = "wrong"
description = "get_super without the s_count pin races with umount; the scenario expects clean."
variant = "get-super-no-pin"
expect = "clean"
setup = ["mkdir /mnt", "mount ram0 /mnt"]
[[thread]]
ops = ["get_super ram0 as sb", "statfs sb", "drop_super sb"]
[[thread]]
ops = ["umount /mnt"]
"#;

#[test]
fn run_junit_has_a_case_per_exploration_with_the_status_of_its_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let missed = tmp.path().join("missed.toml");
    let wrong = tmp.path().join("wrong.toml");
    std::fs::write(&missed, MISSED).unwrap();
    std::fs::write(&wrong, WRONG).unwrap();
    let reports = tmp.path().join("reports");
    let xml_path = tmp.path().join("junit").join("out.xml");
    // loom's branch bound of 30 is a checker error on every scenario; DFS stops at its cap of
    // 300 (incomplete: accepted where clean is expected, not where a finding is); PCT catches
    // the planted mutant, finds nothing where it cannot show, and is clean on the fixed protocol.
    let out = run(&[
        "run",
        missed.to_str().unwrap(),
        wrong.to_str().unwrap(),
        "get-super-no-pin",
        "get-super-vs-umount",
        "--backend",
        "loom,pct,dfs",
        "--iterations",
        "300",
        "--max-branches",
        "30",
        "--allow-incomplete",
        "--reports",
        reports.to_str().unwrap(),
        "--junit",
        xml_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let cases = junit_cases(&xml);
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(reports.join("index.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), rows.len());
    let mut seen = std::collections::BTreeSet::new();
    for row in &rows {
        let scenario = row["scenario"].as_str().unwrap();
        let name = format!(
            "{} [{}]",
            row["strategy"].as_str().unwrap(),
            row["lock_design"].as_str().unwrap()
        );
        let c = cases
            .iter()
            .find(|c| c.suite == scenario && c.name == name)
            .unwrap_or_else(|| panic!("no case {scenario} / {name}"));
        assert_eq!(c.classname, format!("mountcheck.{scenario}"));
        let verdict = row["verdict"].as_str().unwrap();
        let ok = row["ok"].as_bool().unwrap();
        let want = match (verdict, ok) {
            ("checker-error", _) => "error",
            ("incomplete", _) => "skipped",
            (_, false) => "failure",
            (_, true) => "pass",
        };
        assert_eq!(c.status, want, "{scenario} / {name}: {row}\n{c:?}");
        seen.insert(want);
        assert_eq!(property(c, "verdict"), verdict);
        assert_eq!(property(c, "stop"), row["stop"].as_str().unwrap());
        assert_eq!(property(c, "executions"), row["executions"].to_string());
        assert_eq!(property(c, "seed"), row["seed"].to_string());
        let report = row["report"].as_str();
        match c.status {
            "failure" => {
                assert!(
                    c.message.contains(&format!("verdict {verdict}")),
                    "{}",
                    c.message
                );
                match report {
                    Some(json) => {
                        let md = json.replace(".json", ".md");
                        assert!(c.body.contains(&md), "{}", c.body);
                        let rep: serde_json::Value = serde_json::from_str(
                            &std::fs::read_to_string(workspace().join(json)).unwrap(),
                        )
                        .unwrap();
                        let finding = rep["finding"]["message"].as_str().unwrap();
                        assert!(c.message.contains(finding), "{}", c.message);
                        let cmd = rep["replay"]["command"].as_str().unwrap();
                        assert!(c.body.contains(&format!("replay: {cmd}")), "{}", c.body);
                    }
                    None => assert!(c.body.contains("replay: none"), "{}", c.body),
                }
            }
            "error" => {
                let msg = row["checker_error"].as_str().unwrap();
                assert!(c.message.contains(msg), "{}", c.message);
                assert!(c.body.contains(&report.unwrap().replace(".json", ".md")));
            }
            "skipped" => {
                assert!(
                    c.message.contains(row["stop"].as_str().unwrap()),
                    "{}",
                    c.message
                );
                assert!(
                    c.message.contains("at most 300 executions"),
                    "{}",
                    c.message
                );
                if ok {
                    assert!(
                        c.message.contains("accepted by --allow-incomplete"),
                        "{}",
                        c.message
                    );
                } else {
                    assert!(c.message.contains("NOT as expected"), "{}", c.message);
                }
            }
            _ => {
                if verdict != "clean" {
                    assert!(
                        c.system_out
                            .contains(&format!("expected finding: {verdict}")),
                        "{}",
                        c.system_out
                    );
                    assert!(
                        c.system_out.contains("replay: mountcheck replay"),
                        "{}",
                        c.system_out
                    );
                }
            }
        }
    }
    // Every kind of case is exercised, and the mutant that could not show is a failure.
    assert_eq!(seen.len(), 4, "{seen:?}");
    let missed_pct = cases
        .iter()
        .find(|c| c.suite == "missed" && c.name == "pct [global]")
        .unwrap();
    assert_eq!(missed_pct.status, "failure");
}

#[test]
fn catalog_junit_fails_every_mutant_not_caught_and_skips_incomplete_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let xml_path = tmp.path().join("catalog.xml");
    // One PCT execution per exploration is too few to catch most mutants; DFS stops at its cap.
    let out = run(&[
        "catalog",
        "--backend",
        "pct,dfs",
        "--mutants",
        "get-super-no-pin,fsmount-missing-mntget,expiry-get-namespace",
        "--pct-iterations",
        "1",
        "--dfs-iterations",
        "20",
        "--reports",
        tmp.path().to_str().unwrap(),
        "--junit",
        xml_path.to_str().unwrap(),
    ]);
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1));
    let cases = junit_cases(&std::fs::read_to_string(&xml_path).unwrap());
    // A case per (mutant, backend) row, fixed twins included: 3 mutants x 2 twins x 2 backends.
    assert_eq!(cases.len(), 12, "{cases:#?}");
    let md = std::fs::read_to_string(tmp.path().join("catalog.md")).unwrap();
    let (mut not_caught, mut matched) = (0, 0);
    // The first table only (the oracle attribution table follows under its own heading).
    for line in md
        .lines()
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| ") && !l.starts_with("| mutant"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 8 {
            continue;
        }
        let (label, expected, backend, verdict, ok) =
            (cells[1], cells[2], cells[3], cells[4], cells[6]);
        let suite = match label.strip_suffix(" (fixed)") {
            Some(m) => format!("{m}-fixed"),
            None => label.to_string(),
        };
        let c = cases
            .iter()
            .find(|c| c.suite == suite && c.name == format!("{backend} [global]"))
            .unwrap_or_else(|| panic!("no case for {line}"));
        let want = match verdict {
            "checker-error" => "error",
            "incomplete" => "skipped",
            _ if ok == "yes" => "pass",
            _ => "failure",
        };
        assert_eq!(c.status, want, "{line}\n{c:?}");
        matched += 1;
        if expected != "clean" && verdict == "clean" {
            not_caught += 1;
            assert_eq!(c.status, "failure", "a mutant not caught must fail: {line}");
            assert!(
                c.message.contains(&format!("expected {expected}")),
                "{}",
                c.message
            );
        }
        if backend == "dfs" && verdict == "incomplete" {
            assert!(
                c.message.contains("only where it exhausts"),
                "{}",
                c.message
            );
        }
    }
    assert_eq!(matched, cases.len(), "catalog.md rows vs JUnit cases\n{md}");
    assert!(
        not_caught > 0,
        "no mutant went uncaught: the test shows nothing\n{md}"
    );
}
