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
//! reader-writer lock; `ReadMostly` takes no lock on the read path, in the RCU shape of modern
//! kernels (`lookup_mnt` under `rcu_read_lock()` with `legitimize_mnt`'s re-check; an RCU-walked
//! index of `super_blocks` by device):
//!
//! - Writers and every reader other than the two hot lookups take one mutex, as in the global
//!   design (`lock_mount_hash()`, `spin_lock(&sb_lock)`).
//! - Inside that mutex the writer also keeps an [`RcuHash`] (crate::rcu_hash): the mount hash by
//!   (parent, mountpoint) and the super_blocks by device, linked and unlinked with release stores
//!   and freed after a grace period ([`crate::sync::rcu`]: crossbeam-epoch on real threads).
//! - `lookup_mnt` searches that table inside a read section and pins what it finds with an
//!   increment-if-not-zero, then re-checks (`legitimize_mnt`): a full fence, then the mount's
//!   `mnt_umounting` flag. A plain umount or an expiry sets the flag, issues a full fence, and
//!   only then reads `mnt_count` for its busy check (do_umount's `smp_mb()` "paired with
//!   `__legitimize_mnt()`"). The two fences order the pair: either the umounter's count read sees
//!   the pin (and reports EBUSY), or the reader sees the flag, drops its pin and searches again.
//!   So no pin lands between a busy check and its detach, and a lookup never revives a mount
//!   whose last reference went. Where the kernel re-checks the global `mount_lock` sequence
//!   count, the model re-checks the one mount it found: a reader retries only when that mount is
//!   being unmounted, not on every change of the tree.
//! - `get_super` searches its index inside a read section and pins with an atomic
//!   increment-if-listed on `s_count`, then re-checks `s_root` under `s_umount` (see
//!   [`crate::super_block`]).
//! - Checkers: every pointer, flag, count and fence of both protocols is a facade primitive, and
//!   every table entry sits in the facade's `UnsafeCell`, so loom and shuttle interleave them and
//!   loom checks the publication order. The grace period is crossbeam-epoch's on real threads
//!   and under `--cfg loom --cfg crossbeam_loom`; under plain loom and shuttle retired entries are
//!   kept until the kernel is dropped (see [`crate::sync::rcu`]).

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::checks::Oracles;
use crate::fs::Dentry;
use crate::mount::Mount;
use crate::namespace::Namespace;
use crate::oracle::lockdep::{LockClass, LockId};
use crate::oracle::{Ctx, Ledger, Oid};
use crate::rcu_hash::{rcu_hash, RcuHash, RcuHashWriter};
use crate::super_block::SuperBlock;
use crate::sync::{self, Arc};
use crate::variant::{Mutant, Variant};

mod locks;

pub use locks::{SpinGuard, SpinLock, SpinRead, TreeLock, TreeRead, TreeWrite, RCU_READ};

/// How the mount hash and the tree links are protected (the lock designs the benchmarks compare).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockDesign {
    /// One global spinlock for lookups and changes: 2.4's `dcache_lock`, 2.6's `vfsmount_lock`.
    #[default]
    Global,
    /// A reader-writer lock: lookups share it, changes take it exclusively.
    RwLock,
    /// No lock on the read path: `lookup_mnt` and `get_super` search RCU hash tables and
    /// re-check what they pinned; writers take one mutex (the RCU shape of modern kernels; see the
    /// module documentation).
    ReadMostly,
}

impl LockDesign {
    /// Every design.
    pub const ALL: [LockDesign; 3] = [
        LockDesign::Global,
        LockDesign::RwLock,
        LockDesign::ReadMostly,
    ];

    /// The design named `name` ([`LockDesign::name`]), if any.
    pub fn from_name(name: &str) -> Option<LockDesign> {
        LockDesign::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            LockDesign::Global => "global",
            LockDesign::RwLock => "rwlock",
            LockDesign::ReadMostly => "read-mostly",
        }
    }
}

