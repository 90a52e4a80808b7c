//! lockdep for the model: each lock rule of `mountcheck_model::rules` broken by a planted slip is a
//! `lock-rule` finding in the first execution of a sequential scenario, and two executions that
//! take two locks in opposite orders (and never deadlock) are a `lock-order` finding naming both.
//!
//! Run: `cargo test -p mountcheck-model --test lockdep`. The slips are either a mutant of the
//! catalog (run through `execute`: `sync-write-super-unlocked`, `expire-ns-ref-unlocked`,
//! `add-mount-follow-unlocked`, `graft-mountpoint-unlocked`, `rmdir-mountpoint-unlocked`,
//! `umount-check-before-lock`, `kill-super-no-umount-lock`, and `pivot-root-lock-order` for the
//! order graph) or a model function called directly without the lock its rule needs, which is
//! what a slip in its caller would do. [`the_rules_table_is_covered_by_these_tests`] fails when
//! a rule of `mountcheck_model::rules::ALL` has no test here: a new rule comes with its slip.
#![cfg(not(any(loom, feature = "shuttle")))]

mod common;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::program;
use mountcheck_model::oracle::lockdep::{LockClass, LockOrder};
use mountcheck_model::oracle::{Finding, FindingClass};
use mountcheck_model::task::Task;
use mountcheck_model::{execute, rules, Config, Ledger, Mutant, Variant};

/// Run `f` expecting it to raise a finding in `ledger`; return the finding.
fn finding_of(ledger: &Ledger, f: impl FnOnce()) -> Finding {
    let r = catch_unwind(AssertUnwindSafe(f));
    assert!(r.is_err(), "expected the oracle to raise a finding");
    ledger.finding().expect("the panic was a finding")
}

/// A booted kernel with `ram0` mounted on `/mnt`, and init.
fn booted(cfg: Config) -> (Task, Ledger) {
    let ledger = Ledger::new();
    let mut init = Task::boot(cfg, ledger.clone());
    for op in ["mkdir /mnt", "mount ram0 /mnt"] {
        let call = mountcheck_model::parse_call(op).unwrap();
        assert_eq!(
            mountcheck_model::program::apply(&mut init, &call).result,
            mountcheck_model::OpResult::Ok
        );
    }
    (init, ledger)
}

fn assert_rule(f: &Finding, rule: &str) {
    assert_eq!(f.class, FindingClass::LockRule, "{f}");
    assert!(f.message.contains(&format!("`{rule}`")), "{f}");
}

/// The rules each test below breaks (the last test checks that every rule is covered).
const COVERED: &[&str] = &[
    "s-count",
    "statfs",
    "umount-tree",
    "copy-tree",
    "umount-busy",
    "s-root-clear",
    "write-super",
    "expire-ns-ref",
    "graft",
    "graft-mountpoint",
    "rmdir-mountpoint",
];

#[test]
fn s_count_changed_without_sb_lock() {
    let (init, ledger) = booted(Config::default());
    let sb = init.fs.as_ref().unwrap().root.mnt.sb.clone();
    let f = finding_of(&ledger, || init.k.sb_get(&init.ctx, &sb, "slip", 1));
    assert_rule(&f, "s-count");
    assert!(f.message.contains("T0 holds no lock"), "{f}");
}

#[test]
fn statfs_without_s_umount() {
    let (init, ledger) = booted(Config::default());
    let sb = init.fs.as_ref().unwrap().root.mnt.sb.clone();
    let f = finding_of(&ledger, || init.k.statfs(&init.ctx, &sb));
    assert_rule(&f, "statfs");
}

#[test]
fn umount_tree_without_the_namespace_semaphore() {
    let (init, ledger) = booted(Config::default());
    let ctx = &init.ctx;
    let root = init.fs.as_ref().unwrap().root.mnt.clone();
    let f = finding_of(&ledger, || {
        let mut tree = init.k.tree.write(ctx);
        let _ = init.k.umount_tree(ctx, &mut tree, &root);
    });
    assert_rule(&f, "umount-tree");
    assert!(
        f.message.contains("vfsmount_lock"),
        "the held lock is named: {f}"
    );
}

#[test]
fn copy_tree_without_the_namespace_semaphore() {
    let (init, ledger) = booted(Config::default());
    let ctx = &init.ctx;
    let old = init.ns.clone().unwrap();
    let new = init.k.alloc_namespace(ctx, "slip");
    let f = finding_of(&ledger, || {
        let _ = init.k.copy_tree(ctx, &old, &new, false);
    });
    assert_rule(&f, "copy-tree");
    assert!(
        f.message
            .contains(&format!("ns#{}.sem held for write", old.oid.0)),
        "{f}"
    );
}

/// A one-thread program under a mutant: the finding of its first (and only) execution.
fn first_execution(m: Mutant, setup: &[&str], thread: &[&str]) -> Finding {
    let p = program(setup, &[thread]);
    let cfg = Config {
        variant: Variant::Mutant(m),
        ..Config::default()
    };
    let ledger = Ledger::new();
    let l2 = ledger.clone();
    finding_of(&ledger, move || {
        execute(&p, cfg, l2);
    })
}

