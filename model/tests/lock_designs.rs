//! Every lock design of the mount hash and the `super_blocks` list (global lock, reader-writer
//! lock, read-mostly) under every backend: the fixed protocol stays clean and the planted bugs are
//! still caught, with `Config { lock_design, .. }`.
//!
//! What it checks: the designs of `model/src/kernel/locks.rs` (`TreeLock`, `SpinLock::with_design`)
//! and the find-then-pin of `get_super` in `model/src/super_block/get_super.rs`. The programs race
//! lookups (`lookup_mnt` in a path walk, `get_super`, the `super_blocks` walk of `sync`, expiry)
//! against the writers of the same structures (`umount`, `mount`, `clone`, exit), the races where a
//! lock-free read path could pin an object after a writer checked it, or revive a freed one.
//!
//! Invariant: for each design, no finding on the clean programs, and the planted bug's class on
//! each mutant. Run: `cargo test -p mountcheck-model --test lock_designs` (std: the programs on
//! real threads, the designs agree on every program run sequentially, and the read-mostly lookups
//! hold up on real threads while writers change and grow the tables),
//! `... --features shuttle --release` (PCT and DFS), `RUSTFLAGS="--cfg loom" ... --release`
//! (loom, preemption bound 3). Under the read-mostly design `umount-check-before-lock`'s first
//! symptom is the opener's wrong result (its lookup pins without the tree lock, so the umount
//! detaches the mount before the pin is legitimized), which its program asserts
//! (`Mutant::expected_under`). Every primitive of the
//! read-mostly protocols is a facade primitive, so loom sees them in the model itself; the grace
//! period of the RCU tables is checked by the loom test in `model/src/rcu_hash.rs` under
//! `--cfg crossbeam_loom`. Under loom this file also writes the `lookup_mnt` / umount handshake out
//! with loom's primitives alone and shows that loom catches it broken two ways.

mod common;

use common::program;
use mountcheck_model::{Config, LockDesign, Mutant, Program, Variant};

/// The get_super/umount race of the seed (and, with `get-super-no-pin`, the planted bug).
fn get_super_vs_umount() -> Program {
    program(
        &["mkdir /mnt", "mount ram0 /mnt"],
        &[
            &["get_super ram0 as sb", "statfs sb", "drop_super sb"],
            &["umount /mnt"],
        ],
    )
}

/// The clean programs: issue 2's concurrent scenarios, plus the races that matter to a lock-free
/// read path.
fn programs() -> Vec<(&'static str, Program)> {
    let mut v = vec![
        ("get_super vs umount", get_super_vs_umount()),
        (
            "open vs lazy umount",
            program(
                &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/a"],
                &[&["open /mnt/a/f as f", "close f"], &["umount -l /mnt"]],
            ),
        ),
        (
            "exit vs umount",
            program(
                &["mkdir /mnt", "mount ram0 /mnt"],
                &[&["clone -n", "chdir /mnt", "exit"], &["umount /mnt"]],
            ),
        ),
        (
            "clone vs mount",
            program(
                &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/b"],
                &[&["clone -n", "exit"], &["mount ram1 /mnt/b"]],
            ),
        ),
    ];
    v.push((
        "walk across a mountpoint vs plain umount",
        program(
            &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/a"],
            &[
                &["stat /mnt/a", "open /mnt/a/f as f", "close f"],
                &["umount /mnt"],
            ],
        ),
    ));
    v.push((
        "ustat vs lazy umount",
        program(
            &["mkdir /mnt", "mount ram0 /mnt"],
            &[&["ustat ram0"], &["umount -l /mnt"]],
        ),
    ));
    v.push((
        "sync vs umount",
        program(
            &["mkdir /mnt", "mount ram0 /mnt"],
            &[&["sync"], &["umount /mnt"]],
        ),
    ));
    v.push((
        "expire vs exit",
        program(
            &["mkdir /mnt", "mount ram1 /mnt"],
            &[&["expire ram1"], &["clone -n", "exit"]],
        ),
    ));
    v
}

