//! Shrinking a failing generated scenario, and writing it as an ordinary scenario file.
//!
//! What it does: proptest's own shrinking. The generated [`Case`]'s value tree is simplified
//! ([`ValueTree::simplify`]: fewer threads, fewer calls, a shorter setup and layout, smaller
//! argument bytes, i.e. earlier and simpler paths, devices and handles) and each candidate is
//! realized and explored again with the backend and bounds that found the finding; a candidate
//! that still fails with the same finding class is kept, one that does not is undone
//! ([`ValueTree::complicate`]), which is exactly proptest's shrinking loop with the exploration as
//! the test. Candidates that realize to a program already tried reuse its answer, so only
//! distinct programs cost an exploration; the number of explorations is bounded
//! (`--shrink-steps`), never the time, so one seed shrinks to one scenario.
//!
//! Then [`normalized`] renders the scenario independently of its threads' order, and its hash
//! names the file `reports/found/<class>-<hash>.toml`: two findings that shrink to one scenario
//! are written once.
//!
//! Invariant: the scenario returned fails with the class it started with under the same
//! backend and bounds (it is one that was explored and failed), and it has at most as many calls
//! as the generated one.

use std::collections::HashMap;

use anyhow::Result;
use indicatif::ProgressBar;
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::{LockDesign, Program, Variant};
use proptest::strategy::ValueTree;
use sha2::{Digest, Sha256};

use super::gen::{calls, realize, Case};
use crate::report::Report;
use crate::run::{self, Backend, Settings};
use crate::scenario::{Check, Scenario};
use crate::verdict::Verdict;

/// What shrinking produced.
pub struct Shrunk {
    /// The smallest failing scenario found.
    pub scenario: Scenario,
    /// Its failing report (with the backend and bounds of the campaign).
    pub report: Report,
    /// Calls before shrinking.
    pub calls_before: usize,
    /// Explorations spent.
    pub steps: usize,
}

/// Shrink `tree` (whose current value realized to `first`, failing with `class` in `report`)
/// under backend `b`; `make` turns a program into a scenario ready to explore (its
/// specification attached), or `None` when it cannot be explored.
#[allow(clippy::too_many_arguments)]
pub fn shrink(
    tree: &mut dyn ValueTree<Value = Case>,
    first: Scenario,
    report: Report,
    class: FindingClass,
    b: Backend,
    set: &Settings<'_>,
    design: LockDesign,
    max_steps: usize,
    bar: &ProgressBar,
    make: &dyn Fn(Program) -> Option<Scenario>,
) -> Result<Shrunk> {
    let calls_before = calls(&first.program);
    let mut best = (first, report);
    let mut tried: HashMap<String, bool> = HashMap::new();
    tried.insert(program_key(&best.0.program), true);
    let mut steps = 0;
    let mut more = tree.simplify();
    while more && steps < max_steps {
        let fails = match realize(&tree.current(), design) {
            None => false,
            Some(p) if calls(&p) > calls(&best.0.program) => false,
            Some(p) => {
                let key = program_key(&p);
                match tried.get(&key) {
                    Some(&f) => f,
                    None => {
                        steps += 1;
                        let f = match make(p) {
                            None => false,
                            Some(s) => {
                                bar.set_message(format!(
                                    "shrinking a {class} ({} calls, exploration {steps})",
                                    calls(&s.program)
                                ));
                                let r =
                                    run::explore_all_with(&[(&s, b)], set, &ProgressBar::hidden())?
                                        .pop()
                                        .ok_or_else(|| {
                                            anyhow::anyhow!("no report of a shrinking step")
                                        })?;
                                let f = r.verdict == Verdict::Finding(class);
                                if f {
                                    best = (s, r);
                                }
                                f
                            }
                        };
                        tried.insert(key, f);
                        f
                    }
                }
            }
        };
        more = if fails {
            tree.simplify()
        } else {
            tree.complicate()
        };
    }
    Ok(Shrunk {
        scenario: best.0,
        report: best.1,
        calls_before,
        steps,
    })
}

/// A program's calls as text (setup, then each thread), the key of what was tried.
fn program_key(p: &Program) -> String {
    let mut o = String::new();
    for c in &p.setup {
        o.push_str(&format!("{c};"));
    }
    for t in &p.threads {
        o.push('|');
        for c in t {
            o.push_str(&format!("{c};"));
        }
    }
    o
}

