//! mountcheck-engine: explores a [`Program`]'s interleavings with the checker this crate was
//! compiled for, and the request/response types the CLI exchanges with it.
//!
//! What it does: the model is compiled against one backend (see `mountcheck_model::sync`), so
//! this crate's sources are compiled three times too (this package for std, and the
//! `mountcheck-engine-shuttle` and `mountcheck-engine-loom` packages under `backends/`), and the
//! `mountcheck` binary links all three and runs [`worker::main`] of the right one in a child
//! process of itself per exploration. The [`driver`] module is the one place in the harness side
//! that names loom or shuttle, following loom's `model::Builder` and shuttle's `Runner`/schedulers.
//!
//! Invariant: an exploration always ends in a [`Response`] whose `finding` is data (never an
//! `Err`): a panic of the model becomes a finding with the ledger's trace and a replay token; a
//! process abort is turned into a verdict by the CLI from what the panic hook saved first.

use mountcheck_model::oracle::{Finding, Step};
use mountcheck_model::{Config, Program};
use serde::{Deserialize, Serialize};

pub mod driver;
#[cfg(all(feature = "shuttle", not(loom)))]
pub mod shrink;
pub mod worker;

/// How to explore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Strategy {
    /// loom: exhaustive DPOR-style exploration with an optional preemption bound.
    Loom {
        /// `Builder::preemption_bound`.
        preemption_bound: Option<usize>,
        /// `Builder::max_branches`.
        max_branches: usize,
    },
    /// shuttle's PCT scheduler.
    Pct {
        /// Bug depth.
        depth: usize,
    },
    /// shuttle's random scheduler.
    Random,
    /// shuttle's DFS scheduler: every scheduling point, no reduction.
    Dfs,
    /// Real threads, repeated.
    Stress,
    /// Re-run one shuttle schedule.
    ReplayShuttle {
        /// The encoded schedule.
        schedule: String,
    },
    /// Shrink a failing shuttle schedule to a witness with fewer preemptions (see
    /// `mountcheck_engine::shrink`): the same finding class, 2-minimal in its preemptions.
    ShrinkShuttle {
        /// The encoded failing schedule.
        schedule: String,
        /// The finding class the witness must keep.
        class: mountcheck_model::FindingClass,
    },
    /// Re-run one loom execution from its checkpoint.
    ReplayLoom {
        /// The checkpoint file's JSON.
        checkpoint: String,
        /// `Builder::max_branches` of the exploration that made it.
        max_branches: usize,
    },
}

impl Strategy {
    /// The backend build this strategy needs: `loom`, `shuttle` or `std`.
    pub fn backend(&self) -> &'static str {
        match self {
            Strategy::Loom { .. } | Strategy::ReplayLoom { .. } => "loom",
            Strategy::Pct { .. }
            | Strategy::Random
            | Strategy::Dfs
            | Strategy::ReplayShuttle { .. }
            | Strategy::ShrinkShuttle { .. } => "shuttle",
            Strategy::Stress => "std",
        }
    }

    /// Short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Loom { .. } => "loom",
            Strategy::Pct { .. } => "pct",
            Strategy::Random => "random",
            Strategy::Dfs => "dfs",
            Strategy::Stress => "stress",
            Strategy::ReplayShuttle { .. } | Strategy::ReplayLoom { .. } => "replay",
            Strategy::ShrinkShuttle { .. } => "shrink",
        }
    }
}

/// An exploration request, as the worker reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The scenario's name (for messages).
    pub scenario: String,
    /// The program.
    pub program: Program,
    /// Model configuration (variant, lock design).
    pub config: Config,
    /// How to explore.
    pub strategy: Strategy,
    /// Bound on executions (loom: `max_permutations`; shuttle: iterations; stress: runs).
    pub max_executions: u64,
    /// Seed for shuttle's random and PCT schedulers.
    pub seed: u64,
    /// Time bound in seconds for the exploration itself.
    pub time_limit_secs: f64,
    /// loom only: a directory where the worker may keep its checkpoint file.
    pub scratch_dir: Option<String>,
    /// loom only: resume from this checkpoint with interval 1 to capture the failing execution.
    pub resume_checkpoint: Option<String>,
}

/// What stopped an exploration that found nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// The whole (bounded) space was explored.
    Complete,
    /// The execution bound was reached.
    ExecutionBound,
    /// The time bound was reached.
    TimeBound,
    /// A finding stopped it.
    Finding,
}

/// How to re-run a failing execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ReplayToken {
    /// A shuttle schedule (shuttle-engine's serialization).
    Shuttle {
        /// The encoded schedule.
        schedule: String,
    },
    /// A loom checkpoint (the execution path as JSON) pinned to the failing execution.
    Loom {
        /// The checkpoint file's contents.
        checkpoint: String,
    },
    /// Real threads: no replay.
    None,
}

/// A finding with everything a report needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The oracle's finding (or one made from a checker panic).
    pub finding: Finding,
    /// The failing execution's steps.
    pub trace: Vec<Step>,
    /// 1-based index of the failing execution.
    pub execution: u64,
    /// The panic message as the checker saw it.
    pub panic_message: String,
    /// How to re-run it.
    pub replay: ReplayToken,
}

/// At most this many guided runs per shrink of a shuttle witness (each is one execution of the
/// program): enough for a witness with dozens of preemptions, small next to an exploration.
pub const MAX_SHRINK_RUNS: usize = 2_000;

/// Why a shrink stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShrinkStop {
    /// No one or two preemptions could be dropped: the witness is 2-minimal.
    Minimal,
    /// [`MAX_SHRINK_RUNS`] guided runs were made.
    RunCap,
    /// The time limit was reached.
    TimeLimit,
}

/// What shrinking did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrinkInfo {
    /// Preemptions of the schedule given.
    pub preemptions_before: usize,
    /// Preemptions of the witness returned.
    pub preemptions_after: usize,
    /// Scheduling decisions of the schedule given.
    pub steps_before: usize,
    /// Scheduling decisions of the witness returned.
    pub steps_after: usize,
    /// Guided runs made.
    pub runs: usize,
    /// Why it stopped.
    pub stop: ShrinkStop,
}

/// The worker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Backend of the worker build.
    pub backend: String,
    /// Executions run.
    pub executions: u64,
    /// Why it stopped.
    pub stop: Stop,
    /// The finding, if any.
    pub failure: Option<Failure>,
    /// Seconds spent exploring.
    pub elapsed_secs: f64,
    /// loom only: the last checkpoint stored during exploration (to capture a failure).
    pub checkpoint: Option<String>,
    /// [`Strategy::ShrinkShuttle`] only: what the shrink did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink: Option<ShrinkInfo>,
}
