//! Shrinking a failing generated scenario, and writing it as an ordinary scenario file.
//!
//! What it does: proptest's own shrinking. The generated [`Case`]'s value tree is simplified
//! ([`ValueTree::simplify`]: fewer threads, fewer calls, a shorter setup and layout, smaller
//! argument bytes, i.e. earlier and simpler paths, devices and handles) and each candidate is
//! realized and explored again with the backend and bounds that found the finding; a candidate
//! that still fails with the same finding class is kept, one that does not is undone
//! ([`ValueTree::complicate`]), which is exactly proptest's shrinking loop with the exploration as
//! the test. Then the program itself is shrunk as Lincheck minimizes a scenario ([`smaller`]):
//! a thread or a call removed at a time, with the calls that depend on it (a `get_super` with the
//! calls using its handle), a setup call moved into a thread, and a directory level taken out of
//! the paths (`/a/b` written `/b`, so the `mkdir /a` kept only as its parent can go), kept while
//! the same class is found (each candidate explored at `run`'s default executions, not the campaign's few, and by
//! a capped loom search too when PCT does not find it again, so a race met by luck is not
//! lost). The second phase removes what the first cannot: a value tree's element changes the
//! meaning of the bytes after it (a device drawn from the layout's mounts), and the calls the
//! calling rules add (a binding `get_super`, the releases) are not elements of it. Candidates
//! already tried reuse their answer, so only distinct programs cost an exploration; each phase's
//! explorations are bounded (`--shrink-steps`), never the time, so one seed shrinks to one
//! scenario.
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
use mountcheck_model::program::HandleUse;
use mountcheck_model::{Call, LockDesign, Program, Variant};
use proptest::strategy::ValueTree;
use sha2::{Digest, Sha256};

use super::gen::{calls, realize, Case};
use crate::report::Report;
use crate::run::{self, Backend, Settings};
use crate::scenario::{Check, Scenario};
use crate::verdict::Verdict;

mod paths;

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

/// Executions of the loom search a shrinking candidate gets when the backend that found the
/// finding (a randomized one) does not find it again: loom's search at a small preemption bound
/// finds in a few executions what PCT meets by luck (a candidate of 8 thread calls PCT missed in
/// 2 000 executions, loom found in 13), and a candidate that does not fail costs at most this
/// many executions instead of loom's whole space.
pub const SHRINK_LOOM_EXECUTIONS: u64 = 2_000;

/// Shrink `tree` (whose current value realized to `first`, failing with `class` in `report`)
/// under backend `b` (then the campaign's `others`, loom for at most
/// [`SHRINK_LOOM_EXECUTIONS`]); `make` turns a program into a scenario ready to explore (its
/// specification attached), or `None` when it cannot be explored.
#[allow(clippy::too_many_arguments)]
pub fn shrink(
    tree: &mut dyn ValueTree<Value = Case>,
    first: Scenario,
    report: Report,
    class: FindingClass,
    b: Backend,
    others: &[Backend],
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
    let mut try_one =
        |p: Program, best: &mut (Scenario, Report), steps: &mut usize| -> Result<bool> {
            let key = program_key(&p);
            if let Some(&f) = tried.get(&key) {
                return Ok(f);
            }
            *steps += 1;
            let f = match make(p) {
                None => false,
                Some(s) => {
                    bar.set_message(format!(
                        "shrinking a {class} ({} calls, exploration {steps})",
                        calls(&s.program)
                    ));
                    let mut found = None;
                    for (o, cap) in candidate_backends(b, others) {
                        // Not the campaign's few executions: `run`'s default, or the cap of
                        // a loom search that did not find the finding first.
                        let capped = Settings {
                            iterations: cap,
                            minimize_witness: false,
                            ..*set
                        };
                        let r = run::explore_all_with(&[(&s, o)], &capped, &ProgressBar::hidden())?
                            .pop()
                            .ok_or_else(|| anyhow::anyhow!("no report of a shrinking step"))?;
                        if r.verdict == Verdict::Finding(class) {
                            found = Some(r);
                            break;
                        }
                    }
                    match found {
                        Some(r) => {
                            *best = (s, r);
                            true
                        }
                        None => false,
                    }
                }
            };
            tried.insert(key, f);
            Ok(f)
        };
    // Phase 1: proptest's shrinking of the generated value.
    let mut steps = 0;
    let mut more = tree.simplify();
    while more && steps < max_steps {
        let fails = match realize(&tree.current(), design) {
            None => false,
            Some(p) if calls(&p) > calls(&best.0.program) => false,
            Some(p) => try_one(p, &mut best, &mut steps)?,
        };
        more = if fails {
            tree.simplify()
        } else {
            tree.complicate()
        };
    }
    // Phase 2: the program itself, a call at a time, until no smaller candidate fails.
    let mut program_steps = 0;
    'program: loop {
        for candidate in smaller(&best.0.program) {
            if program_steps >= max_steps {
                break 'program;
            }
            if try_one(candidate, &mut best, &mut program_steps)? {
                continue 'program;
            }
        }
        break;
    }
    Ok(Shrunk {
        scenario: best.0,
        report: best.1,
        calls_before,
        steps: steps + program_steps,
    })
}

