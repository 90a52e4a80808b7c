//! The `mountcheck` CLI: a thin binary over the model and the engine.
//!
//! Subcommands: `list` (the bundled scenarios), `run` (explore scenarios on loom, PCT, random,
//! DFS or real threads, write race reports), `replay` (re-run a report's failing execution),
//! `catalog` (every historical-bug mutant against every backend), `conform` (the model against
//! the running kernel). Errors are `anyhow` at this
//! edge; bad input (a malformed scenario, an unknown operation, an impossible bound) exits 2,
//! an unexpected verdict exits 1.

mod catalog;
mod conform;
mod report;
mod run;
mod scenario;
mod specs;
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
    },
    /// Explore scenarios and write race reports.
    Run(run::RunArgs),
    /// Re-run the exact failing execution of a report and print the report again.
    Replay {
        /// The report's JSON file.
        report: PathBuf,
    },
    /// Run every mutant and the fixed protocol under loom and PCT (and DFS where it finishes).
    Catalog(catalog::CatalogArgs),
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
        Cmd::List { scenarios_dir } => list(scenarios_dir),
        Cmd::Run(a) => run::run(a, &command),
        Cmd::Replay { report } => run::replay(report),
        Cmd::Catalog(a) => catalog::run(a),
        Cmd::Conform(a) => conform::run(a),
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

fn list(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let scenarios = run::load_scenarios(&[], dir)?;
    let w = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &scenarios {
        let flat = s
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let first = flat.split(". ").next().unwrap_or("").trim_end_matches('.');
        println!(
            "{:<w$}  {:<26} {:<16} {:<12} {:<11} {} thread(s)  {}",
            s.name,
            s.variant.id(),
            s.expect.name(),
            s.check.name(),
            s.lock_design.map_or("global", |d| d.name()),
            s.program.threads.len(),
            first
        );
    }
    Ok(ExitCode::SUCCESS)
}