/// Mutants whose race involves a lookup or the list, with the class each must be caught as.
#[cfg_attr(not(any(loom, feature = "shuttle")), allow(dead_code))]
/// The planted bugs and their programs; each must be found with `Mutant::expected_under(d)`.
fn mutants() -> Vec<(Mutant, Program)> {
    vec![
        (Mutant::GetSuperNoPin, get_super_vs_umount()),
        (
            Mutant::UmountCheckBeforeLock,
            program(
                &["mkdir /mnt", "mount ram0 /mnt"],
                &[
                    &["umount /mnt"],
                    &["open /mnt/f as f", "stat /mnt/f = 0", "close f"],
                ],
            ),
        ),
        (
            Mutant::FollowDownEarlyMntput,
            program(
                &[
                    "mkdir /mnt",
                    "mount ram0 /mnt",
                    "mkdir /mnt/a",
                    "mount ram1 /mnt/a",
                ],
                &[&["stat /mnt/a"], &["umount -l /mnt"]],
            ),
        ),
    ]
}

fn cfg(lock_design: LockDesign, variant: Variant) -> Config {
    Config {
        variant,
        lock_design,
        ..Config::default()
    }
}

#[cfg(not(any(loom, feature = "shuttle")))]
mod std_threads {
    use super::*;
    use mountcheck_model::Ledger;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    const RUNS: usize = 100;

    /// How long the reader threads of a test keep reading while they wait for its writer to
    /// finish. The writers' rounds take well under a second; a writer that has not finished after
    /// a minute is stuck (or a model bug made it loop), and the test must fail saying so rather
    /// than spin for ever.
    const WRITER_BOUND: Duration = Duration::from_secs(60);

