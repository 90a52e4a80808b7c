//! `mountcheck replay REPORT`: read a report back (its JSON twin), check its program, bounds and
//! replay token as a scenario file would be checked, run the one recorded schedule again and
//! print its own verdict: `reproduced` (exit 0) or `did NOT reproduce` (exit 1).
//!
//! Invariant: everything `run` checks before exploring is checked before the replay runs (the
//! JSON with its line and column, the schema, the program, the bounds, the replay token): a report
//! that fails a check is bad input (exit 2, naming the file and the field), never a panic. The
//! replay writes nothing beside the report (its worker's scratch directory, under the system's
//! temporary directory, is removed).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use mountcheck_engine::{bounds, ReplayToken, Request, Stop, Strategy};

use crate::out;
use crate::report::{self, FindingInfo, Report};
use crate::scenario::{check_program, Spot};
use crate::verdict::Verdict;
use crate::worker;

use crate::run::BadInput;

/// The JSON path of a spot of a report's program, for an error message.
fn json_path(spot: Spot) -> String {
    match spot {
        Spot::Program => "program".into(),
        Spot::Thread(i) => format!("program.threads[{i}]"),
        Spot::Op {
            thread: None,
            index,
            ..
        } => format!("program.setup[{index}]"),
        Spot::Op {
            thread: Some(t),
            index,
            ..
        } => format!("program.threads[{t}][{index}]"),
    }
}

/// Read a report for `replay` and check everything `run` would check before exploring it: the
/// JSON (with its line and column), the schema, the program, the bounds and the replay token.
/// Returns the report and the request that replays it.
pub fn replay_request(path: &Path) -> Result<(Report, Request), BadInput> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("{}: error: cannot read: {e}", path.display())))?;
    let at = |e: serde_json::Error| {
        BadInput(format!(
            "{}:{}:{}: error: not a mountcheck report: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    };
    let bad = |what: String| BadInput(format!("{}: error: {what}", path.display()));
    // The schema first, so that a report of another version is named as such.
    let v: serde_json::Value = serde_json::from_str(&text).map_err(at)?;
    let schema = v.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    if schema != report::SCHEMA {
        return Err(bad(format!(
            "schema: the report's schema is `{schema}`; this mountcheck reads `{}`",
            report::SCHEMA
        )));
    }
    let orig: Report = serde_json::from_str(&text).map_err(at)?;
    let Some(rp) = &orig.replay else {
        return Err(bad(format!(
            "the report's verdict is {}: it has no failing execution to replay",
            orig.verdict
        )));
    };
    if let Some(why) = rp.token.unusable() {
        return Err(bad(format!(
            "replay.token: this execution cannot be replayed: {why}"
        )));
    }
    check_program(&orig.program, orig.config.lock_design)
        .map_err(|p| bad(format!("{}: {}", json_path(p.spot), p.msg)))?;
    let strategy = match &rp.token {
        ReplayToken::Shuttle { schedule } => {
            mountcheck_engine_shuttle::driver::check_schedule(schedule)
                .map_err(|e| bad(format!("replay.token.schedule: {e}")))?;
            Strategy::ReplayShuttle {
                schedule: schedule.clone(),
            }
        }
        ReplayToken::Loom { checkpoint } => {
            let max_branches = orig.exploration.bounds.max_branches.ok_or_else(|| {
                bad("exploration.max_branches: a loom report needs its branch bound".into())
            })?;
            Strategy::ReplayLoom {
                checkpoint: checkpoint.clone(),
                max_branches,
            }
        }
        ReplayToken::None => unreachable!("an unusable token was refused above"),
    };
    let req = Request {
        scenario: orig.scenario.name.clone(),
        program: orig.program.clone(),
        config: orig.config,
        strategy,
        // One execution: the recorded one.
        max_executions: 1,
        seed: orig.exploration.bounds.seed,
        time_limit_secs: bounds::REPLAY_TIME_LIMIT_SECS,
        scratch_dir: None,
        resume_checkpoint: None,
        // A lock-order finding's cycle may close on edges of earlier executions.
        prior_order: rp.prior_order.clone(),
    };
    req.check()
        .map_err(|e| bad(format!("the replay cannot run: {e}")))?;
    Ok((orig, req))
}

/// `mountcheck replay REPORT`: re-run the exact failing execution, print its report and the
/// replay's own verdict: `reproduced` (the same finding and the same trace; exit 0) or `did NOT
/// reproduce` (exit 1).
pub fn replay(path: &Path) -> Result<ExitCode> {
    let (orig, req) = replay_request(path)?;
    if orig.tool.version != env!("CARGO_PKG_VERSION") {
        eprintln!("mountcheck: warning: the report was made by mountcheck {}, this is {}; a schedule may not replay on changed code", orig.tool.version, env!("CARGO_PKG_VERSION"));
    }
    let exe = worker::self_exe()?;
    let scratch = std::env::temp_dir().join(format!("mountcheck-replay-{}", std::process::id()));
    let resp = worker::run(&exe, &req, &scratch)?;
    let _ = std::fs::remove_dir_all(&scratch);
    let mut again = orig.clone();
    again.finding = resp.failure.as_ref().map(|f| FindingInfo {
        finding: f.finding.clone(),
        execution: orig.finding.as_ref().map_or(f.execution, |o| o.execution),
        panic_message: f.panic_message.clone(),
    });
    again.trace = resp
        .failure
        .as_ref()
        .map(|f| f.trace.clone())
        .unwrap_or_default();
    again.checker_error = resp.checker_error.clone();
    let reproduced = resp.stop == Stop::Finding
        && again.finding.as_ref().map(|f| &f.finding) == orig.finding.as_ref().map(|f| &f.finding)
        && again.trace == orig.trace;
    let what = |r: &Report| match &r.finding {
        Some(f) => format!("{} ({}-step trace)", f.finding.class, r.trace.len()),
        None => r
            .checker_error
            .as_ref()
            .map_or("no finding".to_string(), |m| {
                format!("a checker error: {m}")
            }),
    };
    if reproduced {
        out::print(&report::markdown(&again))?;
        let line = format!(
            "replay: reproduced: the same {} and the same {}-step trace",
            orig.verdict,
            again.trace.len()
        );
        out::println(&line)?;
        eprintln!("mountcheck: {line}");
        Ok(ExitCode::SUCCESS)
    } else {
        again.verdict = Verdict::of(resp.stop, resp.failure.as_ref().map(|f| f.finding.class));
        let cell = format!(
            "**{}** (the replay; the report says **{}**)",
            again.verdict, orig.verdict
        );
        out::print(&report::markdown_with(&again, &cell))?;
        let line = format!(
            "replay: did NOT reproduce: the report has {}, the replay gave {}",
            what(&orig),
            what(&again)
        );
        out::println(&line)?;
        eprintln!("mountcheck: {line}");
        Ok(ExitCode::from(1))
    }
}
