//! Sequential semantics of the model on the std backend, table-driven: the EBUSY rule, lazy
//! umount, get_super of an unmounted device, clone and exit, a shared super_block, leak reports,
//! and the planted bug (get_super without the s_count pin) as far as one thread can see it.
//!
//! Run: `cargo test -p mountcheck-model --test sequential`. Most tests drive the
//! [`Task`] API directly (one task at a time, so every result is determined); the `execute`
//! tests run whole programs with at most one thread, or, for the stress test, the concurrent
//! scenarios of issue 2 on real threads.
#![cfg(not(any(loom, feature = "shuttle")))]

mod common;

use common::{calls, extra_scenarios, program, run, scenarios};
use mountcheck_model::oracle::{Counter, FindingClass, ObjKind, ObjState, ObjectReport, S_BIAS};
use mountcheck_model::program::apply;
use mountcheck_model::task::Task;
use mountcheck_model::{
    execute, parse_op, Config, EndState, Ledger, MountError, Mutant, OpResult, Program, Variant,
};

fn boot() -> (Task, Ledger) {
    let ledger = Ledger::new();
    (Task::boot(Config::default(), ledger.clone()), ledger)
}

fn exec(t: &mut Task, list: &[&str]) -> Vec<OpResult> {
    calls(list).iter().map(|c| apply(t, c).result).collect()
}

fn objects_of(ledger: &Ledger, kind: ObjKind, label_part: &str) -> Vec<ObjectReport> {
    ledger
        .objects()
        .into_iter()
        .filter(|o| o.kind == kind && o.label.contains(label_part))
        .collect()
}

/// The history of the one super_block of `dev`: (thread, op, what) of each entry.
fn sb_history(ledger: &Ledger, dev: &str) -> Vec<(usize, String, String)> {
    let sbs = objects_of(ledger, ObjKind::SuperBlock, &format!("({dev})"));
    assert_eq!(sbs.len(), 1, "{sbs:?}");
    sbs[0]
        .history
        .iter()
        .map(|h| (h.thread, h.op.clone(), h.what.clone()))
        .collect()
}

fn all_ok(t: &mut Task, list: &[&str]) {
    for (op, r) in list.iter().zip(exec(t, list)) {
        assert_eq!(r, OpResult::Ok, "`{op}` by {}", t.name);
    }
}

fn state_of(ledger: &Ledger, kind: ObjKind, label_part: &str) -> Vec<ObjState> {
    ledger
        .objects()
        .into_iter()
        .filter(|o| o.kind == kind && o.label.contains(label_part))
        .map(|o| o.state)
        .collect()
}

#[test]
fn plain_umount_is_busy_while_anything_is_inside() {
    // (what holds the mount busy, the operations that set it up)
    let table: &[(&str, &[&str])] = &[
        ("an open file", &["open /mnt/f as f"]),
        (
            "an open file in a subdirectory",
            &["mkdir /mnt/a", "open /mnt/a/g as g"],
        ),
        ("a cwd", &["chdir /mnt"]),
        ("a cwd in a subdirectory", &["mkdir /mnt/a", "chdir /mnt/a"]),
        ("a child mount", &["mkdir /mnt/a", "mount ram1 /mnt/a"]),
        (
            "a bind mount of it inside itself",
            &["mkdir /mnt/a", "mount --bind /mnt /mnt/a"],
        ),
    ];
    for (what, busy) in table {
        let (mut t, _l) = boot();
        assert!(exec(&mut t, &["mkdir /mnt", "mount ram0 /mnt"])
            .iter()
            .all(|r| r.is_ok()));
        assert!(
            exec(&mut t, busy).iter().all(|r| r.is_ok()),
            "setting up {what}"
        );
        assert_eq!(
            exec(&mut t, &["umount /mnt"]),
            vec![OpResult::Err(MountError::Busy)],
            "umount with {what} inside"
        );
    }
    // And with nothing inside it succeeds.
    let (mut t, _l) = boot();
    assert_eq!(
        exec(
            &mut t,
            &[
                "mkdir /mnt",
                "mount ram0 /mnt",
                "umount /mnt",
                "umount /mnt"
            ]
        ),
        vec![
            OpResult::Ok,
            OpResult::Ok,
            OpResult::Ok,
            OpResult::Err(MountError::Invalid)
        ]
    );
}

