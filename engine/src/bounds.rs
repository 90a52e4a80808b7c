//! Every bound of an exploration, each one named once with the reason for its value (as loom's
//! `MAX_THREADS` and `DEFAULT_MAX_BRANCHES`).
//!
//! What it keeps: the limits the checkers impose (loom's thread count and the width of its
//! preemption counter), the ranges the CLI accepts for each numeric option, and the defaults of
//! `mountcheck run`. The CLI rejects a value outside its range as bad input before any work, and
//! the worker checks a request against the same constants ([`crate::Request::check`]), so a bound
//! a checker cannot honour never reaches the checker.
//!
//! Invariant: no other place writes these numbers as literals.

use std::ops::RangeInclusive;

/// The most scenario threads any backend explores. loom models at most `loom::MAX_THREADS` = 5
/// threads, and the execution's own main thread (init: setup, forks, joins, quiescence) is one of
/// them, so 4 scenario threads; the scenario format promises 1–4 threads on every backend, so
/// that a scenario that runs on one backend runs on all of them.
pub const MAX_SCENARIO_THREADS: usize = 4;

/// Threads of one execution as loom counts them: the scenario threads plus the main thread.
pub const EXECUTION_THREADS: usize = MAX_SCENARIO_THREADS + 1;

/// The range of loom's preemption bound. loom keeps the bound and its per-branch preemption
/// counts in a `u8` (loom 0.7 `rt/execution.rs` converts it with `try_into().expect("preemption_bound
/// too big")`), so a bound above 255 makes loom panic before the first execution.
pub const PREEMPTION_BOUND_RANGE: RangeInclusive<u64> = 0..=u8::MAX as u64;

/// Default loom preemption bound: 2 is where every historical bug of the catalog is caught and
/// every bundled scenario is explored whole in seconds; the space grows fast past 3.
pub const DEFAULT_PREEMPTION_BOUND: usize = 2;

/// The range of loom's branch bound (scheduling and load decisions per execution). loom's own
/// default (`DEFAULT_MAX_BRANCHES`) is 1 000; one branch is needed per decision, so a bound below
/// 1 can run nothing. loom allocates the whole path (one entry of tens of bytes per branch, each
/// holding the state of every thread) before the first execution, and a path of a million
/// branches is already far longer than any execution this model has; a bound in the billions
/// would not fit the worker's address-space bound at all.
pub const MAX_BRANCHES_RANGE: RangeInclusive<u64> = 1..=1_000_000;

/// Default loom branch bound: loom's 1 000 is too small for a scenario of four threads of a few
/// system calls each (every lock, atomic and ledger-visible step is a branch); 20 000 leaves room
/// for the largest bundled scenario several times over.
pub const DEFAULT_MAX_BRANCHES: usize = 20_000;

/// The range of PCT's bug depth. Depth d means d - 1 priority change points per execution; the
/// PCT paper's bugs need depth 1–3, and a depth beyond the number of scheduling steps of an
/// execution (a few hundred for the largest scenario) adds nothing.
pub const DEPTH_RANGE: RangeInclusive<u64> = 1..=1_000;

/// Default PCT depth: 3 catches every historical bug of the catalog.
pub const DEFAULT_DEPTH: usize = 3;

/// The range of executions per exploration. At least one; at most 10^9, which is days at the
/// fastest backend's rate (tens of microseconds per execution), so a larger number is a typo.
pub const ITERATIONS_RANGE: RangeInclusive<u64> = 1..=1_000_000_000;

/// Default execution bounds per backend. loom: far more than any bundled scenario needs to be
/// explored whole at the default preemption bound (the largest takes about 2 000), so a loom
/// exploration ends exhausted or at its time limit, rarely at this cap.
pub const DEFAULT_LOOM_ITERATIONS: u64 = 200_000;
/// PCT and random: 2 000 executions catch every historical bug of the catalog (the slowest,
/// `expiry-get-namespace`, needs about 1 700 with seed 1) and run in about a second.
pub const DEFAULT_RANDOMIZED_ITERATIONS: u64 = 2_000;
/// DFS: no reduction and no preemption bound, so it exhausts only the smallest scenarios; 20 000
/// executions is about ten seconds.
pub const DEFAULT_DFS_ITERATIONS: u64 = 20_000;
/// Real threads: 2 000 runs of a scenario take about a second.
pub const DEFAULT_STRESS_ITERATIONS: u64 = 2_000;

/// The largest time limit of one exploration, in seconds: one day. `Duration::from_secs_f64`
/// panics on values it cannot represent (1e308, infinity), and the CLI waits for a worker up to its
/// time limit plus a grace period, so the bound must be finite and sane; a day is more than any
/// exploration this tool is for.
pub const MAX_TIME_LIMIT_SECS: f64 = 86_400.0;

/// Default time limit of one exploration, in seconds: every bundled scenario explores whole
/// under loom in a few seconds; 20 s bounds a run of the 33 bundled scenarios on two backends.
pub const DEFAULT_TIME_LIMIT_SECS: f64 = 20.0;

/// Time limit of a replay, in seconds: a replay runs one execution (loom) or one schedule
/// (shuttle), which takes milliseconds; a minute only bounds a replay that hangs.
pub const REPLAY_TIME_LIMIT_SECS: f64 = 60.0;

/// The range of `--jobs` (explorations at once, each a child process). Each child may map up to
/// the worker's address-space bound; 64 is more than any machine this runs on has cores for.
pub const JOBS_RANGE: RangeInclusive<u64> = 1..=64;

/// Whether `secs` is an acceptable time limit: finite, positive, at most
/// [`MAX_TIME_LIMIT_SECS`].
pub fn time_limit_ok(secs: f64) -> bool {
    secs.is_finite() && secs > 0.0 && secs <= MAX_TIME_LIMIT_SECS
}
