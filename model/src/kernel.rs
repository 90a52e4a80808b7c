//! The global state of the model kernel: configuration, the global locks, and boot.
//!
//! What it models: the globals of fs/super.c (`super_blocks` under `sb_lock`) and
//! fs/namespace.c (the mount hash and tree under `dcache_lock` in 2.4 / `vfsmount_lock` in 2.6),
//! and `init_mount_tree()`: a root filesystem mounted as the root of an initial namespace that
//! the init task shares.
//!
//! Invariants: lock order is `namespace->sem` → tree lock, and `sb_lock` is a leaf that is never
//! held across a sleeping lock (checked: taking a sleeping lock with a spinlock held, or inside a
//! read-mostly read section, is an invariant finding, the model's `might_sleep()`). Every object
//! the model allocates is also kept in a std-only registry, invisible to the checkers, so
//! quiescence can compare each count with the ledger.
//!
//! Lock designs ([`LockDesign`], chosen at boot, for the mount hash/tree and the `super_blocks`
//! list alike): `Global` is one mutex (2.4's `dcache_lock`); `RwLock` lets lookups share a
//! reader-writer lock; `ReadMostly` takes no lock on the read path, in the RCU + seqlock shape of
//! modern kernels (`get_super` over an RCU list; `lookup_mnt` under `rcu_read_lock` and
//! `mount_lock`'s sequence count):
//!
//! - `super_blocks`: copy-on-write snapshots published through an atomic pointer
//!   (`arc_swap::ArcSwap`), writers serialised by a mutex (the exclusive side, [`SpinLock::lock`]),
//!   each writer changing a private copy that its guard publishes whole. A reader loads the
//!   snapshot and never waits; `get_super` pins with an atomic increment-if-listed on `s_count`
//!   and re-checks (see [`crate::super_block`]), so a stale snapshot is harmless.
//! - The mount hash and tree: the model's `lookup_mnt` (and expiry) pin what they find with a
//!   plain `mntget` inside the read section, with no re-check, and `do_umount` reads `mnt_count`
//!   twice inside a write section; a pin landing between those reads would be an invariant
//!   finding, and a pin after the detach would hand a reader a mount that a plain umount said was
//!   not busy. The modern kernel closes that window on the reader's side (`legitimize_mnt`
//!   re-checks `mount_lock` and drops the pin); here it is closed on the writer's side, so the
//!   tree cannot be a plain snapshot that readers use while a writer works. The read side is a
//!   sequence count and reader slots instead: a reader announces itself with one `fetch_add` on
//!   the slot of its thread number and loads the count; an odd count means a writer is inside,
//!   and the reader withdraws and waits for an even one (`read_seqbegin`); leaving is one
//!   `fetch_sub`. A writer takes the writers' mutex, makes the count odd and waits until every
//!   slot is empty (the grace period of `synchronize_rcu`), changes the tree in place, and makes
//!   the count even again. The writer
//!   reads the slots with read-modify-writes, so the handshake holds under loom's model of `SeqCst`
//!   as acquire-release (loom#180): either the writer's read sees the reader's announcement, or the
//!   announcement reads from the writer's read-modify-write and so sees the odd count. Readers
//!   write only their own slot (no shared lock word) and never block a writer from starting. A
//!   reader that finds a writer inside busy-waits briefly (real threads only), then sleeps on a
//!   condition variable that the writer signals when it reopens (the slow path, as percpu-rwsem's).
//! - Checkers: the slots, the count and the mutexes are facade primitives, so loom and shuttle
//!   interleave both protocols. The tree sits in a std `UnsafeCell` and the list's pointer is
//!   arc-swap's; loom sees neither. `model/tests/lock_designs.rs` checks the same handshake with a
//!   hand-written loom model whose value is in loom's `UnsafeCell` (and that loom catches a read
//!   path without the announcement); arc-swap, unlike crossbeam-epoch (`crossbeam_loom`), has no
//!   loom build, so each of its loads and stores is one indivisible step to the checkers.

use std::cell::UnsafeCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc as StdArc;

use arc_swap::ArcSwap;

use serde::{Deserialize, Serialize};