#[test]
fn plain_umount_is_busy_while_another_task_is_inside() {
    // Handles and cwds belong to the task that made them: a forked task's open file or cwd keeps
    // init's umount busy until that task lets go (close, exit).
    let table: &[(&str, &[&str], &str)] = &[
        ("an open file", &["open /mnt/f as f"], "close f"),
        ("a cwd", &["chdir /mnt"], "exit"),
        ("a root", &["chroot /mnt"], "exit"),
        ("an open file at exit", &["open /mnt/f as f"], "exit"),
    ];
    for (what, hold, release) in table {
        let (mut init, _l) = boot();
        all_ok(&mut init, &["mkdir /mnt", "mount ram0 /mnt"]);
        let mut child = init.fork(1).unwrap();
        all_ok(&mut child, hold);
        assert_eq!(
            exec(&mut init, &["umount /mnt"]),
            vec![OpResult::Err(MountError::Busy)],
            "umount with another task's {what} inside"
        );
        // Not the task's own handle: init cannot close it.
        assert_eq!(
            exec(&mut init, &["close f"]),
            vec![OpResult::Err(MountError::BadHandle)]
        );
        all_ok(&mut child, &[release]);
        assert_eq!(
            exec(&mut init, &["umount /mnt"]),
            vec![OpResult::Ok],
            "umount after `{release}` released {what}"
        );
    }
}

#[test]
fn lazy_umount_of_a_busy_mount_detaches_now_and_frees_at_last_close() {
    let (mut t, l) = boot();
    all_ok(
        &mut t,
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "mkdir /mnt/a",
            "open /mnt/a/f as f",
        ],
    );
    let before = t.mount_table();
    assert!(before
        .iter()
        .any(|e| e.mountpoint == "/mnt" && e.dev == "ram0"));
    assert_eq!(
        exec(&mut t, &["umount /mnt"]),
        vec![OpResult::Err(MountError::Busy)]
    );
    assert_eq!(t.mount_table(), before, "a failed umount changes nothing");
    assert_eq!(exec(&mut t, &["umount -l /mnt"]), vec![OpResult::Ok]);
    // Gone from the path namespace: /mnt is rootfs's empty directory again.
    assert_eq!(
        exec(&mut t, &["stat /mnt/a", "stat /mnt/a/f", "stat /mnt"]),
        vec![
            OpResult::Err(MountError::NoEntry),
            OpResult::Err(MountError::NoEntry),
            OpResult::Ok
        ]
    );
    assert!(
        t.mount_table().iter().all(|e| e.dev != "ram0"),
        "{:?}",
        t.mount_table()
    );
    assert_eq!(t.mount_table().len(), before.len() - 1);
    // Still alive through the open file: mount, filesystem and struct.
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Alive]
    );
    assert_eq!(state_of(&l, ObjKind::Mount, "ram0"), vec![ObjState::Alive]);
    assert_eq!(
        exec(
            &mut t,
            &["get_super ram0 as sb", "statfs sb", "drop_super sb"]
        ),
        vec![OpResult::Ok, OpResult::Ok, OpResult::Ok]
    );
    // The last close shuts the filesystem down, then frees the mount and the super_block.
    assert_eq!(exec(&mut t, &["close f"]), vec![OpResult::Ok]);
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Freed]
    );
    assert_eq!(state_of(&l, ObjKind::Mount, "ram0"), vec![ObjState::Freed]);
    let life: Vec<_> = sb_history(&l, "ram0")
        .into_iter()
        .filter(|(_, _, what)| what == "filesystem shut down" || what == "freed")
        .collect();
    assert_eq!(
        life,
        vec![
            (0, "close f".to_string(), "filesystem shut down".to_string()),
            (0, "close f".to_string(), "freed".to_string()),
        ],
        "ram0 went ShutDown, then Freed, in the last close and not before"
    );
    assert_eq!(
        exec(&mut t, &["get_super ram0 as sb"]),
        vec![OpResult::Null]
    );
}

