//! The calls of fs/namespace.c a task makes: `mount` (`do_add_mount`, `graft_tree`), `mount
//! --bind` (`do_loopback`), `umount` (`sys_umount`, `do_umount`), `expire`
//! (`mark_mounts_for_expiry`), `fsmount` (5.2+), and the task's view of the mount table
//! (fs/proc_namespace.c `show_mountinfo()`).
//!
//! Invariants: the tree changes only under the tree lock, and a graft or an umount also under
//! `namespace->sem`; a graft follows whatever was mounted on its mountpoint meanwhile and checks
//! the mountpoint (not deleted) under its directory's `i_sem`; a failed call leaves no reference
//! behind.

use super::{MountEntry, OpenFile, Task, UmountFlags};
use crate::error::{MResult, MountError};
use crate::fs::{join, relative, Dentry, Kind};
use crate::mount::attach_tag;
use crate::namei::PathRef;
use crate::oracle::{Counter, FindingClass, Note};
use crate::rules;
use crate::sync::Arc;
use crate::variant::Mutant;

impl Task {
    /// `mount(dev, path)`: a new mount of `dev`'s filesystem (shared with any existing mount of
    /// `dev` via `grab_super`) on `path`.
    pub fn mount(&mut self, dev: &str, path: &str) -> MResult<()> {
        self.check_cap()?;
        let tag = self.tag("mount");
        let (nd, kind) = self.walk(path, &tag)?;
        if kind != Kind::Dir {
            self.k.path_release(&self.ctx, nd);
            return Err(MountError::NotDir);
        }
        let sb = self.k.get_sb(&self.ctx, dev, "mnt#?");
        let newmnt = self.k.alloc_vfsmnt(&self.ctx, &sb, Dentry::root(), &tag);
        self.do_add_mount(newmnt, nd, &tag, false)
    }

    /// `mount --bind src dst` (`do_loopback`, non-recursive).
    pub fn bind(&mut self, src: &str, dst: &str) -> MResult<()> {
        self.check_cap()?;
        let tag = self.tag("bind");
        // do_mount resolves the mountpoint first; do_loopback then the source.
        let (nd, nd_kind) = self.walk(dst, &tag)?;
        let old = match self.walk(src, &tag) {
            // graft_tree: a directory binds only on a directory, a file only on a file (the
            // kinds of the two dentries never change, so testing before the semaphore is the
            // same).
            Ok((old, kind)) if (kind == Kind::Dir) != (nd_kind == Kind::Dir) => {
                self.k.path_release(&self.ctx, old);
                self.k.path_release(&self.ctx, nd);
                return Err(MountError::NotDir);
            }
            Ok((old, _)) => old,
            Err(e) => {
                self.k.path_release(&self.ctx, nd);
                return Err(e);
            }
        };
        if !self.check_mnt(&old) {
            self.k.path_release(&self.ctx, old);
            self.k.path_release(&self.ctx, nd);
            return Err(MountError::Invalid);
        }
        let newmnt = self.k.clone_mnt(
            &self.ctx,
            &old.mnt,
            old.dentry.clone(),
            &format!("{tag} (new)"),
        );
        self.k.path_release(&self.ctx, old);
        self.do_add_mount(newmnt, nd, &format!("{tag} (new)"), true)
    }