    /// Sets its flag when dropped: the writer's end, however the writer ends (a panic included),
    /// so the readers never wait for a writer that is gone.
    struct StopOnDrop<'a>(&'a AtomicBool);

    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// Call `read(n)` for n = 0, 1, ... until `stop` is set and at least `min` reads were made;
    /// panic if the writer has not set `stop` within [`WRITER_BOUND`].
    fn read_until_stopped(stop: &AtomicBool, min: u64, mut read: impl FnMut(u64)) {
        let start = Instant::now();
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) || n < min {
            assert!(
                stop.load(Ordering::Relaxed) || start.elapsed() < WRITER_BOUND,
                "the readers waited {WRITER_BOUND:?} for the writer to finish (after {n} reads): the writer is stuck"
            );
            read(n);
            n += 1;
        }
    }

    #[test]
    fn every_design_is_clean_on_real_threads() {
        for d in LockDesign::ALL {
            for (name, p) in programs() {
                for _ in 0..RUNS {
                    if let Err(f) = common::run(&p, cfg(d, Variant::Fixed)).0 {
                        panic!("{} / {name}: {f}", d.name());
                    }
                }
            }
        }
    }

    #[test]
    fn the_read_mostly_list_pins_only_listed_super_blocks() {
        // Readers pin and unpin with the lock-free increment-if-listed while a writer lists and
        // kills super_blocks of another device: every pin lands on a listed super_block, and
        // the counts come back to the list's bias alone.
        use mountcheck_model::oracle::S_BIAS;
        use mountcheck_model::task::Task;
        let init = Task::boot(cfg(LockDesign::ReadMostly, Variant::Fixed), Ledger::new());
        let k = init.k.clone();
        for i in 0..4 {
            k.get_sb(&init.ctx, &format!("dev{i}"), "test");
        }
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for r in 0..2u64 {
                let (k, stop) = (&k, &stop);
                s.spawn(move || {
                    read_until_stopped(stop, 1000, |n| {
                        let sb = k
                            .find_super_quiet(&format!("dev{}", (n * (r + 1)) % 4))
                            .expect("listed");
                        assert!(sb.s_count.load(Ordering::SeqCst) > S_BIAS);
                        k.unpin_super_quiet(&sb);
                    });
                });
            }
            let _writer_done = StopOnDrop(&stop);
            let ctx = mountcheck_model::oracle::Ctx::new(3, k.ledger.clone());
            for _ in 0..300 {
                let sb = k.get_sb(&ctx, "wdev", "writer");
                k.deactivate_super(&ctx, &sb, "writer");
            }
        });
        k.sb_lock.peek(|l| {
            assert_eq!(l.len(), 5, "rootfs and dev0..dev3");
            for sb in l.iter().filter(|s| s.dev.starts_with("dev")) {
                assert_eq!(sb.s_count.load(Ordering::SeqCst), S_BIAS);
            }
        });
    }

    #[test]
    fn every_design_gives_the_same_sequential_results() {
        // One thread at a time: every design must compute the same outcome. The threads' calls
        // run in the setup here, where some fail (EBUSY) by design: the result oracle, which
        // holds a setup call to 0, is off; the results themselves are compared below.
        let oracles: mountcheck_model::Oracles = [
            mountcheck_model::Oracle::Lifetime,
            mountcheck_model::Oracle::Invariant,
        ]
        .into_iter()
        .collect();
        for (name, p) in programs() {
            let seq = Program {
                setup: p
                    .setup
                    .iter()
                    .chain(p.threads.iter().flatten())
                    .filter(|c| !matches!(c.op, mountcheck_model::Op::Exit))
                    .cloned()
                    .collect(),
                threads: Vec::new(),
                end: p.end,
                spec: None,
            };
            let outs: Vec<_> = LockDesign::ALL
                .iter()
                .map(|d| {
                    let c = Config {
                        oracles,
                        ..cfg(*d, Variant::Fixed)
                    };
                    common::run(&seq, c).0.expect(name)
                })
                .collect();
            assert!(outs.windows(2).all(|w| w[0] == w[1]), "{name}");
        }
    }

    #[test]
    fn the_read_mostly_tree_publishes_each_write_whole() {
        // Readers search the RCU mount hash with no lock while a writer mounts and unmounts on
        // another mountpoint and the hash grows and shrinks around them: the mount that never
        // moves is always found, and the other key gives nothing or the mount of its device.
        use mountcheck_model::task::Task;
        let mut init = Task::boot(cfg(LockDesign::ReadMostly, Variant::Fixed), Ledger::new());
        for d in ["/a", "/b"] {
            init.mkdir(d).unwrap();
        }
        for i in 0..20 {
            init.mkdir(&format!("/g{i}")).unwrap();
        }
        init.mount("ram0", "/a").unwrap();
        let k = init.k.clone();
        let key = |k: &mountcheck_model::kernel::Kernel, dev: &str| {
            k.tree.peek(|t| {
                t.hash
                    .iter()
                    .find(|(_, v)| v[0].sb.dev == dev)
                    .map(|(key, _)| *key)
            })
        };
        let a = key(&k, "ram0").expect("/a is mounted");
        let root = a.0;
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                let (k, stop) = (&k, &stop);
                s.spawn(move || {
                    read_until_stopped(stop, 10_000, |_| {
                        let m = k.tree.lookup_quiet(a).expect("the /a mount never moves");
                        assert_eq!(m.sb.dev, "ram0");
                        // Any other key of the root: nothing, or a mount of its own device.
                        for ino in 0..40 {
                            if let Some(m) = k.tree.lookup_quiet((root, ino)) {
                                assert!(m.sb.dev.starts_with("ram"), "{}", m.sb.dev);
                            }
                        }
                    });
                });
            }
            let _writer_done = StopOnDrop(&stop);
            let mut w = init.fork(3).unwrap();
            for round in 0..50 {
                w.mount("ram1", "/b").unwrap();
                // Grow the hash past its first buckets, then empty it again.
                let many = if round % 10 == 0 { 20 } else { 0 };
                for i in 0..many {
                    w.mount("ram2", &format!("/g{i}")).unwrap();
                }
                for i in 0..many {
                    w.umount(&format!("/g{i}"), Default::default()).unwrap();
                }
                w.umount("/b", Default::default()).unwrap();
            }
            w.exit().unwrap();
        });
    }
}

#[cfg(all(feature = "shuttle", not(loom)))]
mod under_shuttle {
    use super::*;
    use common::{Failure, Recorder};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use shuttle::scheduler::{DfsScheduler, PctScheduler, Scheduler};

    static REC: Recorder = Recorder::new();

