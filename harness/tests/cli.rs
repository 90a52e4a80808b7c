//! Integration tests of the `mountcheck` CLI, testing the checker like a checker: a planted bug
//! is found and replays byte for byte, an exact execution count on a tiny scenario, the same seed
//! gives the same report, bad input exits 2 with file:line:column and writes nothing, and every
//! bundled scenario reaches its expected verdict under loom and PCT.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mountcheck"));
    c.current_dir(workspace());
    c
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("run mountcheck");
    eprintln!(
        "--- mountcheck {}\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const PLANTED: &str = r#"name = "planted"
description = "get_super without the s_count pin races with umount."
variant = "get-super-no-pin"
expect = "use-after-free"
setup = ["mkdir /mnt", "mount ram0 /mnt"]
[[thread]]
ops = ["get_super ram0 as sb", "statfs sb", "drop_super sb"]
[[thread]]
ops = ["umount /mnt"]
"#;

fn index(reports: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(reports.join("index.json")).unwrap()).unwrap()
}

#[test]
fn planted_bug_is_found_and_replays_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "planted.toml", PLANTED);
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        &sc,
        "--backend",
        "loom,pct",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    for b in ["loom", "pct"] {
        let json = reports.join(format!("planted--{b}.json"));
        let md = std::fs::read_to_string(reports.join(format!("planted--{b}.md"))).unwrap();
        assert!(md.contains("## Finding: use-after-free"), "{md}");
        let out = run(&["replay", json.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "replay of {b} did not reproduce the finding"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let verdict = stdout
            .strip_prefix(md.as_str())
            .unwrap_or_else(|| panic!("replay of {b} printed a different report:\n{stdout}"));
        assert!(
            verdict.starts_with("replay: reproduced: the same use-after-free"),
            "replay of {b} does not give its own verdict: {verdict}"
        );
    }
}

#[test]
fn fixed_twin_of_the_planted_bug_is_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "planted.toml", PLANTED);
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        &sc,
        "--backend",
        "loom,pct",
        "--variant",
        "fixed",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let idx = index(&reports);
    for row in idx.as_array().unwrap() {
        assert_eq!(row["verdict"], "clean", "{row}");
        assert!(row["executions"].as_u64().unwrap() > 1, "{row}");
        // A clean exploration says how far it went: loom exhausted its bounded space, PCT ran
        // its whole budget.
        let stop = if row["strategy"] == "loom" {
            "exhausted"
        } else {
            "bound"
        };
        assert_eq!(row["stop"], stop, "{row}");
    }
    assert!(!reports.join("planted--loom.json").exists());
}

#[test]
fn same_seed_and_bounds_give_the_same_json_report() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "planted.toml", PLANTED);
    let mut texts = Vec::new();
    for i in 0..2 {
        let reports = tmp.path().join(format!("r{i}"));
        let out = run(&[
            "run",
            &sc,
            "--backend",
            "pct",
            "--seed",
            "7",
            "--reports",
            reports.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0));
        let mut v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(reports.join("planted--pct.json")).unwrap(),
        )
        .unwrap();
        v.as_object_mut().unwrap().remove("timing");
        // The replay command names the reports directory, which differs between the two runs.
        v["replay"].as_object_mut().unwrap().remove("command");
        texts.push(serde_json::to_string_pretty(&v).unwrap());
    }
    assert_eq!(texts[0], texts[1]);
}

/// Two threads that share nothing. shuttle's DFS schedules at every spawn (the spawner switches),
/// at every join, and when a thread finishes. With M = main, which runs `spawn T1; spawn T2;
/// join T1; join T2`, and each of T1, T2 one indivisible step (their `drop_cap` touches no
/// shared primitive), a schedule is an order of the six events s1 < s2 < j1 < j2 (main's
/// program order), s1 < a < j1 (T1 starts after its spawn, is joined after it ran) and
/// s2 < b < j2. After s1: either `a` runs before s2, and then j1 and b come in either order
/// before j2 (2 orders), or s2 comes first and a, b, j1 are ordered with a < j1 before j2
/// (3 orders): 2 + 3 = 5 executions.
#[test]
fn dfs_explores_exactly_the_executions_counted_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(
        tmp.path(),
        "tiny.toml",
        "name = \"tiny\"\ndescription = \"Two threads that share nothing.\"\nend = \"as-is\"\n[[thread]]\nops = [\"drop_cap\"]\n[[thread]]\nops = [\"drop_cap\"]\n",
    );
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        &sc,
        "--backend",
        "dfs",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let idx = index(&reports);
    assert_eq!(idx[0]["executions"], 5, "{idx}");
    assert_eq!(idx[0]["verdict"], "clean", "{idx}");
    assert_eq!(idx[0]["stop"], "exhausted", "{idx}");
}

