//! `mountcheck fuzz`: generated concurrent scenarios, explored under controlled interleavings,
//! shrunk to the smallest failing scenario file.
//!
//! What it does, after Lincheck (generate from declared operations, run each scenario under a
//! model checker, minimize what fails), swarm testing and syzkaller's minimization: `gen`
//! draws scenarios from the model's operation table with proptest (a deterministic ChaCha
//! runner seeded by `--seed`); each is checked as a file would be (`scenario::check_program`,
//! the sequential specification's order bound, here [`FUZZ_MAX_ORDERS`]: a scenario past it is
//! skipped and the next one drawn), given its sequential specification and explored with PCT
//! and loom, two different samples of its interleavings (PCT's random priorities and change
//! points; loom's first executions, the schedule's last steps varied first, or its whole space
//! for a scenario of at most [`LOOM_SMALL_CALLS`] thread calls), by `run::explore_each_with`,
//! `--jobs` child processes at once, under one progress bar. A scenario that fails is shrunk by
//! `shrink` (proptest's value-tree shrinking with the exploration as the test), written as
//! `<reports>/found/<class>-<hash>.toml` (an ordinary scenario file: variant, `expect` = the class,
//! a description of what raced) and explored again as `mountcheck run` would, with loom and PCT
//! at their default bounds and every witness minimized (fewest preemptions), whose reports are
//! written beside it. `coverage` counts which pairs of operations ran concurrently. The summary
//! is printed, and written to `<reports>/fuzz.json` and into this campaign's section of
//! `<reports>/fuzz.md` (other sections, the other lock designs' campaigns and the catalog's
//! time-to-find table written by `scripts/fuzz-catalog.sh`, are kept).
//!
//! Invariant: the scenarios, their explorations (PCT's seed is `run`'s default, and bounds are
//! counts, never times, except the per-exploration time limit as a safety net) and the shrinking
//! (bounded in explorations, not time) are functions of the options, so one seed gives the same
//! scenarios, the same findings and byte-identical found files; only `--budget` (checked between
//! batches of scenarios) depends on the clock. Exit status: 1 when something was found (a
//! finding or a checker error), 0 when not, 2 on bad input, before anything is explored.

pub mod coverage;
pub mod gen;
pub mod shrink;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mountcheck_engine::bounds;
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::program::linearizable::count_runs;
use mountcheck_model::program::{Atomicity, HandleClass, HandleUse, Steps};
use mountcheck_model::{LockDesign, Oracles, Program, Variant};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;

use self::coverage::Coverage;
use self::gen::{calls, case_strategy, realize, Case, GenConfig};
use crate::options::{self, Design, ExploreOptions};
use crate::out;
use crate::report::{self, Report};
use crate::run::{self, Backend, BadInput, Settings};
use crate::scenario::{self, check_program, Check, Expect, Scenario};
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

/// `--iterations` by default: executions per exploration of a generated scenario by PCT (and
/// the other samplers): a prefix of `run`'s 2000, with the same seed, so what it finds `run`
/// finds; few, so that more scenarios, the scarcer thing, are tried in a budget.
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
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Backend::Pct, Backend::Loom])]
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

/// One finding of the campaign, as `fuzz.json` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct FoundInfo {
    /// The scenario file written.
    pub file: String,
    /// The finding class.
    pub class: String,
    /// Which generated scenario (1-based, in generation order) found it.
    pub scenario: usize,
    /// Calls of the generated scenario.
    pub calls_before: usize,
    /// Calls of the shrunk scenario.
    pub calls_after: usize,
    /// Explorations shrinking spent.
    pub shrink_steps: usize,
    /// The backends that found it again at `mountcheck run`'s default bounds.
    pub reproduced_by: Vec<String>,
    /// The fewest preemptions of its witness (loom's iterative bounds, else shuttle's shrink).
    pub preemptions: Option<usize>,
    /// For a mutant: whether the fixed protocol is clean on the shrunk scenario under PCT (a
    /// finding that the fixed protocol shares is not the mutant's).
    pub fixed_twin_clean: Option<bool>,
    /// Seconds from the campaign's start to the end of the batch that found it.
    pub secs: f64,
}

