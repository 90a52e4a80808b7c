//! `mountcheck fuzz` end to end: a planted bug (a catalog mutant) is found by generated
//! scenarios, shrunk to a scenario file no larger than the hand-written one, and that file
//! reproduces it with `mountcheck run`; one seed gives byte-identical found files and the same
//! figures; bad input exits 2 before anything runs.

use std::path::Path;
use std::process::{Command, Output};

/// The planted bug: a mutant the generator reaches in a few scenarios.
const PLANTED: &str = "fsmount-missing-mntget";

/// Its finding class.
const CLASS: &str = "underflow";

fn mountcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mountcheck"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("mountcheck runs")
}

fn campaign(reports: &Path) -> (Output, serde_json::Value) {
    let out = mountcheck(&[
        "fuzz",
        "--variant",
        PLANTED,
        "--seed",
        "1",
        "--scenarios",
        "20",
        "--budget",
        "86400",
        "--until-found",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    let json = std::fs::read_to_string(reports.join("fuzz.json")).unwrap_or_else(|e| {
        panic!(
            "no fuzz.json ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, serde_json::from_str(&json).unwrap())
}

fn found_files(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir.join("found"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_planted_bug_is_found_shrunk_and_reproduced_and_one_seed_gives_the_same_findings() {
    let a = tempfile::tempdir().unwrap();
    let (out, sum) = campaign(a.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "found something: {stderr}");
    let found = sum["found"].as_array().unwrap();
    assert!(!found.is_empty(), "{sum:#}");
    let f = &found[0];
    assert_eq!(f["class"], CLASS, "{f:#}");
    // At most as many calls as the hand-written scenario.
    let hand = sum["hand_written_calls"].as_u64().unwrap();
    let after = f["calls_after"].as_u64().unwrap();
    assert!(
        after <= hand,
        "shrunk to {after} calls, the hand-written scenario has {hand}"
    );
    assert!(after <= f["calls_before"].as_u64().unwrap());
    assert_eq!(f["fixed_twin_clean"], true, "{f:#}");
    // The file is an ordinary scenario that `mountcheck run` reproduces with every backend that
    // found it again at run's default bounds.
    let file = f["file"].as_str().unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(&format!("variant = \"{PLANTED}\"")), "{text}");
    assert!(text.contains(&format!("expect = \"{CLASS}\"")), "{text}");
    let by: Vec<&str> = f["reproduced_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert!(by.contains(&"pct"), "{f:#}");
    let r = tempfile::tempdir().unwrap();
    let run = mountcheck(&[
        "run",
        file,
        "--backend",
        &by.join(","),
        "--reports",
        r.path().to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "run did not reproduce: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    // Its report is beside it.
    let stem = Path::new(file)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(a
        .path()
        .join("found")
        .join(format!("{stem}--pct.json"))
        .exists());
    // The summary has the op × op table.
    let md = std::fs::read_to_string(a.path().join("fuzz.md")).unwrap();
    assert!(md.contains("| **fsmount** |"), "{md}");
    assert!(md.contains("found)"), "{md}");

    // The same seed: the same scenarios, findings and files.
    let b = tempfile::tempdir().unwrap();
    let (_, again) = campaign(b.path());
    for k in [
        "scenarios",
        "skipped",
        "explorations",
        "executions",
        "first_find_scenarios",
    ] {
        assert_eq!(sum[k], again[k], "{k} differs");
    }
    let files_a = found_files(a.path());
    assert!(!files_a.is_empty());
    assert_eq!(files_a, found_files(b.path()));
}

#[test]
fn bad_input_exits_2_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    let reports = d.path().to_str().unwrap();
    for args in [
        &["fuzz", "--threads", "5"][..],
        &["fuzz", "--threads", "1"],
        &["fuzz", "--ops", "0"],
        &["fuzz", "--budget", "0"],
        &["fuzz", "--budget", "-3"],
        &["fuzz", "--scenarios", "0"],
        &["fuzz", "--variant", "no-such-mutant"],
        &["fuzz", "--backend", "nope"],
        &[
            "fuzz",
            "--variant",
            "legitimize-no-recheck",
            "--lock-design",
            "global",
        ],
    ] {
        let mut a = args.to_vec();
        a.extend(["--reports", reports]);
        let out = mountcheck(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.trim().is_empty(), "{args:?} says nothing");
    }
    assert!(!d.path().join("fuzz.json").exists());
    // An unwritable reports directory.
    let file = d.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = mountcheck(&["fuzz", "--reports", file.join("sub").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not writable"));
}

#[test]
fn list_coverage_prints_the_bundled_scenarios_table() {
    let out = mountcheck(&["list", "--coverage"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("| **umount** |"), "{text}");
    assert!(
        text.contains("pairs of operations never ran concurrently"),
        "{text}"
    );
}