fn assert_bad_input(args: &[&str], reports: &Path, expect_pos: &str, expect_msg: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(expect_pos),
        "stderr lacks the position {expect_pos}: {err}"
    );
    assert!(
        err.contains(expect_msg),
        "stderr lacks `{expect_msg}`: {err}"
    );
    assert!(
        !reports.exists(),
        "a report directory was written on bad input"
    );
}

#[test]
fn bad_input_exits_2_with_position_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let reports = d.join("reports");
    let r = reports.to_str().unwrap();
    let f = write(
        d,
        "malformed.toml",
        "description = \"d\"\n[[thread]\nops = [\"sync\"]\n",
    );
    assert_bad_input(
        &["run", &f, "--reports", r],
        &reports,
        &format!("{f}:2:"),
        "error",
    );
    let f = write(
        d,
        "unknown.toml",
        "description = \"d\"\n[[thread]]\nops = [\"sync\", \"frob /mnt\"]\n",
    );
    assert_bad_input(
        &["run", &f, "--reports", r],
        &reports,
        &format!("{f}:3:17"),
        "unknown operation `frob`",
    );
    let f = write(
        d,
        "handle.toml",
        "description = \"d\"\n[[thread]]\nops = [\"statfs sb\"]\n",
    );
    assert_bad_input(
        &["run", &f, "--reports", r],
        &reports,
        &format!("{f}:3:16"),
        "handle `sb`",
    );
    let five = format!(
        "description = \"d\"\n{}",
        "[[thread]]\nops = [\"sync\"]\n".repeat(5)
    );
    let f = write(d, "five.toml", &five);
    assert_bad_input(
        &["run", &f, "--backend", "loom", "--reports", r],
        &reports,
        &format!("{f}:10:1"),
        "at most 4 threads",
    );
    let f = write(
        d,
        "ok.toml",
        "description = \"d\"\n[[thread]]\nops = [\"sync\"]\n",
    );
    assert_bad_input(
        &["run", &f, "--jobs", "0", "--reports", r],
        &reports,
        "--jobs",
        "0 is not in 1..=64",
    );
    assert_bad_input(
        &["run", &f, "--time-limit=0", "--reports", r],
        &reports,
        "--time-limit",
        "not a number of seconds in (0, 86400]",
    );
    assert_bad_input(
        &["run", "no-such-scenario", "--reports", r],
        &reports,
        "no-such-scenario",
        "no such scenario",
    );
    assert_bad_input(
        &["run", &f, "--lock-design", "seqlock", "--reports", r],
        &reports,
        "'seqlock' for '--lock-design",
        "possible values: global, rwlock, read-mostly",
    );
    assert_bad_input(
        &["catalog", "--lock-design", "seqlock", "--reports", r],
        &reports,
        "'seqlock' for '--lock-design",
        "possible values: global, rwlock, read-mostly",
    );
    let f = write(
        d,
        "errno.toml",
        "description = \"d\"\nsetup = [\"mkdir /mnt = 0\"]\n[[thread]]\nops = [\"umount /mnt = EBUZY\"]\n",
    );
    assert_bad_input(
        &["run", &f, "--reports", r],
        &reports,
        &format!("{f}:4:23"),
        "unknown result `EBUZY`",
    );
    let long = format!("[{}]", ["\"stat /\""; 9].join(", "));
    let f = write(
        d,
        "orders.toml",
        &format!(
            "description = \"d\"\ncheck = \"linearizable\"\n[[thread]]\nops = {long}\n[[thread]]\nops = {long}\n[[thread]]\nops = {long}\n"
        ),
    );
    assert_bad_input(
        &["run", &f, "--reports", r],
        &reports,
        &format!("{f}:2:9"),
        "have 227873431500 sequential orders, more than the linearizability check's bound of 100000",
    );
    let out = run(&["run", &f, "--backend", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_read_mostly_design_is_checked_from_the_command_line() {
    // The planted bug and its fixed twin, with lookup_mnt and get_super lock-free: the mutant is
    // still found, the fixed protocol is clean, and the report says which design ran.
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let r = reports.to_str().unwrap();
    let common = [
        "--backend",
        "loom,pct",
        "--lock-design",
        "read-mostly",
        "--reports",
        r,
    ];
    let mut args = vec![
        "run",
        "get-super-no-pin",
        "walk-across-mountpoint-vs-umount",
    ];
    args.extend(common);
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected verdicts under read-mostly"
    );
    // The finding's report says which design ran.
    let rep: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("get-super-no-pin--loom.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rep["config"]["lock_design"], "read-mostly");
    let md = std::fs::read_to_string(reports.join("get-super-no-pin--loom.md")).unwrap();
    assert!(md.contains(", lock design `read-mostly`"), "{md}");
    let mut args = vec!["run", "get-super-no-pin", "--variant", "fixed"];
    args.extend(common);
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the fixed twin is clean under read-mostly"
    );
}

#[test]
fn every_bundled_scenario_reaches_its_expected_verdict_under_loom_and_pct() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    // A generous time limit: the test checks verdicts, and a loaded CI machine must not turn a
    // full PCT budget into `incomplete`.
    let out = run(&[
        "run",
        "--backend",
        "loom,pct",
        "--time-limit",
        "300",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "some bundled scenario missed its expected verdict"
    );
    let idx = index(&reports);
    let rows = idx.as_array().unwrap();
    assert!(
        rows.len() >= 20,
        "expected at least ten scenarios on two backends"
    );
    // Every exploration, clean ones included, is in the index with why it stopped and the
    // figures behind its verdict.
    for row in rows {
        for key in [
            "verdict",
            "stop",
            "executions",
            "max_executions",
            "time_limit_secs",
            "seed",
            "secs",
        ] {
            assert!(!row[key].is_null(), "{key} missing: {row}");
        }
        if row["strategy"] == "loom" {
            assert!(
                row["preemption_bound"].is_u64() && row["max_branches"].is_u64(),
                "{row}"
            );
            if row["verdict"] == "clean" {
                assert_eq!(row["stop"], "exhausted", "{row}");
            }
        }
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(" clean, 0 incomplete, ") && stdout.contains(" 0 checker errors"),
        "the summary counts clean, incomplete, findings and checker errors: {stdout}"
    );
    let md = std::fs::read_to_string(reports.join("index.md")).unwrap();
    assert!(
        md.contains("| exhausted |") && md.contains("| bound |"),
        "{md}"
    );
}

#[test]
fn list_shows_every_bundled_scenario() {
    let out = run(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let n = std::fs::read_dir(workspace().join("scenarios"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), n);
}

/// A scenario asserts `umount /mnt = EBUSY` where the model returns 0: a `wrong-result` finding,
/// raised at the call, naming what it returned and what was expected.
#[test]
fn an_asserted_result_that_is_not_returned_is_a_wrong_result() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(
        tmp.path(),
        "wrong.toml",
        "name = \"wrong\"\ndescription = \"A umount asserted busy that is not.\"\nexpect = \"wrong-result\"\nsetup = [\"mkdir /mnt = 0\", \"mount ram0 /mnt = 0\"]\n[[thread]]\nops = [\"umount /mnt = EBUSY\"]\n",
    );
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        &sc,
        "--backend",
        "loom,pct",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "wrong-result expected on both");
    for b in ["loom", "pct"] {
        let rep: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(reports.join(format!("wrong--{b}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(rep["verdict"], "wrong-result");
        assert_eq!(rep["finding"]["op"], "umount /mnt");
        assert_eq!(
            rep["finding"]["message"],
            "`umount /mnt` returned 0, expected EBUSY"
        );
        // The trace ends at the call, then its failing step.
        let trace = rep["trace"].as_array().unwrap();
        assert_eq!(trace.last().unwrap()["failing"], true, "{b}: {trace:?}");
        assert_eq!(
            trace[trace.len() - 2]["action"],
            "umount /mnt = 0",
            "{b}: {trace:?}"
        );
    }
    // Without the wrong assertion the same scenario is clean.
    let ok = write(
        tmp.path(),
        "right.toml",
        "name = \"right\"\ndescription = \"d\"\nsetup = [\"mkdir /mnt = 0\", \"mount ram0 /mnt = 0\"]\n[[thread]]\nops = [\"umount /mnt = 0\"]\n",
    );
    let out = run(&["run", &ok, "--reports", reports.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

/// The blocking example of the sequential specification: a get_super holder opens a file while
/// a umount sleeps in kill_super. Clean, with the linearizability check on, on every backend;
/// the report says how large the specification was.
#[test]
fn the_blocking_example_is_linearizable_on_every_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        "get-super-holder-vs-umount",
        "--backend",
        "loom,pct,random,dfs,stress",
        "--allow-incomplete",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let idx = index(&reports);
    assert_eq!(idx.as_array().unwrap().len(), 5);
    for row in idx.as_array().unwrap() {
        // DFS has no reduction: within its execution cap it may not exhaust the space.
        let allowed = if row["strategy"] == "dfs" {
            &["clean", "incomplete"][..]
        } else {
            &["clean"][..]
        };
        assert!(allowed.contains(&row["verdict"].as_str().unwrap()), "{row}");
    }
    for d in ["rwlock", "read-mostly"] {
        let out = run(&[
            "run",
            "get-super-holder-vs-umount",
            "--backend",
            "loom,pct",
            "--lock-design",
            d,
            "--reports",
            reports.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{d}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("sequential specifications of 1 of 1 scenarios"),
        "{stdout}"
    );
}

/// A mutant only the linearizability oracle sees: its report puts the observed results and mount
/// tables beside the nearest sequential outcome, with an order that produces it.
#[test]
fn a_not_linearizable_report_shows_the_nearest_sequential_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        "graft-lost-enoent",
        "--backend",
        "loom",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let md = std::fs::read_to_string(reports.join("graft-lost-enoent--loom.md")).unwrap();
    assert!(md.contains("## Finding: not-linearizable"), "{md}");
    assert!(md.contains("### Results and mount tables"), "{md}");
    assert!(md.contains("| mount table of T0's namespace |"), "{md}");
    assert!(md.contains("is the outcome of the order: T"), "{md}");
    let rep: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("graft-lost-enoent--loom.json")).unwrap(),
    )
    .unwrap();
    assert!(rep["linearizability"]["orders"].as_u64().unwrap() > 0);
    assert!(!rep["finding"]["comparison"]["nearest"]
        .as_array()
        .unwrap()
        .is_empty());
    // The same scenario on the fixed protocol is clean.
    let out = run(&[
        "run",
        "graft-lost-enoent",
        "--backend",
        "loom,pct",
        "--variant",
        "fixed",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

/// A `lock-order` report replays byte for byte, and carries the lock-order graph its failing
/// execution started from (`replay.prior_order`), which the replay seeds its graph with.
#[test]
fn a_lock_order_finding_replays_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        "scenarios/pivot-root-lock-order.toml",
        "--backend",
        "loom,pct",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    for b in ["loom", "pct"] {
        let json = reports.join(format!("pivot-root-lock-order--{b}.json"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let prior = &report["replay"]["prior_order"];
        assert_eq!(
            prior["execution"], report["finding"]["execution"],
            "the graph is the one its failing execution started from: {prior}"
        );
        let md = std::fs::read_to_string(reports.join(format!("pivot-root-lock-order--{b}.md")))
            .unwrap();
        let out = run(&["replay", json.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "replay of {b} did not reproduce"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let verdict = stdout
            .strip_prefix(md.as_str())
            .unwrap_or_else(|| panic!("replay of {b} printed a different report:\n{stdout}"));
        assert!(
            verdict.starts_with("replay: reproduced: the same lock-order"),
            "{verdict}"
        );
    }
}
