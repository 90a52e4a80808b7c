//! `struct vfsmount`: allocation, `mntget`/`mntput`, the mount hash (`lookup_mnt`), attaching
//! and detaching, and `umount_tree`.
//!
//! Follows fs/namespace.c of 2.4.17 and 2.6.11 (`alloc_vfsmnt`, `clone_mnt`, `attach_mnt`,
//! `detach_mnt`, `umount_tree`, `lookup_mnt`) and include/linux/mount.h (`mntget`, `mntput`,
//! `__mntput`). An attached, idle mount has `mnt_count` = 1 (its attachment) + one per child
//! (each child pins its parent) + one per user (open file, cwd, root, path walk in progress).
//!
//! Invariants: `mnt_count >= 0`, and the last `mntput` frees the mount exactly once, then drops its
//! root dentry and its `s_active` on the super_block; the tree links change only under the tree
//! lock; at most one mount per (parent, mountpoint) in the hash; `umount_tree` puts the detached
//! mounts only after the tree lock is dropped (`mntput` may sleep in `kill_super`).
//!
//! Under the read-mostly lock design `lookup_mnt` follows fs/namespace.c of Linux 3.14+
//! (`lookup_mnt` = `__lookup_mnt` under `rcu_read_lock()` + `legitimize_mnt`), with the umounter's
//! half of the handshake in [`Kernel::umount_busy_count`] (see [`crate::kernel`]), both in
//! `legitimize.rs`. A pin taken before the re-check is held under a tag ending in [`SPECULATIVE`]
//! until it is legitimized (renamed to the caller's tag) or dropped.

use crate::fs::Dentry;
use crate::kernel::{Kernel, Links, Tree};
use crate::life::Life;
use crate::namespace::Namespace;
use crate::oracle::{Counter, Ctx, Note, ObjKind, ObjState, Oid};
use crate::rules;
use crate::super_block::SuperBlock;
use crate::sync::{self, Arc, AtomicBool, AtomicIsize, Ordering};
use crate::variant::Mutant;

mod legitimize;

/// `struct vfsmount`.
#[derive(Debug)]
pub struct Mount {
    /// Ledger identity.
    pub oid: Oid,
    /// `mnt_count`. Invariant: `>= 0`; the put that reaches 0 frees the mount.
    pub mnt_count: AtomicIsize,
    /// `mnt_sb`: this mount holds one `s_active` on it.
    pub sb: Arc<SuperBlock>,
    /// `mnt_root`: a dentry of `sb` this mount holds a reference on.
    pub root: Dentry,
    /// Read-mostly design only: set by a plain umount or an expiry before its busy check, and
    /// cleared again if the mount stays; a `lookup_mnt` that pinned the mount and then sees it set
    /// drops the pin and searches again (the model's `legitimize_mnt`). Invariant: set whenever a
    /// busy check that may lead to a detach is in progress or has detached the mount.
    pub mnt_umounting: AtomicBool,
    /// The oracle's state of this mount, as a scheduling point (see [`crate::life`]).
    pub life: Life,
    /// Read-mostly design only: `lookup_mnt`s that found this mount in the RCU hash and have not
    /// yet kept or dropped their pin. A plain umount or expiry that detached the mount waits for
    /// it to drain before its own last put ([`Kernel::synchronize_lookups`], the
    /// `synchronize_rcu()` of `namespace_unlock()`), so a failed `legitimize_mnt` never drops
    /// the last reference. Invariant: a lookup counts itself here before it pins.
    pub mnt_lookups: AtomicIsize,
}

impl Mount {
    /// A mount of `sb` rooted at `root`, with `mnt_count` 0 (the caller takes the first
    /// reference with [`Kernel::mntget`]).
    pub fn new(oid: Oid, sb: Arc<SuperBlock>, root: Dentry) -> Self {
        Mount {
            oid,
            mnt_count: AtomicIsize::new(0),
            sb,
            root,
            mnt_umounting: AtomicBool::new(false),
            life: Life::new(),
            mnt_lookups: AtomicIsize::new(0),
        }
    }
}

