//! `mountcheck run`: explore scenarios on the chosen backends, in child processes, in parallel,
//! and write the race reports and the index.
//!
//! Before exploring, each scenario whose `check` is `linearizable` gets its sequential
//! specification (`crate::specs::attach_specs`): the outcomes of every order of its threads'
//! operations, computed once per (program, lock design) in this process and reused by every
//! backend, the fixed twins of the catalog and `--variant` runs.
//!
//! Invariant: all input is validated (scenarios parsed, bounds checked, loom's thread limit, the
//! number of sequential orders) before any worker starts or any file is written, so bad input
//! never leaves a half-written report; every exploration ends in a row of the summary.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mountcheck_engine::{ReplayToken, Request, Response, Strategy};
use mountcheck_model::{Config, LockDesign, Variant};

use crate::report::{
    self, Exploration, FindingInfo, Replay, Report, Row, ScenarioInfo, Timing, Tool,
};
use crate::scenario::{self, Check, Expect, Scenario, ScenarioError, LOOM_MAX_THREADS};
use crate::worker;

/// A backend as the CLI names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum Backend {
    /// loom: exhaustive within the preemption bound.
    Loom,
    /// shuttle PCT (probabilistic concurrency testing) with `--depth`.
    Pct,
    /// shuttle random scheduler.
    Random,
    /// shuttle DFS: every scheduling point, bounded by `--iterations`.
    Dfs,
    /// real threads.
    Stress,
}

impl Backend {
    /// Name in tables and report file names.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Loom => "loom",
            Backend::Pct => "pct",
            Backend::Random => "random",
            Backend::Dfs => "dfs",
            Backend::Stress => "stress",
        }
    }

    /// The worker build it needs.
    pub fn build(self) -> &'static str {
        match self {
            Backend::Loom => "loom",
            Backend::Pct | Backend::Random | Backend::Dfs => "shuttle",
            Backend::Stress => "std",
        }
    }

    /// Default bound on executions.
    pub fn default_iterations(self) -> u64 {
        match self {
            Backend::Loom => 200_000,
            Backend::Pct | Backend::Random => 2_000,
            Backend::Dfs => 20_000,
            Backend::Stress => 2_000,
        }
    }
}

/// Options of `mountcheck run` (and the exploration part of `catalog`).
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Scenario names (from --scenarios-dir) or files; none = every bundled scenario.
    pub scenarios: Vec<String>,
    /// Backends to explore with, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Backend::Loom, Backend::Pct])]
    pub backend: Vec<Backend>,
    /// loom: preemption bound (default 2; loom's space grows fast past 3).
    #[arg(long, default_value_t = 2)]
    pub preemption_bound: usize,
    /// loom: branch bound per execution (loom's default is 1000).
    #[arg(long, default_value_t = 20_000)]
    pub max_branches: usize,
    /// PCT: bug depth.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Bound on executions per exploration [default: loom 200000, pct/random 2000, dfs 20000, stress 2000].
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Seed of the random and PCT schedulers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time bound of one exploration, in seconds.
    #[arg(long, default_value_t = 20.0)]
    pub time_limit: f64,
    /// Explorations run at once (child processes).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Run every scenario with this variant instead of its own (`fixed` expects clean, a mutant
    /// expects its finding class).
    #[arg(long)]
    pub variant: Option<String>,
    /// Lock design of the model's mount hash and super_blocks list: `global` (2.4's one lock),
    /// `rwlock`, or `read-mostly` (lock-free `lookup_mnt` and `get_super` over RCU tables)
    /// [default: the scenario's `lock_design`, else global].
    #[arg(long)]
    pub lock_design: Option<String>,
    /// Where the scenarios live.
    #[arg(long, default_value = "scenarios")]
    pub scenarios_dir: PathBuf,
    /// Where reports are written.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
}

/// Bad input: printed as is, exit status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

impl From<ScenarioError> for BadInput {
    fn from(e: ScenarioError) -> Self {
        BadInput(e.to_string())
    }
}

