//! One execution of a program: boot, setup, concurrent threads, quiescence, and the result
//! oracles.
//!
//! What it models: the scenario's tasks running on the model kernel. Each thread is a task
//! forked from init after the setup; its calls run concurrently through the sync facade, so the
//! checker chooses the interleaving. Quiescence follows what the kernel guarantees once every
//! task is gone (kernel/exit.c: the last `exit_namespace` lazily unmounts the whole tree): with
//! [`EndState::ExitAll`] every remaining task exits and then every object must be freed.
//!
//! The result oracles: a call whose result its assertion excludes is a `wrong-result` finding
//! raised at the call (so the trace ends there); with a sequential specification in the program
//! (`check = "linearizable"`), the outcome (every thread call's result, and the mount tables
//! observed after the threads joined, before the quiescence exits) must be one of the
//! specification's, comparing only the results of operations the kernel makes atomic, or it is
//! a `not-linearizable` finding, raised after the lifetime checks of quiescence.
//!
//! Invariant: [`apply`] maps every [`Op`] to its [`Task`] method (an exhaustive match: a new
//! operation does not compile until it has one) and records the call's result as one step.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::outcome::{call_texts, observe, Comparison, Mask, Outcome};
use super::{Call, EndState, Expected, Op, Program};
use crate::checks::Oracle;
use crate::error::OpResult;
use crate::fs::Kind;
use crate::kernel::Config;
use crate::oracle::{Counter, Ctx, FindingClass, Ledger, ObjState};
use crate::sync;
use crate::task::Task;

/// The result of one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpOutcome {
    /// The operation's text.
    pub op: String,
    /// What it returned.
    pub result: OpResult,
    /// Mountpoints its path walks crossed (`follow_down` moves).
    pub crossings: u32,
    /// It succeeded without effect: another task made the change between its unlocked lookup
    /// and its locked part (see [`crate::oracle::Ctx::succeeded_without_effect`]).
    pub without_effect: bool,
}

/// The results of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// Setup results.
    pub setup: Vec<OpOutcome>,
    /// Results per thread.
    pub threads: Vec<Vec<OpOutcome>>,
    /// The mount tables after the threads joined, before quiescence (see
    /// [`super::outcome::observe`]).
    pub tables: super::outcome::Tables,
}

/// Run one operation on `task` and return its result (the exhaustive map from [`Op`] to the
/// [`Task`] methods).
fn run_op(task: &mut Task, op: &Op) -> OpResult {
    match op {
        Op::Mkdir { path } => task.mkdir(path).into(),
        Op::Rmdir { path } => task.rmdir(path).into(),
        Op::Mount { dev, path } => task.mount(dev, path).into(),
        Op::Bind { src, dst } => task.bind(src, dst).into(),
        Op::Umount { path, flags } => task.umount(path, *flags).into(),
        Op::GetSuper { dev, handle } => task.get_super(dev, handle),
        Op::DropSuper { handle } => task.drop_super(handle).into(),
        Op::Statfs { handle } => task.statfs(handle).into(),
        Op::LockSuper { handle } => task.lock_super(handle).into(),
        Op::UnlockSuper { handle } => task.unlock_super(handle).into(),
        Op::Ustat { dev } => task.ustat(dev).into(),
        Op::Sync => task.sync().into(),
        Op::Open { path, handle } => task.open(path, handle).into(),
        Op::Close { handle } => task.close(handle).into(),
        Op::Stat { path } => task.stat(path).into(),
        Op::Chdir { path } => task.chdir(path).into(),
        Op::Chroot { path } => task.chroot(path).into(),
        Op::PivotRoot { new_root, put_old } => task.pivot_root(new_root, put_old).into(),
        Op::CloneNewns { fail } => task.clone_newns(*fail).into(),
        Op::Expire { dev } => task.expire(dev).into(),
        Op::Fsmount { dev, handle } => task.fsmount(dev, handle).into(),
        Op::DropCap => {
            task.drop_cap();
            OpResult::Ok
        }
        Op::Exit => task.exit().into(),
    }
}

/// Run one call on `task`, recording it in the ledger; a result its assertion excludes is a
/// `wrong-result` finding. `implied` is the assertion of a call that states none (the setup's
/// `= 0`).
pub fn apply_checked(task: &mut Task, call: &Call, implied: Option<&Expected>) -> OpOutcome {
    let op = &call.op;
    let text = op.to_string();
    task.ctx.set_op(&text);
    task.refresh_fs();
    let result = run_op(task, op);
    debug_assert!(
        op.spec().results.admits(result),
        "`{text}` returned {result}, which the operation table says it never returns"
    );
    let action = match result {
        OpResult::Err(e) => format!("{text} = -{}", e.errno_name()),
        r => format!("{text} = {r}"),
    };
    task.ctx.step(action, "");
    if let Some(expected) = call.expect.as_ref().or(implied) {
        if !expected.admits(result) {
            let what = match expected.0.as_slice() {
                [one] => one.to_string(),
                _ => format!("one of {}", expected.to_string().trim_start_matches("in ")),
            };
            task.k.ledger.fail(
                &task.ctx,
                FindingClass::WrongResult,
                format!("`{text}` returned {result}, expected {what}"),
                None,
                Vec::new(),
            );
        }
    }
    OpOutcome {
        op: text,
        result,
        crossings: task.ctx.crossings(),
        without_effect: task.ctx.without_effect(),
    }
}

