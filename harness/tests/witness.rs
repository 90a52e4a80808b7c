//! Fewest preemptions (issue 14, item 2): every loom witness of a bundled mutant has the fewest
//! preemptions loom can find — its own search at one bound less finds no finding of that class
//! and exhausts its space — and every PCT witness is shrunk (never more preemptions than the
//! schedule PCT found) and still replays.

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

/// The bundled scenarios whose variant is a mutant (the catalog's scenarios).
fn mutant_scenarios() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(workspace().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.lines().any(|l| {
                let l = l.trim();
                l.starts_with("variant") && !l.contains("\"fixed\"")
            })
        })
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_loom_witness_of_the_mutants_has_the_fewest_preemptions() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let names = mutant_scenarios();
    assert!(names.len() >= 15, "the catalog's scenarios: {names:?}");
    let mut args = vec!["run"];
    args.extend(names.iter().map(String::as_str));
    args.extend(["--backend", "loom", "--reports", reports.to_str().unwrap()]);
    assert_eq!(run(&args).status.code(), Some(0), "every mutant caught");
    let mut lower = Vec::new();
    for n in &names {
        let rep = json(&reports.join(format!("{n}--loom.json")));
        let w = &rep["witness"];
        let k = w["preemptions"]
            .as_u64()
            .unwrap_or_else(|| panic!("{n}: no witness: {rep}"));
        assert!(
            k <= 2,
            "{n}: loom's default bound is 2, the witness has {k}"
        );
        // Each smaller bound was searched to exhaustion without the class.
        let searches = w["searches"].as_array().unwrap();
        assert_eq!(searches.len() as u64, k, "{n}: {w}");
        for s in searches {
            assert_eq!(s[2], "exhausted", "{n}: {w}");
        }
        if k > 0 {
            lower.push((
                n.clone(),
                k - 1,
                rep["verdict"].as_str().unwrap().to_string(),
            ));
        }
    }
    // Independently of the minimization: the search at one bound less, run again, finds no
    // finding of the witness's class.
    for (n, b, class) in lower {
        let r = tmp.path().join(format!("lower-{n}"));
        let b = b.to_string();
        let out = run(&[
            "run",
            &n,
            "--backend",
            "loom",
            "--preemption-bound",
            &b,
            "--reports",
            r.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{n} at bound {b}: not as expected"
        );
        let idx = json(&r.join("index.json"));
        let row = &idx[0];
        assert_ne!(row["verdict"], class.as_str(), "{n} at bound {b}: {row}");
        assert_eq!(row["stop"], "exhausted", "{n} at bound {b}: {row}");
    }
}

#[test]
fn pct_witnesses_are_shrunk_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let names = [
        "no-follow-down-in-mount",
        "graft-deleted-mountpoint",
        "get-super-no-pin",
    ];
    let mut args = vec!["run"];
    args.extend(names);
    args.extend(["--backend", "pct", "--reports", reports.to_str().unwrap()]);
    assert_eq!(run(&args).status.code(), Some(0));
    for n in names {
        let path = reports.join(format!("{n}--pct.json"));
        let rep = json(&path);
        let w = &rep["witness"];
        let (before, after) = (
            w["before"].as_u64().unwrap(),
            w["preemptions"].as_u64().unwrap(),
        );
        assert!(after <= before, "{n}: {w}");
        assert!(
            after <= 2,
            "{n}: a race of this scenario needs at most 2: {w}"
        );
        let out = run(&["replay", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{n}: the shrunk witness replays"
        );
    }
}
