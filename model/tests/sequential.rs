//! Sequential semantics of the model on the std backend, table-driven: the EBUSY rule, lazy
//! umount, get_super of an unmounted device, clone and exit, a shared super_block, leak reports.
#![cfg(not(any(loom, feature = "shuttle")))]

mod common;

use common::{ops, program, run};
use mountcheck_model::oracle::{FindingClass, ObjKind, ObjState};
use mountcheck_model::program::apply;
use mountcheck_model::task::Task;
use mountcheck_model::{parse_op, Config, Ledger, MountError, Mutant, Variant};

fn boot() -> (Task, Ledger) {
    let ledger = Ledger::new();
    (Task::boot(Config::default(), ledger.clone()), ledger)
}

fn exec(t: &mut Task, list: &[&str]) -> Vec<Result<(), MountError>> {
    ops(list).iter().map(|op| apply(t, op).result).collect()
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
            .all(Result::is_ok));
        assert!(
            exec(&mut t, busy).iter().all(Result::is_ok),
            "setting up {what}"
        );
        assert_eq!(
            exec(&mut t, &["umount /mnt"]),
            vec![Err(MountError::Busy)],
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
        vec![Ok(()), Ok(()), Ok(()), Err(MountError::Invalid)]
    );
}

#[test]
fn errno_table() {
    let table: &[(&[&str], &str, MountError)] = &[
        (&[], "umount /nope", MountError::NoEntry),
        (&["mkdir /mnt"], "umount /mnt", MountError::Invalid),
        (&["mkdir /mnt"], "mkdir /mnt", MountError::Exists),
        (&["open /f as f"], "mount ram0 /f", MountError::NotDir),
        (&["open /f as f"], "stat /f/x", MountError::NotDir),
        (
            &["mkdir /mnt", "mkdir /mnt/a"],
            "rmdir /mnt",
            MountError::NotEmpty,
        ),
        (
            &["mkdir /mnt", "mount ram0 /mnt"],
            "rmdir /mnt",
            MountError::Busy,
        ),
        (
            &["mkdir /mnt", "mount ram0 /mnt"],
            "mount ram0 /mnt",
            MountError::Busy,
        ),
        (
            &["mkdir /mnt", "drop_cap"],
            "mount ram0 /mnt",
            MountError::Perm,
        ),
        (&["drop_cap"], "clone -n", MountError::Perm),
        (&[], "get_super ram0 as sb", MountError::Invalid),
        (&[], "ustat ram0", MountError::Invalid),
        (&[], "expire ram0", MountError::Invalid),
        (
            &["mkdir /mnt", "mount ram0 /mnt", "open /mnt/f as f"],
            "expire ram0",
            MountError::Busy,
        ),
        (&[], "clone -n --fail", MountError::NoMem),
    ];
    for (setup, op, want) in table {
        let (mut t, _l) = boot();
        assert!(
            exec(&mut t, setup).iter().all(Result::is_ok),
            "setup of `{op}`"
        );
        assert_eq!(
            exec(&mut t, &[op]),
            vec![Err(*want)],
            "`{op}` after {setup:?}"
        );
    }
}

#[test]
fn lazy_umount_of_a_busy_mount_detaches_now_and_frees_at_last_close() {
    let (mut t, l) = boot();
    assert!(exec(
        &mut t,
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "mkdir /mnt/a",
            "open /mnt/a/f as f"
        ]
    )
    .iter()
    .all(Result::is_ok));
    assert_eq!(exec(&mut t, &["umount /mnt"]), vec![Err(MountError::Busy)]);
    assert_eq!(exec(&mut t, &["umount -l /mnt"]), vec![Ok(())]);
    // Gone from the path namespace: /mnt is rootfs's empty directory again.
    assert_eq!(
        exec(&mut t, &["stat /mnt/a"]),
        vec![Err(MountError::NoEntry)]
    );
    assert!(
        t.mount_table().iter().all(|e| e.mountpoint != "/mnt"),
        "{:?}",
        t.mount_table()
    );
    // Still alive through the open file.
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Alive]
    );
    assert_eq!(
        exec(&mut t, &["get_super ram0 as sb", "drop_super sb"]),
        vec![Ok(()), Ok(())]
    );
    // The last close shuts the filesystem down and frees mount and super_block.
    assert_eq!(exec(&mut t, &["close f"]), vec![Ok(())]);
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Freed]
    );
    assert_eq!(state_of(&l, ObjKind::Mount, "ram0"), vec![ObjState::Freed]);
    assert_eq!(
        exec(&mut t, &["get_super ram0 as sb"]),
        vec![Err(MountError::Invalid)]
    );
}