/// Run one call on `task`, recording it in the ledger and checking its assertion.
pub fn apply(task: &mut Task, call: &Call) -> OpOutcome {
    apply_checked(task, call, None)
}

/// What a setup call with no assertion must return: 0.
pub fn setup_default() -> Expected {
    Expected(vec![OpResult::Ok])
}

/// Which results of `threads` the linearizability check compares: those of operations the
/// kernel makes atomic ([`super::ops::Atomicity`]), given what each returned and how many
/// mountpoints its walks crossed.
pub fn compared(program: &Program, threads: &[Vec<OpOutcome>]) -> Mask {
    program
        .threads
        .iter()
        .zip(threads)
        .map(|(calls, outs)| {
            calls
                .iter()
                .zip(outs)
                .map(|(c, o)| {
                    o.without_effect || c.op.spec().atomicity.compared(o.result, o.crossings)
                })
                .collect()
        })
        .collect()
}

/// The results of `threads` as an outcome records them: a failure without effect that the
/// kernel can return out of order ([`super::ops::Atomicity::WalkOrNoEffect`]), or a success
/// without effect, is `None`.
pub fn observed_results(
    program: &Program,
    threads: &[Vec<OpOutcome>],
) -> Vec<Vec<Option<OpResult>>> {
    program
        .threads
        .iter()
        .zip(threads)
        .map(|(calls, outs)| {
            calls
                .iter()
                .zip(outs)
                .map(|(c, o)| {
                    let none = o.without_effect || c.op.spec().atomicity.no_effect(o.result);
                    (!none).then_some(o.result)
                })
                .collect()
        })
        .collect()
}

/// One execution of `program` under `cfg`, recording into `ledger`: boot, setup as init, one
/// task per thread forked from init and run concurrently through the sync facade, then the
/// quiescence checks and the linearizability check. A finding panics (the checker stops the
/// execution); the engine reads it from the ledger.
pub fn execute(program: &Program, cfg: Config, ledger: Ledger) -> RunOutcome {
    let mut init = Task::boot(cfg, ledger);
    let implied = setup_default();
    let setup: Vec<OpOutcome> = program
        .setup
        .iter()
        .map(|c| apply_checked(&mut init, c, Some(&implied)))
        .collect();
    init.ctx.set_op("fork");
    // Fork every task before starting any thread, so the forks add no interleavings.
    let children: Vec<Task> = (0..program.threads.len())
        .map(|i| init.fork(i + 1).expect("init is alive while forking"))
        .collect();
    let mut handles = Vec::new();
    for (mut task, calls) in children.into_iter().zip(program.threads.iter()) {
        let calls = calls.clone();
        handles.push(sync::spawn(move || {
            let outs: Vec<OpOutcome> = calls.iter().map(|c| apply(&mut task, c)).collect();
            (task, outs)
        }));
    }
    init.ctx.set_op("wait for the threads");
    init.ctx.step("join every thread", "");
    let mut tasks = Vec::new();
    let mut threads = Vec::new();
    for h in handles {
        match h.join() {
            Ok((task, outs)) => {
                tasks.push(task);
                threads.push(outs);
            }
            Err(e) => std::panic::resume_unwind(e),
        }
    }
    let tables = {
        let all: Vec<&Task> = std::iter::once(&init).chain(tasks.iter()).collect();
        observe(&all)
    };
    init.ctx.set_op("quiescence");
    quiesce(&mut init, &mut tasks, program.end);
    if let Some(spec) = &program.spec {
        if init.k.cfg.oracles.has(Oracle::Linearizability) {
            let observed = Outcome {
                results: observed_results(program, &threads),
                tables: tables.clone(),
            };
            let mask = compared(program, &threads);
            if !spec.admits(&observed, &mask) {
                init.ctx.set_op("linearizability check");
                let cmp = Comparison {
                    calls: call_texts(&program.threads),
                    nearest: spec.nearest(&observed, &mask, 3),
                    observed,
                    compared: mask,
                    orders: spec.orders(),
                    feasible: spec.feasible(),
                    outcomes: spec.outcomes().len(),
                };
                let msg = format!(
                    "no sequential order of the threads' operations gives these results and mount tables ({} distinct outcomes of {} orders that run to their end, of {}); nearest: {}",
                    cmp.outcomes,
                    cmp.feasible,
                    cmp.orders,
                    cmp.first_difference()
                );
                init.k.ledger.fail_with_comparison(
                    &init.ctx,
                    FindingClass::NotLinearizable,
                    msg,
                    cmp,
                );
            }
        }
    }
    RunOutcome {
        setup,
        threads,
        tables,
    }
}

