//! Whole-CLI measurements for the benchmark report: this `mountcheck`'s exploration rate beside a
//! baseline build's, and the largest loom preemption bound at which the bundled 2- and 3-thread
//! scenarios explore to completion within the default time limit.
//!
//! What it measures: each measurement is a `mountcheck run` of one scenario with one backend, in
//! a temporary reports directory; the figures are read back from its `index.json` (executions,
//! and the seconds the worker spent exploring, without process start). Both tools are driven
//! through the command line they ship with, so a baseline commit's binary (built by
//! `scripts/bench-baseline.sh`, with its own workers and its own copy of the scenarios, in the
//! syntax of its day) is measured exactly as a user runs it. Rounds alternate old and new, so
//! both see the same load on the shared cores, and each rate is the best of its rounds (noise on
//! a shared machine only ever slows a run down).
//!
//! Invariant: every figure comes from a run made now; a run that fails, or a row missing from
//! an index, is an error naming the command, never a zero in a table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A result, with the failing command in the error.
pub type Res<T> = Result<T, String>;

/// One row of a run's `index.json`, the fields both the baseline and this tool write.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexRow {
    /// Scenario name.
    pub scenario: String,
    /// Backend (`loom`, `pct`, …).
    pub strategy: String,
    /// Executions explored.
    pub executions: u64,
    /// Seconds the worker spent exploring.
    pub secs: f64,
    /// Why it stopped (this tool's index only).
    pub stop: Option<String>,
    /// The verdict.
    pub verdict: String,
}

/// Run `exe run ARGS… --reports TMP` in `cwd` and read its index. Exit status 1 (a verdict not
/// as expected) is accepted: the figures are what is measured; 2 or a crash is an error.
pub fn run_index(exe: &Path, cwd: &Path, args: &[String]) -> Res<Vec<IndexRow>> {
    let reports = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .current_dir(cwd)
        .arg("run")
        .args(args)
        .arg("--reports")
        .arg(reports.path())
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let cmd = format!("{} run {}", exe.display(), args.join(" "));
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!(
            "`{cmd}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = std::fs::read_to_string(reports.path().join("index.json"))
        .map_err(|e| format!("`{cmd}`: no index.json: {e}"))?;
    parse_index(&text).map_err(|e| format!("`{cmd}`: {e}"))
}

/// The rows of an `index.json`: an array of rows (both tools write one).
pub fn parse_index(text: &str) -> Res<Vec<IndexRow>> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("index.json: {e}"))?;
    let rows = v.as_array().ok_or("index.json is not an array of rows")?;
    rows.iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().map(str::to_string);
            Ok(IndexRow {
                scenario: s("scenario").ok_or("a row has no scenario")?,
                strategy: s("strategy").ok_or("a row has no strategy")?,
                executions: r["executions"].as_u64().ok_or("a row has no executions")?,
                secs: r["secs"].as_f64().ok_or("a row has no secs")?,
                stop: s("stop"),
                verdict: s("verdict").unwrap_or_default(),
            })
        })
        .collect()
}

/// One side-by-side row: a scenario and backend, the baseline's and this tool's best rate.
#[derive(Clone, Debug)]
pub struct SpeedRow {
    /// Scenario.
    pub scenario: String,
    /// Backend.
    pub backend: String,
    /// Baseline: executions of one exploration and the best executions per second.
    pub old: (u64, f64),
    /// This tool: the same.
    pub new: (u64, f64),
}

impl SpeedRow {
    /// How many times faster this tool explores.
    pub fn speedup(&self) -> f64 {
        self.new.1 / self.old.1
    }
}

/// A `mountcheck` to measure: its binary and the scenarios directory it reads.
#[derive(Clone, Debug)]
pub struct Tool {
    /// The binary.
    pub exe: PathBuf,
    /// Its scenarios (a baseline reads its own, in the syntax of its day).
    pub scenarios: PathBuf,
}

fn rate(rows: &[IndexRow], scenario: &str, backend: &str, what: &str) -> Res<(u64, f64)> {
    let r = rows
        .iter()
        .find(|r| r.scenario == scenario && r.strategy == backend)
        .ok_or_else(|| format!("{what}: no {scenario}/{backend} row"))?;
    if r.secs <= 0.0 {
        return Err(format!("{what}: {scenario}/{backend} took no time"));
    }
    Ok((r.executions, r.executions as f64 / r.secs))
}