/// Check the bounds.
pub fn check_bounds(a: &RunArgs) -> Result<(), BadInput> {
    if a.jobs == 0 {
        return Err(BadInput("--jobs must be at least 1".into()));
    }
    if a.iterations == Some(0) {
        return Err(BadInput("--iterations must be at least 1".into()));
    }
    if !(a.time_limit > 0.0 && a.time_limit.is_finite()) {
        return Err(BadInput(format!(
            "--time-limit must be a positive number of seconds, not {}",
            a.time_limit
        )));
    }
    if a.depth == 0 {
        return Err(BadInput("--depth must be at least 1".into()));
    }
    if a.max_branches == 0 {
        return Err(BadInput("--max-branches must be at least 1".into()));
    }
    if a.backend.is_empty() {
        return Err(BadInput("--backend needs at least one backend".into()));
    }
    lock_design(a.lock_design.as_deref())?;
    Ok(())
}

/// Parse a `--lock-design` value.
pub fn lock_design(name: Option<&str>) -> Result<Option<LockDesign>, BadInput> {
    name.map(|n| {
        LockDesign::from_name(n).ok_or_else(|| {
            BadInput(format!(
                "--lock-design: unknown design `{n}` (expected one of: {})",
                LockDesign::ALL.map(LockDesign::name).join(", ")
            ))
        })
    })
    .transpose()
}

/// Settle each scenario's lock design: the command line's, else the file's, else global. A
/// mutant whose code lives in another design than the one chosen does not run: its scenario
/// explores the fixed protocol there and must be clean; a mutant whose first finding under the
/// chosen design is of another class (`Mutant::expected_under`) must produce that class.
pub fn resolve_designs(scenarios: &mut [Scenario], cli: Option<LockDesign>) {
    for s in scenarios {
        let d = cli.or(s.lock_design).unwrap_or_default();
        s.lock_design = Some(d);
        if let Variant::Mutant(m) = s.variant {
            if m.lock_design().is_some_and(|md| md != d) {
                s.expect = Expect::Clean;
            } else if s.expect == Expect::Finding(m.expected()) {
                // The same bug, seen first by another oracle under this design.
                s.expect = Expect::Finding(m.expected_under(d));
            }
        }
    }
}

/// Resolve the scenario arguments to files and load them.
pub fn load_scenarios(names: &[String], dir: &Path) -> Result<Vec<Scenario>, BadInput> {
    let files: Vec<PathBuf> = if names.is_empty() {
        scenario::bundled(dir)
            .map_err(|e| BadInput(format!("{}: cannot list scenarios: {e}", dir.display())))?
    } else {
        names
            .iter()
            .map(|n| {
                let p = PathBuf::from(n);
                if p.exists() {
                    Ok(p)
                } else {
                    let q = dir.join(format!("{n}.toml"));
                    if q.exists() {
                        Ok(q)
                    } else {
                        Err(BadInput(format!(
                            "{n}: no such scenario file, and no {}",
                            q.display()
                        )))
                    }
                }
            })
            .collect::<Result<_, _>>()?
    };
    if files.is_empty() {
        return Err(BadInput(format!("{}: no scenario files", dir.display())));
    }
    files
        .iter()
        .map(|f| scenario::load(f).map_err(BadInput::from))
        .collect()
}

/// Apply `--variant`: the scenario's variant and the expectation that goes with it.
pub fn override_variant(s: &mut Scenario, v: &str) -> Result<(), BadInput> {
    let variant =
        Variant::from_id(v).ok_or_else(|| BadInput(format!("--variant: unknown variant `{v}`")))?;
    s.variant = variant;
    s.expect = match variant {
        Variant::Fixed => Expect::Clean,
        Variant::Mutant(m) => Expect::Finding(m.expected()),
    };
    Ok(())
}

