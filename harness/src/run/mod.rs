//! `mountcheck run`: explore scenarios on the chosen backends, in child processes, in parallel,
//! and write the race reports and the index (`mountcheck replay` is [`crate::replay`]).
//!
//! Invariant: all input is checked before any worker starts or any file is written: options are
//! parsed into their types within their ranges (`options`), scenarios parse and validate with 1
//! to 4 threads, scenario names are unique (reports are named after them), and the reports
//! directory is writable (probed by writing and removing a file); so bad input never costs an
//! exploration or leaves a half-written report. Every exploration ends in a row of the summary and
//! of the index, with its verdict, stop reason, executions, bounds and time.

use mountcheck_model::oracle::lockdep::PriorOrder;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mountcheck_engine::{bounds, ReplayToken, Request, Response, Strategy};
use mountcheck_model::{Config, Variant};

use crate::options::{self, ExploreOptions};
use crate::report::{
    self, Bounds, Exploration, FindingInfo, Replay, Report, ScenarioInfo, Timing, Tool,
};
use crate::scenario::{Check, Scenario};
use crate::verdict::Verdict;
use crate::witness;
use crate::worker;

mod input;

pub use input::{load_scenarios, override_variant, prepare, probe_reports_dir, BadInput};

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

    /// Default bound on executions (see `mountcheck_engine::bounds`).
    pub fn default_iterations(self) -> u64 {
        match self {
            Backend::Loom => bounds::DEFAULT_LOOM_ITERATIONS,
            Backend::Pct | Backend::Random => bounds::DEFAULT_RANDOMIZED_ITERATIONS,
            Backend::Dfs => bounds::DEFAULT_DFS_ITERATIONS,
            Backend::Stress => bounds::DEFAULT_STRESS_ITERATIONS,
        }
    }

    /// The engine's strategy for this backend under `o`.
    pub fn strategy(self, o: &ExploreOptions) -> Strategy {
        match self {
            Backend::Loom => Strategy::Loom {
                preemption_bound: Some(o.preemption_bound),
                max_branches: o.max_branches,
            },
            Backend::Pct => Strategy::Pct { depth: o.depth },
            Backend::Random => Strategy::Random,
            Backend::Dfs => Strategy::Dfs,
            Backend::Stress => Strategy::Stress,
        }
    }
}

/// Options of `mountcheck run`.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Scenario names (from --scenarios-dir) or files; none = every bundled scenario.
    pub scenarios: Vec<String>,
    /// Backends to explore with, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Backend::Loom, Backend::Pct])]
    pub backend: Vec<Backend>,
    /// Bound on executions per exploration [default: loom 200000, pct/random 2000, dfs 20000, stress 2000].
    #[arg(long, value_parser = options::ranged_u64(bounds::ITERATIONS_RANGE))]
    pub iterations: Option<u64>,
    /// Run every scenario with this variant instead of its own (`fixed` expects clean, a mutant
    /// expects its finding class).
    #[arg(long, value_parser = options::variant)]
    pub variant: Option<Variant>,
    /// Bounds, lock design, directories.
    #[command(flatten)]
    pub opts: ExploreOptions,
    /// Replicas, shards, JUnit.
    #[command(flatten)]
    pub dist: crate::units::DistArgs,
}

/// Everything an exploration needs besides its scenario and backend.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    /// Bounds and lock design.
    pub opts: &'a ExploreOptions,
    /// Executions per exploration; `None`: the backend's default.
    pub iterations: Option<u64>,
    /// Where this run's reports go (named in each report's replay command).
    pub reports: &'a Path,
    /// Whether a finding's witness is minimized (fewest preemptions) before its report: `run`
    /// and `catalog` always; `fuzz` only for the shrunk scenario it writes, not for every
    /// generated scenario it tries.
    pub minimize_witness: bool,
}