    /// `do_add_mount` + `graft_tree`: under `namespace->sem`, follow whatever was mounted on `nd`
    /// while we slept, check the namespace and (for a new mount, not a bind: `do_loopback` has no
    /// such rule) the same-filesystem-on-the-same-root rule, and graft `newmnt` (refusing a
    /// deleted mountpoint). Drops `newmnt`'s creator reference and `nd` in every case.
    fn do_add_mount(
        &mut self,
        newmnt: Arc<crate::mount::Mount>,
        mut nd: PathRef,
        creator: &str,
        loopback: bool,
    ) -> MResult<()> {
        let k = self.k.clone();
        let ctx = &self.ctx;
        let ns = self.ns.clone().ok_or(MountError::Invalid)?;
        // The mutant follows what was mounted meanwhile before taking the semaphore.
        let follow_first = k.mutant(Mutant::AddMountFollowUnlocked);
        let follow = |nd: &mut PathRef| {
            ctx.require(&rules::GRAFT, Some(ns.oid));
            if !k.mutant(Mutant::NoFollowDownInMount) {
                k.follow_down_all(ctx, nd);
            }
        };
        if follow_first {
            follow(&mut nd);
        }
        k.ns_down_write(ctx, &ns);
        if !follow_first {
            follow(&mut nd);
        }
        let res = (|| {
            if !self.check_mnt(&nd) {
                return Err(MountError::Invalid);
            }
            if !loopback && Arc::ptr_eq(&nd.mnt.sb, &newmnt.sb) && nd.mnt.root == nd.dentry {
                return Err(MountError::Busy);
            }
            let psb = nd.mnt.sb.clone();
            // The mutant checks the mountpoint before taking its directory's semaphore.
            let check = || {
                ctx.require(&rules::GRAFT_MOUNTPOINT, Some(psb.oid));
                psb.contents(&k, ctx, "graft_tree").is_live(&nd.dentry)
                    || nd.dentry == Dentry::root()
            };
            let early = k.mutant(Mutant::GraftMountpointUnlocked).then(check);
            k.down_i_sem(ctx, &psb);
            let live = match early {
                Some(live) => live,
                None => check(),
            };
            let res = if !live && k.mutant(Mutant::GraftLostEnoent) {
                // graft_tree's `err` still holds the security hook's 0: success, nothing attached.
                Ok(())
            } else if !live && !k.mutant(Mutant::GraftDeletedMountpoint) {
                Err(MountError::NoEntry)
            } else {
                let mut tree = k.tree.write(ctx);
                k.attach_mnt(
                    ctx,
                    &mut tree,
                    &newmnt,
                    &nd.mnt,
                    &nd.dentry,
                    Some(ns.clone()),
                );
                k.mntget(ctx, &newmnt, &attach_tag(&newmnt));
                Ok(())
            };
            k.up_i_sem(ctx, &psb);
            res
        })();
        k.ns_up_write(ctx, &ns);
        k.mntput(ctx, &newmnt, creator);
        k.path_release(ctx, nd);
        res
    }

    /// `umount(path, flags)` (`sys_umount` + `do_umount` of 2.4.17).
    pub fn umount(&mut self, path: &str, flags: UmountFlags) -> MResult<()> {
        self.check_cap()?;
        let (nd, _) = self.walk(path, &self.tag("umount"))?;
        let res = if nd.dentry != nd.mnt.root || !self.check_mnt(&nd) {
            Err(MountError::Invalid)
        } else {
            self.do_umount(&nd, flags)
        };
        self.k.path_release(&self.ctx, nd);
        res
    }

