//! The `mountcheck` CLI: a thin binary over the model and the engine.
//!
//! Subcommands: `list` (the bundled scenarios), `run` (explore scenarios on loom, PCT, random,
//! DFS or real threads, write race reports; all of them or one shard), `merge` (join the shards
//! of a run), `replay` (re-run a report's failing execution), `catalog` (every historical-bug
//! mutant against every backend), `fuzz` (generated scenarios, shrunk to files), `conform` (the
//! model against the running kernel). Errors are `anyhow` at this edge; bad input (a malformed
//! scenario, an unknown operation, an impossible bound, an unwritable reports directory, shards
//! that are not of one run) exits 2 before any work, an unexpected verdict (a checker error
//! included) exits 1. Every option is parsed once into its type (`options`); everything printed
//! goes through `out`, so a closed pipe (`mountcheck list | head -1`) ends the output quietly.

mod catalog;
mod conform;
mod fuzz;
mod html;
mod junit;
mod merge;
mod options;
mod out;
mod pool;
mod replay;
mod report;
mod run;
mod scenario;
mod shard;
mod specs;
mod timeline;
mod units;
mod verdict;
mod witness;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mountcheck: a deterministic concurrency model checker for the Linux VFS mount lifecycle.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the bundled scenarios, one line each.
    List {
        /// Where the scenarios live.
        #[arg(long, default_value = "scenarios")]
        scenarios_dir: PathBuf,
        /// Print instead the table of which pairs of operations the scenarios run concurrently
        /// (the table `mountcheck fuzz` shows for what it generated).
        #[arg(long)]
        coverage: bool,
    },
    /// Explore scenarios and write race reports.
    #[command(after_long_help = verdict::help())]
    Run(run::RunArgs),
    /// Join the outputs of the shards of one run (`run --shard K/N`) into one index, JUnit file
    /// and summary, with the exit status of a single run.
    Merge(merge::MergeArgs),
    /// Re-run the exact failing execution of a report, print its report and whether it
    /// reproduced (exit 0) or not (exit 1).
    Replay {
        /// The report's JSON file.
        report: PathBuf,
    },
    /// Run every mutant and the fixed protocol under loom and PCT (and DFS where it finishes).
    #[command(after_long_help = verdict::help())]
    Catalog(catalog::CatalogArgs),
    /// Generate concurrent scenarios from the operation table, explore each, shrink what fails
    /// to a scenario file in REPORTS/found/ (exit 1 when something was found).
    #[command(after_long_help = verdict::help())]
    Fuzz(fuzz::FuzzArgs),
    /// Check the model's sequential behaviour against the running kernel (needs root).
    Conform(conform::ConformArgs),
    /// Internal: one exploration in a child process (see `worker.rs`).
    #[command(name = "__worker", hide = true)]
    Worker {
        /// std, shuttle or loom.
        backend: String,
        /// The request (JSON).
        request: PathBuf,
        /// Where to write the response (JSON).
        response: PathBuf,
    },
    /// Internal: render JSON reports as HTML pages (`<stem>.html`) and an `index.html` linking
    /// them, in OUT. Used by the tests and `scripts/screenshot-reports.sh` until `run` and
    /// `catalog` write HTML themselves.
    #[command(name = "__render-html", hide = true)]
    RenderHtml {
        /// Where the pages are written.
        out: PathBuf,
        /// The reports' JSON files.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
    /// Internal: one task process of `conform`, inside a private mount namespace.
    #[command(name = "__conform-task", hide = true)]
    ConformTask {
        /// The trace's root directory.
        root: PathBuf,
        /// Join the mount namespace of this task process instead of making a new one.
        #[arg(long)]
        join: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let result = match &cli.cmd {
        Cmd::List {
            scenarios_dir,
            coverage,
        } => list(scenarios_dir, *coverage),
        Cmd::Fuzz(a) => fuzz::run(a, &command),
        Cmd::Run(a) => run::run(a, &command),
        Cmd::Merge(a) => merge::merge(a, &command),
        Cmd::Replay { report } => replay::replay(report),
        Cmd::Catalog(a) => catalog::run(a),
        Cmd::Conform(a) => conform::run(a),
        Cmd::RenderHtml { out, reports } => render_html(out, reports, &command),
        Cmd::Worker {
            backend,
            request,
            response,
        } => return worker::worker_main(backend, request, response),
        Cmd::ConformTask { root, join } => {
            return ExitCode::from(conform::kernel::task_main(root, *join) as u8)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(b) = e.downcast_ref::<run::BadInput>() {
                eprintln!("{b}");
                ExitCode::from(2)
            } else {
                eprintln!("mountcheck: error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

fn list(dir: &std::path::Path, coverage: bool) -> anyhow::Result<ExitCode> {
    let scenarios = run::load_scenarios(&[], dir)?;
    if coverage {
        let mut c = fuzz::coverage::Coverage::default();
        for s in &scenarios {
            c.add(&s.program, s.expect != scenario::Expect::Clean);
        }
        out::print(&format!(
            "Operations run concurrently by the bundled scenarios (scenarios per pair; found: the scenario expects a finding)\n\n{}",
            c.markdown()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let w = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for s in &scenarios {
        let flat = s
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let first = flat.split(". ").next().unwrap_or("").trim_end_matches('.');
        text.push_str(&format!(
            "{:<w$}  {:<26} {:<15} {:<12} {:<11} {} thread(s)  {}\n",
            s.name,
            s.variant.id(),
            s.expect.name(),
            s.check.name(),
            s.lock_design.map_or("global", |d| d.name()),
            s.program.threads.len(),
            first
        ));
    }
    out::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `__render-html`: every report is read and checked before any page is written.
fn render_html(
    out: &std::path::Path,
    paths: &[PathBuf],
    command: &str,
) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p)
            .map_err(|e| run::BadInput(format!("{}: error: cannot read: {e}", p.display())))?;
        let r: report::Report = serde_json::from_str(&text).map_err(|e| {
            run::BadInput(format!(
                "{}:{}:{}: error: not a mountcheck report: {e}",
                p.display(),
                e.line(),
                e.column()
            ))
        })?;
        reports.push(r);
    }
    let mut rows = Vec::new();
    for r in &reports {
        let page = html::write_report_page(out, r)?;
        rows.push(html::IndexEntry {
            scenario: r.scenario.name.clone(),
            variant: r.scenario.variant.clone(),
            backend: r.exploration.strategy.clone(),
            executions: r.exploration.executions,
            verdict: r.verdict.to_string(),
            stop: r.exploration.stop.to_string(),
            expected: r.scenario.expect.clone(),
            ok: r.as_expected,
            report: page.file_name().map(|n| n.to_string_lossy().into_owned()),
        });
    }
    report::write_whole(&out.join("index.html"), &html::index_page(command, &rows))?;
    println!(
        "{} report page(s) and index.html written to {}",
        rows.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