/// The quiescence checks (see [`EndState`]).
pub fn quiesce(init: &mut Task, tasks: &mut [Task], end: EndState) {
    check_state(&init.ctx, init);
    if end == EndState::ExitAll {
        for t in tasks.iter_mut().filter(|t| !t.exited()) {
            t.ctx.set_op("exit (quiescence)");
            let _ = t.exit();
        }
        init.ctx.set_op("exit (quiescence)");
        let _ = init.exit();
        check_state(&init.ctx, init);
        init.k.ledger.check_all_freed(&init.ctx);
    }
}

/// Structural invariants, hung `s_umount`, and every count against its holders.
fn check_state(ctx: &Ctx, init: &Task) {
    let k = &init.k;
    let ledger = &k.ledger;
    let reg = k.registry();
    let (sbs, mounts, nss) = (reg.sbs.clone(), reg.mounts.clone(), reg.namespaces.clone());
    drop(reg);
    let problem = {
        let tree = k.tree.read(ctx);
        structural_problem(ledger, &tree)
    };
    if let Some((oid, msg)) = problem {
        ledger.invariant(ctx, Some(oid), msg);
    }
    for sb in &sbs {
        if ledger.state(sb.oid) == ObjState::Freed {
            continue;
        }
        let (readers, writer) = sb.s_umount.holders();
        if readers > 0 || writer {
            let pins: Vec<_> = ledger
                .report(sb.oid)
                .holders
                .into_iter()
                .filter(|h| h.counter == Counter::SCount && h.weight == 1)
                .collect();
            let who = pins
                .iter()
                .map(|h| format!("{} (taken by T{} in `{}`)", h.tag, h.thread, h.op))
                .collect::<Vec<_>>()
                .join("; ");
            let msg = format!(
                "s_umount of sb#{} ({}) is still held ({}) at quiescence: {}",
                sb.oid.0,
                sb.dev,
                if writer {
                    "for write".to_string()
                } else {
                    format!("{readers} reader(s)")
                },
                if who.is_empty() {
                    "no pin names the holder".to_string()
                } else {
                    who
                }
            );
            ledger.fail(ctx, FindingClass::Leak, msg, Some(sb.oid), pins);
        }
        ledger.check_count(
            ctx,
            sb.oid,
            Counter::SCount,
            sb.s_count.load(sync::Ordering::SeqCst),
        );
        ledger.check_count(
            ctx,
            sb.oid,
            Counter::SActive,
            sb.s_active.load(sync::Ordering::SeqCst),
        );
        ledger.check_count(
            ctx,
            sb.oid,
            Counter::Dentries,
            sb.dentries.load(sync::Ordering::SeqCst),
        );
    }
    for m in &mounts {
        if ledger.state(m.oid) != ObjState::Freed {
            ledger.check_count(
                ctx,
                m.oid,
                Counter::MntCount,
                m.mnt_count.load(sync::Ordering::SeqCst),
            );
        }
    }
    for ns in &nss {
        if ledger.state(ns.oid) != ObjState::Freed {
            ledger.check_count(
                ctx,
                ns.oid,
                Counter::NsCount,
                ns.count.load(sync::Ordering::SeqCst),
            );
        }
    }
}

/// Whether `kind` is a directory (re-exported for the harness's conformance check).
pub fn is_dir(kind: Kind) -> bool {
    kind == Kind::Dir
}

/// The first structural invariant the tree breaks: freed mounts still linked, freed or cyclic
/// parents, attached mounts whose mountpoint was removed, detached mounts left in the hash.
fn structural_problem(
    ledger: &Ledger,
    tree: &crate::kernel::Tree,
) -> Option<(crate::oracle::Oid, String)> {
    for (oid, l) in &tree.links {
        if ledger.state(*oid) == ObjState::Freed {
            return Some((
                *oid,
                format!("freed mnt#{} is still linked in the mount tree", oid.0),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut cur = l.parent.clone();
        while let Some(p) = cur {
            if !seen.insert(p.oid) || p.oid == *oid {
                return Some((
                    *oid,
                    format!("the mount tree has a cycle through mnt#{}", oid.0),
                ));
            }
            if ledger.state(p.oid) == ObjState::Freed {
                return Some((
                    *oid,
                    format!("mnt#{}'s parent mnt#{} is freed", oid.0, p.oid.0),
                ));
            }
            cur = tree.links.get(&p.oid).and_then(|pl| pl.parent.clone());
        }
        if let (Some(p), Some(mp)) = (&l.parent, &l.mountpoint) {
            if !p.sb.dentry_is_live(mp) {
                let msg = format!("mnt#{} is attached on {} of mnt#{}, which was removed: unreachable by any path", oid.0, mp.path, p.oid.0);
                return Some((*oid, msg));
            }
        }
    }
    for ((p, _), v) in &tree.hash {
        for m in v {
            if tree
                .links
                .get(&m.oid)
                .is_none_or(|l| l.parent.as_ref().is_none_or(|pp| pp.oid != *p))
            {
                return Some((
                    m.oid,
                    format!("mnt#{} is in the mount hash but detached", m.oid.0),
                ));
            }
        }
    }
    None
}
