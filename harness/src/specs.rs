//! The sequential specifications of a run: computed once per (program, lock design) before any
//! exploration, kept for the whole process (the catalog's fixed twins, every backend and
//! `--variant` runs reuse them), and attached to each scenario's program, which carries them to
//! the workers (`mountcheck_model::program::Program::spec`).
//!
//! What it follows: Lincheck's use of the data structure itself as its sequential
//! specification: `mountcheck_model::program::linearizable` runs the model (std build, the fixed
//! protocol, the scenario's lock design) on every order of the threads' operations.
//!
//! Invariant: the number of orders of every scenario is checked against `MAX_ORDERS` before any
//! specification is computed, so a scenario that is too large is bad input (file:line:column,
//! exit 2) and nothing runs; a failure of the specification itself is an error, never clean.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Result};
use mountcheck_model::program::linearizable::{count_runs, sequential_spec, SpecError, MAX_ORDERS};
use mountcheck_model::program::Spec;
use mountcheck_model::{LockDesign, Program};

use crate::report::SpecInfo;
use crate::run::BadInput;
use crate::scenario::{Check, Scenario};

/// Sequential specifications computed in this process, by (program, lock design): the catalog's
/// fixed twins, other backends and `--variant` runs reuse them.
type SpecCache = HashMap<(String, LockDesign), Arc<(Spec, f64)>>;

fn spec_cache() -> &'static Mutex<SpecCache> {
    static CACHE: std::sync::OnceLock<Mutex<SpecCache>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cache_key(p: &Program, d: LockDesign) -> (String, LockDesign) {
    let bare = Program {
        spec: None,
        ..p.clone()
    };
    (serde_json::to_string(&bare).unwrap_or_default(), d)
}

/// Give every scenario whose check is on its sequential specification (in `program.spec`) and
/// its figures (`spec_info`). First every scenario's number of orders is checked against
/// [`MAX_ORDERS`] (bad input, before anything runs); then the missing specifications are
/// computed, `jobs` at a time. A result assertion that some sequential order contradicts is
/// reported as a warning: the fixed protocol will report it as `wrong-result`.
pub fn attach_specs(scenarios: &mut [Scenario], jobs: usize) -> Result<()> {
    for s in scenarios.iter() {
        if s.check != Check::Linearizable {
            continue;
        }
        let orders = count_runs(&s.program);
        if orders > u128::from(MAX_ORDERS) {
            let (line, col) = s.check_pos;
            let e = SpecError::TooManyOrders {
                orders,
                bound: MAX_ORDERS,
            };
            return Err(BadInput(format!("{}:{line}:{col}: error: {e}", s.file.display())).into());
        }
    }
    let todo: Vec<(String, LockDesign)> = {
        let cache = spec_cache().lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(String, LockDesign)> = Vec::new();
        for s in scenarios.iter().filter(|s| s.check == Check::Linearizable) {
            let k = cache_key(&s.program, s.lock_design.unwrap_or_default());
            if !cache.contains_key(&k) && !v.contains(&k) {
                v.push(k);
            }
        }
        v
    };
    let programs: HashMap<(String, LockDesign), Program> = scenarios
        .iter()
        .map(|s| {
            (
                cache_key(&s.program, s.lock_design.unwrap_or_default()),
                s.program.clone(),
            )
        })
        .collect();
    let next = Mutex::new(0usize);
    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(todo.len()).max(1) {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(k) = todo.get(i) else { break };
                let start = Instant::now();
                match sequential_spec(&programs[k], k.1) {
                    Ok(spec) => {
                        let secs = start.elapsed().as_secs_f64();
                        spec_cache()
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(k.clone(), Arc::new((spec, secs)));
                    }
                    Err(e) => {
                        *failed.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(anyhow::anyhow!("{e}"));
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let cache = spec_cache().lock().unwrap_or_else(|p| p.into_inner());
    for s in scenarios.iter_mut() {
        if s.check != Check::Linearizable {
            s.program.spec = None;
            s.spec_info = None;
            s.spec_secs = None;
            continue;
        }
        let d = s.lock_design.unwrap_or_default();
        let Some(found) = cache.get(&cache_key(&s.program, d)) else {
            bail!("no sequential specification was computed for {}", s.name);
        };
        let (spec, secs) = &**found;
        warn_contradicted_assertions(s, spec);
        s.program.spec = Some(spec.clone());
        s.spec_info = Some(SpecInfo {
            orders: spec.orders(),
            feasible: spec.feasible(),
            outcomes: spec.outcomes().len() as u64,
        });
        s.spec_secs = Some(*secs);
    }
    Ok(())
}

/// Warn about a thread call's assertion that some sequential order contradicts.
fn warn_contradicted_assertions(s: &Scenario, spec: &Spec) {
    for (t, calls) in s.program.threads.iter().enumerate() {
        for (i, c) in calls.iter().enumerate() {
            let Some(want) = &c.expect else { continue };
            let contradicted = |o: &&mountcheck_model::program::outcome::SpecOutcome| {
                o.outcome.results[t]
                    .get(i)
                    .copied()
                    .flatten()
                    .is_some_and(|r| !want.admits(r))
            };
            if let Some(o) = spec.outcomes().iter().find(contradicted) {
                let (line, col) = s.call_pos[t][i];
                eprintln!(
                    "{}:{line}:{col}: warning: `{c}` is contradicted by the sequential order {:?} (threads' numbers), where it returns {}: the fixed protocol will report it as wrong-result",
                    s.file.display(),
                    o.order,
                    mountcheck_model::program::outcome::shown(o.outcome.results[t][i])
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{bundled, load, Check};
    use mountcheck_model::program::linearizable::{sequential_spec_on, SpecRunner};
    use std::path::Path;

    /// The inline runs of the specification are a saving, not a change: for every bundled
    /// scenario whose result check is on, both runners give the same orders, feasible orders and
    /// outcomes, each with the same first order.
    #[test]
    fn inline_runs_give_every_bundled_specification_of_task_threads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut compared = 0;
        for f in bundled(&dir).expect("the bundled scenarios") {
            let s = load(&f).unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
            if s.check != Check::Linearizable {
                continue;
            }
            let d = s.lock_design.unwrap_or_default();
            // `Spec`'s equality: orders, feasible orders, each outcome with its first order.
            let spec = |r| {
                sequential_spec_on(&s.program, d, r)
                    .unwrap_or_else(|e| panic!("{} ({r:?}): {e}", f.display()))
            };
            assert_eq!(
                spec(SpecRunner::InlineFirst),
                spec(SpecRunner::Threads),
                "{}",
                f.display()
            );
            compared += 1;
        }
        assert!(
            compared >= 20,
            "only {compared} bundled scenarios have their check on"
        );
    }
}
