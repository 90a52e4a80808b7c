//! `struct namespace`: per-process mount namespaces, their copy on `clone(CLONE_NEWNS)` and their
//! teardown on the last task's exit.
//!
//! Follows fs/namespace.c of 2.4.17 (`copy_namespace`, `copy_tree`, `__put_namespace`) and
//! include/linux/namespace.h (`get_namespace`, `put_namespace`), and 2.6.11's
//! `mark_mounts_for_expiry` for the expiry path. `count` is one per task sharing the namespace
//! (and one per anonymous-namespace file for `fsmount`); `sem` serialises mount, umount and copy.
//!
//! Invariants: the last `put_namespace` unmounts the whole tree (`umount_tree(root)`) under `sem`
//! and frees the namespace exactly once; a new namespace's root is never NULL (a failed
//! `copy_tree` fails the clone with ENOMEM); `get_namespace` from a mount (expiry) only succeeds
//! on a count that is not zero, decided under the tree lock.

use crate::error::{MResult, MountError};
use crate::kernel::Kernel;
use crate::life::Life;
use crate::mount::{attach_tag, Mount, Release};
use crate::oracle::lockdep::{LockClass, LockId, LockMode};
use crate::oracle::{Counter, Ctx, Note, ObjKind, ObjState, Oid, Verb};
use crate::rules;
use crate::sync::{Arc, AtomicIsize, Ordering, RwSem};
use crate::variant::Mutant;

/// `struct namespace`.
#[derive(Debug)]
pub struct Namespace {
    /// Ledger identity.
    pub oid: Oid,
    /// `count`: one per task (or anonymous-namespace file) using it. Invariant: `>= 0`; the put
    /// that reaches 0 tears the tree down and frees the namespace.
    pub count: AtomicIsize,
    /// `root`: the root mount; its attachment reference is this namespace's. `None` only under the
    /// `copy-namespace-null-root` mutant.
    pub root: std::sync::Mutex<Option<Arc<Mount>>>,
    /// `sem`: taken for write by mount, umount, copy and teardown.
    pub sem: RwSem,
    /// The oracle's state of this namespace, as a scheduling point (see [`crate::life`]).
    pub life: Life,
}

impl Namespace {
    /// The access check of the namespace: a scheduling point, then the oracle.
    pub fn touch(&self, k: &Kernel, ctx: &Ctx, what: &str) {
        self.life.probe();
        k.ledger.access(ctx, self.oid, what);
    }

    /// The namespace is freed (its last reference went).
    pub fn freed(&self, k: &Kernel, ctx: &Ctx) {
        self.life.set(ObjState::Freed);
        k.ledger.free(ctx, self.oid);
    }
}