use crate::fs::Dentry;
use crate::mount::Mount;
use crate::namespace::Namespace;
use crate::oracle::{Ctx, Ledger, Oid};
use crate::super_block::SuperBlock;
use crate::sync::{
    self, Arc, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, RwLock, RwLockReadGuard,
    RwLockWriteGuard,
};
use crate::variant::{Mutant, Variant};

/// How the mount hash and the tree links are protected (the lock designs the benchmarks compare).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockDesign {
    /// One global spinlock for lookups and changes: 2.4's `dcache_lock`, 2.6's `vfsmount_lock`.
    #[default]
    Global,
    /// A reader-writer lock: lookups share it, changes take it exclusively.
    RwLock,
    /// No lock on the read path: the `super_blocks` list as copy-on-write snapshots published
    /// through an atomic pointer; the mount hash behind a sequence count and per-thread reader
    /// slots, writers serialised by a mutex and waiting for a grace period (the RCU + seqlock
    /// shape of modern kernels; see the module documentation).
    ReadMostly,
}

impl LockDesign {
    /// Every design.
    pub const ALL: [LockDesign; 3] = [
        LockDesign::Global,
        LockDesign::RwLock,
        LockDesign::ReadMostly,
    ];

    /// Name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            LockDesign::Global => "global",
            LockDesign::RwLock => "rwlock",
            LockDesign::ReadMostly => "read-mostly",
        }
    }
}

/// How one execution of the model is configured. Defaults: the fixed protocol, the global lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Fixed protocol or one mutant. Default: fixed.
    pub variant: Variant,
    /// Lock design of the mount hash. Default: one global lock.
    pub lock_design: LockDesign,
}

/// The name of the read section of the read-mostly design, as a held lock: sleeping inside it is
/// an invariant finding, as inside `rcu_read_lock()`.
pub const RCU_READ: &str = "rcu_read_lock";

/// Reader slots of a read-mostly tree lock. Few under the checkers (each slot the writer drains
/// is a scheduling point), enough for the benchmarks' threads under std. A reader counts itself
/// in the slot of its thread number; threads that share a slot share its cache line, never
/// correctness. (A slot claimed by one owner with a swap and freed by a plain store would save the
/// second read-modify-write, but it made loom's exploration of the model exceed its branch bound.)
#[cfg(any(loom, feature = "shuttle"))]
const READER_SLOTS: usize = 2;
#[cfg(not(any(loom, feature = "shuttle")))]
const READER_SLOTS: usize = 8;

/// One reader slot: the number of readers inside that use it, on a cache line of its own.
#[repr(align(64))]
struct Slot(AtomicUsize);

/// The seqcount and the reader slots of a read-mostly lock (see the module documentation).
struct Gate {
    /// Even: no writer inside. Odd: a writer is in its exclusive phase.
    seq: AtomicUsize,
    slots: [Slot; READER_SLOTS],
    /// Where a reader that found a writer inside sleeps until the writer leaves (the slow path).
    parked: Mutex<()>,
    wake: Condvar,
}

