//! The kernel's global locks with a typed identity, in the lock design chosen at boot: the
//! spinlocks ([`SpinLock`]: `sb_lock`, and the tree lock's reader-writer form) and the tree lock
//! ([`TreeLock`]: `vfsmount_lock` of fs/namespace.c, a mutex, a reader-writer lock, or a mutex
//! whose readers use RCU instead, as `lookup_mnt()` does since 2.6.x), each recording itself in
//! the ledger as it is taken and released.
//!
//! Invariant: a guard releases in the ledger exactly what it acquired (the same lock, the same
//! mode), in its `Drop`, so the locks a thread holds are always the ones whose guards live.

use super::{LockDesign, MountKey, Tree, TREE_LOCK};
use crate::mount::Mount;
use crate::oracle::lockdep::{LockClass, LockId, LockMode};
use crate::oracle::{Ctx, Verb};
use crate::rcu_hash::{rcu_hash, RcuHash};
use crate::sync::{self, Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// The read section of the read-mostly design, as a held lock: sleeping inside it is an
/// invariant finding, as inside `rcu_read_lock()`.
pub const RCU_READ: LockId = LockId::global(LockClass::RcuRead);

enum SpinImpl<T> {
    /// The global and the read-mostly designs (whose readers do not use the lock).
    M(Mutex<T>),
    Rw(RwLock<T>),
}

impl<T: fmt::Debug> fmt::Debug for SpinImpl<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpinImpl::M(m) => m.fmt(f),
            SpinImpl::Rw(r) => r.fmt(f),
        }
    }
}

/// A spinlock with a typed identity: the ledger sees it taken and released, and it records
/// itself among the locks its thread holds, so a report can show the locks held at every step
/// and lockdep can order it. Made with
/// [`SpinLock::with_design`] as [`LockDesign::RwLock`], it is a reader-writer lock, with the same
/// exclusive side ([`SpinLock::lock`]) and a shared side ([`SpinLock::read`]); the other designs
/// use a mutex for both (the read-mostly design's hot reader does not use the lock at all).
#[derive(Debug)]
pub struct SpinLock<T> {
    id: LockId,
    design: LockDesign,
    imp: SpinImpl<T>,
}

enum SpinG<'a, T> {
    M(MutexGuard<'a, T>),
    W(RwLockWriteGuard<'a, T>),
}

/// Guard of a [`SpinLock`].
pub struct SpinGuard<'a, T> {
    g: SpinG<'a, T>,
    ctx: &'a Ctx,
    id: LockId,
    verb: Verb,
}

enum SpinR<'a, T> {
    M(MutexGuard<'a, T>),
    R(RwLockReadGuard<'a, T>),
}

impl<T> Deref for SpinR<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            SpinR::M(g) => g,
            SpinR::R(g) => g,
        }
    }
}

/// Shared guard of a [`SpinLock`] ([`SpinLock::read`]).
pub struct SpinRead<'a, T> {
    g: SpinR<'a, T>,
    ctx: &'a Ctx,
    id: LockId,
    verb: Verb,
}

impl<T> SpinLock<T> {
    /// A new global lock of `class` (one global lock: [`LockDesign::Global`]).
    pub fn new(class: LockClass, v: T) -> Self {
        Self::with_design(class, v, LockDesign::Global)
    }

    /// A new global lock of `class` of the given design.
    pub fn with_design(class: LockClass, v: T, design: LockDesign) -> Self {
        let imp = match design {
            LockDesign::Global | LockDesign::ReadMostly => SpinImpl::M(Mutex::new(v)),
            LockDesign::RwLock => SpinImpl::Rw(RwLock::new(v)),
        };
        SpinLock {
            id: LockId::global(class),
            design,
            imp,
        }
    }

    /// The lock's identity.
    pub fn id(&self) -> LockId {
        self.id
    }

    fn verb(&self) -> Verb {
        match self.imp {
            SpinImpl::M(_) => Verb::Spin,
            SpinImpl::Rw(_) => Verb::RwLock,
        }
    }

    /// The design of this lock.
    pub fn design(&self) -> LockDesign {
        self.design
    }

    /// `spin_lock`: the exclusive side (`write_lock` of the reader-writer design).
    #[track_caller]
    pub fn lock<'a>(&'a self, ctx: &'a Ctx) -> SpinGuard<'a, T> {
        ctx.before_acquire(self.id, LockMode::Exclusive, 0);
        let g = match &self.imp {
            SpinImpl::M(m) => SpinG::M(sync::lock(m)),
            SpinImpl::Rw(r) => SpinG::W(sync::write(r)),
        };
        let verb = self.verb();
        ctx.acquired(self.id, LockMode::Exclusive, verb, 0);
        SpinGuard {
            g,
            ctx,
            id: self.id,
            verb,
        }
    }

    /// The shared side: `read_lock` of the reader-writer design, the mutex itself otherwise
    /// (recorded as a shared hold either way: what the caller asked for).
    #[track_caller]
    pub fn read<'a>(&'a self, ctx: &'a Ctx) -> SpinRead<'a, T> {
        ctx.before_acquire(self.id, LockMode::Shared, 0);
        let g = match &self.imp {
            SpinImpl::M(m) => SpinR::M(sync::lock(m)),
            SpinImpl::Rw(r) => SpinR::R(sync::read(r)),
        };
        let verb = self.verb();
        ctx.acquired(self.id, LockMode::Shared, verb, 0);
        SpinRead {
            g,
            ctx,
            id: self.id,
            verb,
        }
    }