/// The campaign's figures (`fuzz.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The generator's seed.
    pub seed: u64,
    /// The variant explored.
    pub variant: String,
    /// The lock design explored.
    pub lock_design: String,
    /// The budget, seconds.
    pub budget_secs: f64,
    /// Scenarios generated and explored.
    pub scenarios: usize,
    /// Draws skipped (no thread left after dropping invalid calls, too many sequential orders,
    /// or a specification that failed).
    pub skipped: usize,
    /// Explorations (scenario × backend).
    pub explorations: usize,
    /// Executions of all explorations (shrinking's not included).
    pub executions: u64,
    /// Explorations that stopped early (incomplete).
    pub incomplete: usize,
    /// Explorations where the checker failed.
    pub checker_errors: usize,
    /// Specifications the fixed protocol could not compute (a finding in a sequential order).
    pub spec_failures: Vec<String>,
    /// Seconds of the campaign.
    pub elapsed_secs: f64,
    /// Seconds to the first finding.
    pub first_find_secs: Option<f64>,
    /// Scenarios tried up to and including the first that found something.
    pub first_find_scenarios: Option<usize>,
    /// Findings, one per distinct shrunk scenario.
    pub found: Vec<FoundInfo>,
    /// Findings that shrank to a scenario already found.
    pub duplicates: usize,
    /// For a mutant: calls of its hand-written scenario (`scenarios/<id>.toml`).
    pub hand_written_calls: Option<usize>,
    /// The op × op coverage.
    pub coverage: Coverage,
}

/// The linearizability check of a generated program: off when it calls an operation the
/// kernel does not make atomic ([`Atomicity::No`] in the operation table: its effects on the
/// mount tables are not one step, so no sequential order need match them), or when two of its
/// threads' calls can see each other's intermediate steps ([`Steps::meet`]: a `umount` beside a
/// `mount` or a `get_super`); on otherwise. The lifetime, invariant and lockdep oracles judge
/// every program.
pub fn check_of(p: &Program) -> Check {
    let not_atomic = p
        .threads
        .iter()
        .flatten()
        .any(|c| c.op.spec().atomicity == Atomicity::No);
    let meet = p.threads.iter().enumerate().any(|(i, t)| {
        t.iter().any(|a| {
            p.threads.iter().enumerate().any(|(j, u)| {
                i != j
                    && u.iter()
                        .any(|b| Steps::meet(a.op.spec().steps, b.op.spec().steps))
            })
        })
    });
    if not_atomic || meet {
        Check::None
    } else {
        Check::Linearizable
    }
}

/// A scenario of `program` ready to explore (its specification not yet attached).
fn scenario_of(name: String, program: Program, variant: Variant, design: LockDesign) -> Scenario {
    let call_pos = program
        .threads
        .iter()
        .map(|t| vec![(1, 1); t.len()])
        .collect();
    let check = check_of(&program);
    Scenario {
        name,
        file: PathBuf::from("<generated>"),
        description: String::new(),
        see: None,
        variant,
        expect: match variant {
            Variant::Fixed => Expect::Clean,
            Variant::Mutant(m) => Expect::Finding(m.expected_under(design)),
        },
        program,
        name_pos: (1, 1),
        lock_design: Some(design),
        check,
        check_pos: (1, 1),
        call_pos,
        spec_info: None,
        spec_secs: None,
        oracles: Oracles::all(),
    }
}

/// Whether backend `b` explores `program` for `--loom-iterations` executions (loom on a
/// scenario of at most [`LOOM_SMALL_CALLS`] thread calls: most such spaces end below it) rather
/// than `--iterations`.
fn searched_whole(program: &Program, b: Backend) -> bool {
    b == Backend::Loom && program.threads.iter().map(Vec::len).sum::<usize>() <= LOOM_SMALL_CALLS
}