    fn explore<S: Scheduler + 'static>(p: &Program, cfg: Config, s: S) -> (usize, Option<Failure>) {
        let _serial = REC.begin();
        let p = p.clone();
        let mut config = shuttle::Config::new();
        config.failure_persistence = shuttle::FailurePersistence::None;
        let r = catch_unwind(AssertUnwindSafe(|| {
            shuttle::Runner::new(s, config).run(move || REC.execution(&p, cfg, None))
        }));
        (REC.executions(), REC.failure(&r))
    }

    #[test]
    fn every_design_is_clean_under_pct() {
        for d in LockDesign::ALL {
            for (name, p) in programs() {
                let (n, f) = explore(
                    &p,
                    cfg(d, Variant::Fixed),
                    PctScheduler::new_from_seed(1, 3, 1_000),
                );
                assert!(f.is_none(), "{} / {name}: {f:?}", d.name());
                assert_eq!(n, 1_000, "{} / {name}", d.name());
            }
        }
    }

    #[test]
    fn every_design_is_clean_under_dfs() {
        for d in LockDesign::ALL {
            for (name, p) in programs() {
                let (n, f) = explore(
                    &p,
                    cfg(d, Variant::Fixed),
                    DfsScheduler::new(Some(5_000), false),
                );
                assert!(f.is_none(), "{} / {name}: {f:?}", d.name());
                assert!(n > 100, "{} / {name}: {n}", d.name());
            }
        }
    }

    #[test]
    fn every_design_lets_pct_catch_the_mutants() {
        for d in LockDesign::ALL {
            for (m, p) in mutants() {
                let class = m.expected_under(d);
                let (n, f) = explore(
                    &p,
                    cfg(d, Variant::Mutant(m)),
                    PctScheduler::new_from_seed(1, 3, 5_000),
                );
                let f = f
                    .and_then(Failure::finding)
                    .unwrap_or_else(|| panic!("{} / {m:?}: missed in {n}", d.name()));
                assert_eq!(f.class, class, "{} / {m:?}: {f}", d.name());
            }
        }
    }
}

#[cfg(loom)]
mod under_loom {
    use super::*;
    use common::{Failure, Recorder};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    const LOOM_PREEMPTION_BOUND: usize = 3;

    static REC: Recorder = Recorder::new();

    fn explore(p: &Program, cfg: Config) -> (usize, Option<Failure>) {
        let _serial = REC.begin();
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(LOOM_PREEMPTION_BOUND);
        b.max_branches = 20_000;
        let p = p.clone();
        let r = catch_unwind(AssertUnwindSafe(|| {
            b.check(move || REC.execution(&p, cfg, None))
        }));
        (REC.executions(), REC.failure(&r))
    }

    #[test]
    fn every_design_is_clean_under_loom() {
        for d in LockDesign::ALL {
            for (name, p) in programs() {
                let (n, f) = explore(&p, cfg(d, Variant::Fixed));
                println!("{} / {name}: {n} executions", d.name());
                assert!(f.is_none(), "{} / {name}: {f:?}", d.name());
                assert!(n > 10, "{} / {name}: {n}", d.name());
            }
        }
    }

    #[test]
    fn every_design_lets_loom_catch_the_mutants() {
        for d in LockDesign::ALL {
            for (m, p) in mutants() {
                let class = m.expected_under(d);
                let (n, f) = explore(&p, cfg(d, Variant::Mutant(m)));
                let f = f
                    .and_then(Failure::finding)
                    .unwrap_or_else(|| panic!("{} / {m:?}: missed in {n}", d.name()));
                println!("{} / {m:?}: caught after {n} executions", d.name());
                assert_eq!(f.class, class, "{} / {m:?}: {f}", d.name());
            }
        }
    }

    /// The read-mostly handshake of `lookup_mnt` and the umounter (model/src/mount/legitimize.rs:
    /// `lookup_mnt_rcu`, `umount_busy_count`), written out with loom's own primitives and
    /// nothing else, so that the protocol is checked apart from the model, and so that loom can be
    /// shown to catch the two ways to get it wrong: no re-check after the pin
    /// (`Broken::NoRecheck`), and the re-check without the fences (`Broken::NoFences`, the
    /// store-buffering pattern that only the pair of `smp_mb()`s forbids).
    mod handshake {
        use loom::cell::UnsafeCell;
        use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::SeqCst};
        use loom::sync::{Arc, Mutex};
        use loom::thread;