    fn do_umount(&self, nd: &PathRef, flags: UmountFlags) -> MResult<()> {
        let k = &self.k;
        let ctx = &self.ctx;
        let mnt = &nd.mnt;
        if flags.force {
            mnt.sb.touch_fs(k, ctx, "umount_begin");
            ctx.note(Note::UmountBegin(mnt.sb.oid));
        }
        let is_root = self
            .fs
            .as_ref()
            .is_some_and(|fs| Arc::ptr_eq(&fs.root.mnt, mnt));
        if is_root && !flags.detach {
            // Unmounting the caller's root without MNT_DETACH remounts it read-only.
            ctx.note(Note::RemountReadOnly(mnt.sb.oid));
            mnt.sb.contents(k, ctx, "do_remount_sb").read_only = true;
            return Ok(());
        }
        let ns = self.ns.clone().ok_or(MountError::Invalid)?;
        // The busy check: rule `umount-busy` (namespace->sem and the tree lock held).
        let busy_count = || {
            ctx.require(&rules::UMOUNT_BUSY, Some(ns.oid));
            let count = k.umount_busy_count(mnt);
            ctx.note(Note::UmountBusyCount {
                mnt: mnt.oid,
                count,
            });
            count
        };
        let early = k.mutant(Mutant::UmountCheckBeforeLock).then(busy_count);
        k.ns_down_write(ctx, &ns);
        let mut tree = k.tree.write(ctx);
        let count = match early {
            Some(c) => c,
            None => busy_count(),
        };
        let mut rel = Vec::new();
        let res = if count == 2 || flags.detach {
            let attached = tree.links.get(&mnt.oid).is_some_and(|l| l.parent.is_some());
            if attached {
                // Pins that lookups have not legitimized yet will be dropped (read-mostly).
                let now = k.mnt_count_legit(mnt);
                if !flags.detach && now != 2 && k.ledger.raises(FindingClass::Invariant) {
                    drop(tree);
                    let holders = k
                        .ledger
                        .report(mnt.oid)
                        .holders
                        .iter()
                        .map(|h| h.tag.clone())
                        .collect::<Vec<_>>()
                        .join("; ");
                    k.ledger.invariant(
                        ctx,
                        Some(mnt.oid),
                        format!(
                            "plain umount detached busy mnt#{} (mnt_count {now}: {holders})",
                            mnt.oid.0
                        ),
                    );
                    unreachable!("the invariant oracle is on");
                }
                rel = k.umount_tree(ctx, &mut tree, mnt);
            } else {
                // Another umount detached it after our lookup: `if (!list_empty(&mnt->mnt_list))
                // umount_tree(mnt); retval = 0;` returns success having changed nothing.
                k.umount_abandoned(mnt);
                ctx.succeeded_without_effect();
            }
            Ok(())
        } else {
            k.umount_abandoned(mnt);
            Err(MountError::Busy)
        };
        if k.mutant(Mutant::MntputUnderSpinlock) {
            k.release(ctx, std::mem::take(&mut rel));
        }
        drop(tree);
        let detached = !rel.is_empty();
        k.release(ctx, rel);
        if detached && !flags.detach {
            // Before the caller's last put: the lookups that found the mount are done with it.
            k.synchronize_lookups(ctx, mnt);
        }
        k.ns_up_write(ctx, &ns);
        res
    }

    /// `mark_mounts_for_expiry` over the expiry list of `dev`'s filesystem: every attached mount of
    /// `dev`, in any namespace, is expired (unmounted) if nobody uses it. The list is walked under
    /// the tree lock, taking a reference on each mount as `lookup_mnt` does. EINVAL when `dev` has
    /// no attached mount, EBUSY when none could expire.
    pub fn expire(&mut self, dev: &str) -> MResult<()> {
        let tag = self.tag("expire");
        let k = self.k.clone();
        let mounts: Vec<Arc<crate::mount::Mount>> = {
            let tree = k.tree.read(&self.ctx);
            let found: Vec<_> = tree
                .links
                .values()
                .filter(|l| l.parent.is_some() && l.mnt.sb.dev == dev)
                .map(|l| l.mnt.clone())
                .collect();
            for m in &found {
                k.mntget(&self.ctx, m, &tag);
            }
            found
        };
        if mounts.is_empty() {
            return Err(MountError::Invalid);
        }
        let mut expired = false;
        for m in mounts {
            expired |= k.expire_mount(&self.ctx, &m);
            k.mntput(&self.ctx, &m, &tag);
        }
        if expired {
            Ok(())
        } else {
            Err(MountError::Busy)
        }
    }