    /// The shared side with no bookkeeping (no [`Ctx`], nothing in the ledger): what the
    /// benchmarks time. `f` runs on the value under the design's read protection.
    pub fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        match &self.imp {
            SpinImpl::M(m) => f(&sync::lock(m)),
            SpinImpl::Rw(r) => f(&sync::read(r)),
        }
    }

    /// The exclusive side with no bookkeeping, for the benchmarks; `f` may not change the value.
    pub fn peek_exclusive<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        match &self.imp {
            SpinImpl::M(m) => f(&sync::lock(m)),
            SpinImpl::Rw(r) => f(&sync::write(r)),
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.g {
            SpinG::M(g) => g,
            SpinG::W(g) => g,
        }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.g {
            SpinG::M(g) => g,
            SpinG::W(g) => g,
        }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.ctx.release(self.id, LockMode::Exclusive, self.verb);
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
        self.ctx.release(self.id, LockMode::Shared, self.verb);
    }
}

enum TreeLockImpl {
    /// The global and the read-mostly designs (whose `lookup_mnt` uses `rcu` instead).
    M(Mutex<Tree>),
    Rw(RwLock<Tree>),
}

/// The tree lock, with the design chosen at boot.
pub struct TreeLock {
    design: LockDesign,
    imp: TreeLockImpl,
    /// The read-mostly design's lock-free view of the mount hash.
    rcu: Option<RcuHash<MountKey, Arc<Mount>>>,
}

enum ReadG<'a> {
    M(MutexGuard<'a, Tree>),
    R(RwLockReadGuard<'a, Tree>),
}

impl Deref for ReadG<'_> {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        match self {
            ReadG::M(g) => g,
            ReadG::R(g) => g,
        }
    }
}

/// Read guard of the tree lock.
pub struct TreeRead<'a> {
    g: ReadG<'a>,
    ctx: &'a Ctx,
    verb: Verb,
}

enum WriteG<'a> {
    M(MutexGuard<'a, Tree>),
    W(RwLockWriteGuard<'a, Tree>),
}

/// Write guard of the tree lock.
pub struct TreeWrite<'a> {
    g: WriteG<'a>,
    ctx: &'a Ctx,
    verb: Verb,
}

impl TreeLock {
    pub(super) fn new(design: LockDesign) -> Self {
        let (writer, rcu) = match design {
            LockDesign::ReadMostly => {
                let (w, r) = rcu_hash();
                (Some(w), Some(r))
            }
            _ => (None, None),
        };
        let tree = Tree {
            rcu: writer,
            ..Tree::default()
        };
        let imp = match design {
            LockDesign::Global | LockDesign::ReadMostly => TreeLockImpl::M(Mutex::new(tree)),
            LockDesign::RwLock => TreeLockImpl::Rw(RwLock::new(tree)),
        };
        TreeLock { design, imp, rcu }
    }

    /// The design of this lock.
    pub fn design(&self) -> LockDesign {
        self.design
    }

    /// The read-mostly design's mount hash, searched with no lock (`None` in the other designs).
    pub fn rcu_hash(&self) -> Option<&RcuHash<MountKey, Arc<Mount>>> {
        self.rcu.as_ref()
    }

    fn acquire_read(&self) -> ReadG<'_> {
        match &self.imp {
            TreeLockImpl::M(m) => ReadG::M(sync::lock(m)),
            TreeLockImpl::Rw(r) => ReadG::R(sync::read(r)),
        }
    }

    fn verb(&self) -> Verb {
        match self.imp {
            TreeLockImpl::M(_) => Verb::Spin,
            TreeLockImpl::Rw(_) => Verb::RwLock,
        }
    }

    /// Take the lock to read the tree (shared in the reader-writer design; the mutex otherwise,
    /// recorded as a shared hold: what the caller asked for).
    #[track_caller]
    pub fn read<'a>(&'a self, ctx: &'a Ctx) -> TreeRead<'a> {
        ctx.before_acquire(TREE_LOCK, LockMode::Shared, 0);
        let g = self.acquire_read();
        ctx.acquired(TREE_LOCK, LockMode::Shared, self.verb(), 0);
        TreeRead {
            g,
            ctx,
            verb: self.verb(),
        }
    }

    /// The tree under the design's read lock with no bookkeeping (no [`Ctx`], nothing in the
    /// ledger), for tests and the benchmarks' set-up.
    pub fn peek<R>(&self, f: impl FnOnce(&Tree) -> R) -> R {
        f(&self.acquire_read())
    }

    /// `lookup_mnt`'s search with no bookkeeping: the first mount hashed on `key`, its `Arc`
    /// cloned under the design's read protection (the lock, or a read section of the RCU hash),
    /// with no `mnt_count` pin. What the benchmarks time against a plain `HashMap`.
    #[inline]
    pub fn lookup_quiet(&self, key: MountKey) -> Option<Arc<Mount>> {
        match &self.rcu {
            Some(h) => {
                let g = sync::rcu::read_lock();
                h.find_map(&g, &key, |m| Some(m.clone()))
            }
            None => self.peek(|t| t.hash.get(&key).and_then(|v| v.first()).cloned()),
        }
    }

    /// Take the lock to change the tree.
    #[track_caller]
    pub fn write<'a>(&'a self, ctx: &'a Ctx) -> TreeWrite<'a> {
        ctx.before_acquire(TREE_LOCK, LockMode::Exclusive, 0);
        let g = match &self.imp {
            TreeLockImpl::M(m) => WriteG::M(sync::lock(m)),
            TreeLockImpl::Rw(r) => WriteG::W(sync::write(r)),
        };
        ctx.acquired(TREE_LOCK, LockMode::Exclusive, self.verb(), 0);
        TreeWrite {
            g,
            ctx,
            verb: self.verb(),
        }
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
        self.ctx.release(TREE_LOCK, LockMode::Shared, self.verb);
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
        self.ctx.release(TREE_LOCK, LockMode::Exclusive, self.verb);
    }
}