/// The programs one step smaller than `p`, as Lincheck minimizes a failing scenario by removing
/// operations, in the order tried: a whole thread (when another is left); one call of a thread
/// or of the setup, the last first, with the calls that depend on it (those using a handle it
/// binds; for a lock, its unlock; never an unlock or a required release alone, which would break
/// the calling rules); then, as many calls with a shorter setup, the setup's last
/// call moved to the front of a thread (a mount made in the setup may be the race's other
/// half); last, as many calls with simpler paths ([`paths::collapsed`]: one directory level
/// taken out, so the call that made it may go next). Each step shortens the program, its setup
/// or its paths' text, so shrinking ends.
pub fn smaller(p: &Program) -> Vec<Program> {
    let mut out = Vec::new();
    if p.threads.len() > 1 {
        for i in (0..p.threads.len()).rev() {
            let mut q = p.clone();
            q.threads.remove(i);
            out.push(q);
        }
    }
    for i in (0..p.threads.len()).rev() {
        for k in (0..p.threads[i].len()).rev() {
            if !removable_alone(&p.threads[i][k]) {
                continue;
            }
            let mut q = p.clone();
            remove_with_dependents(&mut q.threads[i], k);
            if q.threads[i].is_empty() {
                if q.threads.len() == 1 {
                    continue;
                }
                q.threads.remove(i);
            }
            out.push(q);
        }
    }
    for k in (0..p.setup.len()).rev() {
        if !removable_alone(&p.setup[k]) {
            continue;
        }
        let mut q = p.clone();
        remove_with_dependents(&mut q.setup, k);
        out.push(q);
    }
    if let Some(last) = p.setup.last() {
        if last.op.binds().is_none() {
            for i in 0..p.threads.len() {
                let mut q = p.clone();
                q.setup.pop();
                q.threads[i].insert(0, last.clone());
                out.push(q);
            }
        }
    }
    out.extend(paths::collapsed(p));
    out
}

/// Whether a call may be removed on its own under the calling rules: not an unlock (its lock
/// would be held to the end) nor the release of a handle that must be given back (a
/// `drop_super`: the task would end holding `s_umount`, its own deadlock); those go with the
/// call that took the lock or bound the handle.
fn removable_alone(c: &Call) -> bool {
    match c.op.spec().handle {
        HandleUse::Unlocks(_) => false,
        HandleUse::Releases(class) => !class.must_release(),
        _ => true,
    }
}

/// Remove call `k` of `list` and the later calls that depend on it: those using the handle it
/// binds, and for a lock ([`HandleUse::Locks`]) the first later unlock of the same handle.
fn remove_with_dependents(list: &mut Vec<Call>, k: usize) {
    let call = list.remove(k);
    if let Some(h) = call.op.binds() {
        let h = h.to_string();
        let mut i = k;
        while i < list.len() {
            if list[i].op.uses() == Some(h.as_str()) {
                list.remove(i);
            } else {
                i += 1;
            }
        }
    } else if let (HandleUse::Locks(_), Some(h)) = (call.op.spec().handle, call.op.uses()) {
        if let Some(j) = list[k..].iter().position(|c| {
            matches!(c.op.spec().handle, HandleUse::Unlocks(_)) && c.op.uses() == Some(h)
        }) {
            list.remove(k + j);
        }
    }
}

