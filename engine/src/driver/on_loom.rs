//! The loom driver: loom's `model::Builder` with its checkpoint feature: explore with a large
//! checkpoint interval, resume from the last stored path with interval 1 to capture the failing
//! execution, and replay one execution from its checkpoint (loom 0.7 `src/model.rs`).
//!
//! Invariant: the engine, not loom, enforces the execution cap and the time limit
//! ([`super::one_execution`]), so a loom run that returns has explored its whole space within
//! its preemption and branch bounds.

use super::*;
use crate::bounds;
use std::path::PathBuf;

/// Checkpoint interval while exploring: large, because storing the path costs (measured with
/// loom 0.7.3 on a toy super_block model: writing the path before every execution cuts
/// throughput about 4x). A failure is then captured by resuming from the last checkpoint with
/// interval 1.
pub const EXPLORE_CHECKPOINT_INTERVAL: usize = 512;

// A loom checkpoint schedules `loom::MAX_THREADS` threads, which is what
// `ReplayToken::check_loom_shape` expects, and an execution needs that many.
const _: () = assert!(bounds::EXECUTION_THREADS == loom::MAX_THREADS);

fn builder(max_branches: usize, preemption_bound: Option<usize>) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    b.max_threads = bounds::EXECUTION_THREADS;
    b.max_branches = max_branches;
    b.preemption_bound = preemption_bound;
    // loom's own limits stop silently; the engine's budget stops the run instead (see the
    // module documentation). `Builder::new` reads them from the environment: clear them.
    b.max_duration = None;
    b.max_permutations = None;
    b.log = false;
    b.location = false;
    b
}

fn checkpoint_path(req: &Request, name: &str) -> Result<PathBuf, String> {
    let dir = req
        .scratch_dir
        .as_ref()
        .ok_or("loom needs a scratch directory for its checkpoint")?;
    Ok(PathBuf::from(dir).join(name))
}

fn check(req: &Request, b: loom::model::Builder, path: &PathBuf) -> Run {
    let program = req.program.clone();
    let cfg = req.config;
    let r = catch_unwind(AssertUnwindSafe(|| {
        b.check(move || one_execution(&program, cfg))
    }));
    let stored = std::fs::read_to_string(path).ok();
    Run {
        end: RunEnd::of(r),
        replay: ReplayToken::Loom {
            checkpoint: stored.clone().unwrap_or_default(),
        },
        single_schedule: false,
        checkpoint: stored,
    }
}

pub(super) fn run(req: &Request) -> Result<Run, String> {
    match &req.strategy {
        Strategy::Loom {
            preemption_bound,
            max_branches,
        } => {
            let path = checkpoint_path(req, "loom-checkpoint.json")?;
            let mut b = builder(*max_branches, *preemption_bound);
            b.checkpoint_file = Some(path.clone());
            match &req.resume_checkpoint {
                // Capture: resume at the last stored path, store before every execution, so
                // the file names the failing execution when the panic stops the run.
                Some(cp) => {
                    if cp.is_empty() {
                        // Failed before the first checkpoint: capture from the start.
                        let _ = std::fs::remove_file(&path);
                    } else {
                        ReplayToken::Loom {
                            checkpoint: cp.clone(),
                        }
                        .check_loom_shape(*max_branches)?;
                        std::fs::write(&path, cp)
                            .map_err(|e| format!("cannot write the checkpoint: {e}"))?;
                    }
                    b.checkpoint_interval = 1;
                }
                None => {
                    let _ = std::fs::remove_file(&path);
                    b.checkpoint_interval = EXPLORE_CHECKPOINT_INTERVAL;
                }
            }
            Ok(check(req, b, &path))
        }
        Strategy::ReplayLoom {
            checkpoint,
            max_branches,
        } => {
            let path = checkpoint_path(req, "loom-replay.json")?;
            std::fs::write(&path, checkpoint)
                .map_err(|e| format!("cannot write the checkpoint: {e}"))?;
            let mut b = builder(*max_branches, None);
            b.checkpoint_file = Some(path.clone());
            b.checkpoint_interval = 1;
            // loom checks `max_permutations` before each execution from the second on: 2
            // runs exactly the checkpointed one.
            b.max_permutations = Some(2);
            let mut run = check(req, b, &path);
            // The token of a replay is the checkpoint it replayed, unchanged.
            run.replay = ReplayToken::Loom {
                checkpoint: checkpoint.clone(),
            };
            run.checkpoint = None;
            Ok(run)
        }
        other => Err(format!(
            "strategy `{}` is not a loom strategy",
            other.name()
        )),
    }
}