/// Check `program` as a file would be checked and attach its specification; `Err` with the
/// reason when it cannot be explored.
fn ready(
    name: String,
    program: Program,
    variant: Variant,
    design: LockDesign,
) -> Result<Scenario, String> {
    if count_runs(&program) > FUZZ_MAX_ORDERS {
        return Err("too many sequential orders".into());
    }
    check_program(&program, design).map_err(|e| e.msg)?;
    let mut s = [scenario_of(name, program, variant, design)];
    crate::specs::attach_specs(&mut s, 1).map_err(|e| format!("{e:#}"))?;
    let [s] = s;
    if let Some(info) = &s.spec_info {
        if info.feasible < info.orders {
            // Its calls alone deadlock in some sequential order (two lock_super in opposite
            // orders): a bug of the caller, which the kernel has too, not of the protocol.
            return Err("some sequential order of its calls blocks for ever".into());
        }
    }
    Ok(s)
}

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// Whether some thread of `p` makes a call, or takes a lock, while it holds a handle it must
/// give back ([`HandleClass::must_release`]: a `get_super`'s `s_umount`): the only way the
/// generated calls, which keep the handle rules, can block their own task in a serial order. A program without
/// such a call needs no [`legal`] runs (and a protocol bug that deadlocks serially stays a
/// finding).
fn holds_across(p: &Program) -> bool {
    p.threads.iter().any(|t| {
        let mut held = 0usize;
        t.iter().any(|c| {
            let h = c.op.spec().handle;
            let must = h.class().is_some_and(HandleClass::must_release);
            match h {
                HandleUse::Binds(_) if must => {
                    held += 1;
                    false
                }
                HandleUse::Releases(_) if must => {
                    held = held.saturating_sub(1);
                    false
                }
                // A lock_super while holding: a second lock of the same super_block through
                // another handle waits for itself.
                HandleUse::Locks(_) => held > 0,
                _ if must => false,
                _ => held > 0,
            }
        })
    })
}