/// Load the scenarios, apply `--variant` and the lock design, check loom's thread limit and
/// attach the sequential specifications: everything `run` and `catalog` check before
/// exploring.
pub fn prepare(scenarios: &mut [Scenario], a: &RunArgs) -> Result<()> {
    if let Some(v) = &a.variant {
        for s in scenarios.iter_mut() {
            override_variant(s, v)?;
        }
    }
    resolve_designs(scenarios, lock_design(a.lock_design.as_deref())?);
    if a.backend.contains(&Backend::Loom) {
        for s in scenarios.iter() {
            if s.program.threads.len() > LOOM_MAX_THREADS {
                let (line, col) = s.thread_pos[LOOM_MAX_THREADS];
                return Err(BadInput(format!(
                    "{}:{line}:{col}: error: loom explores at most {LOOM_MAX_THREADS} threads (loom::MAX_THREADS is 5 with the main thread); this scenario has {}",
                    s.file.display(),
                    s.program.threads.len()
                ))
                .into());
            }
        }
    }
    crate::specs::attach_specs(scenarios, a.jobs)
}

/// The request for one exploration.
pub fn request(s: &Scenario, b: Backend, a: &RunArgs) -> Request {
    let strategy = match b {
        Backend::Loom => Strategy::Loom {
            preemption_bound: Some(a.preemption_bound),
            max_branches: a.max_branches,
        },
        Backend::Pct => Strategy::Pct { depth: a.depth },
        Backend::Random => Strategy::Random,
        Backend::Dfs => Strategy::Dfs,
        Backend::Stress => Strategy::Stress,
    };
    Request {
        scenario: s.name.clone(),
        program: s.program.clone(),
        config: Config {
            variant: s.variant,
            lock_design: s.lock_design.unwrap_or_default(),
            oracles: s.oracles,
        },
        strategy,
        max_executions: a.iterations.unwrap_or(b.default_iterations()),
        seed: a.seed,
        time_limit_secs: a.time_limit,
        scratch_dir: None,
        resume_checkpoint: None,
    }
}

