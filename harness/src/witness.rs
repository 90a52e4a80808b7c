//! Fewest preemptions: every finding's witness is minimized before its report is written.
//!
//! What it does, following CHESS's iterative context bounding (Musuvathi & Qadeer, PLDI 2007):
//!
//! - A loom finding made at preemption bound `P` is searched again at bounds 0, 1, …, `P - 1`,
//!   each an exhaustive loom exploration of the same scenario; the first bound `k` at which loom
//!   finds a finding of the same class gives the witness (captured at that bound, so its replay
//!   token replays it), and, when the searches at every smaller bound exhausted their space
//!   without one, no witness with fewer than `k` preemptions exists within loom's bounded search.
//!   Among the witnesses with `k` preemptions the one given is the first loom's search order
//!   reaches (loom stops at the first failing execution, so the shortest of them is not sought).
//! - A PCT, random or DFS finding is shrunk by the shuttle worker
//!   (`mountcheck_engine::shrink`): preemptions of its schedule dropped while the same class
//!   still occurs, with the counts before and after.
//! - Real threads leave no schedule to shrink.
//!
//! Invariant: the witness a report carries is the one its replay token re-runs; the minimality it
//! claims is exactly what the searches established, each search's stop reason included.

use std::path::Path;

use anyhow::Result;
use mountcheck_engine::{Failure, Request, Response, ShrinkInfo, Stop, Strategy};
use serde::{Deserialize, Serialize};

use crate::worker;

/// What the report says about its witness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// Preemptions of the witness: loom, the smallest bound that found the class; shuttle, the
    /// preemptions of the shrunk schedule.
    pub preemptions: usize,
    /// How minimal it is known to be, in words.
    pub minimality: String,
    /// The original witness's preemptions (shuttle) or bound (loom), before minimizing.
    pub before: usize,
    /// loom: the searches at smaller bounds (bound, executions, stop reason); shuttle: empty.
    pub searches: Vec<(usize, u64, Stop)>,
}

/// Minimize the witness of `resp`'s finding (from `req`'s exploration). Returns the response to
/// report (with the minimized failure; for loom, captured by `capture` so its token replays it)
/// and what was established, or `None` when nothing could be minimized (no finding, a crash, real
/// threads, no replay token).
pub fn minimize(
    req: &Request,
    resp: &Response,
    exe: &Path,
    scratch: &Path,
    capture: impl Fn(&Request, &Response, &Path) -> Result<Response>,
) -> Result<Option<(Response, Witness)>> {
    let Some(f) = &resp.failure else {
        return Ok(None);
    };
    if f.finding.class == mountcheck_model::FindingClass::Crash {
        return Ok(None);
    }
    match &req.strategy {
        // A loom finding's token is completed by the capture run (see `run::capture_loom`).
        Strategy::Loom {
            preemption_bound: Some(p),
            max_branches,
        } => loom(req, resp, f, *p, *max_branches, exe, scratch, capture),
        Strategy::Pct { .. } | Strategy::Random | Strategy::Dfs
            if f.replay.unusable().is_none() =>
        {
            shuttle(req, resp, f, exe, scratch)
        }
        _ => Ok(None),
    }
}

#[allow(clippy::too_many_arguments)]
fn loom(
    req: &Request,
    resp: &Response,
    f: &Failure,
    bound: usize,
    max_branches: usize,
    exe: &Path,
    scratch: &Path,
    capture: impl Fn(&Request, &Response, &Path) -> Result<Response>,
) -> Result<Option<(Response, Witness)>> {
    let class = f.finding.class;
    let mut searches = Vec::new();
    for k in 0..bound {
        let mut r = req.clone();
        r.strategy = Strategy::Loom {
            preemption_bound: Some(k),
            max_branches,
        };
        let dir = scratch.join(format!("bound-{k}"));
        let found = worker::run(exe, &r, &dir)?;
        let same = found
            .failure
            .as_ref()
            .is_some_and(|g| g.finding.class == class);
        if same {
            let captured = capture(&r, &found, &dir)?;
            let minimality = if searches
                .iter()
                .all(|s: &(usize, u64, Stop)| s.2 == Stop::Exhausted)
            {
                if k == 0 {
                    "no preemption: the race needs none".to_string()
                } else {
                    format!(
                        "fewest: loom's exhaustive search at preemption bound {} found no {class}",
                        k - 1
                    )
                }
            } else {
                format!(
                    "loom found it at preemption bound {k}; a search at a smaller bound stopped before exhausting its space, so fewer is not ruled out"
                )
            };
            return Ok(Some((
                captured,
                Witness {
                    preemptions: k,
                    minimality,
                    before: bound,
                    searches,
                },
            )));
        }
        searches.push((k, found.executions, found.stop));
    }
    let all = searches.iter().all(|s| s.2 == Stop::Exhausted);
    let minimality = if bound == 0 {
        "no preemption: the race needs none".to_string()
    } else if all {
        format!(
            "fewest: loom's exhaustive search at preemption bound {} found no {class}",
            bound - 1
        )
    } else {
        "a search at a smaller bound stopped before exhausting its space, so fewer is not ruled out"
            .to_string()
    };
    Ok(Some((
        capture(req, resp, scratch)?,
        Witness {
            preemptions: bound,
            minimality,
            before: bound,
            searches,
        },
    )))
}

fn shuttle(
    req: &Request,
    resp: &Response,
    f: &Failure,
    exe: &Path,
    scratch: &Path,
) -> Result<Option<(Response, Witness)>> {
    let mountcheck_engine::ReplayToken::Shuttle { schedule } = &f.replay else {
        return Ok(None);
    };
    let mut r = req.clone();
    r.strategy = Strategy::ShrinkShuttle {
        schedule: schedule.clone(),
        class: f.finding.class,
    };
    r.max_executions = 1;
    let shrunk = worker::run(exe, &r, &scratch.join("shrink"))?;
    let (Some(g), Some(info)) = (&shrunk.failure, &shrunk.shrink) else {
        // The shrink could not reproduce the finding (a schedule that does not replay): keep the
        // original witness, unminimized.
        return Ok(None);
    };
    if g.finding.class != f.finding.class {
        return Ok(None);
    }
    let mut out = resp.clone();
    let mut g = g.clone();
    g.execution = f.execution;
    out.failure = Some(g);
    Ok(Some((out, shuttle_witness(info))))
}

fn shuttle_witness(info: &ShrinkInfo) -> Witness {
    use mountcheck_engine::ShrinkStop;
    let minimality = match info.stop {
        ShrinkStop::Minimal if info.preemptions_after == 0 => format!(
            "no preemption: the race needs none (the schedule found had {})",
            info.preemptions_before
        ),
        ShrinkStop::Minimal => format!(
            "shrunk from {} preemptions ({} scheduling steps) to {} ({} steps) in {} replays; no one or two of them can be dropped",
            info.preemptions_before, info.steps_before, info.preemptions_after, info.steps_after, info.runs
        ),
        ShrinkStop::RunCap | ShrinkStop::TimeLimit => format!(
            "shrunk from {} preemptions to {} in {} replays, stopped by its {} before a minimal one",
            info.preemptions_before,
            info.preemptions_after,
            info.runs,
            if info.stop == ShrinkStop::RunCap {
                "replay cap"
            } else {
                "time limit"
            }
        ),
    };
    Witness {
        preemptions: info.preemptions_after,
        minimality,
        before: info.preemptions_before,
        searches: Vec::new(),
    }
}
