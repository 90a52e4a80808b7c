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

use mountcheck_model::oracle::lockdep::PriorOrder;
use mountcheck_model::oracle::{Finding, Step};
use mountcheck_model::{Config, Program};
use serde::{Deserialize, Serialize};

pub mod bounds;
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

    /// Whether the backend is systematic (loom, DFS): one that can exhaust its space, so that
    /// stopping short of it leaves the verdict incomplete. The randomized ones (PCT, random, real
    /// threads) end at their iteration budget by design.
    pub fn is_systematic(&self) -> bool {
        matches!(self, Strategy::Loom { .. } | Strategy::Dfs)
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
    /// A replay of a `lock-order` finding: the lock-order graph the exploration had before the
    /// failing execution (its edges and that execution's number), which the replayed execution
    /// starts from. `None`: a fresh graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_order: Option<PriorOrder>,
}

impl Request {
    /// The bounds this request explores under, for messages: `at most N executions, T s, ...`.
    pub fn bounds_summary(&self) -> String {
        let mut s = format!(
            "at most {} executions, time limit {} s",
            self.max_executions, self.time_limit_secs
        );
        match &self.strategy {
            Strategy::Loom {
                preemption_bound,
                max_branches,
            } => {
                if let Some(p) = preemption_bound {
                    s.push_str(&format!(", --preemption-bound {p}"));
                }
                s.push_str(&format!(", --max-branches {max_branches}"));
            }
            Strategy::ReplayLoom { max_branches, .. } => {
                s.push_str(&format!(", --max-branches {max_branches}"));
            }
            Strategy::Pct { depth } => s.push_str(&format!(", --depth {depth}")),
            _ => {}
        }
        s
    }

    /// Check the request against the bounds every checker can honour ([`bounds`]) and the
    /// program's own validity: the worker refuses a request that fails (the CLI checks the same
    /// before it starts a worker, with positions for the user).
    pub fn check(&self) -> Result<(), String> {
        let n = self.program.threads.len();
        if n == 0 || n > bounds::MAX_SCENARIO_THREADS {
            return Err(format!(
                "the program has {n} threads; every backend runs 1 to {} threads",
                bounds::MAX_SCENARIO_THREADS
            ));
        }
        self.program
            .validate()
            .map_err(|e| format!("invalid program: {}", e.msg))?;
        if !bounds::ITERATIONS_RANGE.contains(&self.max_executions) {
            return Err(format!(
                "max_executions {} is outside {:?}",
                self.max_executions,
                bounds::ITERATIONS_RANGE
            ));
        }
        if !bounds::time_limit_ok(self.time_limit_secs) {
            return Err(format!(
                "time limit {} s is outside (0, {}]",
                self.time_limit_secs,
                bounds::MAX_TIME_LIMIT_SECS
            ));
        }
        let in_range = |v: usize, r: &std::ops::RangeInclusive<u64>| {
            u64::try_from(v).is_ok_and(|v| r.contains(&v))
        };
        match &self.strategy {
            Strategy::Loom {
                preemption_bound,
                max_branches,
            } => {
                if let Some(p) = preemption_bound {
                    if !in_range(*p, &bounds::PREEMPTION_BOUND_RANGE) {
                        return Err(format!(
                            "preemption bound {p} is outside {:?}",
                            bounds::PREEMPTION_BOUND_RANGE
                        ));
                    }
                }
                if !in_range(*max_branches, &bounds::MAX_BRANCHES_RANGE) {
                    return Err(format!(
                        "max branches {max_branches} is outside {:?}",
                        bounds::MAX_BRANCHES_RANGE
                    ));
                }
            }
            Strategy::ReplayLoom {
                checkpoint,
                max_branches,
            } => {
                if !in_range(*max_branches, &bounds::MAX_BRANCHES_RANGE) {
                    return Err(format!(
                        "max branches {max_branches} is outside {:?}",
                        bounds::MAX_BRANCHES_RANGE
                    ));
                }
                ReplayToken::Loom {
                    checkpoint: checkpoint.clone(),
                }
                .check_loom_shape(*max_branches)?;
            }
            Strategy::Pct { depth } => {
                if !in_range(*depth, &bounds::DEPTH_RANGE) {
                    return Err(format!(
                        "PCT depth {depth} is outside {:?}",
                        bounds::DEPTH_RANGE
                    ));
                }
            }
            Strategy::ReplayShuttle { schedule } | Strategy::ShrinkShuttle { schedule, .. } => {
                if schedule.is_empty() {
                    return Err("the shuttle schedule is empty".into());
                }
            }
            Strategy::Random | Strategy::Dfs | Strategy::Stress => {}
        }
        Ok(())
    }
}

/// Why an exploration stopped: the one answer to "how far did the search go", decided in one place
/// (`driver::stop_reason`) and shown with every verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// A systematic backend explored its whole space: loom every execution within the preemption
    /// bound, DFS every schedule (or any backend, when the program has a single schedule).
    Exhausted,
    /// A randomized backend (PCT, random, real threads) ran its iteration budget: its normal end.
    Bound,
    /// The exploration's time limit stopped it before its space or its budget was done.
    TimeLimit,
    /// A systematic backend reached its execution cap before exhausting its space.
    IterationCap,
    /// The checker failed before or during exploring (a bound it rejects, its own limit, a worker
    /// that refused the request): nothing can be said about the scenario.
    CheckerError,
    /// A finding stopped it.
    Finding,
}