/// The legality check: each program run on the fixed protocol with its threads one after
/// another, in every order of the threads (loom at preemption bound 0,
/// [`LEGALITY_PREEMPTIONS`], runs a program's threads in their order, each to its end or until
/// it blocks: one execution). A serial order that deadlocks is no race: the calls themselves
/// break a calling rule the generator's handle rules do not cover (a task holding a
/// `get_super` unmounts that filesystem: `kill_super` waits for the `s_umount` its own caller
/// holds), which is the caller's bug, in the kernel too. Such a program is dropped (`None`).
/// Any other finding of a serial order is kept: the generated calls keep the calling rules, so
/// it is a bug of the protocol that needs no race (a leak on `chroot`, a wrong `rmdir`), and
/// the exploration reports it.
fn legal(
    programs: Vec<Program>,
    design: LockDesign,
    set: &Settings<'_>,
) -> Result<Vec<Option<Program>>> {
    let mut owner = Vec::new();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for (i, p) in programs.iter().enumerate() {
        if !holds_across(p) {
            continue;
        }
        for (k, order) in permutations(p.threads.len()).into_iter().enumerate() {
            let serial = Program {
                threads: order.iter().map(|&t| p.threads[t].clone()).collect(),
                spec: None,
                ..p.clone()
            };
            let mut s = scenario_of(format!("legality-{i}-{k}"), serial, Variant::Fixed, design);
            s.check = Check::None;
            scenarios.push(s);
            owner.push(i);
        }
    }
    let tasks: Vec<(&Scenario, Backend)> = scenarios.iter().map(|s| (s, Backend::Loom)).collect();
    let opts = ExploreOptions {
        preemption_bound: LEGALITY_PREEMPTIONS,
        ..set.opts.clone()
    };
    let legality = Settings {
        opts: &opts,
        iterations: None,
        minimize_witness: false,
        ..*set
    };
    let reports = run::explore_all_with(&tasks, &legality, &ProgressBar::hidden())?;
    let mut ok = vec![true; programs.len()];
    for (i, r) in owner.iter().zip(&reports) {
        if r.verdict == Verdict::Finding(FindingClass::Deadlock) {
            ok[*i] = false;
        }
    }
    Ok(programs
        .into_iter()
        .zip(ok)
        .map(|(p, ok)| ok.then_some(p))
        .collect())
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

/// Write the shrunk scenario's file, explore it again as `mountcheck run` would (loom and PCT at
/// their default bounds, witnesses minimized) and write its reports beside it; for a mutant, also
/// explore the fixed twin with PCT.
#[allow(clippy::too_many_arguments)]
fn write_found(
    dir: &Path,
    name: &str,
    shrunk: &shrink::Shrunk,
    class: FindingClass,
    variant: Variant,
    design: LockDesign,
    a: &FuzzArgs,
    index: usize,
    secs: f64,
) -> Result<FoundInfo> {
    let p = &shrunk.scenario.program;
    let file = dir.join(format!("{name}.toml"));
    let description = format!(
        "Generated by `mountcheck fuzz --seed {}` (scenario {index}, variant {}, lock design {}), shrunk from {} to {} calls. {}",
        a.seed,
        variant.id(),
        design.name(),
        shrunk.calls_before,
        calls(p),
        shrink::describe(p, &shrunk.report)
    );
    let check = check_of(p);
    let description = if check == Check::None {
        format!("{description} Its linearizability is not checked: it calls an operation that is not atomic (scenarios/README.md, \"Which operations are atomic\").")
    } else {
        description
    };
    let text = shrink::scenario_toml(name, &description, p, variant, design, class, check);
    report::write_whole(&file, &text)?;
    // The file as `mountcheck run` reads it.
    let mut scenarios = vec![scenario::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?];
    let opts = ExploreOptions {
        preemption_bound: bounds::DEFAULT_PREEMPTION_BOUND,
        max_branches: bounds::DEFAULT_MAX_BRANCHES,
        depth: bounds::DEFAULT_DEPTH,
        seed: options::DEFAULT_SEED,
        time_limit: bounds::DEFAULT_TIME_LIMIT_SECS,
        jobs: a.jobs,
        lock_design: None,
        allow_incomplete: false,
        scenarios_dir: PathBuf::from("scenarios"),
        reports: dir.to_path_buf(),
    };
    run::prepare(&mut scenarios, None, &opts)?;
    let set = Settings {
        opts: &opts,
        iterations: None,
        reports: dir,
        minimize_witness: true,
    };
    let s = &scenarios[0];
    let tasks: Vec<(&Scenario, Backend)> = vec![(s, Backend::Loom), (s, Backend::Pct)];
    let reports = run::explore_all_with(&tasks, &set, &ProgressBar::hidden())?;
    run::write_report_files(&reports, dir).context("writing the found scenario's reports")?;
    let reproduced_by: Vec<String> = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Finding(class))
        .map(|r| r.exploration.strategy.clone())
        .collect();
    let preemptions = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Finding(class))
        .filter_map(|r| r.witness.as_ref().map(|w| w.preemptions))
        .min();
    let fixed_twin_clean = match variant {
        Variant::Fixed => None,
        Variant::Mutant(_) => {
            let mut twin = s.clone();
            run::override_variant(&mut twin, Variant::Fixed);
            twin.name = format!("{name}-fixed-twin");
            let set = Settings {
                minimize_witness: false,
                ..set
            };
            let r = run::explore_all_with(&[(&twin, Backend::Pct)], &set, &ProgressBar::hidden())?;
            Some(r.iter().all(|r| !matches!(r.verdict, Verdict::Finding(_))))
        }
    };
    Ok(FoundInfo {
        file: file.display().to_string(),
        class: class.name().to_string(),
        scenario: index,
        calls_before: shrunk.calls_before,
        calls_after: calls(p),
        shrink_steps: shrunk.steps,
        reproduced_by,
        preemptions,
        fixed_twin_clean,
        secs,
    })
}

