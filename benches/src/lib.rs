//! mountcheck-benches: kernels with many mounts or super_blocks, built fast, for the benchmarks of
//! the model's hot lookup paths, the writer threads that run beside them, and a hand-written
//! minimal get_super/umount model for the checker-throughput comparison.
//!
//! What it measures: `lookup_mnt`'s probe of the mount hash (fs/namespace.c), the mount crossings
//! of a path walk (`follow_down` at each, fs/namei.c) and `get_super`'s search and pin of the
//! `super_blocks` list (fs/super.c), each under the model's three lock designs
//! ([`LockDesign`]), beside a plain unsynchronized `HashMap` of the same keys. The quiet entry
//! points ([`mountcheck_model::kernel::TreeLock::lookup_quiet`], [`Kernel::find_super_quiet`]) run the
//! design's read side with no oracle bookkeeping; the model entry points (`Kernel::lookup_mnt`,
//! `path_walk`, `get_super`) run it with the ledger recording every step.
//!
//! Invariant: every kernel here is built through the model's public API and its reference counts
//! match the ledger's holders after the build (the farms bypass only `alloc_vfsmnt`'s one write
//! section per mount, so that a farm of 100 000 mounts builds in seconds); the
//! quiet paths and the writers put back every reference they take.

pub mod build;
pub mod cli_runs;

use std::collections::HashMap;
use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as StdOrdering};
use std::time::{Duration, Instant};

use mountcheck_model::fs::{Dentry, Kind};
use mountcheck_model::kernel::Kernel;
use mountcheck_model::mount::{attach_tag, Mount};
use mountcheck_model::namespace::Namespace;
use mountcheck_model::oracle::{Counter, Ctx, ObjKind, Oid};
use mountcheck_model::super_block::SuperBlock;
use mountcheck_model::sync::{Arc, Ordering};
use mountcheck_model::task::Task;
use mountcheck_model::{Config, Ledger, LockDesign};

pub mod toy;

/// A mount hash key: (parent mount, mountpoint inode).
pub type Key = (Oid, u64);

/// The thread number of the writer thread.
pub const WRITER: usize = 2;

/// The mount counts the `lookup_mnt` benchmarks run at (the `lookups` bench and the report read
/// this one list).
pub const MOUNTS: [usize; 3] = [10, 1_000, 100_000];
/// The mount crossings the path-walk benchmarks run at.
pub const DEPTHS: [usize; 3] = [1, 4, 16];
/// The `super_blocks` lengths the `get_super` benchmarks run at.
pub const SUPERS: [usize; 3] = [10, 1_000, 10_000];

/// A booted kernel of one lock design.
pub fn boot(design: LockDesign) -> Task {
    Task::boot(
        Config {
            lock_design: design,
            ..Config::default()
        },
        Ledger::new(),
    )
}

/// Where a writer thread attaches and detaches its spare mount.
pub struct WriterSpot {
    /// The parent: the root mount.
    pub parent: Arc<Mount>,
    /// The mountpoint `/w` of the root filesystem.
    pub mountpoint: Dentry,
    /// The spare mount (allocated, never attached between cycles).
    pub spare: Arc<Mount>,
    /// The namespace it is attached in.
    pub ns: Arc<Namespace>,
}

/// A kernel with `n` mounts of `ram0` on `/d0` .. `/d{n-1}` of the root filesystem.
pub struct MountFarm {
    /// The init task (root and cwd on the root mount).
    pub init: Task,
    /// The kernel.
    pub k: Arc<Kernel>,
    /// The root mount (every farm mount's parent).
    pub root: Arc<Mount>,
    /// The mountpoints, in mount order.
    pub dentries: Vec<Dentry>,
    /// The hash keys, in a fixed shuffled order (so large farms miss the cache as real lookups do).
    pub keys: Vec<Key>,
    /// The same hash as a plain unsynchronized `HashMap`: the anchor.
    pub plain: HashMap<Key, Vec<Arc<Mount>>>,
    /// Where a writer thread works.
    pub spot: WriterSpot,
}