impl Stop {
    /// Every stop reason, in a stable order.
    pub const ALL: [Stop; 6] = [
        Stop::Exhausted,
        Stop::Bound,
        Stop::TimeLimit,
        Stop::IterationCap,
        Stop::CheckerError,
        Stop::Finding,
    ];

    /// The kebab-case name used in tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Exhausted => "exhausted",
            Stop::Bound => "bound",
            Stop::TimeLimit => "time-limit",
            Stop::IterationCap => "iteration-cap",
            Stop::CheckerError => "checker-error",
            Stop::Finding => "finding",
        }
    }

    /// What it means, for the documentation tables and `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            Stop::Exhausted => "the whole space was explored: loom every execution within the preemption bound, DFS every schedule",
            Stop::Bound => "a randomized backend (pct, random, stress) ran its iteration budget, its normal end",
            Stop::TimeLimit => "the time limit (--time-limit) stopped the exploration early",
            Stop::IterationCap => "a systematic backend (loom, dfs) reached --iterations before exhausting its space",
            Stop::CheckerError => "the checker failed before or during exploring",
            Stop::Finding => "an execution broke an invariant of the oracle (or deadlocked)",
        }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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

impl ReplayToken {
    /// Why this token cannot re-run the execution, if it cannot: real threads leave no schedule,
    /// and a loom exploration that failed before its first checkpoint leaves an empty one.
    pub fn unusable(&self) -> Option<&'static str> {
        match self {
            ReplayToken::None => Some(
                "no schedule was recorded (real threads, or the worker died before recording one)",
            ),
            ReplayToken::Loom { checkpoint } if checkpoint.trim().is_empty() => {
                Some("loom stored no checkpoint of the failing execution")
            }
            ReplayToken::Shuttle { schedule } if schedule.trim().is_empty() => {
                Some("shuttle recorded an empty schedule")
            }
            _ => None,
        }
    }

    /// Check that a loom checkpoint has the shape loom 0.7 writes (`rt::Path` as JSON: the
    /// preemption bound, the position, the branch entries and three flags) and fits in
    /// `max_branches`: loom deserializes it with `unwrap` and reserves `max_branches` minus the
    /// entries, so a malformed or oversized checkpoint would make loom panic instead of replaying.
    /// A path with no entries is valid: it names the first execution. Other tokens pass.
    pub fn check_loom_shape(&self, max_branches: usize) -> Result<(), String> {
        let ReplayToken::Loom { checkpoint } = self else {
            return Ok(());
        };
        let v: serde_json::Value = serde_json::from_str(checkpoint)
            .map_err(|e| format!("the loom checkpoint is not JSON: {e}"))?;
        let obj = v
            .as_object()
            .ok_or("the loom checkpoint is not a JSON object")?;
        let field = |k: &str| {
            obj.get(k)
                .ok_or_else(|| format!("the loom checkpoint has no `{k}`"))
        };
        let bound = field("preemption_bound")?;
        if !(bound.is_null() || bound.as_u64().is_some_and(|b| b <= u64::from(u8::MAX))) {
            return Err(format!(
                "the loom checkpoint's preemption_bound is not a number of 0 to 255: {bound}"
            ));
        }
        if field("pos")?.as_u64().is_none() {
            return Err("the loom checkpoint's `pos` is not a number".into());
        }
        for k in ["exploring", "skipping", "exploring_on_start"] {
            if !field(k)?.is_boolean() {
                return Err(format!("the loom checkpoint's `{k}` is not a boolean"));
            }
        }
        let entries = field("branches")?
            .get("entries")
            .and_then(|e| e.as_array())
            .ok_or("the loom checkpoint's `branches.entries` is not a list")?;
        if entries.len() > max_branches {
            return Err(format!(
                "the loom checkpoint has {} branches, more than max_branches {max_branches}",
                entries.len()
            ));
        }
        for (i, e) in entries.iter().enumerate() {
            let kind = e
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.keys().next())
                .map(String::as_str);
            if !matches!(kind, Some("Schedule" | "Load" | "Spurious")) {
                return Err(format!(
                    "the loom checkpoint's branch {i} is not a Schedule, Load or Spurious entry"
                ));
            }
            if let Some(threads) = e.get("Schedule").and_then(|s| s.get("threads")) {
                if threads.as_array().map(Vec::len) != Some(bounds::EXECUTION_THREADS) {
                    return Err(format!(
                        "the loom checkpoint's branch {i} does not schedule {} threads",
                        bounds::EXECUTION_THREADS
                    ));
                }
            }
        }
        Ok(())
    }
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
    /// For a `lock-order` finding: the lock-order graph before the failing execution, which a
    /// replay needs (the cycle can close on edges of earlier executions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_order: Option<PriorOrder>,
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
    /// The finding, if any (`stop` is then [`Stop::Finding`]).
    pub failure: Option<Failure>,
    /// The checker's message when the checker itself failed (`stop` is then
    /// [`Stop::CheckerError`]).
    #[serde(default)]
    pub checker_error: Option<String>,
    /// Seconds spent exploring.
    pub elapsed_secs: f64,
    /// loom only: the last checkpoint stored during exploration (to capture a failure).
    pub checkpoint: Option<String>,
    /// [`Strategy::ShrinkShuttle`] only: what the shrink did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink: Option<ShrinkInfo>,
}