/// The backends a shrinking candidate is explored with, in order, each with its cap of
/// executions (`None`: `run`'s default, PCT 2 000, so that a race a short exploration of the
/// generated scenario met by luck is not lost on the way): `b` (the one that found the finding),
/// then the campaign's `others`, a loom search that `b` is not capped at
/// [`SHRINK_LOOM_EXECUTIONS`].
fn candidate_backends(b: Backend, others: &[Backend]) -> Vec<(Backend, Option<u64>)> {
    let mut order = vec![(b, None)];
    for &o in others {
        if o != b {
            let cap = (o == Backend::Loom).then_some(SHRINK_LOOM_EXECUTIONS);
            order.push((o, cap));
        }
    }
    order
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

    /// The setup's calls, then each thread's, each list joined with `; ` (also the paths
    /// tests' view of a program).
    pub(super) fn texts(p: &Program) -> Vec<String> {
        std::iter::once(&p.setup)
            .chain(&p.threads)
            .map(|l| {
                l.iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .collect()
    }

    #[test]
    fn removing_a_binding_call_removes_its_uses_and_removing_a_lock_its_unlock() {
        let p = prog(&[
            &[
                "get_super ram0 as h0",
                "lock_super h0",
                "statfs h0",
                "unlock_super h0",
                "drop_super h0",
                "stat /a",
            ],
            &["umount /a"],
        ]);
        let all: Vec<Vec<String>> = smaller(&p).iter().map(texts).collect();
        // The whole threads first, then each call of the last thread, then the first's.
        assert_eq!(
            all[0],
            texts(&prog(&[&[
                "get_super ram0 as h0",
                "lock_super h0",
                "statfs h0",
                "unlock_super h0",
                "drop_super h0",
                "stat /a"
            ]]))
        );
        assert!(all.contains(&texts(&prog(&[&["stat /a"], &["umount /a"]]))));
        assert!(all.contains(&texts(&prog(&[
            &[
                "get_super ram0 as h0",
                "statfs h0",
                "drop_super h0",
                "stat /a"
            ],
            &["umount /a"],
        ]))));
        // An unlock or a drop_super is never removed alone.
        assert!(!all
            .iter()
            .any(|t| t[1].contains("lock_super h0; statfs h0; drop_super")));
        assert!(!all
            .iter()
            .any(|t| t[1].contains("unlock_super h0; stat /a")));
        // A lone call is never removed from the last thread left; every candidate is smaller.
        assert!(all.iter().all(|t| t.len() >= 2));
        for q in smaller(&p) {
            let shorter_setup = calls(&q) == calls(&p) && q.setup.len() < p.setup.len();
            assert!(calls(&q) < calls(&p) || shorter_setup, "{:?}", texts(&q));
        }
    }

    #[test]
    fn the_setup_s_last_call_moves_into_each_thread_with_as_many_calls() {
        let mut p = prog(&[&["stat /a"], &["stat /a/f"]]);
        p.setup.push(parse_call("mount ram0 /a").unwrap());
        let moved: Vec<Program> = smaller(&p)
            .into_iter()
            .filter(|q| calls(q) == calls(&p) && q.setup.len() < p.setup.len())
            .collect();
        assert_eq!(moved.len(), 2);
        assert_eq!(
            texts(&moved[0]),
            vec!["mkdir /a", "mount ram0 /a; stat /a", "stat /a/f"]
        );
        assert!(moved.iter().all(|q| q.setup.len() < p.setup.len()));
    }

    #[test]
    fn a_candidate_pct_does_not_find_again_goes_to_a_capped_loom_search() {
        let both = [Backend::Pct, Backend::Loom];
        assert_eq!(
            candidate_backends(Backend::Pct, &both),
            vec![
                (Backend::Pct, None),
                (Backend::Loom, Some(SHRINK_LOOM_EXECUTIONS))
            ]
        );
        assert_eq!(
            candidate_backends(Backend::Loom, &both),
            vec![(Backend::Loom, None), (Backend::Pct, None)]
        );
        assert_eq!(
            candidate_backends(Backend::Pct, &[Backend::Pct]),
            vec![(Backend::Pct, None)]
        );
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