fn shuffled(n: usize) -> Vec<usize> {
    // A fixed odd-stride permutation: deterministic, and neighbours are far apart.
    let stride = (n / 2 + 1) | 1;
    let stride = if n > 1 && gcd(stride, n) != 1 {
        1
    } else {
        stride
    };
    (0..n).map(|i| (i * stride) % n.max(1)).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Make directory `path` in the root filesystem of `init`'s root mount and return its dentry.
fn mkdir_root(init: &Task, root: &Mount, path: &str) -> Dentry {
    let k = &init.k;
    let mut fs = root.sb.contents(k, &init.ctx, "bench mkdir");
    fs.create(&Dentry::root(), path, Kind::Dir)
        .unwrap_or_else(|e| panic!("mkdir {path}: {e}"));
    fs.lookup(path).expect("just created").0
}

/// A mount of `sb` rooted at its root, made the way `alloc_vfsmnt` + `do_add_mount` leave one
/// (one attachment reference, one `s_active`, one `mnt_root` dentry reference), with its tree
/// links and hash entry added inside the caller's write section.
fn new_attached_mount(
    k: &Kernel,
    ctx: &Ctx,
    tree: &mut mountcheck_model::kernel::Tree,
    sb: &Arc<SuperBlock>,
    parent: &Arc<Mount>,
    mountpoint: &Dentry,
    ns: &Arc<Namespace>,
) -> Arc<Mount> {
    let dev = sb.dev.clone();
    let oid = k
        .ledger
        .create(ctx, ObjKind::Mount, |o| format!("mnt#{} ({dev})", o.0));
    let m = Arc::new(Mount::new(oid, sb.clone(), Dentry::root()));
    k.mntget(ctx, &m, &attach_tag(&m));
    let now = sb.s_active.fetch_add(1, Ordering::SeqCst) + 1;
    k.ledger.get(
        ctx,
        sb.oid,
        Counter::SActive,
        format!("mnt#{}", oid.0),
        1,
        now,
    );
    k.dget(ctx, sb, &m.root, &format!("mnt_root of mnt#{}", oid.0));
    tree.links.insert(
        oid,
        mountcheck_model::kernel::Links {
            mnt: m.clone(),
            parent: None,
            mountpoint: None,
            children: Vec::new(),
            ns: None,
        },
    );
    k.attach_mnt(ctx, tree, &m, parent, mountpoint, Some(ns.clone()));
    m
}

/// Re-make the tree as a fresh copy, so that its hash sits in memory as compactly as the anchor's
/// (a clone of it): a tree grown one mount at a time among the ledger's allocations scatters the
/// hash's per-key vectors over the heap, and the benchmarks compare synchronization, not that.
fn compact(k: &Kernel, ctx: &Ctx) {
    k.tree.write(ctx).compact();
}

/// Build a [`MountFarm`] of `n` mounts under `design`: `n` directories, then every mount
/// attached in one write section (one copy for the read-mostly design).
pub fn mount_farm(design: LockDesign, n: usize) -> MountFarm {
    let init = boot(design);
    let k = init.k.clone();
    let ctx = &init.ctx;
    let root = init.fs.as_ref().expect("init is alive").root.mnt.clone();
    let ns = init.ns.clone().expect("init has a namespace");
    let dentries: Vec<Dentry> = (0..n)
        .map(|i| mkdir_root(&init, &root, &format!("/d{i}")))
        .collect();
    let wdir = mkdir_root(&init, &root, "/w");
    // `get_sb` hands its `s_active` to the first mount's holder name; give it back at once so
    // that every mount below holds exactly one.
    let sb = k.get_sb(ctx, "ram0", "bench farm");
    let mounts: Vec<Arc<Mount>> = {
        let mut tree = k.tree.write(ctx);
        dentries
            .iter()
            .map(|d| new_attached_mount(&k, ctx, &mut tree, &sb, &root, d, &ns))
            .collect()
    };
    let spare = k.clone_mnt(ctx, &mounts[0], Dentry::root(), "bench writer");
    k.deactivate_super(ctx, &sb, "bench farm");
    compact(&k, ctx);
    let mut keys: Vec<Key> = dentries.iter().map(|d| (root.oid, d.ino)).collect();
    let order = shuffled(keys.len());
    keys = order.iter().map(|&i| keys[i]).collect();
    let plain = k.tree.peek(|t| t.hash.clone());
    MountFarm {
        spot: WriterSpot {
            parent: root.clone(),
            mountpoint: wdir,
            spare,
            ns,
        },
        init,
        k,
        root,
        dentries,
        keys,
        plain,
    }
}

/// A chain of `depth` stacked crossings: `ram0` mounted on `/c` of the root filesystem, and on
/// `/c` of each previous `ram0` mount, so that walking `/c/c/…/c` (`depth` components) crosses
/// `depth` mountpoints, one `follow_down` per component.
pub struct MountChain {
    /// The init task.
    pub init: Task,
    /// The kernel.
    pub k: Arc<Kernel>,
    /// The path that crosses every mountpoint.
    pub path: String,
    /// The first key: (root mount, inode of the root filesystem's `/c`).
    pub first: Key,
    /// The inode of `ram0`'s `/c`: every later key is (previous mount, this).
    pub ino: u64,
    /// Number of crossings.
    pub depth: usize,
    /// The same hash as a plain unsynchronized `HashMap`: the anchor.
    pub plain: HashMap<Key, Vec<Arc<Mount>>>,
    /// Where a writer thread works.
    pub spot: WriterSpot,
}

/// Build a [`MountChain`] with the system call API (`mkdir`, `mount`).
pub fn mount_chain(design: LockDesign, depth: usize) -> MountChain {
    assert!(depth >= 1);
    let mut init = boot(design);
    let root = init.fs.as_ref().expect("init is alive").root.mnt.clone();
    let wdir = mkdir_root(&init, &root, "/w");
    init.mkdir("/c").expect("mkdir /c");
    init.mount("ram0", "/c").expect("mount ram0 /c");
    init.mkdir("/c/c").expect("mkdir /c/c");
    for i in 2..=depth {
        let p = "/c".repeat(i);
        init.mount("ram0", &p)
            .unwrap_or_else(|e| panic!("mount ram0 {p}: {e}"));
    }
    let k = init.k.clone();
    let ctx = &init.ctx;
    let first_ino = root
        .sb
        .contents(&k, ctx, "bench")
        .lookup("/c")
        .expect("/c")
        .0
        .ino;
    let (a1, ino) = {
        let m = k.tree.peek(|t| t.hash[&(root.oid, first_ino)][0].clone());
        let ino =
            m.sb.contents(&k, ctx, "bench")
                .lookup("/c")
                .expect("/c")
                .0
                .ino;
        (m, ino)
    };
    let spare = k.clone_mnt(ctx, &a1, Dentry::root(), "bench writer");
    compact(&k, ctx);
    let plain = k.tree.peek(|t| t.hash.clone());
    let ns = init.ns.clone().expect("namespace");
    MountChain {
        path: "/c".repeat(depth),
        first: (root.oid, first_ino),
        ino,
        depth,
        plain,
        spot: WriterSpot {
            parent: root,
            mountpoint: wdir,
            spare,
            ns,
        },
        init,
        k,
    }
}

/// A kernel with `n` live super_blocks, devices `dev0` .. `dev{n-1}` (each held by one
/// `s_active`, as a mount would hold it).
pub struct SuperFarm {
    /// The init task.
    pub init: Task,
    /// The kernel.
    pub k: Arc<Kernel>,
    /// Device names, in a fixed shuffled order.
    pub devs: Vec<String>,
    /// The same super_blocks in a plain `HashMap` by device: the anchor.
    pub plain: HashMap<String, Arc<SuperBlock>>,
    /// The same list as a plain `Vec` (the kernel's `super_blocks` order): a linear search of it
    /// is `get_super`'s algorithm without any synchronization.
    pub list: Vec<Arc<SuperBlock>>,
}

/// Build a [`SuperFarm`] with `get_sb`.
pub fn super_farm(design: LockDesign, n: usize) -> SuperFarm {
    let init = boot(design);
    let k = init.k.clone();
    for i in 0..n {
        k.get_sb(&init.ctx, &format!("dev{i}"), "bench farm");
    }
    let list: Vec<Arc<SuperBlock>> = k.sb_lock.peek(|l| {
        l.iter()
            .filter(|s| s.dev.starts_with("dev"))
            .cloned()
            .collect()
    });
    let plain = list.iter().map(|s| (s.dev.clone(), s.clone())).collect();
    let order = shuffled(n);
    let devs = order.iter().map(|&i| format!("dev{i}")).collect();
    SuperFarm {
        init,
        k,
        devs,
        plain,
        list,
    }
}

/// `lookup_mnt`'s probe through the design's read side, quiet: the mount on `key`, its `Arc`
/// cloned inside the read section.
#[inline]
pub fn lookup_quiet(k: &Kernel, key: Key) -> Option<Arc<Mount>> {
    k.tree.lookup_quiet(key)
}

/// The anchor: the same probe of a plain `HashMap` (std's SipHash, or with `S` another hasher).
#[inline]
pub fn lookup_plain<S: BuildHasher>(
    map: &HashMap<Key, Vec<Arc<Mount>>, S>,
    key: Key,
) -> Option<Arc<Mount>> {
    map.get(&key).and_then(|v| v.first()).cloned()
}

/// A copy of a plain map with FxHash, the hasher of the read-mostly design's RCU tables (an
/// informative second anchor: how much of a difference is the hash function's).
pub fn with_fxhash<K: Clone + Eq + std::hash::Hash, V: Clone>(
    map: &HashMap<K, V>,
) -> HashMap<K, V, FxBuildHasher> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The mount crossings of a walk of `c`'s path: one quiet probe per crossing, each in its own read
/// section as `follow_down` takes them. Returns the last mount.
#[inline]
pub fn walk_quiet(k: &Kernel, c: &MountChain) -> Arc<Mount> {
    let mut m = lookup_quiet(k, c.first).expect("first crossing");
    for _ in 1..c.depth {
        m = lookup_quiet(k, (m.oid, c.ino)).expect("crossing");
    }
    m
}

/// The anchor of [`walk_quiet`] on a plain `HashMap` (`map`: `c.plain` or a copy of it).
#[inline]
pub fn walk_plain<S: BuildHasher>(
    c: &MountChain,
    map: &HashMap<Key, Vec<Arc<Mount>>, S>,
) -> Arc<Mount> {
    let mut m = lookup_plain(map, c.first).expect("first crossing");
    for _ in 1..c.depth {
        m = lookup_plain(map, (m.oid, c.ino)).expect("crossing");
    }
    m
}

/// A thread doing mount/umount in a loop on a kernel, through the model's API, until stopped.
pub struct Writer {
    stop: std::sync::Arc<AtomicBool>,
    cycles: std::sync::Arc<AtomicU64>,
    start: Instant,
    handle: Option<std::thread::JoinHandle<()>>,
}

/// The pause of a paced writer: about a thousand mount/umount cycles a second (the sleep's
/// granularity makes it a little less), a busy but plausible rate for a real system.
pub const PACED: Duration = Duration::from_millis(1);

/// What a writer did.
#[derive(Clone, Copy, Debug)]
pub struct WriterStats {
    /// Mount + umount cycles.
    pub cycles: u64,
    /// Seconds it ran.
    pub secs: f64,
}

impl Writer {
    /// Run `step` on kernel `k` in a loop on a new thread, as thread [`WRITER`] doing operation
    /// `op` (its [`Ctx`] is made there: a `Ctx` belongs to one thread).
    fn spawn<F>(k: &Arc<Kernel>, op: &'static str, step: F, pause: Option<Duration>) -> Writer
    where
        F: Fn(&Ctx) + Send + 'static,
    {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let cycles = std::sync::Arc::new(AtomicU64::new(0));
        let (s, c) = (stop.clone(), cycles.clone());
        let ledger = k.ledger.clone();
        let handle = std::thread::spawn(move || {
            let ctx = Ctx::new(WRITER, ledger);
            ctx.set_op(op);
            while !s.load(StdOrdering::Relaxed) {
                step(&ctx);
                c.fetch_add(1, StdOrdering::Relaxed);
                if let Some(p) = pause {
                    std::thread::sleep(p);
                }
            }
        });
        Writer {
            stop,
            cycles,
            start: Instant::now(),
            handle: Some(handle),
        }
    }

    /// Cycles so far.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(StdOrdering::Relaxed)
    }

    /// Stop and join the thread.
    pub fn stop(mut self) -> WriterStats {
        self.halt()
    }

    fn halt(&mut self) -> WriterStats {
        self.stop.store(true, StdOrdering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        WriterStats {
            cycles: self.cycles(),
            secs: self.start.elapsed().as_secs_f64(),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A writer that attaches the spare mount on `/w` and detaches it again (`attach_mnt`,
/// `detach_mnt` under the tree lock, the pins put after it), in a loop, sleeping `pause` between
/// cycles if given.
pub fn tree_writer(k: &Arc<Kernel>, spot: &WriterSpot, pause: Option<Duration>) -> Writer {
    let (parent, mp, spare, ns) = (
        spot.parent.clone(),
        spot.mountpoint.clone(),
        spot.spare.clone(),
        spot.ns.clone(),
    );
    let k2 = k.clone();
    Writer::spawn(
        k,
        "bench writer: attach/detach",
        move |ctx: &Ctx| {
            let k = &k2;
            {
                let mut t = k.tree.write(ctx);
                k.attach_mnt(ctx, &mut t, &spare, &parent, &mp, Some(ns.clone()));
            }
            let rel = {
                let mut t = k.tree.write(ctx);
                k.detach_mnt(&mut t, &spare)
            };
            k.release(ctx, rel);
        },
        pause,
    )
}

/// A writer that mounts a fresh filesystem and unmounts it (`get_sb`: allocate, list, fill;
/// `deactivate_super`: shut down, unlink, free), in a loop: every cycle changes `super_blocks`.
/// Sleeps `pause` between cycles if given.
pub fn sb_writer(k: &Arc<Kernel>, pause: Option<Duration>) -> Writer {
    let k2 = k.clone();
    Writer::spawn(
        k,
        "bench writer: mount/umount",
        move |ctx: &Ctx| {
            let sb = k2.get_sb(ctx, "wdev", "bench writer");
            k2.deactivate_super(ctx, &sb, "bench writer");
        },
        pause,
    )
}
