//! `mountcheck fuzz`: generated concurrent scenarios, explored under controlled interleavings,
//! shrunk to the smallest failing scenario file.
//!
//! What it does, after Lincheck (generate from declared operations, run each scenario under a model
//! checker, minimize what fails), swarm testing and syzkaller's minimization: `gen` draws scenarios
//! from the model's operation table with proptest (a deterministic ChaCha runner seeded by
//! `--seed`); each is checked as a file would be (`scenario::check_program`, the sequential
//! specification's order bound, here [`FUZZ_MAX_ORDERS`]: a scenario past it is skipped and the
//! next one drawn), given its sequential specification and explored with PCT, loom and shuttle's
//! random scheduler, three different samples of its interleavings (PCT's random priorities and few
//! change points, which order whole calls; loom's first executions, the schedule's last steps
//! varied first, or its whole space for a scenario of at most [`LOOM_SMALL_CALLS`] thread calls;
//! the random walk's switch at any step, which overlaps two short critical sections, a race that
//! needs two well-placed preemptions and PCT's change points seldom meet), by
//! `run::explore_each_with`, `--jobs` child processes at once, under one progress bar. A scenario
//! that fails is shrunk by `shrink` (proptest's value-tree shrinking with the exploration as the
//! test), written as `<reports>/found/<class>-<hash>.toml` (an ordinary scenario file: variant,
//! `expect` = the class, a description of what raced) and explored again as `mountcheck run` would,
//! with loom and PCT (and the campaign's other backends) at their default bounds and every witness
//! minimized (fewest preemptions), whose reports are written beside it. `coverage` counts which
//! pairs of operations ran concurrently. The summary is printed, and written to
//! `<reports>/fuzz.json` and into this campaign's section of `<reports>/fuzz.md` (other sections,
//! the other lock designs' campaigns and the catalog's time-to-find table written by
//! `scripts/fuzz-catalog.sh`, are kept). Each step has its file: `gen` (generation), `prepare` (the
//! legality check and the specification), `shrink`, `found` (the found file and its exploration as
//! `mountcheck run` would), `coverage` and `summary` (`fuzz.json`, `fuzz.md`); this file holds the
//! options and the campaign loop.
//!
//! Invariant: the scenarios, their explorations (PCT's seed is `run`'s default, and bounds are
//! counts, never times, except the per-exploration time limit as a safety net) and the shrinking
//! (bounded in explorations, not time) are functions of the options, so one seed gives the same
//! scenarios, the same findings and byte-identical found files; only `--budget` (checked between
//! batches of scenarios) depends on the clock. Exit status: 1 when something was found (a
//! finding or a checker error), 0 when not, 2 on bad input, before anything is explored.

pub mod coverage;
mod found;
pub mod gen;
mod prepare;
pub mod shrink;
mod summary;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mountcheck_engine::bounds;
use mountcheck_model::program::linearizable::count_runs;
use mountcheck_model::{LockDesign, Program, Variant};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use self::coverage::Coverage;
use self::found::write_found;
use self::gen::{calls, case_strategy, realize, Case, GenConfig};
pub use self::prepare::check_of;
use self::prepare::{legal, ready, searched_whole};
pub use self::summary::{summary_markdown, update_section, FoundInfo, Summary};
use crate::options::{self, Design, ExploreOptions};
use crate::out;
use crate::report::{self, Report};
use crate::run::{self, Backend, BadInput, Settings};
use crate::scenario::{self, Scenario};
use crate::verdict::Verdict;

/// The most sequential orders of a generated scenario (below the specification's `MAX_ORDERS`,
/// so that each specification takes well under a second); a scenario past it is skipped.
pub const FUZZ_MAX_ORDERS: u128 = 5_000;

/// The most thread calls of a generated scenario that loom searches for `--loom-iterations`
/// executions (most such scenarios to their end); a larger one, whose space grows fast with its
/// calls, gets `--iterations` loom executions, as PCT does.
pub const LOOM_SMALL_CALLS: usize = 4;

