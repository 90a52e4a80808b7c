//! The sequential specification of a program: the model itself, run one whole operation at a
//! time, in every order of the threads' operations that keeps each thread's own order (std
//! build only; the harness computes it once per scenario and hands it to every exploration).
//!
//! What it models: linearizability as Lincheck checks it: a concurrent execution is correct when
//! its results (and here also the mount tables it leaves) are those of some sequential order of
//! the same operations. The specification is the fixed protocol under the scenario's lock design,
//! whatever variant is explored, so a mutant is judged against the reference protocol.
//!
//! Blocking: some operations hold a kernel lock across operation boundaries (`get_super` holds
//! `s_umount` for read until `drop_super`, `lock_super` holds `s_lock` until `unlock_super`), so
//! in a sequential order another thread's operation can block half-way: a `umount` detaches the
//! mount, then sleeps in `kill_super`'s `down_write(s_umount)` until the holder's `drop_super`.
//! Treating such orders as impossible would leave out outcomes the kernel produces (a `get_super`
//! holder that opens a file while the umount waits, then drops the super_block: every result
//! 0). So blocked operations are suspended, as Lincheck does for blocking operations: the
//! operation stops where it blocks, with its effects so far visible ([`crate::sync::seq`] runs
//! each task on its own thread, one at a time); the order goes on with the other threads'
//! operations (a thread whose operation is suspended cannot issue its next one: an order that
//! needs it to is infeasible); after each operation the suspended ones whose wait is now
//! satisfiable resume, in task order, each until it finishes or blocks again, before the next
//! operation of the order. A retry loop's `yield` lets the other suspended tasks run first. An
//! order that ends with an operation still suspended blocks for ever: it is infeasible. Most
//! orders never suspend anything, so each run first goes inline, on the caller's thread, and is
//! run again on task threads only when one of its operations would wait ([`SpecRunner`]). One run
//! (setup, forks, one order, the suspended operations resumed) is `run::Run`.
//!
//! Failures without effect: `mount`, `mount --bind` and `umount` look their path up before the
//! namespace semaphore, so another task can make them fail (EINVAL from `check_mnt`, EBUSY from
//! a walk's reference) where no sequential order does; such a failure changes nothing
//! ([`super::ops::Atomicity::WalkOrNoEffect`]). The specification therefore also runs, for every
//! set of such calls, the orders of the other calls with those calls failed without effect
//! (their result recorded as `None`), and an execution records such a failure as `None` too.
//!
//! Invariant: the outcome of an order depends on nothing but the order (one thread runs at a
//! time, resumptions in task order); an order count above [`MAX_ORDERS`] is refused before
//! anything runs; every wait of the runner is bounded ([`crate::sync::seq::REPORT_BOUND`],
//! [`MAX_POLLS_PER_ORDER`]) and its error names what was waited for.

use std::fmt;

use super::outcome::{Spec, SpecOutcome};
use super::Program;
use crate::checks::{Oracle, Oracles};
use crate::error::OpResult;
use crate::kernel::{Config, LockDesign};
use crate::sync::seq::{Group, SeqError};
use crate::variant::Variant;

mod run;

use run::Run;

/// The most sequential orders a specification may run: (Σn)! / Πn! for threads of n
/// operations (2×3 → 10, 3×3 → 20, 3×3×3 → 1 680, 4×3 → 369 600), summed over the sets of
/// calls that may fail without effect ([`count_runs`]).
pub const MAX_ORDERS: u64 = 100_000;

/// The most polls of suspended or yielding tasks in one order before the runner calls it a
/// livelock.
pub const MAX_POLLS_PER_ORDER: usize = 10_000;

/// Why a specification could not be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// More orders than [`MAX_ORDERS`] (bad input).
    TooManyOrders {
        /// The number of orders (saturated at `u128::MAX`).
        orders: u128,
        /// The bound.
        bound: u64,
    },
    /// Setup call `index` does not return what it must (0 unless asserted), blocks, or raises a
    /// finding, in the fixed protocol (bad input).
    Setup {
        /// Index of the call in the setup.
        index: usize,
        /// What is wrong.
        msg: String,
    },
    /// The fixed protocol raised a finding in a sequential order, a task livelocked, or the
    /// runner failed: a bug of the model or of the checker, not of the scenario.
    Runner(String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::TooManyOrders { orders, bound } => write!(
                f,
                "the threads' operations have {} sequential orders, more than the linearizability check's bound of {bound} (MAX_ORDERS); shorten the threads or say check = \"none\"",
                if *orders == u128::MAX { "too many to count".to_string() } else { orders.to_string() }
            ),
            SpecError::Setup { index, msg } => write!(f, "setup call {}: {msg}", index + 1),
            SpecError::Runner(m) => write!(f, "the sequential specification failed: {m}"),
        }
    }
}