#[test]
fn get_super_of_an_unmounted_device_finds_nothing() {
    let (mut t, l) = boot();
    // Never mounted.
    assert!(t.k.get_super(&t.ctx, "ram0", "probe").is_none());
    assert_eq!(
        exec(&mut t, &["get_super ram0 as sb", "statfs sb", "ustat ram0"]),
        vec![
            OpResult::Null,
            OpResult::Err(MountError::BadHandle),
            OpResult::Err(MountError::Invalid)
        ]
    );
    // Mounted: found, pinned, and released.
    all_ok(
        &mut t,
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "get_super ram0 as sb",
            "statfs sb",
            "drop_super sb",
            "ustat ram0",
        ],
    );
    // Unmounted: nothing again, and the super_block is gone.
    all_ok(&mut t, &["umount /mnt"]);
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Freed]
    );
    assert!(t.k.get_super(&t.ctx, "ram0", "probe").is_none());
    assert_eq!(
        exec(&mut t, &["get_super ram0 as sb", "ustat ram0"]),
        vec![OpResult::Null, OpResult::Err(MountError::Invalid)]
    );
    // Another device is still found: the miss is about ram0, not get_super.
    all_ok(
        &mut t,
        &["mount ram1 /mnt", "get_super ram1 as sb", "drop_super sb"],
    );
}

#[test]
fn second_mount_of_a_mounted_device_shares_one_super_block() {
    let (mut t, l) = boot();
    all_ok(
        &mut t,
        &[
            "mkdir /a",
            "mkdir /b",
            "mount ram0 /a",
            "mount ram0 /b",
            "mkdir /a/x",
        ],
    );
    let sbs: Vec<_> = l
        .objects()
        .into_iter()
        .filter(|o| o.kind == ObjKind::SuperBlock)
        .map(|o| o.label)
        .collect();
    assert_eq!(sbs.len(), 2, "rootfs and one ram0: {sbs:?}");
    let ram0 = objects_of(&l, ObjKind::SuperBlock, "(ram0)");
    assert_eq!(ram0[0].counts["s_active"], 2, "one s_active per vfsmount");
    assert_eq!(state_of(&l, ObjKind::Mount, "ram0").len(), 2);
    // Same contents through both mounts.
    assert_eq!(exec(&mut t, &["stat /b/x"]), vec![OpResult::Ok]);
    // The filesystem lives until its last mount goes.
    assert_eq!(exec(&mut t, &["umount /a"]), vec![OpResult::Ok]);
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Alive]
    );
    assert_eq!(exec(&mut t, &["stat /b/x"]), vec![OpResult::Ok]);
    assert_eq!(exec(&mut t, &["umount /b"]), vec![OpResult::Ok]);
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Freed]
    );
    // A new mount of ram0 is a new, empty filesystem.
    all_ok(&mut t, &["mount ram0 /a"]);
    assert_eq!(objects_of(&l, ObjKind::SuperBlock, "(ram0)").len(), 2);
    assert_eq!(
        exec(&mut t, &["stat /a/x"]),
        vec![OpResult::Err(MountError::NoEntry)]
    );
}

#[test]
fn clone_copies_the_tree_and_the_last_exit_frees_everything() {
    let (mut init, l) = boot();
    all_ok(
        &mut init,
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "mkdir /mnt/a",
            "mount ram1 /mnt/a",
            "chdir /mnt/a",
        ],
    );
    let mut child = init.fork(1).unwrap();
    assert_eq!(exec(&mut child, &["clone -n"]), vec![OpResult::Ok]);
    assert_eq!(child.mount_table(), init.mount_table());
    assert_eq!(child.mount_table().len(), 3);
    // The copies are distinct mounts of the same super_blocks.
    assert_eq!(state_of(&l, ObjKind::Mount, "ram1").len(), 2);
    assert_eq!(state_of(&l, ObjKind::SuperBlock, "ram1").len(), 1);
    // The child's cwd moved to the copy: the original is not busy because of it.
    assert_eq!(exec(&mut child, &["stat ."]), vec![OpResult::Ok]);
    // A mount in one namespace is not seen in the other.
    assert_eq!(exec(&mut child, &["mount ram2 /mnt"]), vec![OpResult::Ok]);
    assert_ne!(child.mount_table(), init.mount_table());
    assert!(init.mount_table().iter().all(|e| e.dev != "ram2"));
    assert_eq!(exec(&mut child, &["exit"]), vec![OpResult::Ok]);
    // The child's namespace went with its only task; init's tree is untouched.
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram2"),
        vec![ObjState::Freed]
    );
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram1"),
        vec![ObjState::Alive]
    );
    assert_eq!(init.mount_table().len(), 3);
    assert_eq!(exec(&mut init, &["exit"]), vec![OpResult::Ok]);
    let alive = not_freed(&l);
    assert!(alive.is_empty(), "not freed after the last exit: {alive:?}");
}