/// `--budget` by default: seconds of the whole campaign.
pub const DEFAULT_BUDGET_SECS: f64 = 60.0;

/// `--ops` by default, and its range.
pub const DEFAULT_OPS: usize = 3;
/// The most calls per generated thread.
pub const MAX_OPS: u64 = 8;

/// `--threads` by default (Lincheck's shape: 2 to 4).
pub const DEFAULT_THREADS: usize = 3;

/// `--iterations` by default: executions per exploration of a generated scenario by PCT and by
/// the random scheduler (each): a prefix of `run`'s 2000, with the same seed, so what it finds
/// `run` with that backend finds; few, so that more scenarios, the scarcer thing, are tried in
/// a budget.
pub const DEFAULT_FUZZ_ITERATIONS: u64 = 200;

/// `--loom-iterations` by default: executions of loom's search of a generated scenario (one of
/// at most [`LOOM_SMALL_CALLS`] thread calls). Such a scenario's whole space at preemption bound
/// 2 is about a thousand executions (an `expire` beside a `clone -n; exit`: 900 to 1 223 in the
/// fixed protocol, its race met at execution 221 to 481), so most are searched to their end:
/// a clean that is complete, where PCT's few executions are a sample.
pub const DEFAULT_FUZZ_LOOM_ITERATIONS: u64 = 2_000;

/// `--time-limit` by default: seconds per exploration of a generated scenario.
pub const DEFAULT_SCENARIO_TIME_LIMIT: f64 = 10.0;

/// `--shrink-steps` by default: explorations each phase of one shrinking may spend.
pub const DEFAULT_SHRINK_STEPS: usize = 60;

/// loom's preemption bound of the legality check: none, so each thread runs to its end (or
/// until it blocks) before the next: the threads' calls in series, no race.
pub const LEGALITY_PREEMPTIONS: usize = 0;

/// Scenarios generated per batch and job (the budget is checked between batches).
pub const BATCH_PER_JOB: usize = 2;

/// Draws in a row that may be skipped (no thread left, too many orders) before the generator is
/// called stuck: bad bounds.
pub const MAX_SKIPS_IN_A_ROW: usize = 1_000;

/// Options of `mountcheck fuzz`.
#[derive(Args, Clone, Debug)]
pub struct FuzzArgs {
    /// Seconds of the whole campaign (checked between batches of scenarios).
    #[arg(long, default_value_t = DEFAULT_BUDGET_SECS, value_parser = options::time_limit)]
    pub budget: f64,
    /// Stop after this many scenarios (default: as many as the budget allows).
    #[arg(long, value_parser = options::ranged(1..=1_000_000))]
    pub scenarios: Option<usize>,
    /// Seed of the generator: one seed, the same scenarios.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The most threads of a scenario (2 to 4).
    #[arg(long, default_value_t = DEFAULT_THREADS, value_parser = options::ranged(2..=bounds::MAX_SCENARIO_THREADS as u64))]
    pub threads: usize,
    /// The most calls drawn per thread (the calls the calling rules of its handles add, a
    /// `get_super` before a `drop_super` and the `drop_super` before its end, come on top).
    #[arg(long, default_value_t = DEFAULT_OPS, value_parser = options::ranged(1..=MAX_OPS))]
    pub ops: usize,
    /// Backends each scenario is explored with.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Backend::Pct, Backend::Loom, Backend::Random])]
    pub backend: Vec<Backend>,
    /// Executions per exploration of a generated scenario, for every backend but loom (the
    /// shrunk scenario is explored again at `run`'s default bounds).
    #[arg(long, default_value_t = DEFAULT_FUZZ_ITERATIONS, value_parser = options::ranged_u64(bounds::ITERATIONS_RANGE))]
    pub iterations: u64,
    /// Executions of loom's search of a generated scenario of at most 4 thread calls (a larger
    /// one gets `--iterations`; a search that reaches its cap is `incomplete`).
    #[arg(long, default_value_t = DEFAULT_FUZZ_LOOM_ITERATIONS, value_parser = options::ranged_u64(bounds::ITERATIONS_RANGE))]
    pub loom_iterations: u64,
    /// Time bound of one exploration of a generated scenario, in seconds.
    #[arg(long, default_value_t = DEFAULT_SCENARIO_TIME_LIMIT, value_parser = options::time_limit)]
    pub time_limit: f64,
    /// Explorations each phase of one shrinking may spend (proptest's, then the program's call by
    /// call).
    #[arg(long, default_value_t = DEFAULT_SHRINK_STEPS, value_parser = options::ranged(0..=10_000))]
    pub shrink_steps: usize,
    /// Lock design [default: the mutant's own design for --variant, else global].
    #[arg(long, value_enum)]
    pub lock_design: Option<Design>,
    /// Model variant: `fixed` (the default; anything found is a bug of the model or a
    /// non-atomic operation) or a mutant id (a planted bug to find).
    #[arg(long, value_parser = options::variant)]
    pub variant: Option<Variant>,
    /// Explorations run at once (child processes).
    #[arg(long, default_value_t = options::DEFAULT_JOBS, value_parser = options::ranged(bounds::JOBS_RANGE))]
    pub jobs: usize,
    /// End the campaign at its first finding (once shrunk and written): for measuring the time
    /// to find a planted bug.
    #[arg(long)]
    pub until_found: bool,
    /// Where `found/`, `fuzz.md` and `fuzz.json` are written.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
}

