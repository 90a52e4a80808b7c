//! No wait and no retry loop of the model can hang a test: on real threads (std) a wait for a
//! sleeping lock gives up after `sync::STD_WAIT_BOUND` and is reported as a `deadlock` finding
//! naming the lock, and a retry loop gives up after `sync::MAX_RETRIES` rounds (and, on real
//! threads, the wait bound) with a `livelock` finding naming the loop and the object.
//!
//! What it checks: two model slips that used to hang on real threads. `missing-drop-super` leaves
//! `s_umount` held for read, so the umount's `kill_super` slept for ever in `down_write(s_umount)`
//! (model/src/super_block/locks.rs, model/src/sync/sem.rs). A umount that sets a mount's
//! `mnt_umounting` flag (the read-mostly design's handshake, model/src/mount/legitimize.rs) and
//! never clears it made every `lookup_mnt` of that mount retry for ever. Each now ends in a
//! finding.
//!
//! Run: `cargo test -p mountcheck-model --test no_hang` (about ten seconds: each case waits for
//! the real-threads bound once).

#![cfg(not(any(loom, feature = "shuttle")))]

mod common;

use std::time::Instant;

use common::program;
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::sync::{Ordering, MAX_RETRIES, STD_WAIT_BOUND};
use mountcheck_model::task::Task;
use mountcheck_model::{Config, Ledger, LockDesign, Mutant, Variant};

#[test]
fn a_deadlock_on_real_threads_is_a_finding_not_a_hang() {
    // init's ustat leaks its s_umount read lock before the thread starts, so the umount
    // blocks whatever the real threads' timing.
    let p = program(
        &["mkdir /mnt", "mount ram0 /mnt", "ustat ram0"],
        &[&["umount /mnt"]],
    );
    let cfg = Config {
        variant: Variant::Mutant(Mutant::MissingDropSuper),
        ..Config::default()
    };
    let start = Instant::now();
    let (r, _) = common::run(&p, cfg);
    let f = r.expect_err("the umount cannot finish while ustat's s_umount is held");
    assert_eq!(f.class, FindingClass::Deadlock, "{f}");
    assert!(f.message.contains("down_write(sb#"), "{f}");
    assert!(f.message.contains("s_umount"), "{f}");
    assert!(f.message.contains("held by 1 reader(s)"), "{f}");
    assert!(start.elapsed() >= STD_WAIT_BOUND);
}

#[test]
fn a_lookup_that_never_stops_retrying_is_a_livelock_finding() {
    // The slip: a umount set mnt_umounting on /mnt's mount and never cleared it (no
    // `umount_abandoned`), so every lookup that pins the mount drops the pin and searches again.
    let cfg = Config {
        lock_design: LockDesign::ReadMostly,
        ..Config::default()
    };
    let ledger = Ledger::new();
    let mut init = Task::boot(cfg, ledger.clone());
    init.mkdir("/mnt").unwrap();
    init.mount("ram0", "/mnt").unwrap();
    let m = init
        .k
        .tree
        .peek(|t| {
            t.hash
                .values()
                .flatten()
                .find(|m| m.sb.dev == "ram0")
                .cloned()
        })
        .expect("ram0 is mounted on /mnt");
    m.mnt_umounting.store(true, Ordering::SeqCst);
    let start = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| init.stat("/mnt")));
    assert!(r.is_err(), "the walk into /mnt ended without a finding");
    let f = ledger.finding().expect("a finding in the ledger");
    assert_eq!(f.class, FindingClass::Invariant, "{f}");
    let retried: usize = f
        .message
        .strip_prefix("livelock: lookup_mnt retried ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a lookup_mnt livelock: {f}"));
    assert!(retried >= MAX_RETRIES, "{f}");
    assert!(
        f.message.contains(&format!(
            "times on mnt#{} (always being unmounted)",
            m.oid.0
        )),
        "{f}"
    );
    assert!(start.elapsed() >= STD_WAIT_BOUND);
}
