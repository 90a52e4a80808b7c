//! `..` in path walks (fs/namei.c `follow_dotdot`), sequentially on the std backend: inside a
//! mount it is the parent directory; at a mount's root it climbs to the parent of the mountpoint;
//! it never leaves the task's root; a detached mount (lazy umount) has no parent to climb to; and
//! every reference a climb takes is put again (the programs end with every object freed).
//!
//! Run: `cargo test -p mountcheck-model --test paths`.
#![cfg(not(any(loom, feature = "shuttle")))]

mod common;

use common::calls;
use mountcheck_model::program::apply;
use mountcheck_model::task::Task;
use mountcheck_model::{
    execute, parse_call, Config, EndState, Ledger, MountError, OpResult, Program,
};

fn run(t: &mut Task, list: &[&str]) -> Vec<OpResult> {
    calls(list).iter().map(|op| apply(t, op).result).collect()
}

/// Run `list` as init's setup of a one-thread program whose thread only checks `checks` (each
/// `stat PATH`); return the thread's results. The program ends with exit-all, so a reference a
/// walk forgot to put is a leak finding (the execution panics).
fn stats_after(setup: &[&str], checks: &[&str]) -> Vec<OpResult> {
    let p = Program {
        setup: setup.iter().map(|s| parse_call(s).unwrap()).collect(),
        threads: vec![checks.iter().map(|s| parse_call(s).unwrap()).collect()],
        end: EndState::ExitAll,
        spec: None,
    };
    let out = execute(&p, Config::default(), Ledger::new());
    assert!(out.setup.iter().all(|o| o.result == OK), "{:?}", out.setup);
    out.threads[0].iter().map(|o| o.result).collect()
}

const ENOENT: OpResult = OpResult::Err(MountError::NoEntry);
const OK: OpResult = OpResult::Ok;

#[test]
fn dotdot_inside_a_mount_is_the_parent_directory() {
    let r = stats_after(
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "mkdir /mnt/a",
            "chdir /mnt/a",
            "mkdir ../b",
        ],
        &["stat /mnt/b", "stat /mnt/a/../b", "stat /b"],
    );
    assert_eq!(r, [OK, OK, ENOENT]);
}

#[test]
fn dotdot_of_a_mount_root_is_the_parent_of_its_mountpoint() {
    // /mnt/x/.. is /mnt (in ram0), /mnt/.. is / (in rootfs): `mkdir ../up` from the root of
    // ram0 creates /up in rootfs, not in ram0.
    let r = stats_after(
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "chdir /mnt",
            "mkdir ../up",
            "mkdir /mnt/x",
            "mount ram1 /mnt/x",
            "chdir /mnt/x",
            "mkdir ../down",
        ],
        &[
            "stat /up",
            "stat /mnt/up",
            "stat /mnt/down",
            "stat /mnt/x/down",
        ],
    );
    assert_eq!(r, [OK, ENOENT, OK, ENOENT]);
}

#[test]
fn dotdot_never_leaves_the_task_root() {
    let r = stats_after(
        &[
            "mkdir /jail",
            "mkdir /jail/in",
            "chroot /jail",
            "chdir /",
            "mkdir /../../top",
        ],
        &["stat /top", "stat /../top", "stat /jail"],
    );
    // The thread is forked from init after the chroot: its root is /jail too.
    assert_eq!(r, [OK, OK, ENOENT]);
}

#[test]
fn dotdot_after_dotdot_crosses_down_into_mounts_on_the_way() {
    // /mnt/a/../.. is /, and /mnt/a/.. is /mnt, whose mount is followed down.
    let r = stats_after(
        &[
            "mkdir /mnt",
            "mkdir /mnt/a",
            "mount ram0 /mnt",
            "mkdir /mnt/in-ram0",
        ],
        &[
            "stat /mnt/a/..",
            "stat /mnt/in-ram0/../in-ram0",
            "stat /mnt/../mnt/in-ram0",
        ],
    );
    // /mnt/a is hidden by the mount: its walk fails before `..`.
    assert_eq!(r, [ENOENT, OK, OK]);
}

#[test]
fn a_detached_mount_has_no_parent_to_climb_to() {
    // T's cwd is the root of ram0 when ram0 is lazily unmounted: `..` stays in the detached
    // mount (2.4's detach sets mnt_parent to the mount itself), so `mkdir ../z` creates /z in
    // ram0, not in rootfs.
    let ledger = Ledger::new();
    let mut init = Task::boot(Config::default(), ledger.clone());
    assert!(run(&mut init, &["mkdir /mnt", "mount ram0 /mnt"])
        .iter()
        .all(|r| r.is_ok()));
    let mut t = init.fork(1).unwrap();
    assert_eq!(run(&mut t, &["chdir /mnt", "mkdir in-ram0"]), [OK, OK]);
    assert_eq!(run(&mut init, &["umount -l /mnt"]), [OK]);
    assert_eq!(
        run(&mut t, &["mkdir ../z", "stat ../z", "stat in-ram0"]),
        [OK, OK, OK]
    );
    assert_eq!(run(&mut init, &["stat /z", "stat /mnt"]), [ENOENT, OK]);
    assert!(ledger.finding().is_none(), "{:?}", ledger.finding());
}

#[test]
fn dotdot_as_the_last_component_of_mkdir_and_rmdir() {
    let ledger = Ledger::new();
    let mut init = Task::boot(Config::default(), ledger);
    assert_eq!(
        run(
            &mut init,
            &[
                "mkdir /a",
                "mkdir /a/..",
                "rmdir /a/..",
                "rmdir /a/.",
                "rmdir /"
            ]
        ),
        [
            OK,
            OpResult::Err(MountError::Exists),
            OpResult::Err(MountError::NotEmpty),
            OpResult::Err(MountError::Invalid),
            OpResult::Err(MountError::Busy),
        ]
    );
}

#[test]
fn dotdot_in_a_removed_directory_finds_nothing_below_it() {
    let r = stats_after(
        &[
            "mkdir /d",
            "mkdir /d/e",
            "chdir /d/e",
            "rmdir /d/e",
            "rmdir /d",
        ],
        &["stat ..", "stat ../e"],
    );
    // The thread's cwd is the removed /d/e: `..` is the removed /d, with nothing in it.
    assert_eq!(r, [OK, ENOENT]);
}