/// A reader's announcement; dropping it leaves the read section.
struct SlotGuard<'a>(&'a Slot);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        // The writer's read-modify-write that reads this (or a later) value acquires everything
        // the reader did inside.
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One step of a short busy-wait on real threads; false once the budget is spent (and always
/// under the checkers, which must be told with a yield or a sleep that a thread waits).
fn spin(spins: &mut u32) -> bool {
    #[cfg(not(any(loom, feature = "shuttle")))]
    if *spins < 256 {
        *spins += 1;
        std::hint::spin_loop();
        return true;
    }
    let _ = spins;
    false
}

impl Gate {
    fn new() -> Self {
        Gate {
            seq: AtomicUsize::new(0),
            slots: std::array::from_fn(|_| Slot(AtomicUsize::new(0))),
            parked: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Enter a read section as reader `reader`: announce, then check that no writer is inside;
    /// if one is, withdraw and wait for it (`read_seqbegin`): a short busy-wait, then sleep
    /// until the writer reopens the gate.
    fn enter(&self, reader: usize) -> SlotGuard<'_> {
        let slot = &self.slots[reader % READER_SLOTS];
        loop {
            slot.0.fetch_add(1, Ordering::SeqCst);
            if self.seq.load(Ordering::SeqCst) & 1 == 0 {
                return SlotGuard(slot);
            }
            slot.0.fetch_sub(1, Ordering::SeqCst);
            let mut spins = 0;
            while self.seq.load(Ordering::SeqCst) & 1 == 1 {
                if spin(&mut spins) {
                    continue;
                }
                let mut g = sync::lock(&self.parked);
                while self.seq.load(Ordering::SeqCst) & 1 == 1 {
                    g = self.wake.wait(g).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// Start a writer's exclusive phase: make the count odd, then wait until every slot is empty
    /// (`synchronize_rcu`; read sections are short, so a busy-wait, then yields). The slots are
    /// read with read-modify-writes (see the module documentation).
    fn close(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        let mut spins = 0;
        for s in &self.slots {
            while s.0.fetch_add(0, Ordering::SeqCst) != 0 {
                if !spin(&mut spins) {
                    sync::yield_now();
                }
            }
        }
    }

    /// End a writer's exclusive phase: make the count even and wake the readers that sleep. The
    /// count changes before the wake-up is sent under `parked`, and a reader tests it under
    /// `parked` before it sleeps, so no wake-up is lost.
    fn open(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        let _g = sync::lock(&self.parked);
        self.wake.notify_all();
    }
}

/// A copy-on-write cell: the published snapshot behind an atomic pointer, and the mutex that
/// serialises writers. `copy` clones a snapshot (fixed when the cell is made, where `T: Clone`
/// is known).
struct Rcu<T> {
    cur: ArcSwap<T>,
    writers: Mutex<()>,
    copy: fn(&T) -> T,
}

impl<T: Clone> Rcu<T> {
    fn new(v: T) -> Self {
        Rcu {
            cur: ArcSwap::from_pointee(v),
            writers: Mutex::new(()),
            copy: T::clone,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Rcu<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rcu").field("cur", &self.cur).finish()
    }
}

/// A writer of an [`Rcu`] cell: the snapshot it started from, and its private copy, made when it
/// first changes something. Dropping it publishes the copy, if any.
struct RcuWrite<'a, T> {
    rcu: &'a Rcu<T>,
    base: StdArc<T>,
    copy: Option<T>,
    _writers: MutexGuard<'a, ()>,
}

impl<'a, T> RcuWrite<'a, T> {
    fn new(rcu: &'a Rcu<T>) -> Self {
        let w = sync::lock(&rcu.writers);
        let base = rcu.cur.load_full();
        RcuWrite {
            rcu,
            base,
            copy: None,
            _writers: w,
        }
    }

    fn get(&self) -> &T {
        self.copy.as_ref().unwrap_or(&self.base)
    }

    fn get_mut(&mut self) -> &mut T {
        let base = &self.base;
        let copy = self.rcu.copy;
        self.copy.get_or_insert_with(|| copy(base))
    }
}

impl<T> Drop for RcuWrite<'_, T> {
    fn drop(&mut self) {
        if let Some(c) = self.copy.take() {
            // The old snapshot is freed here, by the writer (readers hold their own references).
            drop(self.rcu.cur.swap(StdArc::new(c)));
        }
    }
}

/// The mount hash and tree of the read-mostly design: the value in place, behind the
/// [`Gate`], writers serialised by a mutex.
struct GateCell<T> {
    gate: Gate,
    writers: Mutex<()>,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is only reached through `GateRead` and `GateWrite`. A `GateRead` exists only
// between `Gate::enter` and the drop of its slot guard, and a `GateWrite` only between
// `Gate::close` (with `writers` held) and `Gate::open`: `close` returns only once every slot is
// empty and `enter` admits no reader while the count is odd, so shared and exclusive accesses
// never overlap, and writers exclude each other through `writers`. The slot and count operations
// are `SeqCst` read-modify-writes and loads that order each access after the other side's
// (see the module documentation; `model/tests/lock_designs.rs` checks the same handshake under
// loom with loom's `UnsafeCell`).
unsafe impl<T: Send + Sync> Sync for GateCell<T> {}

impl<T> GateCell<T> {
    fn new(v: T) -> Self {
        GateCell {
            gate: Gate::new(),
            writers: Mutex::new(()),
            value: UnsafeCell::new(v),
        }
    }

    fn read(&self, reader: usize) -> GateRead<'_, T> {
        let _slot = self.gate.enter(reader);
        GateRead { cell: self, _slot }
    }

    fn write(&self) -> GateWrite<'_, T> {
        let w = sync::lock(&self.writers);
        self.gate.close();
        GateWrite {
            cell: self,
            _writers: w,
        }
    }
}

/// A read section of a [`GateCell`].
struct GateRead<'a, T> {
    cell: &'a GateCell<T>,
    _slot: SlotGuard<'a>,
}

impl<T> Deref for GateRead<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: inside a read section (see `GateCell`'s `Sync`).
        unsafe { &*self.cell.value.get() }
    }
}

/// A writer's exclusive phase of a [`GateCell`]; dropping it reopens the gate, then lets the next
/// writer in.
struct GateWrite<'a, T> {
    cell: &'a GateCell<T>,
    _writers: MutexGuard<'a, ()>,
}

impl<T> Deref for GateWrite<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: inside the exclusive phase (see `GateCell`'s `Sync`).
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for GateWrite<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: inside the exclusive phase, and `&mut self` makes this the only borrow.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for GateWrite<'_, T> {
    fn drop(&mut self) {
        self.cell.gate.open();
    }
}

enum SpinImpl<T> {
    Global(Mutex<T>),
    Rw(RwLock<T>),
    ReadMostly(Rcu<T>),
}

impl<T: fmt::Debug> fmt::Debug for SpinImpl<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpinImpl::Global(m) => m.fmt(f),
            SpinImpl::Rw(r) => r.fmt(f),
            SpinImpl::ReadMostly(c) => c.fmt(f),
        }
    }
}