/// The end of the tag of a `lookup_mnt` pin that is not yet legitimized.
pub const SPECULATIVE: &str = " (lookup_mnt, not yet legitimized)";

/// The ledger tag of a mount's attachment reference.
pub fn attach_tag(m: &Mount) -> String {
    format!("attachment of mnt#{}", m.oid.0)
}

/// A reference `umount_tree` took off the tree, to put once the tree lock is dropped.
#[derive(Debug)]
pub enum Release {
    /// `dput(mountpoint)`: the pin a child held on its mountpoint dentry.
    Mountpoint(Arc<Mount>, Dentry, String),
    /// `mntput(parent)`: the pin a child held on its parent.
    Parent(Arc<Mount>, String),
    /// `mntput(mnt)`: the attachment reference.
    Attach(Arc<Mount>),
}

impl Kernel {
    /// `mntget`, held by `tag`.
    pub fn mntget(&self, ctx: &Ctx, m: &Mount, tag: &str) {
        crate::sync::oracle_atomic(|| {
            let now = m.mnt_count.fetch_add(1, Ordering::SeqCst) + 1;
            self.ledger.get(ctx, m.oid, Counter::MntCount, tag, 1, now);
        });
    }

    /// `atomic_inc_not_zero(&mnt->mnt_count)`, held by `tag`: false, and nothing taken, if the
    /// count already reached zero (the mount is being freed).
    pub fn mntget_not_zero(&self, ctx: &Ctx, m: &Mount, tag: &str) -> bool {
        sync::oracle_atomic(|| match sync::atomic_add_if(&m.mnt_count, 1, |v| v > 0) {
            Some(now) => {
                self.ledger.get(ctx, m.oid, Counter::MntCount, tag, 1, now);
                true
            }
            None => false,
        })
    }

    /// `mntput` of `tag`'s reference; the last put runs `__mntput`: unlink, `dput(mnt_root)`,
    /// free, then `deactivate_super` (which may shut the filesystem down).
    pub fn mntput(&self, ctx: &Ctx, m: &Arc<Mount>, tag: &str) {
        m.life.probe();
        self.ledger
            .access_with(ctx, m.oid, || format!("mntput ({tag})"));
        let now = crate::sync::oracle_atomic(|| {
            let now = m.mnt_count.fetch_sub(1, Ordering::SeqCst) - 1;
            self.ledger.put(ctx, m.oid, Counter::MntCount, tag, 1, now);
            now
        });
        if now != 0 {
            return;
        }
        // __mntput can sleep in kill_super.
        self.might_sleep(ctx, &format!("__mntput(mnt#{})", m.oid.0), Some(m.oid));
        {
            let mut tree = self.tree.write(ctx);
            if let Some(l) = tree.links.remove(&m.oid) {
                if l.parent.is_some() || !l.children.is_empty() {
                    drop(tree);
                    self.ledger.invariant(
                        ctx,
                        Some(m.oid),
                        format!("mnt#{} freed while still attached to the tree", m.oid.0),
                    );
                }
            }
        }
        self.dput(ctx, &m.sb, &m.root, &format!("mnt_root of mnt#{}", m.oid.0));
        m.life.set(ObjState::Freed);
        self.ledger.free(ctx, m.oid);
        self.deactivate_super(ctx, &m.sb, &format!("mnt#{}", m.oid.0));
    }

    /// `alloc_vfsmnt` + set-up: a mount of `sb` rooted at `root`, whose caller already holds an
    /// `s_active` tagged `mnt#?` (renamed here to the new mount). `mnt_count` starts at 1, held
    /// by `creator`. Not yet linked anywhere.
    pub fn alloc_vfsmnt(
        &self,
        ctx: &Ctx,
        sb: &Arc<SuperBlock>,
        root: Dentry,
        creator: &str,
    ) -> Arc<Mount> {
        let dev = sb.dev.clone();
        let oid = self
            .ledger
            .create(ctx, ObjKind::Mount, |o| format!("mnt#{} ({dev})", o.0));
        let m = Arc::new(Mount::new(oid, sb.clone(), root));
        self.registry().mounts.push(m.clone());
        self.mntget(ctx, &m, creator);
        self.ledger.transfer(
            ctx,
            sb.oid,
            Counter::SActive,
            "mnt#?",
            format!("mnt#{}", oid.0),
        );
        self.dget(ctx, sb, &m.root, &format!("mnt_root of mnt#{}", oid.0));
        let mut tree = self.tree.write(ctx);
        tree.links.insert(
            oid,
            Links {
                mnt: m.clone(),
                parent: None,
                mountpoint: None,
                children: Vec::new(),
                ns: None,
            },
        );
        drop(tree);
        m
    }

