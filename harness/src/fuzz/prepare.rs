//! From a generated program to a scenario ready to explore: its linearizability check (off
//! when it calls an operation the kernel does not make atomic), the legality check (each
//! program run on the fixed protocol with its threads one after another in every order, as
//! Lincheck runs a scenario's sequential part first: a program the fixed protocol cannot run
//! serially is the caller's bug, not a finding), its sequential specification, and which
//! backend searches it whole.
//!
//! Invariant: a program that leaves here passes what a scenario file must pass
//! (`scenario::check_program`) and has at most [`super::FUZZ_MAX_ORDERS`] sequential orders.

use std::path::PathBuf;

use anyhow::Result;
use indicatif::ProgressBar;
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::program::linearizable::count_runs;
use mountcheck_model::program::{Atomicity, HandleClass, HandleUse, Steps};
use mountcheck_model::{LockDesign, Oracles, Program, Variant};

use super::{FUZZ_MAX_ORDERS, LEGALITY_PREEMPTIONS, LOOM_SMALL_CALLS};
use crate::options::ExploreOptions;
use crate::run::{self, Backend, Settings};
use crate::scenario::{check_program, Check, Expect, Scenario};
use crate::verdict::Verdict;

/// The linearizability check of a generated program: off when it calls an operation the
/// kernel does not make atomic ([`Atomicity::No`] in the operation table: its effects on the
/// mount tables are not one step, so no sequential order need match them), or when two of its
/// threads' calls can see each other's intermediate steps ([`Steps::meet`]: a `umount` beside a
/// `mount` or a `get_super`), or when a thread reads `super_blocks` after its own lazy umount
/// while another thread runs ([`mountcheck_model::Op::detaches_pinned`]: the other thread's walk
/// can keep the detached super_block alive past the umount's return); on otherwise. The
/// lifetime, invariant and lockdep oracles judge every program.
pub fn check_of(p: &Program) -> Check {
    let not_atomic = p
        .threads
        .iter()
        .flatten()
        .any(|c| c.op.spec().atomicity == Atomicity::No);
    let meet = p.threads.iter().enumerate().any(|(i, t)| {
        t.iter().any(|a| {
            p.threads.iter().enumerate().any(|(j, u)| {
                i != j
                    && u.iter()
                        .any(|b| Steps::meet(a.op.spec().steps, b.op.spec().steps))
            })
        })
    });
    let freed_late = p.threads.len() > 1
        && p.threads.iter().any(|t| {
            t.iter().enumerate().any(|(i, a)| {
                a.op.detaches_pinned()
                    && t[i + 1..]
                        .iter()
                        .any(|b| b.op.spec().steps == Steps::Supers)
            })
        });
    if not_atomic || meet || freed_late {
        Check::None
    } else {
        Check::Linearizable
    }
}

/// A scenario of `program` ready to explore (its specification not yet attached).
fn scenario_of(name: String, program: Program, variant: Variant, design: LockDesign) -> Scenario {
    let call_pos = program
        .threads
        .iter()
        .map(|t| vec![(1, 1); t.len()])
        .collect();
    let check = check_of(&program);
    Scenario {
        name,
        file: PathBuf::from("<generated>"),
        description: String::new(),
        see: None,
        variant,
        expect: match variant {
            Variant::Fixed => Expect::Clean,
            Variant::Mutant(m) => Expect::Finding(m.expected_under(design)),
        },
        program,
        name_pos: (1, 1),
        lock_design: Some(design),
        check,
        check_pos: (1, 1),
        call_pos,
        spec_info: None,
        spec_secs: None,
        oracles: Oracles::all(),
    }
}

/// Whether backend `b` explores `program` for `--loom-iterations` executions (loom on a
/// scenario of at most [`LOOM_SMALL_CALLS`] thread calls: most such spaces end below it) rather
/// than `--iterations`.
pub(super) fn searched_whole(program: &Program, b: Backend) -> bool {
    b == Backend::Loom && program.threads.iter().map(Vec::len).sum::<usize>() <= LOOM_SMALL_CALLS
}

/// Check `program` as a file would be checked and attach its specification; `Err` with the
/// reason when it cannot be explored.
pub(super) fn ready(
    name: String,
    program: Program,
    variant: Variant,
    design: LockDesign,
) -> Result<Scenario, String> {
    if count_runs(&program) > FUZZ_MAX_ORDERS {
        return Err("too many sequential orders".into());
    }
    check_program(&program, design).map_err(|e| e.msg)?;
    let mut s = [scenario_of(name, program, variant, design)];
    crate::specs::attach_specs(&mut s, 1).map_err(|e| format!("{e:#}"))?;
    let [s] = s;
    if let Some(info) = &s.spec_info {
        if info.feasible < info.orders {
            // Its calls alone deadlock in some sequential order (two lock_super in opposite
            // orders): a bug of the caller, which the kernel has too, not of the protocol.
            return Err("some sequential order of its calls blocks for ever".into());
        }
    }
    Ok(s)
}

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// Whether some thread of `p` makes a call, or takes a lock, while it holds a handle it must
/// give back ([`HandleClass::must_release`]: a `get_super`'s `s_umount`): the only way the
/// generated calls, which keep the handle rules, can block their own task in a serial order. A program without
/// such a call needs no [`legal`] runs (and a protocol bug that deadlocks serially stays a
/// finding).
fn holds_across(p: &Program) -> bool {
    p.threads.iter().any(|t| {
        let mut held = 0usize;
        t.iter().any(|c| {
            let h = c.op.spec().handle;
            let must = h.class().is_some_and(HandleClass::must_release);
            match h {
                HandleUse::Binds(_) if must => {
                    held += 1;
                    false
                }
                HandleUse::Releases(_) if must => {
                    held = held.saturating_sub(1);
                    false
                }
                // A lock_super while holding: a second lock of the same super_block through
                // another handle waits for itself.
                HandleUse::Locks(_) => held > 0,
                _ if must => false,
                _ => held > 0,
            }
        })
    })
}