#[test]
fn umount_busy_check_before_the_locks() {
    let f = first_execution(
        Mutant::UmountCheckBeforeLock,
        &["mkdir /mnt", "mount ram0 /mnt"],
        &["umount /mnt"],
    );
    assert_rule(&f, "umount-busy");
}

#[test]
fn kill_super_without_s_umount() {
    let f = first_execution(
        Mutant::KillSuperNoUmountLock,
        &["mkdir /mnt", "mount ram0 /mnt"],
        &["umount /mnt"],
    );
    assert_rule(&f, "s-root-clear");
}

#[test]
fn the_failing_step_of_a_rule_is_the_last_step_and_names_the_rule() {
    let (init, ledger) = booted(Config::default());
    let sb = init.fs.as_ref().unwrap().root.mnt.sb.clone();
    let _ = finding_of(&ledger, || init.k.statfs(&init.ctx, &sb));
    let last = ledger.trace().pop().unwrap();
    assert!(last.failing, "{last:?}");
    assert!(last.action.contains("lock-rule"), "{last:?}");
    assert!(last.action.contains("`statfs`"), "{last:?}");
}

/// Two executions of one exploration (one lock-order graph): the first takes namespace->sem then
/// a filesystem's i_sem (as do_add_mount does), the second takes them the other way round. Each
/// runs alone, so neither can deadlock; lockdep reports the inversion in the second, naming the
/// first.
#[test]
fn an_inversion_across_two_executions_is_a_lock_order_finding() {
    let order = LockOrder::new();
    let run = |inverted: bool| {
        let ledger = Ledger::in_exploration(&order);
        let init = Task::boot(Config::default(), ledger.clone());
        let ctx = &init.ctx;
        ctx.set_op(if inverted { "slip" } else { "mount" });
        let ns = init.ns.clone().unwrap();
        let sb = init.fs.as_ref().unwrap().root.mnt.sb.clone();
        let r = catch_unwind(AssertUnwindSafe(|| {
            if inverted {
                init.k.down_i_sem(ctx, &sb);
                init.k.ns_down_write(ctx, &ns);
            } else {
                init.k.ns_down_write(ctx, &ns);
                init.k.down_i_sem(ctx, &sb);
            }
        }));
        (r.is_ok(), ledger)
    };
    let (ok, first) = run(false);
    assert!(ok && first.finding().is_none(), "{:?}", first.finding());
    assert_eq!(first.execution(), 1);
    let (ok, second) = run(true);
    assert!(!ok);
    let f = second.finding().expect("lock-order finding");
    assert_eq!(f.class, FindingClass::LockOrder, "{f}");
    assert!(f.message.contains("execution 2"), "this execution: {f}");
    assert!(f.message.contains("execution 1"), "the earlier one: {f}");
    assert!(f.message.contains(".i_sem"), "{f}");
    assert!(f.message.contains(".sem(w)"), "{f}");
    assert!(second.trace().last().unwrap().failing);
}

#[test]
fn the_same_lock_class_twice_without_annotation_is_recursive_locking() {
    let (init, ledger) = booted(Config::default());
    let ctx = &init.ctx;
    ctx.set_op("slip");
    let sbs: Vec<_> = ["/", "/mnt"]
        .iter()
        .map(|p| {
            let f = init.fs.as_ref().unwrap();
            init.k
                .path_walk(ctx, &f.root, &f.pwd, p, "slip")
                .unwrap()
                .0
                .mnt
                .sb
                .clone()
        })
        .collect();
    let f = finding_of(&ledger, || {
        init.k.down_read_umount(ctx, &sbs[0]);
        init.k.down_read_umount(ctx, &sbs[1]);
    });
    assert_eq!(f.class, FindingClass::LockOrder, "{f}");
    assert!(f.message.contains("recursive locking"), "{f}");
}

#[test]
fn locks_held_across_operations_order_nothing() {
    // A get_super handle's s_umount is held across the thread's next operations (an artefact of
    // the scenario language: no system call returns holding it), so the mount and umount that
    // follow take s_umount of another super_block without a recursive-locking finding.
    let order = LockOrder::new();
    let p = program(
        &["mkdir /mnt", "mount ram0 /mnt", "mkdir /x"],
        &[&[
            "get_super ram0 as sb",
            "mount ram1 /x",
            "umount /x",
            "drop_super sb",
        ]],
    );
    let ledger = Ledger::in_exploration(&order);
    execute(&p, Config::default(), ledger.clone());
    assert!(ledger.finding().is_none(), "{:?}", ledger.finding());
}

