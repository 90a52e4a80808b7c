//! The checker's throughput: each of the bundled scenarios explored by `mountcheck`'s worker (a
//! child process with a JSON request, as `mountcheck run` does) and by the same checkers in
//! process (`checker-throughput`), rounds alternating, the best rate of each kept.
//!
//! Invariant: runner and direct measurements explore the same program with the same strategy
//! and bounds, so their ratio is the cost of the process boundary.

use super::{
    root, Res, DFS_ITERATIONS, LOOM_MAX_BRANCHES, LOOM_PREEMPTION_BOUND, PCT_DEPTH, PCT_ITERATIONS,
    RANDOM_ITERATIONS, REPEATS, SCENARIOS, SEED, STRATEGIES,
};
use mountcheck_benches::build;
use mountcheck_engine::{Request, Response, Strategy};
use mountcheck_model::{parse_call, Call, Config, EndState, Program};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(Deserialize)]
pub(super) struct RawScenario {
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) setup: Vec<String>,
    #[serde(default)]
    pub(super) thread: Vec<RawThread>,
    pub(super) end: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawThread {
    pub(super) ops: Vec<String>,
}

pub(super) fn ops(list: &[String]) -> Res<Vec<Call>> {
    list.iter()
        .map(|s| parse_call(s).map_err(|e| format!("`{s}`: {e}")))
        .collect()
}

pub(super) fn fallback(name: &str) -> Program {
    let p = |setup: &[&str], threads: &[&[&str]]| Program {
        setup: setup.iter().map(|s| parse_call(s).expect("op")).collect(),
        threads: threads
            .iter()
            .map(|t| t.iter().map(|s| parse_call(s).expect("op")).collect())
            .collect(),
        end: EndState::ExitAll,
        spec: None,
    };
    match name {
        "get-super-vs-umount" => p(
            &["mkdir /mnt", "mount ram0 /mnt"],
            &[
                &["get_super ram0 as sb", "statfs sb", "drop_super sb"],
                &["umount /mnt"],
            ],
        ),
        "open-vs-lazy-umount" => p(
            &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/a"],
            &[&["open /mnt/a/f as f1", "close f1"], &["umount -l /mnt"]],
        ),
        _ => p(
            &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/b"],
            &[&["clone -n", "exit"], &["mount ram1 /mnt/b"]],
        ),
    }
}

