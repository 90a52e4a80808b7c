//! Command-line options shared by `run` and `catalog`, each parsed once into its type with its
//! allowed range (the ranges and defaults are the named constants of
//! `mountcheck_engine::bounds`).
//!
//! What it keeps: a value outside its range is a clap error naming the flag, the value and the
//! range, exit status 2, before anything runs or is written; a backend, a lock design, a variant
//! or a mutant is parsed into its type at the command line, never carried as a string.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use clap::builder::{PossibleValue, RangedU64ValueParser};
use clap::{Args, ValueEnum};
use mountcheck_engine::bounds;
use mountcheck_model::{LockDesign, Mutant, Variant};

/// Explorations at once by default: the machine the tool is made for has two cores, and each
/// exploration keeps one busy.
pub const DEFAULT_JOBS: usize = 2;

/// Seed of the random and PCT schedulers by default.
pub const DEFAULT_SEED: u64 = 1;

/// A `usize` option within `range`.
pub fn ranged(range: RangeInclusive<u64>) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(range)
}

/// A `u64` option within `range`.
pub fn ranged_u64(range: RangeInclusive<u64>) -> RangedU64ValueParser<u64> {
    RangedU64ValueParser::<u64>::new().range(range)
}

/// `--time-limit`: seconds, finite, in (0, [`bounds::MAX_TIME_LIMIT_SECS`]].
pub fn time_limit(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|e| format!("{e}: expected a number of seconds"))?;
    if bounds::time_limit_ok(v) {
        Ok(v)
    } else {
        Err(format!(
            "{} is not a number of seconds in (0, {}] (a day at most)",
            s.trim(),
            bounds::MAX_TIME_LIMIT_SECS
        ))
    }
}

/// `--variant`: `fixed` or a mutant id.
pub fn variant(s: &str) -> Result<Variant, String> {
    Variant::from_id(s).ok_or_else(|| {
        let ids: Vec<&str> = std::iter::once("fixed")
            .chain(Mutant::ALL.iter().map(|m| m.id()))
            .collect();
        format!(
            "unknown variant `{s}` (expected one of: {})",
            ids.join(", ")
        )
    })
}

/// `--mutants`: a mutant id.
pub fn mutant(s: &str) -> Result<Mutant, String> {
    Mutant::from_id(s).ok_or_else(|| {
        let ids: Vec<&str> = Mutant::ALL.iter().map(|m| m.id()).collect();
        format!("unknown mutant `{s}` (expected one of: {})", ids.join(", "))
    })
}

/// `--lock-design`: the model's [`LockDesign`], as a clap value enum built from the model's own
/// table of designs ([`LockDesign::ALL`] and [`LockDesign::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Design(pub LockDesign);

impl ValueEnum for Design {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::OnceLock<Vec<Design>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| LockDesign::ALL.into_iter().map(Design).collect())
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name()))
    }
}

/// Bounds and settings of the explorations of `run` and `catalog`.
#[derive(Args, Clone, Debug)]
pub struct ExploreOptions {
    /// loom: preemption bound (loom stores it in a u8; its space grows fast past 3).
    #[arg(long, default_value_t = bounds::DEFAULT_PREEMPTION_BOUND, value_parser = ranged(bounds::PREEMPTION_BOUND_RANGE))]
    pub preemption_bound: usize,
    /// loom: branch bound per execution (loom's own default is 1000).
    #[arg(long, default_value_t = bounds::DEFAULT_MAX_BRANCHES, value_parser = ranged(bounds::MAX_BRANCHES_RANGE))]
    pub max_branches: usize,
    /// PCT: bug depth.
    #[arg(long, default_value_t = bounds::DEFAULT_DEPTH, value_parser = ranged(bounds::DEPTH_RANGE))]
    pub depth: usize,
    /// Seed of the random and PCT schedulers.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Time bound of one exploration, in seconds (at most a day).
    #[arg(long, default_value_t = bounds::DEFAULT_TIME_LIMIT_SECS, value_parser = time_limit)]
    pub time_limit: f64,
    /// Explorations run at once (child processes).
    #[arg(long, default_value_t = DEFAULT_JOBS, value_parser = ranged(bounds::JOBS_RANGE))]
    pub jobs: usize,
    /// Lock design of the model's mount hash and super_blocks: `global` (2.4's one lock),
    /// `rwlock`, or `read-mostly` (lock-free `lookup_mnt` and `get_super` over RCU tables)
    /// [default: each scenario's own `lock_design`, else global].
    #[arg(long, value_enum)]
    pub lock_design: Option<Design>,
    /// Accept an `incomplete` verdict (a search stopped by its time limit or execution cap)
    /// where `clean` is expected.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Where the scenarios live.
    #[arg(long, default_value = "scenarios")]
    pub scenarios_dir: PathBuf,
    /// Where reports are written.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
}