/// A spinlock with a name: the ledger sees it taken and released, and it records itself among
/// the locks its thread holds, so a report can show the locks held at every step. Made with
/// [`SpinLock::with_design`], it is a reader-writer lock or a read-mostly cell instead, with the
/// same exclusive side ([`SpinLock::lock`]) and a shared side ([`SpinLock::read`]).
#[derive(Debug)]
pub struct SpinLock<T> {
    name: &'static str,
    imp: SpinImpl<T>,
}

enum SpinG<'a, T> {
    M(MutexGuard<'a, T>),
    W(RwLockWriteGuard<'a, T>),
    Rcu(RcuWrite<'a, T>),
}

/// Guard of a [`SpinLock`].
pub struct SpinGuard<'a, T> {
    g: SpinG<'a, T>,
    ctx: &'a Ctx,
    name: &'static str,
}

enum SpinR<'a, T> {
    M(MutexGuard<'a, T>),
    R(RwLockReadGuard<'a, T>),
    Rcu(arc_swap::Guard<StdArc<T>>),
}

impl<T> Deref for SpinR<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            SpinR::M(g) => g,
            SpinR::R(g) => g,
            SpinR::Rcu(g) => g,
        }
    }
}

/// Shared guard of a [`SpinLock`] ([`SpinLock::read`]).
pub struct SpinRead<'a, T> {
    g: SpinR<'a, T>,
    ctx: &'a Ctx,
    name: &'static str,
}

impl<T> SpinLock<T> {
    /// A new lock named `name` (one global lock: [`LockDesign::Global`]).
    pub fn new(name: &'static str, v: T) -> Self {
        SpinLock {
            name,
            imp: SpinImpl::Global(Mutex::new(v)),
        }
    }