    /// `clone_mnt`: a new mount of `old`'s super_block rooted at `root` (`atomic_inc(&sb->s_active)`).
    pub fn clone_mnt(&self, ctx: &Ctx, old: &Mount, root: Dentry, creator: &str) -> Arc<Mount> {
        let sb = &old.sb;
        sb.touch_fs(self, ctx, "clone_mnt");
        sync::oracle_atomic(|| {
            let now = sb.s_active.fetch_add(1, Ordering::SeqCst) + 1;
            self.ledger
                .get(ctx, sb.oid, Counter::SActive, "mnt#?", 1, now);
        });
        self.alloc_vfsmnt(ctx, sb, root, creator)
    }

    /// `lookup_mnt`: the mount on (`parent`, `mountpoint`), with a reference for `tag` taken under
    /// the tree lock (2.6.11's `lookup_mnt`; 2.4's `follow_down` takes it under `dcache_lock`), or,
    /// in the read-mostly design, in a read section and then legitimized.
    pub fn lookup_mnt(
        &self,
        ctx: &Ctx,
        parent: &Mount,
        mountpoint: &Dentry,
        tag: &str,
    ) -> Option<Arc<Mount>> {
        if self.tree.rcu_hash().is_some() {
            return self.lookup_mnt_rcu(ctx, (parent.oid, mountpoint.ino), tag);
        }
        let tree = self.tree.read(ctx);
        let m = tree
            .hash
            .get(&(parent.oid, mountpoint.ino))
            .and_then(|v| v.first())
            .cloned()?;
        self.mntget(ctx, &m, tag);
        drop(tree);
        Some(m)
    }

    /// `attach_mnt`: with the tree lock held, hang `m` on (`parent`, `mountpoint`): pin the
    /// parent and the mountpoint dentry, link it into the hash and the parent's children, and
    /// put it in namespace `ns`.
    pub fn attach_mnt(
        &self,
        ctx: &Ctx,
        tree: &mut Tree,
        m: &Arc<Mount>,
        parent: &Arc<Mount>,
        mountpoint: &Dentry,
        ns: Option<Arc<Namespace>>,
    ) {
        let pin = format!("child mnt#{} pins its parent", m.oid.0);
        self.mntget(ctx, parent, &pin);
        self.dget(
            ctx,
            &parent.sb,
            mountpoint,
            &format!("mountpoint of mnt#{}", m.oid.0),
        );
        // The tree stays a tree: `m` may not become its own ancestor (CVE-2014-7970's loop).
        let mut up = Some(parent.oid);
        for _ in 0..=tree.links.len() {
            let Some(a) = up else { break };
            if a == m.oid {
                let msg = format!(
                    "mnt#{} attached under mnt#{}, which is itself or below it: a loop in the mount tree",
                    m.oid.0, parent.oid.0
                );
                self.ledger.invariant(ctx, Some(m.oid), msg);
                break;
            }
            up = tree
                .links
                .get(&a)
                .and_then(|l| l.parent.as_ref().map(|p| p.oid));
        }
        let key = (parent.oid, mountpoint.ino);
        if let Some(hidden) = tree.hash.get(&key).and_then(|v| v.first()) {
            let msg = format!(
                "mnt#{} mounted on {} of mnt#{} where mnt#{} already is: one of them is hidden",
                m.oid.0, mountpoint.path, parent.oid.0, hidden.oid.0
            );
            self.ledger.invariant(ctx, Some(m.oid), msg);
        }
        tree.hash_insert(key, m.clone());
        if let Some(pl) = tree.links.get_mut(&parent.oid) {
            pl.children.push(m.oid);
        }
        let l = tree.links.get_mut(&m.oid).expect("links of a live mount");
        l.parent = Some(parent.clone());
        l.mountpoint = Some(mountpoint.clone());
        l.ns = ns;
        let label = format!("mnt#{} ({} on {})", m.oid.0, m.sb.dev, mountpoint.path);
        self.ledger.relabel(m.oid, label);
    }

