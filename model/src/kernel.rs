//! The global state of the model kernel: configuration, the global locks, and boot.
//!
//! What it models: the globals of fs/super.c (`super_blocks` under `sb_lock`) and
//! fs/namespace.c (the mount hash and tree under `dcache_lock` in 2.4 / `vfsmount_lock` in 2.6),
//! and `init_mount_tree()`: a root filesystem mounted as the root of an initial namespace that
//! the init task shares.
//!
//! Invariants: lock order is `namespace->sem` → tree lock, and `sb_lock` is a leaf that is never
//! held across a sleeping lock (checked: taking a sleeping lock with a spinlock held is an
//! invariant finding, the model's `might_sleep()`). Every object the model allocates is also kept
//! in a std-only registry, invisible to the checkers, so quiescence can compare each count with
//! the ledger.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

use crate::fs::Dentry;
use crate::mount::Mount;
use crate::namespace::Namespace;
use crate::oracle::{Ctx, Ledger, Oid};
use crate::super_block::SuperBlock;
use crate::sync::{self, Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
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
}

impl LockDesign {
    /// Every design.
    pub const ALL: [LockDesign; 2] = [LockDesign::Global, LockDesign::RwLock];

    /// Name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            LockDesign::Global => "global",
            LockDesign::RwLock => "rwlock",
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

/// A spinlock with a name: the ledger sees it taken and released, and it records itself among
/// the locks its thread holds, so a report can show the locks held at every step.
#[derive(Debug)]
pub struct SpinLock<T> {
    name: &'static str,
    m: Mutex<T>,
}

/// Guard of a [`SpinLock`].
pub struct SpinGuard<'a, T> {
    g: MutexGuard<'a, T>,
    ctx: &'a Ctx,
    name: &'static str,
}

impl<T> SpinLock<T> {
    /// A new lock named `name`.
    pub fn new(name: &'static str, v: T) -> Self {
        SpinLock {
            name,
            m: Mutex::new(v),
        }
    }

    /// `spin_lock`.
    pub fn lock<'a>(&'a self, ctx: &'a Ctx) -> SpinGuard<'a, T> {
        let g = sync::lock(&self.m);
        ctx.push_lock(self.name.to_string());
        ctx.step(format!("spin_lock({})", self.name), "");
        SpinGuard {
            g,
            ctx,
            name: self.name,
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.g
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.g
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.ctx.pop_lock(self.name);
        self.ctx.step(format!("spin_unlock({})", self.name), "");
    }
}

/// The name of the tree lock, as the kernel of the modelled era calls it.
pub const TREE_LOCK: &str = "vfsmount_lock";
/// The name of the super_block list lock.
pub const SB_LOCK: &str = "sb_lock";

/// The tree links of one mount, protected by the tree lock.
#[derive(Debug)]
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
#[derive(Debug, Default)]
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
}

/// The tree lock, with the design chosen at boot.
pub struct TreeLock {
    imp: TreeLockImpl,
}

enum ReadG<'a> {
    M(MutexGuard<'a, Tree>),
    R(RwLockReadGuard<'a, Tree>),
}

/// Read guard of the tree lock.
pub struct TreeRead<'a> {
    g: ReadG<'a>,
    ctx: &'a Ctx,
}

enum WriteG<'a> {
    M(MutexGuard<'a, Tree>),
    W(RwLockWriteGuard<'a, Tree>),
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
        };
        TreeLock { imp }
    }

    /// Take the lock for a lookup.
    pub fn read<'a>(&'a self, ctx: &'a Ctx) -> TreeRead<'a> {
        let g = match &self.imp {
            TreeLockImpl::Global(m) => ReadG::M(sync::lock(m)),
            TreeLockImpl::Rw(r) => ReadG::R(r.read().unwrap_or_else(|p| p.into_inner())),
        };
        ctx.push_lock(TREE_LOCK.into());
        ctx.step(format!("lock({TREE_LOCK})"), "");
        TreeRead { g, ctx }
    }

    /// Take the lock to change the tree.
    pub fn write<'a>(&'a self, ctx: &'a Ctx) -> TreeWrite<'a> {
        let g = match &self.imp {
            TreeLockImpl::Global(m) => WriteG::M(sync::lock(m)),
            TreeLockImpl::Rw(r) => WriteG::W(r.write().unwrap_or_else(|p| p.into_inner())),
        };
        ctx.push_lock(TREE_LOCK.into());
        ctx.step(format!("lock({TREE_LOCK})"), "");
        TreeWrite { g, ctx }
    }
}

impl Deref for TreeRead<'_> {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        match &self.g {
            ReadG::M(g) => g,
            ReadG::R(g) => g,
        }
    }
}

impl Drop for TreeRead<'_> {
    fn drop(&mut self) {
        self.ctx.pop_lock(TREE_LOCK);
        self.ctx.step(format!("unlock({TREE_LOCK})"), "");
    }
}

impl Deref for TreeWrite<'_> {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        match &self.g {
            WriteG::M(g) => g,
            WriteG::W(g) => g,
        }
    }
}

impl DerefMut for TreeWrite<'_> {
    fn deref_mut(&mut self) -> &mut Tree {
        match &mut self.g {
            WriteG::M(g) => g,
            WriteG::W(g) => g,
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
    /// `sb_lock` and the `super_blocks` list it protects. `s_count` is only changed under it.
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
            sb_lock: SpinLock::new(SB_LOCK, Vec::new()),
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
        if let Some(spin) = held.iter().find(|l| *l == TREE_LOCK || *l == SB_LOCK) {
            self.ledger.invariant(
                ctx,
                oid,
                format!("sleeping in atomic context: {what} with {spin} held"),
            );
        }
    }
}