    /// A new lock named `name` of the given design.
    pub fn with_design(name: &'static str, v: T, design: LockDesign) -> Self
    where
        T: Clone,
    {
        let imp = match design {
            LockDesign::Global => SpinImpl::Global(Mutex::new(v)),
            LockDesign::RwLock => SpinImpl::Rw(RwLock::new(v)),
            LockDesign::ReadMostly => SpinImpl::ReadMostly(Rcu::new(v)),
        };
        SpinLock { name, imp }
    }

    /// The design of this lock.
    pub fn design(&self) -> LockDesign {
        match self.imp {
            SpinImpl::Global(_) => LockDesign::Global,
            SpinImpl::Rw(_) => LockDesign::RwLock,
            SpinImpl::ReadMostly(_) => LockDesign::ReadMostly,
        }
    }

    /// `spin_lock`: the exclusive side (`write_lock` of the reader-writer design, the writers'
    /// mutex of the read-mostly one, whose guard publishes its copy when dropped).
    pub fn lock<'a>(&'a self, ctx: &'a Ctx) -> SpinGuard<'a, T> {
        let (g, word) = match &self.imp {
            SpinImpl::Global(m) => (SpinG::M(sync::lock(m)), "spin_lock"),
            SpinImpl::Rw(r) => (
                SpinG::W(r.write().unwrap_or_else(|p| p.into_inner())),
                "write_lock",
            ),
            SpinImpl::ReadMostly(c) => (SpinG::Rcu(RcuWrite::new(c)), "spin_lock"),
        };
        ctx.push_lock(self.name.to_string());
        ctx.step(format!("{word}({})", self.name), "");
        SpinGuard {
            g,
            ctx,
            name: self.name,
        }
    }

    /// The shared side: the mutex itself (global design), `read_lock` (reader-writer design), or
    /// `rcu_read_lock` and the published snapshot, with no lock at all (read-mostly design). Only
    /// the reader-writer design's guard counts as holding the named lock.
    pub fn read<'a>(&'a self, ctx: &'a Ctx) -> SpinRead<'a, T> {
        let (g, held, action) = match &self.imp {
            SpinImpl::Global(m) => (
                SpinR::M(sync::lock(m)),
                self.name,
                format!("spin_lock({})", self.name),
            ),
            SpinImpl::Rw(r) => (
                SpinR::R(r.read().unwrap_or_else(|p| p.into_inner())),
                self.name,
                format!("read_lock({})", self.name),
            ),
            SpinImpl::ReadMostly(c) => (
                SpinR::Rcu(c.cur.load()),
                RCU_READ,
                format!("rcu_read_lock() for {}", self.name),
            ),
        };
        ctx.push_lock(held.to_string());
        ctx.step(action, "");
        SpinRead { g, ctx, name: held }
    }

    /// The shared side with no bookkeeping (no [`Ctx`], nothing in the ledger): what the
    /// benchmarks time. `f` runs on the value under the design's read protection.
    pub fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        match &self.imp {
            SpinImpl::Global(m) => f(&sync::lock(m)),
            SpinImpl::Rw(r) => f(&r.read().unwrap_or_else(|p| p.into_inner())),
            SpinImpl::ReadMostly(c) => f(&c.cur.load()),
        }
    }

    /// The exclusive side with no bookkeeping, for the benchmarks; `f` may not change the value.
    pub fn peek_exclusive<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        match &self.imp {
            SpinImpl::Global(m) => f(&sync::lock(m)),
            SpinImpl::Rw(r) => f(&r.write().unwrap_or_else(|p| p.into_inner())),
            SpinImpl::ReadMostly(c) => f(RcuWrite::new(c).get()),
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.g {
            SpinG::M(g) => g,
            SpinG::W(g) => g,
            SpinG::Rcu(g) => g.get(),
        }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.g {
            SpinG::M(g) => g,
            SpinG::W(g) => g,
            SpinG::Rcu(g) => g.get_mut(),
        }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        let word = match self.g {
            SpinG::W(_) => "write_unlock",
            SpinG::M(_) | SpinG::Rcu(_) => "spin_unlock",
        };
        self.ctx.pop_lock(self.name);
        self.ctx.step(format!("{word}({})", self.name), "");
    }
}

impl<T> Deref for SpinRead<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.g
    }
}

impl<T> Drop for SpinRead<'_, T> {
    fn drop(&mut self) {
        let action = match self.g {
            SpinR::M(_) => format!("spin_unlock({})", self.name),
            SpinR::R(_) => format!("read_unlock({})", self.name),
            SpinR::Rcu(_) => "rcu_read_unlock()".to_string(),
        };
        self.ctx.pop_lock(self.name);
        self.ctx.step(action, "");
    }
}

/// The name of the tree lock, as the kernel of the modelled era calls it.
pub const TREE_LOCK: &str = "vfsmount_lock";
/// The name of the super_block list lock.
pub const SB_LOCK: &str = "sb_lock";