/// Explore each scenario with each backend, with the baseline and with this tool, `rounds`
/// times, alternating; `extra` are the options both get (bounds, seed).
pub fn side_by_side(
    old: &Tool,
    new: &Tool,
    scenarios: &[&str],
    backends: &[&str],
    extra: &[String],
    rounds: usize,
) -> Res<Vec<SpeedRow>> {
    let cwd = std::env::temp_dir();
    // (scenario, backend) -> (baseline, this tool), each (executions, best rate).
    type Best = ((u64, f64), (u64, f64));
    let mut best: BTreeMap<(String, String), Best> = BTreeMap::new();
    for round in 1..=rounds {
        eprintln!("bench-report: side by side, round {round}/{rounds}");
        for sc in scenarios {
            for b in backends {
                let one = |t: &Tool, what: &str| -> Res<(u64, f64)> {
                    let mut args = vec![
                        sc.to_string(),
                        "--backend".into(),
                        b.to_string(),
                        "--scenarios-dir".into(),
                        t.scenarios.display().to_string(),
                        "--jobs".into(),
                        "1".into(),
                    ];
                    args.extend(extra.iter().cloned());
                    let rows = run_index(&t.exe, &cwd, &args)?;
                    rate(&rows, sc, b, what)
                };
                let o = one(old, "baseline")?;
                let n = one(new, "this tool")?;
                let e = best
                    .entry((sc.to_string(), b.to_string()))
                    .or_insert((o, n));
                if o.1 > e.0 .1 {
                    e.0 = o;
                }
                if n.1 > e.1 .1 {
                    e.1 = n;
                }
            }
        }
    }
    Ok(best
        .into_iter()
        .map(|((scenario, backend), (old, new))| SpeedRow {
            scenario,
            backend,
            old,
            new,
        })
        .collect())
}

/// The bundled scenarios and their thread counts, from `mountcheck list`.
pub fn scenario_threads(tool: &Tool) -> Res<Vec<(String, usize)>> {
    let out = Command::new(&tool.exe)
        .arg("list")
        .arg("--scenarios-dir")
        .arg(&tool.scenarios)
        .output()
        .map_err(|e| format!("{}: {e}", tool.exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "mountcheck list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let name = l.split_whitespace().next().unwrap_or_default().to_string();
            let n = l
                .split_whitespace()
                .zip(l.split_whitespace().skip(1))
                .find(|(_, w)| *w == "thread(s)")
                .and_then(|(n, _)| n.parse().ok())
                .ok_or_else(|| format!("cannot read the thread count of `{l}`"))?;
            Ok((name, n))
        })
        .collect()
}

/// For each loom preemption bound: every scenario's stop reason, executions and seconds.
pub type BoundTable = BTreeMap<usize, Vec<IndexRow>>;

/// Explore every scenario of `names` on the fixed protocol under loom at each bound of
/// `bounds`, with the tool's default time limit; stop after the first bound at which some
/// scenario does not exhaust its space.
pub fn loom_bounds(tool: &Tool, names: &[String], bounds: &[usize]) -> Res<BoundTable> {
    let mut table = BoundTable::new();
    for &b in bounds {
        eprintln!("bench-report: loom at preemption bound {b}");
        let mut args: Vec<String> = names.to_vec();
        args.extend(
            [
                "--backend",
                "loom",
                "--variant",
                "fixed",
                "--preemption-bound",
                &b.to_string(),
                "--scenarios-dir",
            ]
            .map(String::from),
        );
        args.push(tool.scenarios.display().to_string());
        let rows = run_index(&tool.exe, &std::env::temp_dir(), &args)?;
        let all = rows.iter().all(|r| r.stop.as_deref() == Some("exhausted"));
        table.insert(b, rows);
        if !all {
            break;
        }
    }
    Ok(table)
}

/// The largest bound of `table` at which every row exhausted its space.
pub fn largest_exhausted(table: &BoundTable) -> Option<usize> {
    table
        .iter()
        .filter(|(_, rows)| rows.iter().all(|r| r.stop.as_deref() == Some("exhausted")))
        .map(|(b, _)| *b)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_index_formats_parse() {
        let old = r#"[{"scenario":"a","variant":"fixed","strategy":"pct","executions":2000,"verdict":"clean","expect":"clean","ok":true,"secs":0.5,"report":null}]"#;
        let new = r#"[{"scenario":"a","variant":"fixed","lock_design":"global","strategy":"loom","verdict":"clean","stop":"exhausted","executions":139,"seed":1,"secs":0.02,"ok":true}]"#;
        let o = parse_index(old).unwrap();
        assert_eq!((o[0].executions, o[0].stop.clone()), (2000, None));
        let n = parse_index(new).unwrap();
        assert_eq!(n[0].stop.as_deref(), Some("exhausted"));
        assert!(parse_index("{}").is_err());
        assert!(parse_index(r#"[{"scenario":"a"}]"#).is_err());
    }

    #[test]
    fn the_largest_bound_is_the_last_one_all_exhausted() {
        let row = |stop: &str| IndexRow {
            scenario: "a".into(),
            strategy: "loom".into(),
            executions: 1,
            secs: 1.0,
            stop: Some(stop.into()),
            verdict: "clean".into(),
        };
        let mut t = BoundTable::new();
        t.insert(1, vec![row("exhausted")]);
        t.insert(2, vec![row("exhausted"), row("exhausted")]);
        t.insert(3, vec![row("exhausted"), row("time-limit")]);
        assert_eq!(largest_exhausted(&t), Some(2));
        assert_eq!(largest_exhausted(&BoundTable::new()), None);
    }
}