/// The scenario from `scenarios/NAME.toml`, or the same program built in code.
pub(super) fn scenario(name: &str) -> Res<(Program, &'static str)> {
    let path = root().join("scenarios").join(format!("{name}.toml"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok((fallback(name), "built in code"));
    };
    let raw: RawScenario = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = raw.name;
    let end = match raw.end.as_deref() {
        Some("as-is") => EndState::AsIs,
        _ => EndState::ExitAll,
    };
    let program = Program {
        setup: ops(&raw.setup)?,
        threads: raw.thread.iter().map(|t| ops(&t.ops)).collect::<Res<_>>()?,
        end,
        spec: None,
    };
    Ok((program, "scenarios/*.toml"))
}

pub(super) fn strategy(s: &str) -> Strategy {
    match s {
        "loom" => Strategy::Loom {
            preemption_bound: Some(LOOM_PREEMPTION_BOUND),
            max_branches: LOOM_MAX_BRANCHES,
        },
        "pct" => Strategy::Pct { depth: PCT_DEPTH },
        "random" => Strategy::Random,
        _ => Strategy::Dfs,
    }
}

pub(super) fn max_executions(s: &str) -> u64 {
    match s {
        "loom" => 200_000,
        "pct" => PCT_ITERATIONS as u64,
        "random" => RANDOM_ITERATIONS as u64,
        _ => DFS_ITERATIONS as u64,
    }
}

/// Build (or bring up to date) the `mountcheck` binary, whose `__worker` subcommand is what
/// `mountcheck run` runs per exploration.
pub(super) fn build_mountcheck() -> Res<PathBuf> {
    build::build_for_backend(&root(), &build::mountcheck_spec()).map_err(|e| e.to_string())
}

/// Build `checker-throughput` for `backend` (target directory `bench-<backend>`).
pub(super) fn build_direct(backend: &str) -> Res<PathBuf> {
    build::build_for_backend(&root(), &build::throughput_spec(backend)).map_err(|e| e.to_string())
}

/// One runner measurement: (executions, wall seconds spawn to exit, seconds the worker says it
/// explored).
pub(super) fn runner_once(
    worker: &Path,
    backend: &str,
    name: &str,
    p: &Program,
    s: &str,
) -> Res<(u64, f64, f64)> {
    let scratch = root()
        .join("target")
        .join("bench")
        .join("runner")
        .join(format!("{name}-{s}"));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let req = Request {
        scenario: name.to_string(),
        program: p.clone(),
        config: Config::default(),
        strategy: strategy(s),
        max_executions: max_executions(s),
        seed: SEED,
        time_limit_secs: 300.0,
        scratch_dir: Some(scratch.to_string_lossy().into_owned()),
        resume_checkpoint: None,
        prior_order: None,
    };
    let req_path = scratch.join("request.json");
    let resp_path = scratch.join("response.json");
    let _ = std::fs::remove_file(&resp_path);
    std::fs::write(
        &req_path,
        serde_json::to_string(&req).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let out = Command::new(worker)
        .args(["__worker", backend])
        .arg(&req_path)
        .arg(&resp_path)
        .output()
        .map_err(|e| format!("{}: {e}", worker.display()))?;
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "worker {name}/{s} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let resp: Response = serde_json::from_str(
        &std::fs::read_to_string(&resp_path).map_err(|e| format!("{name}/{s}: {e}"))?,
    )
    .map_err(|e| format!("{name}/{s}: {e}"))?;
    if resp.failure.is_some() {
        return Err(format!("{name}/{s}: the worker reported a finding"));
    }
    if let Some(m) = &resp.checker_error {
        return Err(format!("{name}/{s}: the checker failed: {m}"));
    }
    Ok((resp.executions, wall, resp.elapsed_secs))
}

#[derive(Deserialize)]
pub(super) struct DirectLine {
    pub(super) scenario: String,
    pub(super) strategy: String,
    pub(super) executions: Option<u64>,
    pub(super) secs: Option<f64>,
    pub(super) error: Option<String>,
}

/// (scenario, strategy).
pub(super) type Pair = (String, String);

/// Rates (executions/s), the best of the repeats.
pub(super) struct Throughput {
    pub(super) source: &'static str,
    /// (scenario, strategy) → (executions, runner wall rate, worker-internal rate).
    pub(super) runner: BTreeMap<Pair, (u64, f64, f64)>,
    /// (scenario or "toy", strategy) → (executions, rate).
    pub(super) direct: BTreeMap<Pair, (u64, f64)>,
}

pub(super) fn throughput() -> Res<Throughput> {
    let mut programs = Vec::new();
    let mut source = "scenarios/*.toml";
    for n in SCENARIOS {
        let (p, s) = scenario(n)?;
        if s != "scenarios/*.toml" {
            source = s;
        }
        programs.push((n.to_string(), p));
    }
    eprintln!("bench-report: building mountcheck and checker-throughput");
    let mountcheck = build_mountcheck()?;
    let direct_bins = [
        ("loom", build_direct("loom")?),
        ("shuttle", build_direct("shuttle")?),
    ];

    let input = serde_json::json!({
        "scenarios": programs.iter().map(|(n, p)| serde_json::json!({"name": n, "program": p})).collect::<Vec<_>>(),
        "pct_depth": PCT_DEPTH,
        "pct_iterations": PCT_ITERATIONS,
        "random_iterations": RANDOM_ITERATIONS,
        "dfs_iterations": DFS_ITERATIONS,
        "loom_preemption_bound": LOOM_PREEMPTION_BOUND,
        "loom_max_branches": LOOM_MAX_BRANCHES,
        "repeats": 1,
        "seed": SEED,
    });
    let input_path = root()
        .join("target")
        .join("bench")
        .join("direct-input.json");
    std::fs::create_dir_all(input_path.parent().expect("parent")).map_err(|e| e.to_string())?;
    std::fs::write(&input_path, input.to_string()).map_err(|e| e.to_string())?;

    // Runner and direct measurements alternate, one round of each per repeat, so that both sides
    // see the same load on the shared cores; each rate is the best of the repeats (noise on a
    // shared machine only ever slows a run down).
    let mut samples: BTreeMap<Pair, Vec<(u64, f64, f64)>> = BTreeMap::new();
    let mut dsamples: BTreeMap<Pair, Vec<(u64, f64)>> = BTreeMap::new();
    for rep in 1..=REPEATS {
        eprintln!("bench-report: round {rep}/{REPEATS}: runner explorations (child processes)");
        for (name, p) in &programs {
            for s in STRATEGIES {
                let backend = if s == "loom" { "loom" } else { "shuttle" };
                let (n, wall, inner) = runner_once(&mountcheck, backend, name, p, s)?;
                samples
                    .entry((name.clone(), s.to_string()))
                    .or_default()
                    .push((n, n as f64 / wall, n as f64 / inner));
            }
        }
        eprintln!("bench-report: round {rep}/{REPEATS}: direct explorations (in process)");
        for (backend, bin) in &direct_bins {
            let out = Command::new(bin)
                .arg(&input_path)
                .output()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "checker-throughput ({backend}) failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                let Ok(d) = serde_json::from_str::<DirectLine>(l) else {
                    continue;
                };
                if let Some(e) = d.error {
                    return Err(format!("{}/{}: {e}", d.scenario, d.strategy));
                }
                let (Some(n), Some(secs)) = (d.executions, d.secs) else {
                    continue;
                };
                dsamples
                    .entry((d.scenario, d.strategy))
                    .or_default()
                    .push((n, n as f64 / secs));
            }
        }
    }
    let best = |v: Vec<f64>| v.into_iter().fold(0.0f64, f64::max);
    let runner = samples
        .into_iter()
        .map(|(k, v)| {
            let n = v[0].0;
            let wall = best(v.iter().map(|s| s.1).collect());
            let inner = best(v.iter().map(|s| s.2).collect());
            (k, (n, wall, inner))
        })
        .collect();
    let direct = dsamples
        .into_iter()
        .map(|(k, v)| (k, (v[0].0, best(v.iter().map(|s| s.1).collect()))))
        .collect();
    Ok(Throughput {
        source,
        runner,
        direct,
    })
}