/// The legality check: each program run on the fixed protocol with its threads one after
/// another, in every order of the threads (loom at preemption bound 0,
/// [`LEGALITY_PREEMPTIONS`], runs a program's threads in their order, each to its end or until
/// it blocks: one execution). A serial order that deadlocks is no race: the calls themselves
/// break a calling rule the generator's handle rules do not cover (a task holding a
/// `get_super` unmounts that filesystem: `kill_super` waits for the `s_umount` its own caller
/// holds), which is the caller's bug, in the kernel too. Such a program is dropped (`None`).
/// Any other finding of a serial order is kept: the generated calls keep the calling rules, so
/// it is a bug of the protocol that needs no race (a leak on `chroot`, a wrong `rmdir`), and
/// the exploration reports it.
pub(super) fn legal(
    programs: Vec<Program>,
    design: LockDesign,
    set: &Settings<'_>,
) -> Result<Vec<Option<Program>>> {
    let mut owner = Vec::new();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for (i, p) in programs.iter().enumerate() {
        if !holds_across(p) {
            continue;
        }
        for (k, order) in permutations(p.threads.len()).into_iter().enumerate() {
            let serial = Program {
                threads: order.iter().map(|&t| p.threads[t].clone()).collect(),
                spec: None,
                ..p.clone()
            };
            let mut s = scenario_of(format!("legality-{i}-{k}"), serial, Variant::Fixed, design);
            s.check = Check::None;
            scenarios.push(s);
            owner.push(i);
        }
    }
    let tasks: Vec<(&Scenario, Backend)> = scenarios.iter().map(|s| (s, Backend::Loom)).collect();
    let opts = ExploreOptions {
        preemption_bound: LEGALITY_PREEMPTIONS,
        ..set.opts.clone()
    };
    let legality = Settings {
        opts: &opts,
        iterations: None,
        minimize_witness: false,
        ..*set
    };
    let reports = run::explore_all_with(&tasks, &legality, &ProgressBar::hidden())?;
    let mut ok = vec![true; programs.len()];
    for (i, r) in owner.iter().zip(&reports) {
        if r.verdict == Verdict::Finding(FindingClass::Deadlock) {
            ok[*i] = false;
        }
    }
    Ok(programs
        .into_iter()
        .zip(ok)
        .map(|(p, ok)| ok.then_some(p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn permutations_are_every_order() {
        let p = permutations(3);
        assert_eq!(p.len(), 6);
        let set: BTreeSet<Vec<usize>> = p.into_iter().collect();
        assert_eq!(set.len(), 6);
        assert!(set.iter().all(|o| {
            let mut s = o.clone();
            s.sort();
            s == vec![0, 1, 2]
        }));
        assert_eq!(permutations(1), vec![vec![0]]);
    }

    fn program(threads: &[&[&str]]) -> Program {
        Program {
            threads: threads
                .iter()
                .map(|t| {
                    t.iter()
                        .map(|c| mountcheck_model::parse_call(c).unwrap())
                        .collect()
                })
                .collect(),
            ..Program::default()
        }
    }

    #[test]
    fn a_super_blocks_read_after_the_thread_s_own_lazy_umount_turns_the_check_off() {
        // Found by a catalog campaign as a finding the fixed protocol shares: T2's walk of `a`
        // pins ram1's mount while T1 detaches it lazily, so ram1's super_block outlives the
        // umount and T1's get_super finds it, which no sequential order gives.
        let lazy = [
            "mkdir /a",
            "mount ram1 /a",
            "umount -l a",
            "get_super ram1 as h0",
            "drop_super h0",
        ];
        assert_eq!(check_of(&program(&[&lazy, &["mkdir a/f"]])), Check::None);
        // Alone, nothing can pin the mount between its calls.
        assert_eq!(check_of(&program(&[&lazy])), Check::Linearizable);
        // A plain umount of a pinned mount fails (EBUSY, a result the check does not compare),
        // and a read before the umount sees nothing late.
        let plain = ["mount ram1 /a", "umount /a", "ustat ram1"];
        assert_eq!(
            check_of(&program(&[&plain, &["stat /a"]])),
            Check::Linearizable
        );
        let before = ["mount ram1 /a", "ustat ram1", "umount -l /a"];
        assert_eq!(
            check_of(&program(&[&before, &["stat /a"]])),
            Check::Linearizable
        );
    }

    #[test]
    fn loom_gets_its_own_cap_on_small_scenarios_only_and_pct_never() {
        let four = program(&[&["stat /", "stat /"], &["stat /", "exit"]]);
        let five = program(&[&["stat /", "stat /", "stat /"], &["stat /", "exit"]]);
        assert!(searched_whole(&four, Backend::Loom));
        assert!(!searched_whole(&five, Backend::Loom));
        assert!(!searched_whole(&four, Backend::Pct));
    }
}