impl std::error::Error for SpecError {}

impl From<SeqError> for SpecError {
    fn from(e: SeqError) -> Self {
        SpecError::Runner(e.0)
    }
}

/// Why one run (a setup, or a setup and an order) stopped before its end.
#[derive(Debug)]
enum RunError {
    /// The specification cannot be computed (or the setup is bad input).
    Spec(SpecError),
    /// Run inline, an operation would have to wait or yield: run again on task threads.
    WouldWait,
}

impl RunError {
    /// The specification's error: a run on task threads never asks to be run on them again.
    fn spec(self) -> SpecError {
        match self {
            RunError::Spec(e) => e,
            RunError::WouldWait => {
                SpecError::Runner("a run on task threads asked to be run on task threads".into())
            }
        }
    }
}

impl From<SpecError> for RunError {
    fn from(e: SpecError) -> Self {
        RunError::Spec(e)
    }
}

impl From<SeqError> for RunError {
    fn from(e: SeqError) -> Self {
        RunError::Spec(e.into())
    }
}

/// Where the specification's runs execute their operations. Both give the same specification
/// (tested on every bundled scenario): the inline runs only save the thread hand-offs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpecRunner {
    /// Each run on the caller's thread, and again on task threads when one of its operations
    /// would wait or yield ([`crate::sync::seq::Group::run_inline`]).
    #[default]
    InlineFirst,
    /// Every run on task threads, one at a time, each operation handed to its task's thread.
    Threads,
}

impl SpecRunner {
    /// Run `attempt` (its argument: inline or not) as this runner does.
    fn run<T>(self, mut attempt: impl FnMut(bool) -> Result<T, RunError>) -> Result<T, SpecError> {
        let first = attempt(self == SpecRunner::InlineFirst);
        match first {
            Err(RunError::WouldWait) => attempt(false),
            r => r,
        }
        .map_err(RunError::spec)
    }
}

/// The calls of `program`'s threads that can fail without effect, as (thread, index).
pub fn may_fail(program: &Program) -> Vec<(usize, usize)> {
    program
        .threads
        .iter()
        .enumerate()
        .flat_map(|(t, calls)| {
            calls
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    matches!(
                        c.op.spec().atomicity,
                        super::ops::Atomicity::WalkOrNoEffect(_)
                    )
                })
                .map(move |(i, _)| (t, i))
        })
        .collect()
}

/// The most calls that may fail without effect a specification enumerates the sets of
/// (2^this sets).
pub const MAX_MAY_FAIL: usize = 16;

/// The number of orders the specification of `program` runs: over every set S of the calls that
/// may fail without effect, the orders of the other calls; saturated.
pub fn count_runs(program: &Program) -> u128 {
    let sizes: Vec<usize> = program.threads.iter().map(Vec::len).collect();
    let mf = may_fail(program);
    if mf.len() > MAX_MAY_FAIL {
        return u128::MAX;
    }
    let mut total: u128 = 0;
    for set in 0u32..(1 << mf.len()) {
        let mut left = sizes.clone();
        for (bit, (t, _)) in mf.iter().enumerate() {
            if set & (1 << bit) != 0 {
                left[*t] -= 1;
            }
        }
        total = total.saturating_add(count_orders(&left));
    }
    total
}

/// The number of orders of threads of `sizes` operations: (Σn)! / Πn!, saturated.
pub fn count_orders(sizes: &[usize]) -> u128 {
    let mut total: u128 = 1;
    let mut k: u128 = 0;
    for &n in sizes {
        for j in 1..=n as u128 {
            k += 1;
            // total * k / j stays an integer: after this step total is C(k, j) * (earlier).
            total = match total.checked_mul(k) {
                Some(v) => v / j,
                None => return u128::MAX,
            };
        }
    }
    total
}

