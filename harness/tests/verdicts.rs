//! Verdicts a user can trust, tested from the command line: every bound a checker cannot honour
//! is refused up front (exit 2, nothing written), every exploration says why it stopped, a search
//! stopped early is `incomplete` and a failed checker is `checker-error` (never `clean`), input is
//! checked before any work, replay re-checks what it is given and says whether it reproduced, and
//! the binary runs from anywhere.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mountcheck"));
    c.current_dir(workspace());
    c
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

fn index(reports: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("index.json")).unwrap())
            .unwrap();
    v.as_array().unwrap().clone()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2, the flag and the allowed range named, no panic, nothing written.
fn refused(args: &[&str], reports: &Path, flag: &str, range: &str) {
    let out = run(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(flag),
        "{args:?}: the message does not name {flag}: {err}"
    );
    assert!(
        err.contains(range),
        "{args:?}: the message does not give {range}: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(!reports.exists(), "{args:?}: something was written");
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

/// A planted bug that needs no race: fsmount's one reference is put twice on every schedule.
const SEQUENTIAL_PLANTED: &str = r#"name = "planted"
description = "fsmount without its second mntget: closing the file puts the mount twice."
variant = "fsmount-missing-mntget"
expect = "underflow"
[[thread]]
ops = ["fsmount ram0 as f", "close f"]
"#;

/// Four threads racing mounts, walks and umounts: loom cannot explore them whole in a blink.
const FOUR: &str = r#"name = "four"
description = "Four threads racing a mount, a walk, a lazy umount and a bind."
setup = ["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/a", "mkdir /b"]
[[thread]]
ops = ["mount ram1 /mnt/a", "umount /mnt/a"]
[[thread]]
ops = ["stat /mnt/a", "open /mnt/a/f as f", "close f"]
[[thread]]
ops = ["umount -l /mnt"]
[[thread]]
ops = ["ustat ram0", "mount --bind /mnt /b"]
"#;

#[test]
fn bounds_a_checker_cannot_honour_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let r = reports.to_str().unwrap();
    let s = "get-super-vs-umount";
    // loom keeps the preemption bound in a u8: 256 made it panic before the first execution.
    refused(
        &["run", s, "--preemption-bound", "256", "--reports", r],
        &reports,
        "--preemption-bound",
        "0..=255",
    );
    // 1e308 seconds made Duration::from_secs_f64 panic (exit 101).
    for t in ["1e308", "inf", "NaN", "-1", "0", "86401"] {
        let arg = format!("--time-limit={t}");
        refused(
            &["run", s, &arg, "--reports", r],
            &reports,
            "--time-limit",
            "(0, 86400]",
        );
    }
    for (flag, v, range) in [
        ("--max-branches", "0", "1..=1000000"),
        ("--max-branches", "1000001", "1..=1000000"),
        ("--iterations", "0", "1..=1000000000"),
        ("--iterations", "18446744073709551615", "1..=1000000000"),
        ("--jobs", "0", "1..=64"),
        ("--jobs", "65", "1..=64"),
        ("--depth", "0", "1..=1000"),
    ] {
        refused(&["run", s, flag, v, "--reports", r], &reports, flag, range);
    }
    refused(
        &["catalog", "--preemption-bound", "300", "--reports", r],
        &reports,
        "--preemption-bound",
        "0..=255",
    );
    refused(
        &["catalog", "--mutants", "no-such-bug", "--reports", r],
        &reports,
        "--mutants",
        "unknown mutant `no-such-bug`",
    );
}

#[test]
fn five_threads_are_refused_on_every_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let five = format!(
        "description = \"d\"\n{}",
        "[[thread]]\nops = [\"sync\"]\n".repeat(5)
    );
    let f = write(tmp.path(), "five.toml", &five);
    for b in ["pct", "random", "dfs", "stress", "loom"] {
        let out = run(&[
            "run",
            &f,
            "--backend",
            b,
            "--reports",
            reports.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{b}: {err}");
        assert!(err.contains(&format!("{f}:10:1")), "{b}: {err}");
        assert!(err.contains("at most 4 threads"), "{b}: {err}");
        assert!(!reports.exists());
    }
}

#[test]
fn an_unwritable_reports_directory_is_refused_before_exploring() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory under a regular file cannot be created, even by root.
    let file = write(tmp.path(), "a-file", "");
    let reports = format!("{file}/reports");
    let out = run(&[
        "run",
        "get-super-vs-umount",
        "--backend",
        "loom,pct",
        "--reports",
        &reports,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&reports) && err.contains("not writable"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "it explored before finding out: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn two_scenarios_with_one_name_are_refused_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let text = "description = \"d\"\nname = \"same\"\n[[thread]]\nops = [\"sync\"]\n";
    let a = write(tmp.path(), "a.toml", text);
    let b = write(tmp.path(), "b.toml", &format!("# another file\n{text}"));
    let out = run(&["run", &a, &b, "--reports", reports.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{b}:3:8")), "{err}");
    assert!(err.contains(&format!("{a}:2:8")), "{err}");
    assert!(err.contains("`same`"), "{err}");
    assert!(!reports.exists());
}

#[test]
fn a_truncated_operation_list_has_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "cut.toml",
        "description = \"d\"\n[[thread]]\nops = ",
    );
    let out = run(&[
        "run",
        &f,
        "--reports",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err.lines().find(|l| l.contains(&f)).unwrap_or("");
    let msg = line.split("error:").nth(1).unwrap_or("").trim();
    assert!(!msg.is_empty(), "an empty message: {err}");
    assert!(line.starts_with(&format!("{f}:3:")), "{err}");
}

#[test]
fn list_into_a_closed_pipe_exits_quietly() {
    // `mountcheck list | head -0`: the reader is gone before the first line is written.
    let mut child = bin()
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // And through a shell pipe, as a user types it.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' list | head -1; exit 0",
            env!("CARGO_BIN_EXE_mountcheck")
        ))
        .current_dir(workspace())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_loom_exploration_stopped_by_its_time_limit_is_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "four.toml", FOUR);
    let reports = tmp.path().join("reports");
    let r = reports.to_str().unwrap();
    let out = run(&[
        "run",
        &f,
        "--backend",
        "loom",
        "--time-limit",
        "0.3",
        "--reports",
        r,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an incomplete search is not the expected clean"
    );
    let row = &index(&reports)[0];
    assert_eq!(row["verdict"], "incomplete", "{row}");
    assert_eq!(row["stop"], "time-limit", "{row}");
    assert_eq!(row["time_limit_secs"], 0.3, "{row}");
    assert!(row["executions"].as_u64().unwrap() >= 1, "{row}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 clean, 1 incomplete"), "{stdout}");
    let md = std::fs::read_to_string(reports.join("index.md")).unwrap();
    assert!(md.contains("| incomplete | time-limit |"), "{md}");
    // Accepted when the user says so, and still called incomplete.
    let out = run(&[
        "run",
        &f,
        "--backend",
        "loom",
        "--time-limit",
        "0.3",
        "--allow-incomplete",
        "--reports",
        r,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(index(&reports)[0]["verdict"], "incomplete");
}

#[test]
fn dfs_is_clean_only_when_it_exhausts() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let r = reports.to_str().unwrap();
    let out = run(&[
        "run",
        "get-super-vs-umount",
        "--backend",
        "dfs,pct",
        "--iterations",
        "50",
        "--reports",
        r,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let rows = index(&reports);
    assert_eq!(rows[0]["verdict"], "incomplete", "{:?}", rows[0]);
    assert_eq!(rows[0]["stop"], "iteration-cap", "{:?}", rows[0]);
    assert_eq!(rows[0]["executions"], 50);
    // The same budget is PCT's normal end.
    assert_eq!(rows[1]["verdict"], "clean", "{:?}", rows[1]);
    assert_eq!(rows[1]["stop"], "bound", "{:?}", rows[1]);
    assert_eq!(rows[1]["executions"], 50);
}

#[test]
fn a_checker_error_is_a_verdict_of_its_own_never_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    // A branch bound loom accepts but the scenario needs more of: loom gives up inside the first
    // execution (the old engine called this "crash", or "clean" when it came before any).
    let out = run(&[
        "run",
        "get-super-vs-umount",
        "--backend",
        "loom",
        "--max-branches",
        "20",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let row = &index(&reports)[0];
    assert_eq!(row["verdict"], "checker-error", "{row}");
    assert_eq!(row["stop"], "checker-error", "{row}");
    let msg = row["checker_error"].as_str().unwrap();
    assert!(
        msg.contains("--max-branches 20"),
        "the bound is not named: {msg}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 checker errors"), "{stdout}");
    let md = std::fs::read_to_string(reports.join("get-super-vs-umount--loom.md")).unwrap();
    assert!(md.contains("## Checker error"), "{md}");
    assert!(
        md.contains("- **Verdict**: **checker-error** (NOT as expected), expected clean"),
        "{md}"
    );
}

#[test]
fn a_finding_without_a_replay_says_so_instead_of_a_command() {
    let tmp = tempfile::tempdir().unwrap();
    // One thread: the bug shows on every execution, so real threads find it on the first one
    // whatever the machine's load (a race left to the OS scheduler is missed on a busy CI host).
    let sc = write(tmp.path(), "planted.toml", SEQUENTIAL_PLANTED);
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        &sc,
        "--backend",
        "stress",
        "--iterations",
        "20000",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "real threads did not find the bug: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rows = index(&reports);
    assert_eq!(rows[0]["verdict"], "underflow", "{:?}", rows[0]);
    assert_eq!(rows[0]["executions"], 1, "{:?}", rows[0]);
    let md = std::fs::read_to_string(reports.join("planted--stress.md")).unwrap();
    assert!(md.contains("This execution cannot be replayed"), "{md}");
    assert!(!md.contains("mountcheck replay"), "{md}");
    let json = reports.join("planted--stress.json");
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(rep["replay"]["command"].is_null(), "{rep}");
    let out = run(&["replay", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot be replayed"));
}

/// Run the planted bug under `backend` and return its report's JSON path.
fn planted_report(dir: &Path, backend: &str) -> PathBuf {
    let sc = write(dir, "planted.toml", PLANTED);
    let reports = dir.join(format!("reports-{backend}"));
    let out = run(&[
        "run",
        &sc,
        "--backend",
        backend,
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    reports.join(format!("planted--{backend}.json"))
}

fn edit(json: &Path, to: &Path, f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(to, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    to.display().to_string()
}

#[test]
fn a_replay_that_does_not_reproduce_says_so_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    for b in ["loom", "pct"] {
        let json = planted_report(tmp.path(), b);
        // The same schedule on the fixed protocol: nothing to find.
        let f = edit(&json, &tmp.path().join(format!("fixed-{b}.json")), |v| {
            v["config"]["variant"] = "fixed".into();
        });
        let out = run(&["replay", &f]);
        assert_eq!(out.status.code(), Some(1), "{b}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("did NOT reproduce"), "{b}: {stdout}");
        assert!(!stdout.contains("as expected"), "{b}: {stdout}");
        // loom runs the checkpointed path on the fixed protocol and finds nothing; shuttle's
        // schedule no longer fits the program (a checker error): either way not the report's.
        assert!(
            stdout.contains("(the replay; the report says **use-after-free**), expected"),
            "{b}: {stdout}"
        );
    }
}

#[test]
fn replay_checks_the_report_like_run_checks_a_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let loom = planted_report(d, "loom");
    let pct = planted_report(d, "pct");
    let bad = |name: &str, json: &Path, f: &dyn Fn(&mut serde_json::Value), want: &str| {
        let path = edit(json, &d.join(name), |v| f(v));
        let out = run(&["replay", &path]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&path), "{name}: no file named: {err}");
        assert!(err.contains(want), "{name}: `{want}` missing: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    };
    // A report of another schema version.
    bad(
        "v1.json",
        &loom,
        &|v| v["schema"] = "mountcheck-report/1".into(),
        "this mountcheck reads `mountcheck-report/2`",
    );
    // Six threads: loom aborted inside (loom::MAX_THREADS).
    bad(
        "six.json",
        &loom,
        &|v| {
            let t = v["program"]["threads"][0].clone();
            v["program"]["threads"] = serde_json::Value::Array(vec![t; 6]);
        },
        "at most 4 threads",
    );
    // A path the scenario syntax refuses (an option where a path goes).
    bad(
        "option.json",
        &pct,
        &|v| {
            v["program"]["threads"][1][0] = serde_json::json!({"op": "stat", "path": "-l"});
        },
        "program.threads[1][0]",
    );
    // A handle used before it is bound.
    bad(
        "unbound.json",
        &pct,
        &|v| {
            v["program"]["threads"][0][0] = serde_json::json!({"op": "sync"});
        },
        "handle `sb`",
    );
    // An empty loom checkpoint: nothing to replay.
    bad(
        "empty.json",
        &loom,
        &|v| v["replay"]["token"]["checkpoint"] = "".into(),
        "cannot be replayed",
    );
    // A checkpoint that is JSON, but not loom's.
    bad(
        "shape.json",
        &loom,
        &|v| v["replay"]["token"]["checkpoint"] = "{\"pos\": 1}".into(),
        "loom checkpoint",
    );
    // A shuttle schedule that does not decode.
    bad(
        "schedule.json",
        &pct,
        &|v| v["replay"]["token"]["schedule"] = "not a schedule".into(),
        "schedule does not decode",
    );
    // A branch bound loom would choke on.
    bad(
        "branches.json",
        &loom,
        &|v| v["exploration"]["max_branches"] = 0.into(),
        "max branches 0",
    );
    // Malformed JSON: line and column.
    let cut = d.join("cut.json");
    let text = std::fs::read_to_string(&loom).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let out = run(&["replay", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let pos = format!("{}:", cut.display());
    let rest = err.split(&pos).nth(1).unwrap_or("");
    let nums: Vec<&str> = rest.splitn(3, ':').take(2).collect();
    assert!(
        nums.len() == 2 && nums.iter().all(|n| n.parse::<usize>().is_ok()),
        "no line:column: {err}"
    );
}

#[test]
fn a_copied_binary_runs_from_another_directory() {
    // The workers are this binary: a copy elsewhere needs no source tree and no cargo.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("bin").join("mountcheck");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_mountcheck"), &copy).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // Every worker build: loom, shuttle (PCT) and std (stress).
    for (scenario, backends) in [
        ("get-super-no-pin", "loom,pct"),
        ("get-super-vs-umount", "loom,pct,stress"),
    ] {
        let out = Command::new(&copy)
            .current_dir(&elsewhere)
            .args(["run", scenario, "--scenarios-dir"])
            .arg(workspace().join("scenarios"))
            .args(["--backend", backends, "--reports", "out"])
            .output()
            .unwrap();
        eprintln!("{}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{scenario}");
        let rows = index(&elsewhere.join("out"));
        assert_eq!(rows.len(), backends.split(',').count());
        assert!(rows.iter().all(|r| r["ok"] == true), "{rows:?}");
    }
}