/// The summary: figures, findings, coverage (printed, and this campaign's section of
/// `fuzz.md`).
pub fn summary_markdown(s: &Summary, command: &str) -> String {
    let mut o = format!(
        "## Campaign: variant `{}`, lock design `{}`, seed {}\n\n`{command}`\n\n",
        s.variant, s.lock_design, s.seed
    );
    o.push_str(&format!(
        "- {} scenario(s) explored ({} draw(s) skipped), {} exploration(s), {} execution(s), {:.1} s (budget {:.0} s)\n",
        s.scenarios, s.skipped, s.explorations, s.executions, s.elapsed_secs, s.budget_secs
    ));
    o.push_str(&format!(
        "- {} incomplete exploration(s), {} checker error(s), {} specification failure(s)\n",
        s.incomplete,
        s.checker_errors,
        s.spec_failures.len()
    ));
    match (s.first_find_secs, s.first_find_scenarios) {
        (Some(t), Some(n)) => o.push_str(&format!(
            "- first finding after {t:.1} s, at scenario {n}\n"
        )),
        _ => o.push_str("- nothing found\n"),
    }
    if !s.found.is_empty() {
        o.push_str(
            "\n| found | class | calls (generated → shrunk) | shrink explorations | reproduced by | fewest preemptions | fixed twin clean |\n|---|---|---|---|---|---|---|\n"
        );
        for f in &s.found {
            o.push_str(&format!(
                "| `{}` | {} | {} → {} | {} | {} | {} | {} |\n",
                f.file,
                f.class,
                f.calls_before,
                f.calls_after,
                f.shrink_steps,
                if f.reproduced_by.is_empty() {
                    "—".to_string()
                } else {
                    f.reproduced_by.join(", ")
                },
                f.preemptions.map_or("—".into(), |p| p.to_string()),
                f.fixed_twin_clean.map_or("—".to_string(), |c| if c {
                    "yes".into()
                } else {
                    "**no**".into()
                })
            ));
        }
        if s.duplicates > 0 {
            o.push_str(&format!(
                "\n{} more finding(s) shrank to a scenario above.\n",
                s.duplicates
            ));
        }
    }
    o.push_str("\n### Operations run concurrently (scenarios per pair)\n\n");
    o.push_str(&s.coverage.markdown());
    o
}

/// Replace the section `key` of the Markdown file at `path` (between `<!-- begin KEY -->` and
/// `<!-- end KEY -->`) with `body`, keeping the others; sections are kept sorted by key.
pub fn update_section(path: &Path, key: &str, body: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut sections: std::collections::BTreeMap<String, String> = Default::default();
    let mut rest = old.as_str();
    while let Some(b) = rest.find("<!-- begin ") {
        let after = &rest[b + "<!-- begin ".len()..];
        let Some(k_end) = after.find(" -->") else {
            break;
        };
        let k = after[..k_end].to_string();
        let end_marker = format!("<!-- end {k} -->");
        let Some(e) = after.find(&end_marker) else {
            break;
        };
        let content = after[k_end + " -->".len()..e]
            .trim_matches('\n')
            .to_string();
        sections.insert(k, content);
        rest = &after[e + end_marker.len()..];
    }
    sections.insert(key.to_string(), body.trim_matches('\n').to_string());
    let mut o = String::from(
        "# Fuzzing campaigns\n\nWritten by `mountcheck fuzz` (one section per campaign: lock design and variant) and `scripts/fuzz-catalog.sh` (the catalog's time-to-find table); see reports/README.md.\n\n",
    );
    for (k, v) in &sections {
        o.push_str(&format!("<!-- begin {k} -->\n{v}\n<!-- end {k} -->\n\n"));
    }
    report::write_whole(path, &o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_every_order() {
        let p = permutations(3);
        assert_eq!(p.len(), 6);
        let set: BTreeSet<Vec<usize>> = p.into_iter().collect();
        assert_eq!(set.len(), 6);
        assert!(set.iter().all(|o| {
            let mut s = o.clone();
            s.sort();
            s == vec![0, 1, 2]
        }));
        assert_eq!(permutations(1), vec![vec![0]]);
    }

    #[test]
    fn sections_are_replaced_and_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fuzz.md");
        update_section(&p, "catalog", "| table |").unwrap();
        update_section(&p, "campaign global fixed", "first body").unwrap();
        update_section(&p, "campaign global fixed", "second body").unwrap();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(
            t.contains("| table |") && t.contains("second body") && !t.contains("first body"),
            "{t}"
        );
        assert_eq!(t.matches("<!-- begin ").count(), 2, "{t}");
    }

    #[test]
    fn loom_gets_its_own_cap_on_small_scenarios_only_and_pct_never() {
        let p = |threads: &[&[&str]]| Program {
            threads: threads
                .iter()
                .map(|t| {
                    t.iter()
                        .map(|c| mountcheck_model::parse_call(c).unwrap())
                        .collect()
                })
                .collect(),
            ..Program::default()
        };
        let four = p(&[&["stat /", "stat /"], &["stat /", "exit"]]);
        let five = p(&[&["stat /", "stat /", "stat /"], &["stat /", "exit"]]);
        assert!(searched_whole(&four, Backend::Loom));
        assert!(!searched_whole(&five, Backend::Loom));
        assert!(!searched_whole(&four, Backend::Pct));
    }
}
