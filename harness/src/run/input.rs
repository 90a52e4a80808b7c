//! The input of `run` and `catalog` (and of `fuzz`, which probes its reports directories and
//! prepares the scenario files it writes the same way), checked before anything is explored:
//! scenario arguments resolved to files and loaded (each a [`Scenario`] that parsed and
//! validated, `crate::scenario`), names unique, the reports directory writable, then `--variant`
//! and the lock design applied and the sequential specifications attached ([`prepare`]).
//! [`BadInput`] is also what `replay` refuses a report with.
//!
//! Invariant: a scenario or reports directory that cannot be used is a [`BadInput`] naming the
//! file (with line and column where there is one) or the directory; `run` finds every one of them,
//! and computes every specification, before any worker starts or any report is written, and
//! exits 2 on any of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mountcheck_model::{LockDesign, Variant};

use crate::options::ExploreOptions;
use crate::scenario::{self, Expect, Scenario, ScenarioError};

/// Bad input: printed as is, exit status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

impl From<ScenarioError> for BadInput {
    fn from(e: ScenarioError) -> Self {
        BadInput(e.to_string())
    }
}

/// Resolve the scenario arguments to files, load them, and check that their names are unique.
pub fn load_scenarios(names: &[String], dir: &Path) -> Result<Vec<Scenario>, BadInput> {
    let files: Vec<PathBuf> = if names.is_empty() {
        scenario::bundled(dir)
            .map_err(|e| BadInput(format!("{}: cannot list scenarios: {e}", dir.display())))?
    } else {
        names
            .iter()
            .map(|n| {
                let p = PathBuf::from(n);
                if p.exists() {
                    Ok(p)
                } else {
                    let q = dir.join(format!("{n}.toml"));
                    if q.exists() {
                        Ok(q)
                    } else {
                        Err(BadInput(format!(
                            "{n}: no such scenario file, and no {}",
                            q.display()
                        )))
                    }
                }
            })
            .collect::<Result<_, _>>()?
    };
    if files.is_empty() {
        return Err(BadInput(format!("{}: no scenario files", dir.display())));
    }
    let scenarios: Vec<Scenario> = files
        .iter()
        .map(|f| scenario::load(f).map_err(BadInput::from))
        .collect::<Result<_, _>>()?;
    check_unique_names(&scenarios)?;
    Ok(scenarios)
}

/// Two scenarios with one name would write the same report files: refuse them, naming both.
fn check_unique_names(scenarios: &[Scenario]) -> Result<(), BadInput> {
    let mut seen: BTreeMap<&str, &Scenario> = BTreeMap::new();
    for s in scenarios {
        if let Some(first) = seen.insert(&s.name, s) {
            let (l, c) = s.name_pos;
            let (fl, fc) = first.name_pos;
            return Err(BadInput(format!(
                "{}:{l}:{c}: error: scenario name `{}` is already the name of {}:{fl}:{fc}; reports are named after scenarios, so names must be unique",
                s.file.display(),
                s.name,
                first.file.display()
            )));
        }
    }
    Ok(())
}

/// Check that reports can be written to `dir` before anything is explored: create it, write a
/// probe file and remove it.
pub fn probe_reports_dir(dir: &Path) -> Result<(), BadInput> {
    let unwritable = |e: std::io::Error| {
        BadInput(format!(
            "{}: error: the reports directory is not writable: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(unwritable)?;
    let probe = dir.join(format!(".mountcheck-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(unwritable)?;
    std::fs::remove_file(&probe).map_err(unwritable)?;
    Ok(())
}

/// Apply `--variant`: the scenario's variant and the expectation that goes with it.
pub fn override_variant(s: &mut Scenario, variant: Variant) {
    s.variant = variant;
    s.expect = match variant {
        Variant::Fixed => Expect::Clean,
        Variant::Mutant(m) => Expect::Finding(m.expected()),
    };
}

/// Settle each scenario's lock design: the command line's, else the file's, else global. A
/// mutant whose code lives in another design than the one chosen does not run: its scenario
/// explores the fixed protocol there and must be clean; a mutant whose first finding under the
/// chosen design is of another class (`Mutant::expected_under`) must produce that class.
fn resolve_designs(scenarios: &mut [Scenario], cli: Option<LockDesign>) {
    for s in scenarios {
        let d = cli.or(s.lock_design).unwrap_or_default();
        s.lock_design = Some(d);
        if let Variant::Mutant(m) = s.variant {
            if m.lock_design().is_some_and(|md| md != d) {
                s.expect = Expect::Clean;
            } else if s.expect == Expect::Finding(m.expected()) {
                // The same bug, seen first by another oracle under this design.
                s.expect = Expect::Finding(m.expected_under(d));
            }
        }
    }
}

/// Apply `--variant` and the lock design and attach the sequential specifications (computed
/// once per program and design, shared by every backend): what `run` and `catalog` do to their
/// scenarios before exploring.
pub fn prepare(
    scenarios: &mut [Scenario],
    variant: Option<Variant>,
    opts: &ExploreOptions,
) -> Result<()> {
    if let Some(v) = variant {
        for s in scenarios.iter_mut() {
            override_variant(s, v);
        }
    }
    resolve_designs(scenarios, opts.lock_design.map(|d| d.0));
    crate::specs::attach_specs(scenarios, opts.jobs)
}
