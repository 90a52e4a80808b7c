//! Shards and merge, tested like the distributed run they stand for: three `run --shard K/3`
//! processes at once over a few scenarios and backends with two replicas, merged, must give the
//! same verdict set as one unsharded run with the same options (same rows, verdicts, stop
//! reasons, executions, findings); the manifests must show every unit run exactly once; and
//! `merge` must refuse a missing shard, a duplicated shard and a shard of another run, writing
//! nothing. Also: a shard with no units; `--shard env` from a Slurm array's environment;
//! deploy/slurm-array.sbatch run as Slurm runs a task (its shard written, a verdict not as
//! expected left to merge, bad input failing the task); the deployment files' numbers of shards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mountcheck"));
    c.current_dir(workspace());
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
        "JOB_COMPLETION_INDEX",
        "MOUNTCHECK_SHARD_INDEX",
        "MOUNTCHECK_SHARD_COUNT",
    ] {
        c.env_remove(v);
    }
    c
}

fn show(args: &[String], out: &Output) {
    eprintln!(
        "--- mountcheck {}\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(args: &[String]) -> Output {
    let out = bin().args(args).output().expect("run mountcheck");
    show(args, &out);
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The run: a mutant PCT and random catch at some seeds and not others, a clean scenario, and
/// the systematic backends (loom exhausts; DFS stops at its cap, incomplete).
const RUN: &[&str] = &[
    "run",
    "get-super-no-pin",
    "get-super-vs-umount",
    "fsmount-missing-mntget",
    "--backend",
    "loom,pct,random,dfs",
    "--replicas",
    "2",
    "--iterations",
    "150",
    "--jobs",
    "1",
];

fn with(extra: &[&str]) -> Vec<String> {
    let mut a = strings(RUN);
    a.extend(strings(extra));
    a
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// What must agree between a merged and an unsharded run: everything in a row but its time and
/// its report's directory.
fn verdict_set(index: &serde_json::Value) -> Vec<String> {
    index
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let o = r.as_object_mut().unwrap();
            o.remove("secs");
            o.remove("spec_secs");
            let report = o.remove("report").unwrap();
            let name = report.as_str().map(|p| {
                Path::new(p)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            });
            o.insert("report_file".into(), serde_json::json!(name));
            serde_json::to_string(&r).unwrap()
        })
        .collect()
}

/// A report without what differs between two runs of one exploration: its time and the
/// directory in its replay command.
fn comparable_report(path: &Path) -> serde_json::Value {
    let mut r = json(path);
    r.as_object_mut().unwrap().remove("timing");
    if let Some(cmd) = r["replay"]["command"].as_str() {
        let file = Path::new(cmd.trim_start_matches("mountcheck replay "))
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        r["replay"]["command"] = serde_json::json!(file);
    }
    r
}

#[test]
fn three_shards_merged_give_the_verdicts_of_one_run_and_merge_refuses_strangers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    let path = |name: &str| dir(name).to_string_lossy().into_owned();

    // One unsharded run.
    let all = run(&with(&[
        "--reports",
        &path("all"),
        "--junit",
        &path("all.xml"),
    ]));
    assert!(matches!(all.status.code(), Some(0 | 1)), "{all:?}");

    // Three shards as three processes at once.
    let children: Vec<_> = (1..=3)
        .map(|k| {
            let args = with(&[
                "--shard",
                &format!("{k}/3"),
                "--reports",
                &path(&format!("shard{k}")),
            ]);
            let child = bin()
                .args(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start a shard");
            (args, child)
        })
        .collect();
    for (args, child) in children {
        let out = child.wait_with_output().unwrap();
        show(&args, &out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    }

    // Every unit ran exactly once: 3 scenarios x (loom 1, dfs 1, pct 2, random 2).
    let mut ran: BTreeMap<(String, String, u64), u32> = BTreeMap::new();
    let mut positions = Vec::new();
    for k in 1..=3 {
        let m = json(&dir(&format!("shard{k}")).join("shard.json"));
        assert_eq!(m["shard"]["index"], k);
        assert_eq!(m["shard"]["count"], 3);
        assert_eq!(m["units_total"], 18);
        for u in m["units"].as_array().unwrap() {
            let replica = u["replica"].as_u64().unwrap();
            assert_eq!(u["seed"].as_u64().unwrap(), 1 + replica, "{u}");
            let pos = u["position"].as_u64().unwrap();
            assert_eq!(pos % 3, k - 1, "shard {k} ran unit {pos}");
            positions.push(pos);
            *ran.entry((
                u["scenario"].as_str().unwrap().to_string(),
                u["backend"].as_str().unwrap().to_string(),
                replica,
            ))
            .or_default() += 1;
        }
    }
    positions.sort();
    assert_eq!(positions, (0..18).collect::<Vec<u64>>());
    assert_eq!(ran.len(), 18);
    assert!(ran.values().all(|&n| n == 1), "{ran:?}");
    for s in [
        "get-super-no-pin",
        "get-super-vs-umount",
        "fsmount-missing-mntget",
    ] {
        for (b, replicas) in [("loom", 1), ("dfs", 1), ("pct", 2), ("random", 2)] {
            for r in 0..replicas {
                assert!(ran.contains_key(&(s.into(), b.into(), r)), "{s} {b} {r}");
            }
        }
    }

    // Merged, the same verdict set as the unsharded run, and the same exit status.
    let shards: Vec<String> = (1..=3).map(|k| path(&format!("shard{k}"))).collect();
    let mut args = strings(&["merge"]);
    args.extend(shards.iter().rev().cloned());
    args.extend(strings(&[
        "--reports",
        &path("merged"),
        "--junit",
        &path("merged.xml"),
    ]));
    let merged = run(&args);
    assert_eq!(merged.status.code(), all.status.code());
    let a = json(&dir("all").join("index.json"));
    let m = json(&dir("merged").join("index.json"));
    assert_eq!(verdict_set(&m), verdict_set(&a));
    assert_eq!(a.as_array().unwrap().len(), 12);
    let replicated = a
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["replicas"] == 2)
        .count();
    assert_eq!(replicated, 6, "pct and random rows merge two replicas");
    // The findings are the same, byte for byte but for time and directory.
    for r in a.as_array().unwrap() {
        if let Some(p) = r["report"].as_str() {
            let file = Path::new(p).file_name().unwrap();
            assert_eq!(
                comparable_report(&dir("merged").join(file)),
                comparable_report(&workspace().join(p)),
                "{}",
                file.to_string_lossy()
            );
        }
    }
    // The same summary line (but the time).
    let summary = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.contains(" explorations: "))
            .map(|l| l.split("; ").take(2).collect::<Vec<_>>().join("; "))
            .unwrap()
    };
    assert_eq!(summary(&merged), summary(&all));
    // And the same JUnit verdicts.
    let statuses = |f: &str| {
        let xml = std::fs::read_to_string(dir(f)).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| {
                let kind = n
                    .children()
                    .find(|c| {
                        c.has_tag_name("failure")
                            || c.has_tag_name("error")
                            || c.has_tag_name("skipped")
                    })
                    .map_or("pass".to_string(), |c| c.tag_name().name().to_string());
                format!(
                    "{} {} {kind}",
                    n.attribute("classname").unwrap(),
                    n.attribute("name").unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses("merged.xml"), statuses("all.xml"));

    // merge refuses, writing nothing: a missing shard, a duplicated shard, a shard of another run.
    let refused = |dirs: &[String], needles: &[&str]| {
        let out_dir = path("refused");
        let mut args = strings(&["merge"]);
        args.extend(dirs.iter().cloned());
        args.extend(strings(&["--reports", &out_dir]));
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{dirs:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{n:?} not in: {err}");
        }
        assert!(!Path::new(&out_dir).exists(), "merge wrote {out_dir}");
    };
    refused(&shards[..2], &["shard 3/3", "missing"]);
    refused(
        &[
            shards[0].clone(),
            shards[1].clone(),
            shards[1].clone(),
            shards[2].clone(),
        ],
        &["shard 2/3 is given twice"],
    );
    let foreign = run(&with(&[
        "--seed",
        "5",
        "--shard",
        "2/3",
        "--reports",
        &path("foreign"),
    ]));
    assert!(matches!(foreign.status.code(), Some(0 | 1)));
    refused(
        &[shards[0].clone(), path("foreign"), shards[2].clone()],
        &["another run", "seed: 1 vs 5"],
    );
    refused(&[path("all")], &["not a shard's output", "shard.json"]);
}

#[test]
fn a_shard_without_units_writes_an_empty_index_and_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("r");
    let xml = tmp.path().join("j.xml");
    // One unit (loom is not replicated), two shards: shard 2 has nothing to do.
    let out = run(&strings(&[
        "run",
        "get-super-vs-umount",
        "--backend",
        "loom",
        "--replicas",
        "4",
        "--shard",
        "2/2",
        "--reports",
        reports.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&reports.join("index.json")), serde_json::json!([]));
    let m = json(&reports.join("shard.json"));
    assert_eq!(m["units_total"], 1);
    assert_eq!(m["units"], serde_json::json!([]));
    let x = std::fs::read_to_string(&xml).unwrap();
    let doc = roxmltree::Document::parse(&x).unwrap();
    assert_eq!(doc.root_element().attribute("tests"), Some("0"));
}

#[test]
fn shard_env_reads_a_slurm_array_and_names_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("r");
    let args = strings(&[
        "run",
        "get-super-vs-umount",
        "get-super-no-pin",
        "--backend",
        "loom",
        "--shard",
        "env",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    // --array=3-4: task 4 is the second of two shards.
    let out = bin()
        .args(&args)
        .env("SLURM_ARRAY_TASK_ID", "4")
        .env("SLURM_ARRAY_TASK_MIN", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .output()
        .unwrap();
    show(&args, &out);
    assert_eq!(out.status.code(), Some(0));
    let m = json(&reports.join("shard.json"));
    assert_eq!(m["shard"]["index"], 2);
    assert_eq!(m["shard"]["count"], 2);
    assert!(m["shard"]["source"]
        .as_str()
        .unwrap()
        .contains("SLURM_ARRAY_TASK_ID=4"));
    // Canonical order: get-super-no-pin is unit 0 (shard 1), get-super-vs-umount unit 1.
    assert_eq!(m["units"][0]["scenario"], "get-super-vs-umount");
    // Missing or bad variables: exit 2, naming them, nothing written.
    let fresh = tmp.path().join("fresh");
    let mut args2 = args.clone();
    let last = args2.len() - 1;
    args2[last] = fresh.to_string_lossy().into_owned();
    for (vars, needle) in [
        (vec![], "SLURM_ARRAY_TASK_ID"),
        (vec![("SLURM_ARRAY_TASK_ID", "0")], "SLURM_ARRAY_TASK_COUNT"),
        (
            vec![("JOB_COMPLETION_INDEX", "1")],
            "MOUNTCHECK_SHARD_COUNT",
        ),
        (
            vec![
                ("MOUNTCHECK_SHARD_INDEX", "3"),
                ("MOUNTCHECK_SHARD_COUNT", "2"),
            ],
            "past the number of shards",
        ),
    ] {
        let mut c = bin();
        c.args(&args2);
        for (k, v) in &vars {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        show(&args2, &out);
        assert_eq!(out.status.code(), Some(2), "{vars:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{vars:?}: {err}");
        assert!(!fresh.exists(), "{vars:?}: wrote {}", fresh.display());
    }
}

#[test]
fn the_slurm_array_script_runs_its_shard_and_leaves_the_judging_to_merge() {
    // deploy/slurm-array.sbatch as Slurm runs it for array task 0 of --array=0-1, without Slurm.
    let tmp = tempfile::tempdir().unwrap();
    let script = workspace().join("deploy/slurm-array.sbatch");
    let run_task = |scenario: &str| {
        let mut c = Command::new("bash");
        c.current_dir(workspace())
            .arg(&script)
            .args([scenario, "--backend", "loom,pct", "--iterations", "50"])
            .env("MOUNTCHECK", env!("CARGO_BIN_EXE_mountcheck"))
            .env("MOUNTCHECK_SHARDS_DIR", tmp.path().join(scenario))
            .env("SLURM_ARRAY_TASK_ID", "0")
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("SLURM_ARRAY_TASK_MIN", "0")
            .env("SLURM_CPUS_PER_TASK", "1");
        for v in [
            "JOB_COMPLETION_INDEX",
            "MOUNTCHECK_SHARD_INDEX",
            "MOUNTCHECK_SHARD_COUNT",
        ] {
            c.env_remove(v);
        }
        let out = c.output().unwrap();
        show(&[script.display().to_string(), scenario.into()], &out);
        out
    };
    // Shard 1 of 2 is the loom unit (loom sorts before pct), which stops at its cap of 50 on
    // get-super-vs-umount: incomplete, not as expected (mountcheck exits 1), but the task ran
    // its shard whole: the script succeeds.
    let out = run_task("get-super-vs-umount");
    assert_eq!(out.status.code(), Some(0));
    let m = json(&tmp.path().join("get-super-vs-umount/0/shard.json"));
    assert_eq!(m["shard"]["index"], 1);
    assert_eq!(m["shard"]["count"], 2);
    let units = m["units"].as_array().unwrap();
    assert_eq!(units.len(), 1);
    assert_eq!(units[0]["backend"], "loom");
    assert_eq!(units[0]["row"]["verdict"], "incomplete");
    assert_eq!(units[0]["row"]["ok"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("merge reports them"));
    // Bad input (exit 2) fails the task.
    let out = run_task("no-such-scenario");
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn the_deployment_files_agree_on_their_number_of_shards() {
    let read = |p: &str| std::fs::read_to_string(workspace().join(p)).unwrap();
    let value = |text: &str, key: &str| -> String {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"))
            .split('#')
            .next()
            .unwrap()
            .trim()
            .trim_matches('"')
            .to_string()
    };
    let k8s = read("deploy/k8s-indexed-job.yaml");
    let n = value(&k8s, "completions:");
    assert_eq!(value(&k8s, "parallelism:"), n);
    let count = k8s
        .lines()
        .skip_while(|l| !l.contains("name: MOUNTCHECK_SHARD_COUNT"))
        .nth(1)
        .unwrap();
    assert_eq!(
        value(count, "value:"),
        n,
        "MOUNTCHECK_SHARD_COUNT vs completions"
    );
    assert!(k8s.contains("completionMode: Indexed"));
    assert!(k8s.contains("mountcheck run --shard env"));
    let gha = read(".github/workflows/mountcheck-shards.yml");
    let matrix = value(&gha, "shard: [");
    let shards: Vec<&str> = matrix
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(str::trim)
        .collect();
    let want: Vec<String> = (1..=shards.len()).map(|k| k.to_string()).collect();
    assert_eq!(shards, want, "the matrix numbers the shards 1..N");
    assert_eq!(
        value(&gha, "MOUNTCHECK_SHARD_COUNT:"),
        shards.len().to_string()
    );
    assert!(gha.contains("mountcheck run --shard env"));
    assert!(gha.contains("mountcheck merge"));
    let sbatch = read("deploy/slurm-array.sbatch");
    assert!(sbatch.contains("run --shard env"));
}