/// The seed of the generator's ChaCha runner.
fn rng_seed(seed: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&seed.to_le_bytes());
    b[8..16].copy_from_slice(b"mntcheck");
    b
}

/// The lock design and the variant of the campaign, checked together.
fn design_and_variant(a: &FuzzArgs) -> Result<(LockDesign, Variant), BadInput> {
    let variant = a.variant.unwrap_or(Variant::Fixed);
    let own = match variant {
        Variant::Mutant(m) => m.lock_design(),
        Variant::Fixed => None,
    };
    let design = match (a.lock_design.map(|d| d.0), own) {
        (Some(d), Some(m)) if d != m => {
            return Err(BadInput(format!(
                "mountcheck fuzz: error: --variant {} changes the {} design's code; under --lock-design {} it would explore the fixed protocol (leave out --lock-design, or give {})",
                variant.id(),
                m.name(),
                d.name(),
                m.name()
            )))
        }
        (Some(d), _) => d,
        (None, Some(m)) => m,
        (None, None) => LockDesign::default(),
    };
    Ok((design, variant))
}

/// `mountcheck fuzz`.
pub fn run(a: &FuzzArgs, command: &str) -> Result<ExitCode> {
    if a.backend.is_empty() {
        return Err(BadInput(
            "mountcheck fuzz: error: --backend needs at least one backend".into(),
        )
        .into());
    }
    let (design, variant) = design_and_variant(a)?;
    let found_dir = a.reports.join("found");
    run::probe_reports_dir(&a.reports)?;
    run::probe_reports_dir(&found_dir)?;
    let hand_written_calls = match variant {
        Variant::Mutant(m) => scenario::load(Path::new(&m.scenario_file()))
            .ok()
            .map(|s| calls(&s.program)),
        Variant::Fixed => None,
    };
    let start = Instant::now();
    let opts = ExploreOptions {
        preemption_bound: bounds::DEFAULT_PREEMPTION_BOUND,
        max_branches: bounds::DEFAULT_MAX_BRANCHES,
        depth: bounds::DEFAULT_DEPTH,
        seed: options::DEFAULT_SEED,
        time_limit: a.time_limit,
        jobs: a.jobs,
        lock_design: Some(Design(design)),
        allow_incomplete: true,
        scenarios_dir: PathBuf::from("scenarios"),
        reports: found_dir.clone(),
    };
    let set = Settings {
        opts: &opts,
        iterations: Some(a.iterations),
        reports: &found_dir,
        minimize_witness: false,
    };
    let loom_set = Settings {
        iterations: Some(a.loom_iterations),
        ..set
    };
    let cfg = GenConfig {
        max_threads: a.threads,
        max_ops: a.ops,
    };
    let strategy = case_strategy(cfg);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &rng_seed(a.seed)),
    );
    let bar = match a.scenarios {
        Some(n) => ProgressBar::new(n as u64),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} fuzz [{bar:30}] {pos} scenario(s) {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut sum = Summary {
        seed: a.seed,
        variant: variant.id().to_string(),
        lock_design: design.name().to_string(),
        budget_secs: a.budget,
        scenarios: 0,
        skipped: 0,
        explorations: 0,
        executions: 0,
        incomplete: 0,
        checker_errors: 0,
        spec_failures: Vec::new(),
        elapsed_secs: 0.0,
        first_find_secs: None,
        first_find_scenarios: None,
        found: Vec::new(),
        duplicates: 0,
        hand_written_calls,
        coverage: Coverage::default(),
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut skips_in_a_row = 0;
    let batch_size = a.jobs * BATCH_PER_JOB;
    'campaign: loop {
        if start.elapsed().as_secs_f64() >= a.budget
            || a.scenarios.is_some_and(|n| sum.scenarios >= n)
        {
            break;
        }
        // A batch of generated scenarios, each with its value tree (kept for shrinking).
        let mut batch: Vec<(Box<dyn ValueTree<Value = Case>>, Scenario)> = Vec::new();
        while batch.len() < batch_size
            && a.scenarios.is_none_or(|n| sum.scenarios + batch.len() < n)
        {
            // Draw candidates, run their threads' solo checks together, keep the ready ones.
            let want = batch_size - batch.len();
            let mut trees = Vec::new();
            let mut programs = Vec::new();
            let mut draws = 0;
            while trees.len() < want && draws < MAX_SKIPS_IN_A_ROW {
                draws += 1;
                let tree = strategy
                    .new_tree(&mut runner)
                    .map_err(|e| anyhow::anyhow!("the generator failed: {e}"))?;
                match realize(&tree.current(), design) {
                    Some(p) if p.threads.len() >= 2 && count_runs(&p) <= FUZZ_MAX_ORDERS => {
                        trees.push(tree);
                        programs.push(p);
                    }
                    _ => {
                        sum.skipped += 1;
                        skips_in_a_row += 1;
                    }
                }
            }
            let checked = legal(programs, design, &set)?;
            // The sequential specifications, `--jobs` at a time (each is many sequential runs
            // of the model); named in order afterwards, so the names do not depend on timing.
            let made = crate::pool::par_map(checked, a.jobs, |_, p| {
                p.ok_or_else(|| "a serial order of its calls deadlocks".to_string())
                    .and_then(|p| ready(String::new(), p, variant, design))
            });
            for (tree, made) in trees.into_iter().zip(made) {
                let index = sum.scenarios + batch.len();
                match made {
                    Ok(mut s) => {
                        s.name = format!("fuzz-{}-{index}", a.seed);
                        skips_in_a_row = 0;
                        batch.push((tree, s));
                    }
                    Err(why) => {
                        if why.contains("sequential specification failed") {
                            // A sequential order of calls that keep the calling rules fails:
                            // a bug the model shows without any race.
                            bar.suspend(|| eprintln!("mountcheck fuzz: {why}"));
                            sum.spec_failures.push(why.clone());
                        }
                        sum.skipped += 1;
                        skips_in_a_row += 1;
                    }
                }
            }
            if skips_in_a_row >= MAX_SKIPS_IN_A_ROW {
                return Err(BadInput(format!(
                    "mountcheck fuzz: error: {MAX_SKIPS_IN_A_ROW} generated scenarios in a row could not be explored; lower --threads or --ops"
                ))
                .into());
            }
        }
        if batch.is_empty() {
            break;
        }
        let (mut trees, batch): (Vec<_>, Vec<Scenario>) = batch.into_iter().unzip();
        let tasks: Vec<(&Scenario, Backend)> = batch
            .iter()
            .flat_map(|s| a.backend.iter().map(move |b| (s, *b)))
            .collect();
        bar.set_message(format!("{} found", sum.found.len()));
        let capped: Vec<_> = tasks
            .iter()
            .map(|&(s, b)| {
                let whole = searched_whole(&s.program, b);
                (s, b, if whole { loom_set } else { set })
            })
            .collect();
        let reports = run::explore_each_with(&capped, a.jobs, &ProgressBar::hidden())?;
        let first_index = sum.scenarios;
        sum.scenarios += batch.len();
        bar.set_position(sum.scenarios as u64);
        for ((s, _), r) in tasks.iter().zip(&reports) {
            sum.explorations += 1;
            sum.executions += r.exploration.executions;
            match r.verdict {
                Verdict::Incomplete => sum.incomplete += 1,
                Verdict::CheckerError => {
                    sum.checker_errors += 1;
                    bar.suspend(|| {
                        eprintln!(
                            "mountcheck fuzz: checker error on {}: {}",
                            s.name,
                            r.checker_error.as_deref().unwrap_or("")
                        )
                    });
                }
                _ => {}
            }
        }
        for (i, (tree, s)) in trees.iter_mut().zip(&batch).enumerate() {
            let mine: Vec<(Backend, &Report)> = tasks
                .iter()
                .zip(&reports)
                .filter(|((t, _), _)| std::ptr::eq(*t, s))
                .map(|((_, b), r)| (*b, r))
                .collect();
            let finding = mine.iter().find_map(|(b, r)| match r.verdict {
                Verdict::Finding(c) => Some((*b, c, (*r).clone())),
                _ => None,
            });
            sum.coverage.add(&s.program, finding.is_some());
            let Some((b, class, report)) = finding else {
                continue;
            };
            let secs = start.elapsed().as_secs_f64();
            if sum.first_find_secs.is_none() {
                sum.first_find_secs = Some(secs);
                sum.first_find_scenarios = Some(first_index + i + 1);
            }
            let make = |p: Program| -> Option<Scenario> {
                let p = legal(vec![p], design, &set).ok()?.pop().flatten()?;
                ready(s.name.clone(), p, variant, design).ok()
            };
            let shrunk = shrink::shrink(
                tree.as_mut(),
                s.clone(),
                report,
                class,
                b,
                &a.backend,
                &set,
                design,
                a.shrink_steps,
                &bar,
                &make,
            )?;
            let norm = shrink::normalized(&shrunk.scenario.program, variant, design, class);
            let hash = shrink::hash(&norm);
            if !seen.insert(hash.clone()) {
                sum.duplicates += 1;
                continue;
            }
            bar.set_message(format!("confirming {class}-{hash}"));
            let info = write_found(
                &found_dir,
                &format!("{}-{hash}", class.name()),
                &shrunk,
                class,
                variant,
                design,
                a,
                first_index + i + 1,
                secs,
            )?;
            bar.suspend(|| {
                eprintln!(
                    "mountcheck fuzz: found {} in scenario {} ({} calls, shrunk to {} in {} explorations): {}",
                    info.class,
                    info.scenario,
                    info.calls_before,
                    info.calls_after,
                    info.shrink_steps,
                    info.file
                )
            });
            let attributable = info.fixed_twin_clean != Some(false);
            sum.found.push(info);
            if a.until_found && attributable
                || a.scenarios.is_none() && start.elapsed().as_secs_f64() >= a.budget
            {
                break 'campaign;
            }
        }
    }
    bar.finish_and_clear();
    sum.elapsed_secs = start.elapsed().as_secs_f64();
    let text = summary_markdown(&sum, command);
    out::print(&text)?;
    report::write_whole(
        &a.reports.join("fuzz.json"),
        &(serde_json::to_string_pretty(&sum)? + "\n"),
    )?;
    update_section(
        &a.reports.join("fuzz.md"),
        &format!("campaign {} {}", design.name(), variant.id()),
        &text,
    )?;
    Ok(
        if sum.found.is_empty()
            && sum.duplicates == 0
            && sum.checker_errors == 0
            && sum.spec_failures.is_empty()
        {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