fn rel(p: &Path) -> String {
    let root = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .unwrap_or_default();
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    abs.strip_prefix(&root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

/// Explore one scenario with one backend; for loom, capture the failing execution's checkpoint.
pub fn explore(
    s: &Scenario,
    b: Backend,
    a: &RunArgs,
    worker_path: &Path,
    scratch: &Path,
) -> Result<Report> {
    let req = request(s, b, a);
    let mut resp: Response = worker::run(worker_path, &req, scratch)?;
    let total_elapsed = resp.elapsed_secs;
    if b == Backend::Loom {
        if let Some(f) = &resp.failure {
            if f.finding.class != mountcheck_model::FindingClass::Crash {
                // Capture: resume from the last stored checkpoint, storing before every execution.
                let mut cap = req.clone();
                cap.resume_checkpoint = Some(resp.checkpoint.clone().unwrap_or_default());
                let cap_dir = scratch.join("capture");
                let capture = worker::run(worker_path, &cap, &cap_dir)?;
                if let Some(mut cf) = capture.failure {
                    cf.execution = f.execution;
                    if cf.replay == ReplayToken::None {
                        // The capture run aborted (loom aborts on some deadlocks) after storing
                        // the failing execution's checkpoint: take it from the file.
                        if let Ok(cp) =
                            std::fs::read_to_string(cap_dir.join("loom-checkpoint.json"))
                        {
                            cf.replay = ReplayToken::Loom { checkpoint: cp };
                        }
                    }
                    resp.failure = Some(cf);
                }
            }
        }
    }
    Ok(make_report(s, b, a, &req, &resp, total_elapsed))
}

/// Assemble a report.
pub fn make_report(
    s: &Scenario,
    b: Backend,
    a: &RunArgs,
    req: &Request,
    resp: &Response,
    elapsed: f64,
) -> Report {
    let verdict = resp
        .failure
        .as_ref()
        .map_or("clean".to_string(), |f| f.finding.class.name().to_string());
    let as_expected = verdict == s.expect.name();
    let stem = report::stem(&s.name, b.name());
    let replay = resp.failure.as_ref().map(|f| Replay {
        token: f.replay.clone(),
        command: match f.replay {
            ReplayToken::None => "(real threads: no replay)".to_string(),
            _ => format!(
                "mountcheck replay {}",
                a.reports.join(format!("{stem}.json")).display()
            ),
        },
    });
    Report {
        schema: report::SCHEMA.to_string(),
        tool: Tool {
            name: "mountcheck".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        scenario: ScenarioInfo {
            name: s.name.clone(),
            file: rel(&s.file),
            description: s.description.clone(),
            see: s.see.clone(),
            variant: s.variant.id().to_string(),
            expect: s.expect.name().to_string(),
        },
        linearizability: s.spec_info.clone(),
        program: s.program.clone(),
        config: req.config,
        exploration: Exploration {
            strategy: b.name().to_string(),
            backend: b.build().to_string(),
            seed: req.seed,
            max_executions: req.max_executions,
            time_limit_secs: req.time_limit_secs,
            preemption_bound: matches!(b, Backend::Loom).then_some(a.preemption_bound),
            max_branches: matches!(b, Backend::Loom).then_some(a.max_branches),
            depth: matches!(b, Backend::Pct).then_some(a.depth),
            executions: resp.executions,
            stop: resp.stop.clone(),
        },
        verdict,
        as_expected,
        finding: resp.failure.as_ref().map(|f| FindingInfo {
            finding: f.finding.clone(),
            execution: f.execution,
            panic_message: f.panic_message.clone(),
        }),
        trace: resp
            .failure
            .as_ref()
            .map(|f| f.trace.clone())
            .unwrap_or_default(),
        replay,
        timing: Timing {
            elapsed_secs: elapsed,
            spec_secs: s.spec_secs,
        },
    }
}

/// Every (scenario, backend) pair explored, with `jobs` child processes at once. Returns the
/// reports in input order.
pub fn explore_all(scenarios: &[Scenario], a: &RunArgs, label: &str) -> Result<Vec<Report>> {
    let exe = worker::self_exe()?;
    let tasks: Vec<(usize, &Scenario, Backend)> = scenarios
        .iter()
        .flat_map(|s| a.backend.iter().map(move |b| (s, *b)))
        .enumerate()
        .map(|(i, (s, b))| (i, s, b))
        .collect();
    let bar = ProgressBar::new(tasks.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {label} [{bar:30}] {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("label", {
                let l = label.to_string();
                move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&l);
                }
            }),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<Report>>>> =
        Mutex::new((0..tasks.len()).map(|_| None).collect());
    let scratch_root = std::env::temp_dir().join(format!("mountcheck-{}", std::process::id()));
    std::thread::scope(|scope| {
        for _ in 0..a.jobs.min(tasks.len()).max(1) {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(&(idx, s, b)) = tasks.get(i) else {
                    break;
                };
                bar.set_message(format!("{} / {}", s.name, b.name()));
                let scratch = scratch_root.join(format!("{idx}"));
                let r = explore(s, b, a, &exe, &scratch);
                let _ = std::fs::remove_dir_all(&scratch);
                results.lock().unwrap_or_else(|p| p.into_inner())[idx] = Some(r);
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&scratch_root);
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| bail!("exploration did not run")))
        .collect()
}

/// Write every report with a finding, and the index; return the summary rows.
pub fn write_reports(reports: &[Report], a: &RunArgs, command: &str) -> Result<Vec<Row>> {
    std::fs::create_dir_all(&a.reports)
        .with_context(|| format!("cannot create {}", a.reports.display()))?;
    let mut rows = Vec::new();
    for r in reports {
        let stem = report::stem(&r.scenario.name, &r.exploration.strategy);
        let path = if r.finding.is_some() {
            Some(report::write(&a.reports, r)?.display().to_string())
        } else {
            for ext in ["json", "md"] {
                let _ = std::fs::remove_file(a.reports.join(format!("{stem}.{ext}")));
            }
            None
        };
        rows.push(Row {
            scenario: r.scenario.name.clone(),
            variant: r.scenario.variant.clone(),
            strategy: r.exploration.strategy.clone(),
            executions: r.exploration.executions,
            verdict: r.verdict.clone(),
            expect: r.scenario.expect.clone(),
            ok: r.as_expected,
            secs: r.timing.elapsed_secs,
            report: path,
            linearizability: r.linearizability.clone(),
            spec_secs: r.timing.spec_secs,
        });
    }
    report::write_whole(&a.reports.join("index.md"), &report::index(&rows, command))?;
    report::write_whole(
        &a.reports.join("index.json"),
        &(serde_json::to_string_pretty(&rows)? + "\n"),
    )?;
    Ok(rows)
}

/// `mountcheck run`.
pub fn run(a: &RunArgs, command: &str) -> Result<std::process::ExitCode> {
    check_bounds(a)?;
    let mut scenarios = load_scenarios(&a.scenarios, &a.scenarios_dir)?;
    let start = Instant::now();
    prepare(&mut scenarios, a)?;
    let specs = start.elapsed().as_secs_f64();
    let reports = explore_all(&scenarios, a, "exploring")?;
    let rows = write_reports(&reports, a, command)?;
    print!("{}", report::table(&rows));
    let bad = rows.iter().filter(|r| !r.ok).count();
    let checked = scenarios
        .iter()
        .filter(|s| s.check == Check::Linearizable)
        .count();
    println!(
        "\n{} explorations, {} as expected, {} not, in {:.1} s (sequential specifications of {checked} of {} scenarios: {specs:.1} s); reports in {} (index.md)",
        rows.len(),
        rows.len() - bad,
        bad,
        start.elapsed().as_secs_f64(),
        scenarios.len(),
        a.reports.display()
    );
    Ok(if bad == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

/// `mountcheck replay REPORT`: re-run the exact failing execution and print its report.
pub fn replay(path: &Path) -> Result<std::process::ExitCode> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("{}: cannot read: {e}", path.display())))?;
    let orig: Report = serde_json::from_str(&text).map_err(|e| {
        BadInput(format!(
            "{}:{}:{}: error: not a mountcheck report: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    let Some(rp) = &orig.replay else {
        return Err(BadInput(format!(
            "{}: the report has no finding to replay",
            path.display()
        ))
        .into());
    };
    let (strategy, build) = match &rp.token {
        ReplayToken::Shuttle { schedule } => (
            Strategy::ReplayShuttle {
                schedule: schedule.clone(),
            },
            "shuttle",
        ),
        ReplayToken::Loom { checkpoint } => {
            let max_branches = orig.exploration.max_branches.unwrap_or(20_000);
            (
                Strategy::ReplayLoom {
                    checkpoint: checkpoint.clone(),
                    max_branches,
                },
                "loom",
            )
        }
        ReplayToken::None => {
            return Err(BadInput(format!(
                "{}: a real-threads finding cannot be replayed",
                path.display()
            ))
            .into())
        }
    };
    if orig.tool.version != env!("CARGO_PKG_VERSION") {
        eprintln!("mountcheck: warning: the report was made by mountcheck {}, this is {}; a schedule may not replay on changed code", orig.tool.version, env!("CARGO_PKG_VERSION"));
    }
    let _ = build;
    let worker_path = worker::self_exe()?;
    let req = Request {
        scenario: orig.scenario.name.clone(),
        program: orig.program.clone(),
        config: orig.config,
        strategy,
        max_executions: 2,
        seed: orig.exploration.seed,
        time_limit_secs: 60.0,
        scratch_dir: None,
        resume_checkpoint: None,
    };
    let scratch = std::env::temp_dir().join(format!("mountcheck-replay-{}", std::process::id()));
    let resp = worker::run(&worker_path, &req, &scratch)?;
    let _ = std::fs::remove_dir_all(&scratch);
    let mut again = orig.clone();
    match &resp.failure {
        Some(f) => {
            again.finding = Some(FindingInfo {
                finding: f.finding.clone(),
                execution: orig.finding.as_ref().map_or(f.execution, |o| o.execution),
                panic_message: f.panic_message.clone(),
            });
            again.trace = f.trace.clone();
            again.verdict = f.finding.class.name().to_string();
        }
        None => {
            again.finding = None;
            again.trace = Vec::new();
            again.verdict = "clean".into();
        }
    }
    print!("{}", report::markdown(&again));
    let same = again.finding.as_ref().map(|f| &f.finding)
        == orig.finding.as_ref().map(|f| &f.finding)
        && again.trace == orig.trace;
    if same {
        eprintln!(
            "mountcheck: replay reproduced the same finding and the same {}-step trace",
            again.trace.len()
        );
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        eprintln!("mountcheck: replay did NOT reproduce the report's finding and trace");
        Ok(std::process::ExitCode::from(1))
    }
}