/// The tree links of one mount, protected by the tree lock.
#[derive(Clone, Debug)]
pub struct Links {
    /// The mount itself.
    pub mnt: Arc<Mount>,
    /// `mnt_parent` (None for a namespace root or a detached mount). Invariant: the parent is alive
    /// and pinned by this mount (`attach_mnt` took `mntget(parent)`).
    pub parent: Option<Arc<Mount>>,
    /// `mnt_mountpoint`, a dentry in the parent's filesystem, pinned by this mount.
    pub mountpoint: Option<Dentry>,
    /// `mnt_mounts`: the children's ids.
    pub children: Vec<Oid>,
    /// `mnt_namespace`: None once detached (unless the `umount-keeps-namespace` mutant is on).
    pub ns: Option<Arc<Namespace>>,
}

/// The mount hash and tree (`mount_hashtable`, `mnt_mounts`/`mnt_child`), under the tree lock.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// `lookup_mnt`'s hash: (parent mount, mountpoint inode) → mounts there. Invariant: at most one
    /// mount per key in the fixed protocol (`do_add_mount` follows down to the top).
    pub hash: HashMap<(Oid, u64), Vec<Arc<Mount>>>,
    /// Links of every mount that is not freed.
    pub links: BTreeMap<Oid, Links>,
}

enum TreeLockImpl {
    Global(Mutex<Tree>),
    Rw(RwLock<Tree>),
    // Boxed: the reader slots take a cache line each.
    ReadMostly(Box<GateCell<Tree>>),
}

/// The tree lock, with the design chosen at boot.
pub struct TreeLock {
    imp: TreeLockImpl,
}

enum ReadG<'a> {
    M(MutexGuard<'a, Tree>),
    R(RwLockReadGuard<'a, Tree>),
    Gate(GateRead<'a, Tree>),
}

impl Deref for ReadG<'_> {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        match self {
            ReadG::M(g) => g,
            ReadG::R(g) => g,
            ReadG::Gate(g) => g,
        }
    }
}

/// Read guard of the tree lock.
pub struct TreeRead<'a> {
    g: ReadG<'a>,
    ctx: &'a Ctx,
}

enum WriteG<'a> {
    M(MutexGuard<'a, Tree>),
    W(RwLockWriteGuard<'a, Tree>),
    Gate(GateWrite<'a, Tree>),
}

/// Write guard of the tree lock.
pub struct TreeWrite<'a> {
    g: WriteG<'a>,
    ctx: &'a Ctx,
}

impl TreeLock {
    fn new(design: LockDesign) -> Self {
        let imp = match design {
            LockDesign::Global => TreeLockImpl::Global(Mutex::new(Tree::default())),
            LockDesign::RwLock => TreeLockImpl::Rw(RwLock::new(Tree::default())),
            LockDesign::ReadMostly => {
                TreeLockImpl::ReadMostly(Box::new(GateCell::new(Tree::default())))
            }
        };
        TreeLock { imp }
    }

    /// The design of this lock.
    pub fn design(&self) -> LockDesign {
        match self.imp {
            TreeLockImpl::Global(_) => LockDesign::Global,
            TreeLockImpl::Rw(_) => LockDesign::RwLock,
            TreeLockImpl::ReadMostly(_) => LockDesign::ReadMostly,
        }
    }

    fn acquire_read(&self, reader: usize) -> ReadG<'_> {
        match &self.imp {
            TreeLockImpl::Global(m) => ReadG::M(sync::lock(m)),
            TreeLockImpl::Rw(r) => ReadG::R(r.read().unwrap_or_else(|p| p.into_inner())),
            TreeLockImpl::ReadMostly(c) => ReadG::Gate(c.read(reader)),
        }
    }

    /// Take the lock for a lookup (the read-mostly design takes no lock: it enters a read section
    /// as reader `ctx.tid`).
    pub fn read<'a>(&'a self, ctx: &'a Ctx) -> TreeRead<'a> {
        let g = self.acquire_read(ctx.tid);
        if let ReadG::Gate(_) = g {
            ctx.push_lock(RCU_READ.into());
            ctx.step("rcu_read_lock()", "");
        } else {
            ctx.push_lock(TREE_LOCK.into());
            ctx.step(format!("lock({TREE_LOCK})"), "");
        }
        TreeRead { g, ctx }
    }

    /// A lookup's read side with no bookkeeping (no [`Ctx`], nothing in the ledger), as reader
    /// `reader` (a thread number): `f` runs on the tree under the design's read protection. What the
    /// benchmarks time against a plain `HashMap`.
    pub fn peek<R>(&self, reader: usize, f: impl FnOnce(&Tree) -> R) -> R {
        f(&self.acquire_read(reader))
    }

    /// Take the lock to change the tree (the read-mostly design serialises writers with its mutex,
    /// then shuts readers out and waits for those inside: the grace period).
    pub fn write<'a>(&'a self, ctx: &'a Ctx) -> TreeWrite<'a> {
        let g = match &self.imp {
            TreeLockImpl::Global(m) => WriteG::M(sync::lock(m)),
            TreeLockImpl::Rw(r) => WriteG::W(r.write().unwrap_or_else(|p| p.into_inner())),
            TreeLockImpl::ReadMostly(c) => WriteG::Gate(c.write()),
        };
        ctx.push_lock(TREE_LOCK.into());
        ctx.step(format!("lock({TREE_LOCK})"), "");
        TreeWrite { g, ctx }
    }
}