/// How one execution of the model is configured. Defaults: the fixed protocol, the global lock,
/// every oracle family on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Fixed protocol or one mutant. Default: fixed.
    pub variant: Variant,
    /// Lock design of the mount hash. Default: one global lock.
    pub lock_design: LockDesign,
    /// The oracle families whose findings are raised (`crate::checks`). Default: all.
    #[serde(default)]
    pub oracles: Oracles,
}

/// The tree lock (`vfsmount_lock`, as the kernel of the modelled era calls it).
pub const TREE_LOCK: LockId = LockId::global(LockClass::TreeLock);
/// The super_block list lock.
pub const SB_LOCK: LockId = LockId::global(LockClass::SbLock);

/// The `super_blocks` list (`sb_lock`'s data): the list in kernel order, and under the read-mostly
/// design the writer of its RCU index by device. Read it as a `Vec`; change it only with
/// [`SuperBlocks::add`] and [`SuperBlocks::unlink`], which keep the index in step.
#[derive(Debug, Default)]
pub struct SuperBlocks {
    /// `super_blocks`, oldest first. Invariant: holds exactly the super_blocks whose `s_count`
    /// includes `S_BIAS`, and so does the index when there is one.
    list: Vec<Arc<SuperBlock>>,
    index: Option<RcuHashWriter<String, Arc<SuperBlock>>>,
}

impl SuperBlocks {
    /// `list_add_tail(&s->s_list, &super_blocks)`.
    pub fn add(&mut self, sb: Arc<SuperBlock>) {
        if let Some(i) = &mut self.index {
            i.insert(sb.dev.clone(), sb.clone());
        }
        self.list.push(sb);
    }

    /// The first listed super_block of `dev`, in list order: through the index when there is
    /// one (so the read-mostly design's writers do not scan the lines its readers pin), else the
    /// list scan of 2.4's `get_sb_bdev`.
    pub fn find(&self, dev: &str) -> Option<&Arc<SuperBlock>> {
        match &self.index {
            Some(i) => i.first(dev),
            None => self.list.iter().find(|s| s.dev == dev),
        }
    }

    /// `list_del(&s->s_list)`.
    pub fn unlink(&mut self, sb: &Arc<SuperBlock>) {
        if let Some(i) = &mut self.index {
            i.remove(sb.dev.as_str(), |s| Arc::ptr_eq(s, sb));
        }
        self.list.retain(|s| !Arc::ptr_eq(s, sb));
    }
}

impl Deref for SuperBlocks {
    type Target = Vec<Arc<SuperBlock>>;
    fn deref(&self) -> &Vec<Arc<SuperBlock>> {
        &self.list
    }
}

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

/// A mount hash key: (parent mount, mountpoint inode).
pub type MountKey = (Oid, u64);

/// The mount hash and tree (`mount_hashtable`, `mnt_mounts`/`mnt_child`), under the tree lock.
#[derive(Debug, Default)]
pub struct Tree {
    /// `lookup_mnt`'s hash: (parent mount, mountpoint inode) → mounts there. Invariant: at most one
    /// mount per key in the fixed protocol (`do_add_mount` follows down to the top). Read it
    /// freely; change it only with [`Tree::hash_insert`] and [`Tree::hash_remove`].
    pub hash: HashMap<MountKey, Vec<Arc<Mount>>>,
    /// Links of every mount that is not freed.
    pub links: BTreeMap<Oid, Links>,
    /// The read-mostly design's RCU copy of `hash`, which `lookup_mnt` searches with no lock.
    /// Invariant: the same entries as `hash`, in the same order per key.
    rcu: Option<RcuHashWriter<MountKey, Arc<Mount>>>,
}

impl Tree {
    /// Hash `m` on `key`, after any mount already there.
    pub fn hash_insert(&mut self, key: MountKey, m: Arc<Mount>) {
        if let Some(r) = &mut self.rcu {
            r.insert(key, m.clone());
        }
        self.hash.entry(key).or_default().push(m);
    }

    /// Re-make the hash and its RCU copy as fresh copies, so they sit in memory as compactly as
    /// a clone would (for the benchmarks: a tree grown one mount at a time among the ledger's
    /// allocations is scattered over the heap).
    pub fn compact(&mut self) {
        self.hash = self.hash.clone();
        if let Some(r) = &mut self.rcu {
            r.rebuild();
        }
    }