/// The labels of the objects of `l` that are not freed.
fn not_freed(l: &Ledger) -> Vec<String> {
    l.objects()
        .into_iter()
        .filter(|o| o.state != ObjState::Freed)
        .map(|o| o.label)
        .collect()
}

/// `execute` with a catch_unwind, as the engine runs it: the outcome, or `None` after a finding
/// (read from the ledger).
fn execute_caught(
    p: &Program,
    cfg: Config,
) -> (Option<mountcheck_model::program::RunOutcome>, Ledger) {
    let ledger = Ledger::new();
    let l2 = ledger.clone();
    let out = std::panic::catch_unwind(|| execute(p, cfg, l2)).ok();
    (out, ledger)
}

#[test]
fn clone_in_a_program_then_exit_all_frees_every_object() {
    let mut p = program(
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "mkdir /mnt/a",
            "mount ram1 /mnt/a",
        ],
        &[&[
            "clone -n",
            "chdir /mnt/a",
            "mount ram2 /mnt",
            "open /mnt/f as f",
        ]],
    );
    let (out, l) = execute_caught(&p, Config::default());
    assert_eq!(l.finding(), None);
    let out = out.expect("no finding, so no panic");
    assert!(out.setup.iter().all(|o| o.result.is_ok()), "{out:?}");
    assert!(out.threads[0].iter().all(|o| o.result.is_ok()), "{out:?}");
    let alive = not_freed(&l);
    assert!(alive.is_empty(), "not freed at quiescence: {alive:?}");
    // The same program left as it is: no finding (counts match), but nothing was torn down, so
    // the freeing above is the exits' doing.
    p.end = EndState::AsIs;
    let (out, l) = execute_caught(&p, Config::default());
    assert_eq!(l.finding(), None);
    assert!(out.is_some());
    assert!(l.objects().iter().all(|o| o.state == ObjState::Alive));
    // Two namespaces; vfsmounts: rootfs, ram0 and ram1, their three copies, and ram2.
    assert_eq!(
        l.objects()
            .iter()
            .filter(|o| o.kind == ObjKind::Namespace)
            .count(),
        2
    );
    assert_eq!(
        l.objects()
            .iter()
            .filter(|o| o.kind == ObjKind::Mount)
            .count(),
        7
    );
}

#[test]
fn whole_program_with_exit_all_ends_with_every_object_freed() {
    let p = program(
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "mkdir /mnt/a",
            "mount ram1 /mnt/a",
        ],
        &[
            &["clone -n", "open /mnt/a/f as f"],
            &["chdir /mnt", "umount -l /mnt"],
        ],
    );
    let (r, l) = run(&p, Config::default());
    assert!(r.is_ok(), "{:?}", r.err());
    assert_eq!(l.finding(), None);
    assert!(l.objects().iter().all(|o| o.state == ObjState::Freed));
}

#[test]
fn the_clean_scenarios_on_real_threads() {
    // The scenarios the checkers explore, on std threads: whatever interleaving the machine
    // gives, no finding and the per-execution checks of each scenario's classifier hold.
    const RUNS: usize = 200;
    for s in scenarios().into_iter().chain(extra_scenarios()) {
        let mut classes = std::collections::BTreeSet::new();
        for _ in 0..RUNS {
            let (r, l) = run(&s.program, Config::default());
            let out = r.unwrap_or_else(|f| panic!("{}: {f}", s.name));
            classes.insert((s.classify)(&out, &l));
        }
        println!("std {}: {RUNS} runs; classes {classes:?}", s.name);
    }
}

