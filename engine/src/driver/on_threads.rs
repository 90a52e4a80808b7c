//! The real-threads driver (std build): the program run again and again on OS threads until a
//! finding or the budget ends it; nothing to replay (the interleaving is the OS scheduler's).
//!
//! Invariant: only the engine's budget check or a panic ends a run; the run's end is read by
//! [`super::stop_reason`] like every driver's.

use super::*;

/// Run the program again and again: only the budget or a panic ends it.
fn until_stopped(req: &Request) {
    loop {
        one_execution(&req.program, req.config);
    }
}

/// Real threads: run the program again and again until a finding or the budget.
pub(super) fn run(req: &Request) -> Result<Run, String> {
    let r = catch_unwind(AssertUnwindSafe(|| until_stopped(req)));
    Ok(Run {
        end: RunEnd::of(r),
        replay: ReplayToken::None,
        single_schedule: false,
        checkpoint: None,
    })
}