/// The request for one exploration.
pub fn request(s: &Scenario, b: Backend, set: &Settings<'_>) -> Request {
    Request {
        scenario: s.name.clone(),
        program: s.program.clone(),
        config: Config {
            variant: s.variant,
            lock_design: s.lock_design.unwrap_or_default(),
            oracles: s.oracles,
        },
        strategy: b.strategy(set.opts),
        max_executions: set.iterations.unwrap_or(b.default_iterations()),
        seed: set.opts.seed,
        time_limit_secs: set.opts.time_limit,
        scratch_dir: None,
        resume_checkpoint: None,
        prior_order: None,
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
    set: &Settings<'_>,
    exe: &Path,
    scratch: &Path,
) -> Result<Report> {
    let req = request(s, b, set);
    let mut resp: Response = worker::run(exe, &req, scratch)?;
    let total_elapsed = resp.elapsed_secs;
    let started = std::time::Instant::now();
    if !set.minimize_witness {
        return Ok(make_report(s, b, set, &req, &resp, total_elapsed));
    }
    let witness = match witness::minimize(&req, &resp, exe, scratch, |r, found, dir| {
        capture_loom(exe, r, found, dir)
    })? {
        Some((minimized, w)) => {
            resp = minimized;
            Some(w)
        }
        None if b == Backend::Loom => {
            resp = capture_loom(exe, &req, &resp, scratch)?;
            None
        }
        None => None,
    };
    let mut report = make_report(s, b, set, &req, &resp, total_elapsed);
    report.witness = witness;
    report.timing.witness_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// loom's capture: a finding of `req`'s exploration `resp` is re-run from the last checkpoint
/// stored before it, storing before every execution, so that the failing execution's checkpoint
/// is its replay token. A response with no finding (or a crash) is returned as it is.
pub fn capture_loom(
    exe: &Path,
    req: &Request,
    resp: &Response,
    scratch: &Path,
) -> Result<Response> {
    let mut resp = resp.clone();
    if !matches!(req.strategy, Strategy::Loom { .. }) {
        return Ok(resp);
    }
    if let Some(f) = &resp.failure {
        if f.finding.class != mountcheck_model::FindingClass::Crash {
            // Capture: resume from the last stored checkpoint, storing before every execution.
            let mut cap = req.clone();
            cap.resume_checkpoint = Some(resp.checkpoint.clone().unwrap_or_default());
            // A lock-order cycle may close on edges of executions before the checkpoint, which
            // the capture does not re-run: it starts from the edges the exploration had (its
            // executions are numbered from 1 again).
            cap.prior_order = f.prior_order.as_ref().map(|p| PriorOrder {
                execution: 1,
                edges: p.edges.clone(),
            });
            let cap_dir = scratch.join("capture");
            let capture = worker::run(exe, &cap, &cap_dir)?;
            match capture.failure {
                Some(mut cf) => {
                    cf.execution = f.execution;
                    if cf.replay.unusable().is_some() {
                        // The capture run aborted (loom aborts on some deadlocks) after
                        // storing the failing execution's checkpoint: take it from the file.
                        if let Ok(cp) =
                            std::fs::read_to_string(cap_dir.join("loom-checkpoint.json"))
                        {
                            cf.replay = ReplayToken::Loom { checkpoint: cp };
                        }
                    }
                    resp.failure = Some(cf);
                }
                None => {
                    // The capture did not reach the failure again: the exploration's
                    // checkpoint names another execution, so there is no replay to offer.
                    if let Some(f) = resp.failure.as_mut() {
                        f.replay = ReplayToken::None;
                    }
                }
            }
        }
    }
    Ok(resp)
}

/// Assemble a report.
pub fn make_report(
    s: &Scenario,
    b: Backend,
    set: &Settings<'_>,
    req: &Request,
    resp: &Response,
    elapsed: f64,
) -> Report {
    let verdict = Verdict::of(resp.stop, resp.failure.as_ref().map(|f| f.finding.class));
    let as_expected = verdict.meets(s.expect, set.opts.allow_incomplete);
    let stem = report::stem(&s.name, b.name());
    let replay = resp.failure.as_ref().map(|f| match f.replay.unusable() {
        Some(why) => Replay {
            token: f.replay.clone(),
            command: None,
            unavailable: Some(why.to_string()),
            prior_order: f.prior_order.clone(),
        },
        None => Replay {
            token: f.replay.clone(),
            command: Some(format!(
                "mountcheck replay {}",
                set.reports.join(format!("{stem}.json")).display()
            )),
            unavailable: None,
            prior_order: f.prior_order.clone(),
        },
    });
    let o = set.opts;
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
            bounds: Bounds {
                seed: req.seed,
                max_executions: req.max_executions,
                time_limit_secs: req.time_limit_secs,
                preemption_bound: matches!(b, Backend::Loom).then_some(o.preemption_bound),
                max_branches: matches!(b, Backend::Loom).then_some(o.max_branches),
                depth: matches!(b, Backend::Pct).then_some(o.depth),
            },
            executions: resp.executions,
            stop: resp.stop,
        },
        verdict,
        as_expected,
        finding: resp.failure.as_ref().map(|f| FindingInfo {
            finding: f.finding.clone(),
            execution: f.execution,
            panic_message: f.panic_message.clone(),
        }),
        checker_error: resp.checker_error.clone(),
        trace: resp
            .failure
            .as_ref()
            .map(|f| f.trace.clone())
            .unwrap_or_default(),
        replay,
        witness: None,
        timing: Timing {
            elapsed_secs: elapsed,
            witness_secs: 0.0,
            spec_secs: s.spec_secs,
        },
    }
}