impl Namespace {
    /// The root mount.
    pub fn root(&self) -> Option<Arc<Mount>> {
        self.root.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Kernel {
    /// Allocate a namespace with `count` 1 held by `holder` and no root yet.
    pub fn alloc_namespace(&self, ctx: &Ctx, holder: &str) -> Arc<Namespace> {
        let oid = self
            .ledger
            .create(ctx, ObjKind::Namespace, |o| format!("ns#{}", o.0));
        let ns = Arc::new(Namespace {
            oid,
            count: AtomicIsize::new(0),
            root: std::sync::Mutex::new(None),
            sem: RwSem::new(),
            life: Life::new(),
        });
        self.registry().namespaces.push(ns.clone());
        self.get_namespace(ctx, &ns, holder);
        ns
    }

    /// `get_namespace`, held by `tag`.
    pub fn get_namespace(&self, ctx: &Ctx, ns: &Namespace, tag: &str) {
        crate::sync::oracle_atomic(|| {
            let now = ns.count.fetch_add(1, Ordering::SeqCst) + 1;
            self.ledger.get(ctx, ns.oid, Counter::NsCount, tag, 1, now);
        });
    }

    /// `down_write(&namespace->sem)`.
    #[track_caller]
    pub fn ns_down_write(&self, ctx: &Ctx, ns: &Namespace) {
        let id = LockId::of(LockClass::NsSem, ns.oid);
        ns.touch(self, ctx, "down_write(namespace->sem)");
        self.might_sleep(ctx, "down_write(namespace->sem)", Some(ns.oid));
        ctx.before_acquire(id, LockMode::Exclusive, 0);
        if let Err(e) = ns.sem.down_write() {
            let lock = format!("down_write(ns#{}.sem)", ns.oid.0);
            let holders = match ns.sem.holders() {
                (_, true) => "a writer".to_string(),
                (n, false) => format!("{n} reader(s)"),
            };
            self.stuck(ctx, &lock, &holders, Some(ns.oid), e);
        }
        ctx.acquired(id, LockMode::Exclusive, Verb::Semaphore, 0);
    }

    /// `up_write(&namespace->sem)`.
    pub fn ns_up_write(&self, ctx: &Ctx, ns: &Namespace) {
        ns.touch(self, ctx, "up_write(namespace->sem)");
        ns.sem.up_write();
        ctx.release(
            LockId::of(LockClass::NsSem, ns.oid),
            LockMode::Exclusive,
            Verb::Semaphore,
        );
    }

    /// `put_namespace` of `tag`'s reference; the last one runs `__put_namespace`: under `sem`,
    /// `umount_tree(root)`, then free.
    pub fn put_namespace(&self, ctx: &Ctx, ns: &Arc<Namespace>, tag: &str) {
        ns.life.probe();
        self.ledger
            .access_with(ctx, ns.oid, || format!("put_namespace ({tag})"));
        let now = crate::sync::oracle_atomic(|| {
            let now = ns.count.fetch_sub(1, Ordering::SeqCst) - 1;
            self.ledger.put(ctx, ns.oid, Counter::NsCount, tag, 1, now);
            now
        });
        if now != 0 {
            return;
        }
        self.ns_down_write(ctx, ns);
        let root = ns.root.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(root) = root else {
            let msg = format!(
                "NULL pointer dereference: umount_tree(NULL) of ns#{}'s root",
                ns.oid.0
            );
            self.ledger.invariant(ctx, Some(ns.oid), msg.clone());
            // With the invariant oracle off, the kernel would oops here all the same.
            panic!("{msg}");
        };
        let rel = {
            let mut tree = self.tree.write(ctx);
            let rel = self.umount_tree(ctx, &mut tree, &root);
            if self.mutant(Mutant::MntputUnderSpinlock) {
                self.release(ctx, rel);
                Vec::new()
            } else {
                rel
            }
        };
        self.release(ctx, rel);
        self.ns_up_write(ctx, ns);
        ns.freed(self, ctx);
    }

    /// `copy_tree` + namespace set-up of `copy_namespace`, with `old->sem` held for write (unless
    /// the `copy-namespace-unlocked` mutant is on): copy every mount of `old`'s tree into a new
    /// namespace `new`. Like 2.6.11's `copy_tree`, the walk reads the live tree one step at a
    /// time (each child of the root in turn, then that child's subtree with `next_mnt`), relying
    /// on the semaphore to keep it still. Returns (old mount, its copy) pairs for the lockstep
    /// walk that moves the task's root and pwd. `fail` injects an allocation failure of the copy
    /// (`-ENOMEM`).
    pub fn copy_tree(
        &self,
        ctx: &Ctx,
        old: &Namespace,
        new: &Arc<Namespace>,
        fail: bool,
    ) -> MResult<Vec<(Arc<Mount>, Arc<Mount>)>> {
        ctx.require(&rules::COPY_TREE, Some(old.oid));
        let Some(old_root) = old.root() else {
            return Err(MountError::Invalid);
        };
        if fail {
            ctx.note(Note::Text("copy_tree: allocation failed (injected)"));
            return Err(MountError::NoMem);
        }
        let mut pairs: Vec<(Arc<Mount>, Arc<Mount>)> = Vec::new();
        self.copy_one(ctx, &old_root, new, &mut pairs);
        // `for (h = mnt->mnt_mounts.next; h != &mnt->mnt_mounts; h = h->next)`: each child of
        // the root, read one at a time.
        let mut prev: Option<Oid> = None;
        loop {
            let r = {
                let tree = self.tree.read(ctx);
                let children = tree
                    .links
                    .get(&old_root.oid)
                    .map(|l| l.children.clone())
                    .unwrap_or_default();
                let at = match prev {
                    None => Some(0),
                    Some(p) => children.iter().position(|c| *c == p).map(|i| i + 1),
                };
                at.and_then(|i| children.get(i))
                    .and_then(|c| tree.links.get(c))
                    .map(|l| l.mnt.clone())
            };
            let Some(r) = r else { break };
            prev = Some(r.oid);
            // `for (s = r; s; s = next_mnt(s, r))`: r's subtree.
            let mut s = Some(r.clone());
            while let Some(m) = s {
                self.copy_one(ctx, &m, new, &mut pairs);
                s = {
                    let tree = self.tree.read(ctx);
                    next_mnt(&tree, &m, &r)
                };
            }
        }
        Ok(pairs)
    }

    /// Copy one mount of the walk: `clone_mnt`, then attach the copy on the copy of its parent
    /// (the root's copy becomes the new namespace's root).
    fn copy_one(
        &self,
        ctx: &Ctx,
        m: &Arc<Mount>,
        new: &Arc<Namespace>,
        pairs: &mut Vec<(Arc<Mount>, Arc<Mount>)>,
    ) {
        let (parent, mountpoint) = {
            let tree = self.tree.read(ctx);
            tree.links
                .get(&m.oid)
                .map_or((None, None), |l| (l.parent.clone(), l.mountpoint.clone()))
        };
        let copy = self.clone_mnt(ctx, m, m.root.clone(), "copy_tree");
        let mut tree = self.tree.write(ctx);
        let pcopy = parent.as_ref().and_then(|p| {
            pairs
                .iter()
                .find(|(o, _)| o.oid == p.oid)
                .map(|(_, c)| c.clone())
        });
        match (pcopy, mountpoint) {
            (Some(pcopy), Some(mp)) => {
                self.attach_mnt(ctx, &mut tree, &copy, &pcopy, &mp, Some(new.clone()));
            }
            _ => {
                if let Some(l) = tree.links.get_mut(&copy.oid) {
                    l.ns = Some(new.clone());
                }
            }
        }
        drop(tree);
        self.ledger.transfer(
            ctx,
            copy.oid,
            Counter::MntCount,
            "copy_tree",
            attach_tag(&copy),
        );
        pairs.push((m.clone(), copy));
    }

    /// `mark_mounts_for_expiry` for one mount the caller holds: take a reference on its
    /// namespace under the tree lock (increment-not-zero, the 2005 fix), then, under the
    /// namespace's `sem`, unmount it if nobody but the caller uses it. Returns whether it expired.
    pub fn expire_mount(&self, ctx: &Ctx, m: &Arc<Mount>) -> bool {
        let tag = format!("expiry by T{}", ctx.tid);
        let ns = {
            let tree = self.tree.read(ctx);
            let Some(ns) = tree.links.get(&m.oid).and_then(|l| l.ns.clone()) else {
                return false;
            };
            // The mutant drops the tree lock before taking the reference.
            let tree = if self.mutant(Mutant::ExpireNsRefUnlocked) {
                drop(tree);
                None
            } else {
                Some(tree)
            };
            ns.touch(self, ctx, "mark_mounts_for_expiry: read namespace->count");
            ctx.require(&rules::EXPIRE_NS_REF, None);
            if self.mutant(Mutant::ExpiryGetNamespace) {
                if ns.count.load(Ordering::SeqCst) <= 0 {
                    return false;
                }
                self.get_namespace(ctx, &ns, &tag);
            } else {
                // atomic_inc_not_zero(&namespace->count), recorded in the same step.
                let got = crate::sync::oracle_atomic(|| {
                    crate::sync::atomic_add_if(&ns.count, 1, |v| v > 0)
                        .map(|now| self.ledger.get(ctx, ns.oid, Counter::NsCount, &tag, 1, now))
                        .is_some()
                });
                if !got {
                    return false;
                }
            }
            drop(tree);
            ns
        };
        self.ns_down_write(ctx, &ns);
        let rel = {
            let mut tree = self.tree.write(ctx);
            let attached = tree.links.get(&m.oid).is_some_and(|l| {
                l.parent.is_some() && l.ns.as_ref().is_some_and(|n| Arc::ptr_eq(n, &ns))
            });
            // Busy unless only the attachment and the caller's reference remain (the mutant's
            // test is off by one: it lets one more reference, an open file, through).
            let idle = |count: isize| {
                if self.mutant(Mutant::ExpireBusyOffByOne) {
                    count <= 3
                } else {
                    count == 2
                }
            };
            if !attached {
                Vec::new()
            } else if idle(self.umount_busy_count(m)) {
                ctx.note(Note::Expire(m.oid));
                self.umount_tree(ctx, &mut tree, m)
            } else {
                self.umount_abandoned(m);
                Vec::new()
            }
        };
        let expired = !rel.is_empty();
        self.release(ctx, rel);
        if expired {
            // Before the caller's last put (see `synchronize_lookups`).
            self.synchronize_lookups(ctx, m);
        }
        self.ns_up_write(ctx, &ns);
        self.put_namespace(ctx, &ns, &tag);
        expired
    }
}

/// `next_mnt(p, root)`: the mount after `p` in a depth-first walk of `root`'s subtree (its
/// first child, else the next sibling of it or of its nearest ancestor below `root`), read with
/// the tree lock held. `None` at the end, or when `p` is no longer linked where it was.
fn next_mnt(tree: &crate::kernel::Tree, p: &Mount, root: &Mount) -> Option<Arc<Mount>> {
    let l = tree.links.get(&p.oid)?;
    if let Some(c) = l.children.first() {
        return tree.links.get(c).map(|cl| cl.mnt.clone());
    }
    let mut cur = p.oid;
    for _ in 0..=tree.links.len() {
        if cur == root.oid {
            return None;
        }
        let parent = tree.links.get(&cur)?.parent.clone()?;
        let siblings = &tree.links.get(&parent.oid)?.children;
        let i = siblings.iter().position(|c| *c == cur)?;
        if let Some(next) = siblings.get(i + 1) {
            return tree.links.get(next).map(|nl| nl.mnt.clone());
        }
        cur = parent.oid;
    }
    None
}

/// Make a list of [`Release`]s readable in a step (used by tests and the trace).
pub fn describe(rel: &[Release]) -> String {
    rel.iter()
        .map(|r| match r {
            Release::Mountpoint(p, d, _) => format!("dput {} of mnt#{}", d.path, p.oid.0),
            Release::Parent(p, _) => format!("mntput parent mnt#{}", p.oid.0),
            Release::Attach(m) => format!("mntput mnt#{}", m.oid.0),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