/// Every merge of threads of `sizes` operations keeping each thread's order, as thread numbers
/// (1..), in lexicographic order.
fn for_each_order(
    sizes: &[usize],
    f: &mut dyn FnMut(&[u8]) -> Result<(), SpecError>,
) -> Result<(), SpecError> {
    fn rec(
        left: &mut [usize],
        cur: &mut Vec<u8>,
        f: &mut dyn FnMut(&[u8]) -> Result<(), SpecError>,
    ) -> Result<(), SpecError> {
        if left.iter().all(|n| *n == 0) {
            return f(cur);
        }
        for t in 0..left.len() {
            if left[t] > 0 {
                left[t] -= 1;
                cur.push(t as u8 + 1);
                rec(left, cur, f)?;
                cur.pop();
                left[t] += 1;
            }
        }
        Ok(())
    }
    let mut left = sizes.to_vec();
    rec(&mut left, &mut Vec::new(), f)
}

/// The configuration the specification runs: the fixed protocol under `design`, with the
/// lifetime and invariant oracles (a finding there is a bug of the model) and no result oracles.
fn spec_config(design: LockDesign) -> Config {
    Config {
        variant: Variant::Fixed,
        lock_design: design,
        oracles: [Oracle::Lifetime, Oracle::Invariant]
            .into_iter()
            .collect::<Oracles>(),
    }
}

/// Run `program`'s setup alone, as init, in the fixed protocol under `design`: every call must
/// return what it asserts (0 when it asserts nothing), and none may block. Returns the results.
pub fn run_setup(program: &Program, design: LockDesign) -> Result<Vec<OpResult>, SpecError> {
    let group = Group::new(1)?;
    let only_setup = Program {
        setup: program.setup.clone(),
        ..Program::default()
    };
    SpecRunner::default()
        .run(|inline| Run::new(&only_setup, spec_config(design), &group, inline).setup())
}

/// The sequential specification of `program` under `design`: the distinct outcomes of every
/// feasible order. Refuses more than [`MAX_ORDERS`] orders.
pub fn sequential_spec(program: &Program, design: LockDesign) -> Result<Spec, SpecError> {
    sequential_spec_on(program, design, SpecRunner::default())
}

/// [`sequential_spec`], its runs executed as `runner` says.
pub fn sequential_spec_on(
    program: &Program,
    design: LockDesign,
    runner: SpecRunner,
) -> Result<Spec, SpecError> {
    let runs = count_runs(program);
    if runs > u128::from(MAX_ORDERS) {
        return Err(SpecError::TooManyOrders {
            orders: runs,
            bound: MAX_ORDERS,
        });
    }
    let sizes: Vec<usize> = program.threads.iter().map(Vec::len).collect();
    let mf = may_fail(program);
    let cfg = spec_config(design);
    let group = Group::new(program.threads.len() + 1)?;
    let mut outcomes: Vec<SpecOutcome> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let (mut enumerated, mut feasible) = (0u64, 0u64);
    for set in 0u32..(1 << mf.len()) {
        let failed: Vec<(usize, usize)> = mf
            .iter()
            .enumerate()
            .filter(|(bit, _)| set & (1 << bit) != 0)
            .map(|(_, c)| *c)
            .collect();
        let mut left = sizes.clone();
        for (t, _) in &failed {
            left[*t] -= 1;
        }
        for_each_order(&left, &mut |order| {
            enumerated += 1;
            let out = runner.run(|inline| {
                let mut run = Run::new(program, cfg, &group, inline);
                run.setup()?;
                run.fork()?;
                let out = run.order(order, &failed);
                run.abandon_pending()?;
                out
            })?;
            if let Some(o) = out {
                feasible += 1;
                if seen.insert(o.clone()) {
                    outcomes.push(SpecOutcome {
                        outcome: o,
                        order: order.to_vec(),
                    });
                }
            }
            Ok(())
        })?;
    }
    Ok(Spec::new(enumerated, feasible, outcomes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_counts_are_multinomials() {
        assert_eq!(count_orders(&[2, 3]), 10);
        assert_eq!(count_orders(&[3, 3]), 20);
        assert_eq!(count_orders(&[3, 3, 3]), 1_680);
        assert_eq!(count_orders(&[3, 3, 3, 3]), 369_600);
        assert_eq!(count_orders(&[1]), 1);
        assert_eq!(count_orders(&[200, 200, 200, 200]), u128::MAX);
        let mut n: u32 = 0;
        for_each_order(&[2, 1, 2], &mut |o| {
            assert_eq!(o.len(), 5);
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(u128::from(n), count_orders(&[2, 1, 2]));
    }
}