    /// `detach_mnt`: with the tree lock held, take `m` off its parent; returns the parent and
    /// mountpoint pins for the caller to drop after the lock.
    pub fn detach_mnt(&self, tree: &mut Tree, m: &Mount) -> Vec<Release> {
        let mut out = Vec::new();
        let Some(l) = tree.links.get_mut(&m.oid) else {
            return out;
        };
        let (Some(parent), Some(mp)) = (l.parent.take(), l.mountpoint.take()) else {
            return out;
        };
        tree.hash_remove((parent.oid, mp.ino), m.oid);
        if let Some(pl) = tree.links.get_mut(&parent.oid) {
            pl.children.retain(|c| *c != m.oid);
        }
        out.push(Release::Mountpoint(
            parent.clone(),
            mp,
            format!("mountpoint of mnt#{}", m.oid.0),
        ));
        out.push(Release::Parent(
            parent,
            format!("child mnt#{} pins its parent", m.oid.0),
        ));
        out
    }

    /// The mounts of the subtree rooted at `m` (parents before children).
    pub fn subtree(&self, tree: &Tree, m: &Mount) -> Vec<Arc<Mount>> {
        let mut out = Vec::new();
        let mut todo = vec![m.oid];
        // A loop in the tree (an invariant finding when made) is walked once.
        let mut seen = std::collections::BTreeSet::new();
        while let Some(o) = todo.pop() {
            if !seen.insert(o) {
                continue;
            }
            if let Some(l) = tree.links.get(&o) {
                out.push(l.mnt.clone());
                todo.extend(l.children.iter().rev().copied());
            }
        }
        out
    }

    /// `umount_tree`: with the tree lock held, take the whole subtree of `m` out of its namespace
    /// (clearing `mnt_namespace`, the 2005 fix) and detach each mount. Returns what to put once the
    /// lock is dropped: mountpoint and parent pins, then each attachment reference.
    pub fn umount_tree(&self, ctx: &Ctx, tree: &mut Tree, m: &Mount) -> Vec<Release> {
        ctx.require(&rules::UMOUNT_TREE, None);
        let mounts = self.subtree(tree, m);
        let mut out = Vec::new();
        for mnt in &mounts {
            mnt.life.probe();
            self.ledger.access(ctx, mnt.oid, "umount_tree");
            if !self.mutant(Mutant::UmountKeepsNamespace) {
                if let Some(l) = tree.links.get_mut(&mnt.oid) {
                    l.ns = None;
                }
            }
            out.extend(self.detach_mnt(tree, mnt));
            out.push(Release::Attach(mnt.clone()));
            ctx.note(Note::UmountTreeDetach(mnt.oid));
        }
        out
    }

    /// Put what `umount_tree` / `detach_mnt` took off the tree. Called with the tree lock dropped;
    /// with it held, `mntput` would sleep in atomic context (see `might_sleep`).
    pub fn release(&self, ctx: &Ctx, rel: Vec<Release>) {
        for r in rel {
            match r {
                Release::Mountpoint(parent, d, tag) => self.dput(ctx, &parent.sb, &d, &tag),
                Release::Parent(parent, tag) => self.mntput(ctx, &parent, &tag),
                Release::Attach(m) => self.mntput(ctx, &m, &attach_tag(&m)),
            }
        }
    }

    /// `mnt_namespace` of `m` now (None when detached or freed).
    pub fn mnt_ns(&self, ctx: &Ctx, m: &Mount) -> Option<Arc<Namespace>> {
        let tree = self.tree.read(ctx);
        tree.links.get(&m.oid).and_then(|l| l.ns.clone())
    }
}