#[test]
fn planted_bug_on_std_the_get_super_pin_is_missing() {
    // Under std one thread cannot schedule the race itself (loom.rs and shuttle.rs catch it);
    // what it can see is the pin: the fixed get_super holds s_count + 1 for its handle until
    // drop_super, the planted bug holds nothing, so nothing stops kill_super's final put.
    for variant in [Variant::Fixed, Variant::Mutant(Mutant::GetSuperNoPin)] {
        let cfg = Config {
            variant,
            ..Config::default()
        };
        let l = Ledger::new();
        let mut t = Task::boot(cfg, l.clone());
        all_ok(
            &mut t,
            &["mkdir /mnt", "mount ram0 /mnt", "get_super ram0 as sb"],
        );
        let sb = &objects_of(&l, ObjKind::SuperBlock, "(ram0)")[0];
        let pins: Vec<_> = sb
            .holders
            .iter()
            .filter(|h| h.counter == Counter::SCount && h.weight == 1)
            .map(|h| h.tag.as_str())
            .collect();
        if variant == Variant::Fixed {
            assert_eq!(sb.counts["s_count"], S_BIAS + 1, "{variant}");
            assert_eq!(pins, ["get_super sb of init"], "{variant}");
        } else {
            assert_eq!(sb.counts["s_count"], S_BIAS, "{variant}");
            assert!(pins.is_empty(), "{variant}: {pins:?}");
        }
        // Balanced either way when nothing races: no finding.
        all_ok(
            &mut t,
            &["statfs sb", "drop_super sb", "umount /mnt", "exit"],
        );
        assert_eq!(l.finding(), None, "{variant}");
        assert!(l.objects().iter().all(|o| o.state == ObjState::Freed));
    }
}

#[test]
fn kill_super_without_s_umount_breaks_its_lock_rule_in_a_sequential_run() {
    // Without kill_super's down_write (a removed guard) the umount does not wait for the
    // get_super holder: lockdep's rule `s-root-clear` reports the missing lock at the access,
    // in this one sequential execution, before any interleaving could exploit it.
    let cfg = Config {
        variant: Variant::Mutant(Mutant::KillSuperNoUmountLock),
        ..Config::default()
    };
    let l = Ledger::new();
    let mut t = Task::boot(cfg, l.clone());
    all_ok(
        &mut t,
        &["mkdir /mnt", "mount ram0 /mnt", "get_super ram0 as sb"],
    );
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = exec(&mut t, &["umount /mnt"]);
    }));
    assert!(r.is_err());
    let f = l
        .finding()
        .expect("kill_super clears s_root without s_umount");
    assert_eq!(f.class, FindingClass::LockRule, "{f}");
    assert!(f.message.contains("s-root-clear"), "{f}");
    assert!(f.message.contains("sb#"), "{f}");
    let last = l.trace().pop().expect("a trace");
    assert!(last.failing, "the failing step is the last one: {last:?}");
}

#[test]
fn errno_table() {
    let table: &[(&[&str], &str, OpResult)] = &[
        (&[], "umount /nope", OpResult::Err(MountError::NoEntry)),
        (
            &["mkdir /mnt"],
            "umount /mnt",
            OpResult::Err(MountError::Invalid),
        ),
        (
            &["mkdir /mnt"],
            "mkdir /mnt",
            OpResult::Err(MountError::Exists),
        ),
        (
            &["open /f as f"],
            "mount ram0 /f",
            OpResult::Err(MountError::NotDir),
        ),
        (
            &["open /f as f"],
            "stat /f/x",
            OpResult::Err(MountError::NotDir),
        ),
        // `.` after a file is ENOTDIR too (it was skipped, which opened the file: found by
        // `mountcheck fuzz` as a result no sequential order gives).
        (
            &["open /f as f"],
            "stat /f/.",
            OpResult::Err(MountError::NotDir),
        ),
        (
            &["open /f as f"],
            "open /f/. as g",
            OpResult::Err(MountError::NotDir),
        ),
        // graft_tree: a file binds only on a file, a directory only on a directory.
        (
            &["open /f as f", "mkdir /d"],
            "mount --bind /f /d",
            OpResult::Err(MountError::NotDir),
        ),
        (
            &["open /f as f", "mkdir /d"],
            "mount --bind /d /f",
            OpResult::Err(MountError::NotDir),
        ),
        // A file bound on a file is a file: no walk goes through it (`mountcheck fuzz` found the
        // walk taking it for a directory and creating a file under it).
        (
            &["open /f as f", "open /g as g", "mount --bind /g /f"],
            "open /f/x as h",
            OpResult::Err(MountError::NotDir),
        ),
        (
            &["mkdir /mnt", "mkdir /mnt/a"],
            "rmdir /mnt",
            OpResult::Err(MountError::NotEmpty),
        ),
        (
            &["mkdir /mnt", "mount ram0 /mnt"],
            "rmdir /mnt",
            OpResult::Err(MountError::Busy),
        ),
        (
            &["mkdir /mnt", "mount ram0 /mnt"],
            "mount ram0 /mnt",
            OpResult::Err(MountError::Busy),
        ),
        (
            &["mkdir /mnt", "drop_cap"],
            "mount ram0 /mnt",
            OpResult::Err(MountError::Perm),
        ),
        (&["drop_cap"], "clone -n", OpResult::Err(MountError::Perm)),
        (&[], "get_super ram0 as sb", OpResult::Null),
        (&[], "ustat ram0", OpResult::Err(MountError::Invalid)),
        (&[], "expire ram0", OpResult::Err(MountError::Invalid)),
        (
            &["mkdir /mnt", "mount ram0 /mnt", "open /mnt/f as f"],
            "expire ram0",
            OpResult::Err(MountError::Busy),
        ),
        (&[], "clone -n --fail", OpResult::Err(MountError::NoMem)),
    ];
    for (setup, op, want) in table {
        let (mut t, _l) = boot();
        assert!(
            exec(&mut t, setup).iter().all(|r| r.is_ok()),
            "setup of `{op}`"
        );
        assert_eq!(exec(&mut t, &[op]), vec![*want], "`{op}` after {setup:?}");
    }
}