    /// Unhash mount `oid` from `key`.
    pub fn hash_remove(&mut self, key: MountKey, oid: Oid) {
        if let Some(r) = &mut self.rcu {
            r.remove(&key, |x| x.oid == oid);
        }
        if let Some(v) = self.hash.get_mut(&key) {
            v.retain(|x| x.oid != oid);
            if v.is_empty() {
                self.hash.remove(&key);
            }
        }
    }
}

/// Every object allocated in this execution (std only, invisible to the checkers).
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) sbs: Vec<Arc<SuperBlock>>,
    pub(crate) mounts: Vec<Arc<Mount>>,
    pub(crate) namespaces: Vec<Arc<Namespace>>,
    /// Every task's `fs_struct` (what `chroot_fs_refs` walks, as the kernel's task list).
    pub(crate) fs_structs: Vec<std::sync::Arc<crate::fs_struct::FsCell>>,
}

/// The model kernel.
pub struct Kernel {
    /// Configuration of this execution.
    pub cfg: Config,
    /// The lifetime oracle of this execution.
    pub ledger: Ledger,
    /// `sb_lock` and the `super_blocks` list it protects (with the read-mostly design's index
    /// writer), of the configured design. `s_count` is only changed under it, except by the
    /// read-mostly design's `get_super`/`put_super` (see [`crate::super_block`]).
    pub sb_lock: SpinLock<SuperBlocks>,
    /// The read-mostly design's index of `super_blocks` by device, searched by `get_super` with
    /// no lock (`None` in the other designs); its writer is in `sb_lock`'s [`SuperBlocks`].
    pub sb_index: Option<RcuHash<String, Arc<SuperBlock>>>,
    /// The mount hash and tree under the tree lock.
    pub tree: TreeLock,
    pub(crate) registry: std::sync::Mutex<Registry>,
}

impl Kernel {
    /// A kernel with no filesystem yet (see [`crate::task::Task::boot`]).
    pub fn new(cfg: Config, ledger: Ledger) -> Self {
        let (index, sb_index) = match cfg.lock_design {
            LockDesign::ReadMostly => {
                let (w, r) = rcu_hash();
                (Some(w), Some(r))
            }
            _ => (None, None),
        };
        let sbs = SuperBlocks {
            list: Vec::new(),
            index,
        };
        Kernel {
            cfg,
            ledger,
            sb_lock: SpinLock::with_design(LockClass::SbLock, sbs, cfg.lock_design),
            sb_index,
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

    /// A sleeping lock that `ctx`'s thread waited for in vain on real threads (the facade's
    /// bounded wait returned [`sync::Stuck`]): a `deadlock` finding naming the lock, who holds it
    /// as far as the lock can tell (`holders`), and what this thread holds.
    pub fn stuck(
        &self,
        ctx: &Ctx,
        lock: &str,
        holders: &str,
        oid: Option<Oid>,
        s: sync::Stuck,
    ) -> ! {
        let mine = ctx.locks();
        let msg = format!(
            "T{} blocked in {lock} (held by {holders}) while holding [{}]: {s}",
            ctx.tid,
            mine.join(", ")
        );
        self.ledger.fail(
            ctx,
            crate::oracle::FindingClass::Deadlock,
            msg.clone(),
            oid,
            Vec::new(),
        );
        unreachable!("a deadlock belongs to no oracle family, so it is always raised: {msg}")
    }

    /// `might_sleep()`: sleeping (a sleeping lock, a put that may sleep) with a spinlock held or
    /// inside an RCU read section is an invariant finding.
    pub fn might_sleep(&self, ctx: &Ctx, what: &str, oid: Option<Oid>) {
        let atomic = ctx
            .held()
            .iter()
            .find(|h| h.id.class.atomic_context())
            .map(|h| h.label());
        if let Some(spin) = atomic {
            self.ledger.invariant(
                ctx,
                oid,
                format!("sleeping in atomic context: {what} with {spin} held"),
            );
        }
    }
}