        #[derive(Clone, Copy, PartialEq, Debug)]
        pub enum Broken {
            None,
            NoRecheck,
            NoFences,
        }

        struct Cell {
            /// `mnt_count`: 1 is the attachment.
            count: AtomicUsize,
            /// `mnt_umounting`.
            umounting: AtomicBool,
            /// The hash: does it still hold the mount? Written by the writer only.
            hashed: AtomicBool,
            /// The tree under the writers' lock: attached?
            attached: Mutex<bool>,
            /// What a kept pin may read: the mount's data, freed (set to false) by the last put.
            alive: UnsafeCell<bool>,
            /// Pins a lookup kept (after its re-check) and has not put yet.
            kept: AtomicUsize,
        }

        fn put(c: &Cell) {
            if c.count.fetch_sub(1, SeqCst) == 1 {
                c.alive.with_mut(|p| unsafe { *p = false });
            }
        }

        /// `lookup_mnt`: returns whether it kept a pin.
        fn reader(c: &Cell, broken: Broken) -> bool {
            loop {
                if !c.hashed.load(SeqCst) {
                    return false;
                }
                // increment-if-not-zero
                let mut v = c.count.load(SeqCst);
                loop {
                    if v == 0 {
                        return false;
                    }
                    match c.count.compare_exchange(v, v + 1, SeqCst, SeqCst) {
                        Ok(_) => break,
                        Err(now) => v = now,
                    }
                }
                if broken == Broken::NoRecheck {
                    return true;
                }
                if broken != Broken::NoFences {
                    fence(SeqCst);
                }
                if !c.umounting.load(SeqCst) {
                    return true;
                }
                put(c);
                thread::yield_now();
            }
        }

        /// A plain `do_umount`: flag, fence, busy check, detach, put the attachment.
        fn writer(c: &Cell, broken: Broken) {
            let mut attached = c.attached.lock().unwrap();
            c.umounting.store(true, SeqCst);
            if broken != Broken::NoFences {
                fence(SeqCst);
            }
            if *attached && c.count.load(SeqCst) == 1 {
                // Not busy: so no lookup may hold a kept pin now, or get one later.
                assert_eq!(
                    c.kept.load(SeqCst),
                    0,
                    "plain umount detaches a mount a lookup kept a pin on"
                );
                *attached = false;
                c.hashed.store(false, SeqCst);
                drop(attached);
                put(c);
            } else {
                c.umounting.store(false, SeqCst);
            }
        }

        pub fn run(broken: Broken) {
            let mut b = loom::model::Builder::new();
            b.preemption_bound = Some(3);
            b.check(move || {
                let c = Arc::new(Cell {
                    count: AtomicUsize::new(1),
                    umounting: AtomicBool::new(false),
                    hashed: AtomicBool::new(true),
                    attached: Mutex::new(true),
                    alive: UnsafeCell::new(true),
                    kept: AtomicUsize::new(0),
                });
                let c2 = c.clone();
                let r = thread::spawn(move || {
                    if reader(&c2, broken) {
                        c2.kept.fetch_add(1, SeqCst);
                        // A kept pin may use the mount.
                        let alive = c2.alive.with(|p| unsafe { *p });
                        assert!(alive, "a kept pin on a freed mount");
                        c2.kept.fetch_sub(1, SeqCst);
                        put(&c2);
                    }
                });
                writer(&c, broken);
                r.join().unwrap();
            });
        }
    }

    #[test]
    fn the_read_mostly_handshake_is_correct_under_loom() {
        handshake::run(handshake::Broken::None);
    }

    #[test]
    fn loom_catches_the_handshake_without_the_recheck() {
        let r = catch_unwind(|| handshake::run(handshake::Broken::NoRecheck));
        assert!(
            r.is_err(),
            "loom missed a lookup that keeps its pin unchecked"
        );
    }

    #[test]
    fn loom_catches_the_handshake_without_the_fences() {
        let r = catch_unwind(|| handshake::run(handshake::Broken::NoFences));
        assert!(
            r.is_err(),
            "loom missed the store-buffering race without smp_mb()"
        );
    }
}