impl Deref for TreeRead<'_> {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        &self.g
    }
}

impl Drop for TreeRead<'_> {
    fn drop(&mut self) {
        if let ReadG::Gate(_) = self.g {
            self.ctx.pop_lock(RCU_READ);
            self.ctx.step("rcu_read_unlock()", "");
        } else {
            self.ctx.pop_lock(TREE_LOCK);
            self.ctx.step(format!("unlock({TREE_LOCK})"), "");
        }
    }
}

impl Deref for TreeWrite<'_> {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        match &self.g {
            WriteG::M(g) => g,
            WriteG::W(g) => g,
            WriteG::Gate(g) => g,
        }
    }
}

impl DerefMut for TreeWrite<'_> {
    fn deref_mut(&mut self) -> &mut Tree {
        match &mut self.g {
            WriteG::M(g) => g,
            WriteG::W(g) => g,
            WriteG::Gate(g) => g,
        }
    }
}

impl Drop for TreeWrite<'_> {
    fn drop(&mut self) {
        self.ctx.pop_lock(TREE_LOCK);
        self.ctx.step(format!("unlock({TREE_LOCK})"), "");
    }
}

/// Every object allocated in this execution (std only, invisible to the checkers).
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) sbs: Vec<Arc<SuperBlock>>,
    pub(crate) mounts: Vec<Arc<Mount>>,
    pub(crate) namespaces: Vec<Arc<Namespace>>,
}

/// The model kernel.
pub struct Kernel {
    /// Configuration of this execution.
    pub cfg: Config,
    /// The lifetime oracle of this execution.
    pub ledger: Ledger,
    /// `sb_lock` and the `super_blocks` list it protects, of the configured design. `s_count` is
    /// only changed under it, except by the read-mostly design's `get_super`/`put_super` (see
    /// [`crate::super_block`]).
    pub sb_lock: SpinLock<Vec<Arc<SuperBlock>>>,
    /// The mount hash and tree under the tree lock.
    pub tree: TreeLock,
    pub(crate) registry: std::sync::Mutex<Registry>,
}

impl Kernel {
    /// A kernel with no filesystem yet (see [`crate::task::Task::boot`]).
    pub fn new(cfg: Config, ledger: Ledger) -> Self {
        Kernel {
            cfg,
            ledger,
            sb_lock: SpinLock::with_design(SB_LOCK, Vec::new(), cfg.lock_design),
            tree: TreeLock::new(cfg.lock_design),
            registry: std::sync::Mutex::new(Registry::default()),
        }
    }

    /// Whether mutant `m` is switched on.
    pub fn mutant(&self, m: Mutant) -> bool {
        self.cfg.variant.has(m)
    }

    pub(crate) fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `might_sleep()`: a sleeping lock taken with a spinlock held is an invariant finding.
    pub fn might_sleep(&self, ctx: &Ctx, what: &str, oid: Option<Oid>) {
        let held = ctx.locks();
        if let Some(spin) = held
            .iter()
            .find(|l| *l == TREE_LOCK || *l == SB_LOCK || *l == RCU_READ)
        {
            self.ledger.invariant(
                ctx,
                oid,
                format!("sleeping in atomic context: {what} with {spin} held"),
            );
        }
    }
}