#[test]
fn a_leaked_get_super_is_reported_with_who_took_it() {
    let p = program(
        &["mkdir /mnt", "mount ram0 /mnt"],
        &[&["get_super ram0 as sb"]],
    );
    let (r, _) = run(&p, Config::default());
    let f = r.unwrap_err();
    assert_eq!(f.class, FindingClass::Leak);
    assert!(f.message.contains("get_super sb of T1"), "{}", f.message);
    assert!(
        f.unmatched.iter().any(|h| h.tag == "get_super sb of T1"
            && h.thread == 1
            && h.op == "get_super ram0 as sb"),
        "{:?}",
        f.unmatched
    );
}

#[test]
fn sequential_mutants_are_caught_and_their_fixed_twins_are_clean() {
    let table: &[(Mutant, &[&str], &[&str])] = &[
        (
            Mutant::CopyNamespaceNullRoot,
            &["mkdir /mnt"],
            &["clone -n --fail", "exit"],
        ),
        (
            Mutant::FsmountMissingMntget,
            &[],
            &["fsmount ram0 as f", "close f"],
        ),
        (
            Mutant::MntputUnderSpinlock,
            &["mkdir /mnt", "mount ram0 /mnt"],
            &["clone -n", "exit"],
        ),
        (
            Mutant::UmountKeepsNamespace,
            &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/a"],
            &["chdir /mnt/a", "umount -l /mnt", "mount ram1 ."],
        ),
    ];
    for (m, setup, thread) in table {
        let p = program(setup, &[thread]);
        let (r, _) = run(&p, Config::default());
        assert!(r.is_ok(), "fixed protocol on {m}: {:?}", r.err());
        let (r, _) = run(
            &p,
            Config {
                variant: Variant::Mutant(*m),
                ..Config::default()
            },
        );
        let f = r.expect_err(&format!("{m} not caught"));
        assert_eq!(f.class, m.expected(), "{m}: {f}");
    }
}

#[test]
fn every_operation_round_trips_through_its_text() {
    let texts = [
        "mkdir /a",
        "rmdir /a",
        "mount ram0 /a",
        "mount --bind /a /b",
        "umount /a",
        "umount -l /a",
        "umount -f /a",
        "umount -l -f /a",
        "get_super ram0 as sb",
        "drop_super sb",
        "statfs sb",
        "lock_super sb",
        "unlock_super sb",
        "ustat ram0",
        "sync",
        "open /a/f as f",
        "close f",
        "stat a/b",
        "stat ../a/..",
        "chdir /a",
        "chroot /a",
        "clone -n",
        "clone -n --fail",
        "expire ram0",
        "fsmount ram0 as f",
        "drop_cap",
        "exit",
    ];
    for t in texts {
        let op = parse_op(t).unwrap();
        assert_eq!(op.to_string(), t);
        assert_eq!(parse_op(&op.to_string()).unwrap(), op);
    }
    for (bad, col) in [
        ("frob /a", 0),
        ("mount ram0", 10),
        ("umount -x /a", 7),
        ("open /a f", 8),
        ("stat -l", 5),
        ("sync now", 5),
    ] {
        let e = parse_op(bad).unwrap_err();
        assert_eq!(e.col, col, "{bad}: {e}");
    }
}