/// Every (scenario, backend) pair of `tasks` explored, with `jobs` child processes at once.
/// Returns the reports in input order.
pub fn explore_all(
    tasks: &[(&Scenario, Backend)],
    set: &Settings<'_>,
    label: &str,
) -> Result<Vec<Report>> {
    let tasks: Vec<(&Scenario, Backend, Settings<'_>)> =
        tasks.iter().map(|&(s, b)| (s, b, *set)).collect();
    explore_each(&tasks, set.opts.jobs, label)
}

/// Every (scenario, backend, settings) of `tasks` explored (each with its own settings, such as
/// a replica's seed), with `jobs` child processes at once, under a progress bar labelled
/// `label`. Returns the reports in input order.
pub fn explore_each(
    tasks: &[(&Scenario, Backend, Settings<'_>)],
    jobs: usize,
    label: &str,
) -> Result<Vec<Report>> {
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
    let reports = explore_each_with(tasks, jobs, &bar);
    bar.finish_and_clear();
    reports
}

/// [`explore_all`] advancing the caller's progress bar by one per exploration (`fuzz` keeps one
/// bar for its whole campaign).
pub fn explore_all_with(
    tasks: &[(&Scenario, Backend)],
    set: &Settings<'_>,
    bar: &ProgressBar,
) -> Result<Vec<Report>> {
    let tasks: Vec<(&Scenario, Backend, Settings<'_>)> =
        tasks.iter().map(|&(s, b)| (s, b, *set)).collect();
    explore_each_with(&tasks, set.opts.jobs, bar)
}

/// [`explore_each`] advancing the caller's progress bar.
pub fn explore_each_with(
    tasks: &[(&Scenario, Backend, Settings<'_>)],
    jobs: usize,
    bar: &ProgressBar,
) -> Result<Vec<Report>> {
    let exe = worker::self_exe()?;
    let scratch_root = std::env::temp_dir().join(format!("mountcheck-{}", std::process::id()));
    let reports = crate::pool::par_map(tasks.iter().collect(), jobs, |idx, &(s, b, set)| {
        bar.set_message(format!("{} / {}", s.name, b.name()));
        let scratch = scratch_root.join(format!("{idx}"));
        let r = explore(s, b, &set, &exe, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        bar.inc(1);
        r
    });
    let _ = std::fs::remove_dir_all(&scratch_root);
    reports.into_iter().collect()
}

/// Whether a report of this verdict is written (a finding or a checker error: something to read
/// beyond the index's row).
pub fn has_report(v: Verdict) -> bool {
    matches!(v, Verdict::Finding(_) | Verdict::CheckerError)
}

/// Write report `r` into `dir` as its three files (JSON, Markdown, HTML page); returns the JSON's
/// path.
pub fn write_report_set(dir: &Path, r: &Report) -> Result<PathBuf> {
    let json = report::write(dir, r)?;
    crate::html::write_report_page(dir, r)?;
    Ok(json)
}

/// Remove the report files of `stem` in `dir` (an earlier run's, for an exploration that now has
/// no report), whichever exist.
pub fn remove_report_set(dir: &Path, stem: &str) {
    for ext in ["json", "md", "html"] {
        let _ = std::fs::remove_file(dir.join(format!("{stem}.{ext}")));
    }
}

/// Write every report with a finding or a checker error into `dir` (Markdown, JSON, HTML page),
/// and remove stale ones of the explorations that have none; return the rows, in order.
pub fn write_report_files(reports: &[Report], dir: &Path) -> Result<Vec<crate::report::Row>> {
    std::fs::create_dir_all(dir)?;
    let mut rows = Vec::new();
    for r in reports {
        let stem = report::stem(&r.scenario.name, &r.exploration.strategy);
        let path = if has_report(r.verdict) {
            Some(write_report_set(dir, r)?.display().to_string())
        } else {
            remove_report_set(dir, &stem);
            None
        };
        rows.push(crate::report::Row::of(r, path));
    }
    Ok(rows)
}

/// `mountcheck run`.
pub fn run(a: &RunArgs, command: &str) -> Result<ExitCode> {
    if a.backend.is_empty() {
        return Err(BadInput("--backend needs at least one backend".into()).into());
    }
    let mut scenarios = load_scenarios(&a.scenarios, &a.opts.scenarios_dir)?;
    let start = std::time::Instant::now();
    prepare(&mut scenarios, a.variant, &a.opts)?;
    let checked = scenarios
        .iter()
        .filter(|s| s.check == Check::Linearizable)
        .count();
    let specs = (checked > 0).then(|| {
        format!(
            "sequential specifications of {checked} of {} scenarios: {:.1} s",
            scenarios.len(),
            start.elapsed().as_secs_f64()
        )
    });
    crate::units::run(a, &scenarios, command, specs.as_deref())
}