#[test]
fn get_super_holder_keeps_the_struct_but_not_the_filesystem() {
    let (mut t, l) = boot();
    assert!(exec(
        &mut t,
        &["mkdir /mnt", "mount ram0 /mnt", "get_super ram0 as sb"]
    )
    .iter()
    .all(Result::is_ok));
    assert_eq!(
        exec(&mut t, &["drop_super sb", "umount /mnt"]),
        vec![Ok(()), Ok(())]
    );
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Freed]
    );
    assert_eq!(
        exec(&mut t, &["get_super ram0 as sb", "ustat ram0"]),
        vec![Err(MountError::Invalid), Err(MountError::Invalid)]
    );
}

#[test]
fn second_mount_of_a_mounted_device_shares_one_super_block() {
    let (mut t, l) = boot();
    assert!(exec(
        &mut t,
        &[
            "mkdir /a",
            "mkdir /b",
            "mount ram0 /a",
            "mount ram0 /b",
            "mkdir /a/x"
        ]
    )
    .iter()
    .all(Result::is_ok));
    assert_eq!(state_of(&l, ObjKind::SuperBlock, "ram0").len(), 1);
    assert_eq!(state_of(&l, ObjKind::Mount, "ram0").len(), 2);
    // Same contents through both mounts.
    assert_eq!(exec(&mut t, &["stat /b/x"]), vec![Ok(())]);
    // The filesystem lives until its last mount goes.
    assert_eq!(exec(&mut t, &["umount /a"]), vec![Ok(())]);
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Alive]
    );
    assert_eq!(exec(&mut t, &["umount /b"]), vec![Ok(())]);
    assert_eq!(
        state_of(&l, ObjKind::SuperBlock, "ram0"),
        vec![ObjState::Freed]
    );
}

#[test]
fn clone_copies_the_tree_and_the_last_exit_frees_everything() {
    let (mut init, l) = boot();
    assert!(exec(
        &mut init,
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "mkdir /mnt/a",
            "mount ram1 /mnt/a",
            "chdir /mnt/a"
        ]
    )
    .iter()
    .all(Result::is_ok));
    let mut child = init.fork(1).unwrap();
    assert_eq!(exec(&mut child, &["clone -n"]), vec![Ok(())]);
    assert_eq!(child.mount_table(), init.mount_table());
    assert_eq!(child.mount_table().len(), 3);
    // The copies are distinct mounts of the same super_blocks.
    assert_eq!(state_of(&l, ObjKind::Mount, "ram1").len(), 2);
    assert_eq!(state_of(&l, ObjKind::SuperBlock, "ram1").len(), 1);
    // A mount in one namespace is not seen in the other.
    assert_eq!(exec(&mut child, &["mount ram2 /mnt"]), vec![Ok(())]);
    assert_ne!(child.mount_table(), init.mount_table());
    assert_eq!(exec(&mut child, &["exit"]), vec![Ok(())]);
    assert_eq!(exec(&mut init, &["exit"]), vec![Ok(())]);
    let alive: Vec<_> = l
        .objects()
        .into_iter()
        .filter(|o| o.state != ObjState::Freed)
        .map(|o| o.label)
        .collect();
    assert!(alive.is_empty(), "not freed after the last exit: {alive:?}");
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
    assert!(l.objects().iter().all(|o| o.state == ObjState::Freed));
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
        ("stat ../a", 5),
        ("sync now", 5),
    ] {
        let e = parse_op(bad).unwrap_err();
        assert_eq!(e.col, col, "{bad}: {e}");
    }
}