#[test]
fn annotated_nesting_of_two_s_umounts_is_not_recursive_locking() {
    // get_sb holds the s_umount of the super_block it allocated (subclass 1, as alloc_super's
    // down_write_nested) when it finds the device mounted meanwhile and takes that super_block's
    // s_umount in grab_super (subclass 0).
    let (init, ledger) = booted(Config::default());
    let ctx = &init.ctx;
    ctx.set_op("get_sb");
    let f = init.fs.as_ref().unwrap();
    let a = init.k.path_walk(ctx, &f.root, &f.pwd, "/", "t").unwrap().0;
    let b = init
        .k
        .path_walk(ctx, &f.root, &f.pwd, "/mnt", "t")
        .unwrap()
        .0;
    init.k.down_write_umount_nested(ctx, &a.mnt.sb, 1);
    init.k.down_write_umount(ctx, &b.mnt.sb);
    assert!(ledger.finding().is_none(), "{:?}", ledger.finding());
    let nested = ledger
        .lock_order()
        .edges()
        .into_iter()
        .any(|((x, y), _)| x == (LockClass::SUmount, 1) && y == (LockClass::SUmount, 0));
    assert!(nested, "the annotated edge was recorded");
}

#[test]
fn sync_calls_write_super_without_s_umount() {
    let f = first_execution(
        Mutant::SyncWriteSuperUnlocked,
        &["mkdir /mnt", "mount ram0 /mnt"],
        &["sync"],
    );
    assert_rule(&f, "write-super");
    assert!(
        f.message.contains("s_umount"),
        "the rule's lock is named: {f}"
    );
}

#[test]
fn expire_takes_the_namespace_reference_after_the_tree_lock() {
    let f = first_execution(
        Mutant::ExpireNsRefUnlocked,
        &["mkdir /mnt", "mount ram0 /mnt"],
        &["expire ram0"],
    );
    assert_rule(&f, "expire-ns-ref");
}

#[test]
fn do_add_mount_follows_before_the_namespace_semaphore() {
    let f = first_execution(
        Mutant::AddMountFollowUnlocked,
        &["mkdir /mnt"],
        &["mount ram0 /mnt"],
    );
    assert_rule(&f, "graft");
    assert!(f.message.contains("T1 holds no lock"), "{f}");
}

#[test]
fn graft_tree_checks_the_mountpoint_before_its_semaphore() {
    let f = first_execution(
        Mutant::GraftMountpointUnlocked,
        &["mkdir /mnt"],
        &["mount ram0 /mnt"],
    );
    assert_rule(&f, "graft-mountpoint");
}

#[test]
fn rmdir_checks_for_mounts_before_its_semaphore() {
    let f = first_execution(
        Mutant::RmdirMountpointUnlocked,
        &["mkdir /mnt", "mkdir /mnt/d"],
        &["rmdir /mnt/d"],
    );
    assert_rule(&f, "rmdir-mountpoint");
}

#[test]
fn each_lock_mutant_is_clean_when_fixed() {
    // The same sequential scenarios under the fixed protocol: no finding, so each test above sees
    // the slip and nothing else.
    let cases: &[(&[&str], &[&str])] = &[
        (&["mkdir /mnt", "mount ram0 /mnt"], &["sync"]),
        (&["mkdir /mnt", "mount ram0 /mnt"], &["expire ram0"]),
        (&["mkdir /mnt"], &["mount ram0 /mnt"]),
        (&["mkdir /mnt", "mkdir /mnt/d"], &["rmdir /mnt/d"]),
    ];
    for (setup, thread) in cases {
        let p = program(setup, &[thread]);
        let ledger = Ledger::new();
        execute(&p, Config::default(), ledger.clone());
        assert!(
            ledger.finding().is_none(),
            "{thread:?}: {:?}",
            ledger.finding()
        );
    }
}

/// The catalog's lock-order mutant: a mount (namespace->sem, then i_sem) and a pivot_root that
/// takes put_old's i_sem first, run one after the other by one task, never deadlock; lockdep
/// reports the inversion in the first execution.
#[test]
fn pivot_root_taking_i_sem_first_is_a_lock_order_finding() {
    let f = first_execution(
        Mutant::PivotRootLockOrder,
        &[
            "mkdir /r",
            "mount ram0 /r",
            "mkdir /r/new",
            "mount ram1 /r/new",
            "mkdir /r/new/old",
            "mkdir /r/m",
            "chroot /r",
        ],
        &["mount ram2 /m", "pivot_root /new /new/old"],
    );
    assert_eq!(f.class, FindingClass::LockOrder, "{f}");
    assert!(f.message.contains(".i_sem"), "{f}");
}

#[test]
fn the_rules_table_is_covered_by_these_tests() {
    let all: BTreeSet<&str> = rules::ALL.iter().map(|r| r.id).collect();
    let covered: BTreeSet<&str> = COVERED.iter().copied().collect();
    let missing: Vec<&&str> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "rules with no test: {missing:?}");
    let unknown: Vec<&&str> = covered.difference(&all).collect();
    assert!(
        unknown.is_empty(),
        "COVERED names rules that do not exist: {unknown:?}"
    );
}