    /// `fsmount`: a new detached mount of `dev` in an anonymous namespace, as file `h`.
    pub fn fsmount(&mut self, dev: &str, h: &str) -> MResult<()> {
        self.check_cap()?;
        let k = self.k.clone();
        let ctx = &self.ctx;
        let ftag = format!("file {h} of {}", self.name);
        let sb = k.get_sb(ctx, dev, "mnt#?");
        let creator = self.tag("fsmount");
        let mnt = k.alloc_vfsmnt(ctx, &sb, Dentry::root(), &creator);
        let anon = k.alloc_namespace(ctx, &ftag);
        *anon.root.lock().unwrap_or_else(|p| p.into_inner()) = Some(mnt.clone());
        k.tree.write(ctx).links.get_mut(&mnt.oid).expect("links").ns = Some(anon.clone());
        if !k.mutant(Mutant::FsmountMissingMntget) {
            k.mntget(ctx, &mnt, &attach_tag(&mnt));
        }
        k.ledger
            .transfer(ctx, mnt.oid, Counter::MntCount, &creator, ftag.clone());
        k.dget(ctx, &sb, &mnt.root, &ftag);
        let path = PathRef {
            mnt,
            dentry: Dentry::root(),
            tag: ftag,
        };
        if let Some(old) = self.files.insert(
            h.to_string(),
            OpenFile {
                path,
                anon_ns: Some(anon),
            },
        ) {
            self.release_file(old);
        }
        Ok(())
    }

    /// The mount table this task sees: every mount of its namespace reachable from its root, with
    /// its mountpoint as an absolute path from the task's root (what `/proc/self/mountinfo` lists:
    /// the namespace's mount list, each path seen from the task's root, unreachable ones skipped).
    pub fn mount_table(&self) -> Vec<MountEntry> {
        let (Some(fs), Some(ns)) = (&self.fs, &self.ns) else {
            return Vec::new();
        };
        // A root that another task's pivot_root gave this task since its last call.
        let fresh = self.fs_cell.as_ref().and_then(|c| self.k.fs_fresh_root(c));
        let root = fresh.as_ref().unwrap_or(&fs.root);
        let tree = self.k.tree.read(&self.ctx);
        let in_ns = |o: &crate::oracle::Oid| {
            tree.links
                .get(o)
                .and_then(|l| l.ns.as_ref())
                .is_some_and(|n| Arc::ptr_eq(n, ns))
        };
        let mut out = Vec::new();
        let mut todo: Vec<(Arc<crate::mount::Mount>, String)> =
            vec![(root.mnt.clone(), "/".into())];
        // The root mount itself is listed only when the task's root is that mount's root: a
        // chroot into a subdirectory cannot reach the mount's own root (`seq_path_root` skips it).
        if root.dentry == root.mnt.root && in_ns(&root.mnt.oid) {
            out.push(MountEntry {
                mountpoint: "/".into(),
                dev: root.mnt.sb.dev.clone(),
                root: root.mnt.root.path.clone(),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        while let Some((m, at)) = todo.pop() {
            if !seen.insert(m.oid) {
                continue;
            }
            let Some(l) = tree.links.get(&m.oid) else {
                continue;
            };
            for c in &l.children {
                let Some(cl) = tree.links.get(c) else {
                    continue;
                };
                let Some(mp) = &cl.mountpoint else { continue };
                // Only mountpoints below the part of `m` this task can see.
                let base_dentry = if Arc::ptr_eq(&m, &root.mnt) {
                    &root.dentry
                } else {
                    &m.root
                };
                // Nothing is reachable below a removed directory, even if a new one has its name.
                if !m.sb.dentry_is_live(base_dentry) {
                    continue;
                }
                let base = base_dentry.path.clone();
                let Some(rel) = relative(&mp.path, &base) else {
                    continue;
                };
                let here = join(&at, &rel);
                if in_ns(c) {
                    out.push(MountEntry {
                        mountpoint: here.clone(),
                        dev: cl.mnt.sb.dev.clone(),
                        root: cl.mnt.root.path.clone(),
                    });
                }
                todo.push((cl.mnt.clone(), here));
            }
        }
        out.sort();
        out
    }
}