/// The scenario as compared for duplicates: variant, lock design, class, the setup, and the
/// threads in sorted order (the same calls in other threads' order are the same scenario).
pub fn normalized(
    p: &Program,
    variant: Variant,
    design: LockDesign,
    class: FindingClass,
) -> String {
    let mut threads: Vec<String> = p
        .threads
        .iter()
        .map(|t| {
            t.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .collect();
    threads.sort();
    let setup: Vec<String> = p.setup.iter().map(|c| c.to_string()).collect();
    format!(
        "variant {}\ndesign {}\nclass {}\nsetup {}\n{}\n",
        variant.id(),
        design.name(),
        class.name(),
        setup.join("; "),
        threads
            .iter()
            .map(|t| format!("thread {t}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// The first 12 hex digits of the SHA-256 of [`normalized`].
pub fn hash(normalized: &str) -> String {
    let d = Sha256::digest(normalized.as_bytes());
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The scenario file of a finding.
pub fn scenario_toml(
    name: &str,
    description: &str,
    p: &Program,
    variant: Variant,
    design: LockDesign,
    class: FindingClass,
    check: Check,
) -> String {
    let list = |calls: &[mountcheck_model::Call]| {
        calls
            .iter()
            .map(|c| toml_str(&c.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut o = format!(
        "name = {}\ndescription = {}\nvariant = {}\nexpect = {}\nlock_design = {}\ncheck = {}\nsetup = [{}]\n",
        toml_str(name),
        toml_str(description),
        toml_str(variant.id()),
        toml_str(class.name()),
        toml_str(design.name()),
        toml_str(check.name()),
        list(&p.setup)
    );
    for t in &p.threads {
        o.push_str(&format!("\n[[thread]]\nops = [{}]\n", list(t)));
    }
    o
}

/// What raced, in words, from the shrunk program and its finding.
pub fn describe(p: &Program, r: &Report) -> String {
    let threads: Vec<String> = p
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "T{} ({})",
                i + 1,
                t.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let what = match &r.finding {
        Some(f) => {
            let at = match (f.finding.thread, f.finding.op.as_str()) {
                (Some(0), op) => format!(" in init's `{op}`"),
                (Some(t), op) if !op.is_empty() => format!(" in T{t}'s `{op}`"),
                (None, _) => " at quiescence".to_string(),
                _ => String::new(),
            };
            format!(
                "one execution ends in `{}`{at}: {}",
                f.finding.class, f.finding.message
            )
        }
        None => r.verdict.to_string(),
    };
    let setup = if p.setup.is_empty() {
        "nothing".to_string()
    } else {
        p.setup
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let run = if threads.len() == 1 {
        "runs alone"
    } else {
        "run concurrently"
    };
    format!(
        "After a setup of {setup}, {} {run}; {what}.",
        threads.join(" and ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mountcheck_model::parse_call;

    fn prog(threads: &[&[&str]]) -> Program {
        Program {
            setup: vec![parse_call("mkdir /a").unwrap()],
            threads: threads
                .iter()
                .map(|t| t.iter().map(|c| parse_call(c).unwrap()).collect())
                .collect(),
            ..Program::default()
        }
    }

    #[test]
    fn the_threads_order_does_not_change_the_hash_but_a_call_does() {
        let c = FindingClass::UseAfterFree;
        let v = Variant::Fixed;
        let d = LockDesign::Global;
        let a = normalized(&prog(&[&["stat /a"], &["umount /a"]]), v, d, c);
        let b = normalized(&prog(&[&["umount /a"], &["stat /a"]]), v, d, c);
        let other = normalized(&prog(&[&["umount -l /a"], &["stat /a"]]), v, d, c);
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&other));
        assert_eq!(hash(&a).len(), 12);
    }

    #[test]
    fn the_written_file_is_a_scenario_with_the_same_program() {
        let p = prog(&[
            &["get_super ram0 as h0", "drop_super h0"],
            &["umount -l /a"],
        ]);
        let text = scenario_toml(
            "leak-0123",
            "a \"quoted\"\nline",
            &p,
            Variant::Fixed,
            LockDesign::ReadMostly,
            FindingClass::Leak,
            Check::None,
        );
        let s = crate::scenario::parse(std::path::Path::new("x.toml"), &text).unwrap();
        assert_eq!(s.program, p);
        assert_eq!(s.name, "leak-0123");
        assert_eq!(s.lock_design, Some(LockDesign::ReadMostly));
        assert_eq!(s.check, Check::None);
        assert_eq!(s.description, "a \"quoted\"\nline");
    }
}
