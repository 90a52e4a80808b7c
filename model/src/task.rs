//! A task (process) and the system calls the model offers it.
//!
//! Follows fs/namespace.c (`sys_mount` → `do_add_mount` / `do_loopback`, `sys_umount` →
//! `do_umount`, `copy_namespace`, `exit_namespace`), fs/open.c (`sys_open`, `sys_close`,
//! `sys_chdir`, `sys_chroot`, `sys_ustat`), fs/namei.c (`sys_mkdir`, `sys_rmdir`), fs/super.c
//! (`get_super`, `drop_super`, `sync_supers`), kernel/exit.c (`exit_fs`, `exit_namespace`) and,
//! for catalog bug 11, the modern `fsmount` (fs/namespace.c, 5.2+).
//!
//! Invariants: a task's root and cwd each hold one mount and one dentry reference; an open
//! file holds one of each; a task holds one reference on its namespace until it exits; every
//! operation returns an errno-like [`MountError`] on failure and leaves no reference behind.

use std::collections::BTreeMap;

use crate::error::{MResult, MountError, OpResult};
use crate::fs::{Dentry, Kind};
use crate::fs_struct::{FsCell, FsSlot};
use crate::kernel::{Config, Kernel};
use crate::mount::attach_tag;
use crate::namei::PathRef;
use crate::namespace::Namespace;
use crate::oracle::{Counter, Ctx, FindingClass, Ledger, Note};
use crate::rules;
use crate::super_block::SuperBlock;
use crate::sync::{Arc, Ordering};
use crate::variant::Mutant;

/// The task's copy of its `struct fs_struct` (root and cwd; the references are its
/// [`FsCell`]'s, see [`crate::fs_struct`]).
pub use crate::fs_struct::FsView as FsStruct;

/// An open file.
#[derive(Debug)]
pub struct OpenFile {
    /// `f_vfsmnt`, `f_dentry`.
    pub path: PathRef,
    /// The anonymous namespace of an `fsmount` file.
    pub anon_ns: Option<Arc<Namespace>>,
}

/// A super_block returned by `get_super`, until `drop_super`.
#[derive(Debug)]
pub struct SbHandle {
    /// The super_block.
    pub sb: Arc<SuperBlock>,
    /// Ledger tag of its `s_count` pin.
    pub tag: String,
}

/// `umount(2)` flags.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct UmountFlags {
    /// `MNT_DETACH`: lazy umount.
    pub detach: bool,
    /// `MNT_FORCE`: call `->umount_begin` first.
    pub force: bool,
}

/// One line of a task's view of the mount table (what `/proc/<pid>/mountinfo` shows).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct MountEntry {
    /// Mountpoint, absolute from the task's root.
    pub mountpoint: String,
    /// Device.
    pub dev: String,
    /// Root of the mount within its filesystem.
    pub root: String,
}

/// A task.
pub struct Task {
    /// The kernel.
    pub k: Arc<Kernel>,
    /// This task's thread context for the ledger.
    pub ctx: Ctx,
    /// `T<n>` or `init`.
    pub name: String,
    /// The task's copy of its `fs_struct` (None after exit).
    pub fs: Option<FsStruct>,
    /// The `fs_struct` the kernel can reach (`chroot_fs_refs`); None after exit.
    pub fs_cell: Option<std::sync::Arc<FsCell>>,
    /// `task->namespace` (None after exit).
    pub ns: Option<Arc<Namespace>>,
    /// Open files by handle.
    pub files: BTreeMap<String, OpenFile>,
    /// `get_super` results by handle.
    pub sbs: BTreeMap<String, SbHandle>,
    /// CAP_SYS_ADMIN.
    pub cap_sys_admin: bool,
}

impl Task {
    /// Boot: a kernel with `rootfs` mounted as the root of an initial namespace, and the init task
    /// (thread 0) using it as root and cwd (`init_mount_tree`).
    pub fn boot(cfg: Config, ledger: Ledger) -> Task {
        ledger.set_oracles(cfg.oracles);
        let k = Arc::new(Kernel::new(cfg, ledger.clone()));
        let ctx = Ctx::new(0, ledger);
        ctx.set_op("boot");
        let sb = k.get_sb(&ctx, "rootfs", "mnt#?");
        let mnt = k.alloc_vfsmnt(&ctx, &sb, Dentry::root(), "alloc");
        k.ledger
            .transfer(&ctx, mnt.oid, Counter::MntCount, "alloc", attach_tag(&mnt));
        let ns = k.alloc_namespace(&ctx, "task init");
        *ns.root.lock().unwrap_or_else(|p| p.into_inner()) = Some(mnt.clone());
        k.tree
            .write(&ctx)
            .links
            .get_mut(&mnt.oid)
            .expect("root links")
            .ns = Some(ns.clone());
        k.ledger
            .relabel(mnt.oid, format!("mnt#{} (rootfs on /)", mnt.oid.0));
        let base = PathRef {
            mnt: mnt.clone(),
            dentry: Dentry::root(),
            tag: String::new(),
        };
        let root = k.path_get(&ctx, &base, "root of init");
        let pwd = k.path_get(&ctx, &base, "cwd of init");
        let (cell, view) = k.fs_install("init", root, pwd);
        Task {
            k,
            ctx,
            name: "init".into(),
            fs: Some(view),
            fs_cell: Some(cell),
            ns: Some(ns),
            files: BTreeMap::new(),
            sbs: BTreeMap::new(),
            cap_sys_admin: true,
        }
    }

    /// `fork` (no CLONE_NEWNS): a child task for thread `tid` sharing the namespace, with its own
    /// references on root and cwd. Runs in the parent's context.
    pub fn fork(&self, tid: usize) -> MResult<Task> {
        let name = format!("T{tid}");
        let (fs, ns) = (
            self.fs.as_ref().ok_or(MountError::Invalid)?,
            self.ns.as_ref().ok_or(MountError::Invalid)?,
        );
        let root = self
            .k
            .path_get(&self.ctx, &fs.root, &format!("root of {name}"));
        let pwd = self
            .k
            .path_get(&self.ctx, &fs.pwd, &format!("cwd of {name}"));
        self.k.get_namespace(&self.ctx, ns, &format!("task {name}"));
        let (cell, view) = self.k.fs_install(&name, root, pwd);
        Ok(Task {
            k: self.k.clone(),
            ctx: Ctx::new(tid, self.k.ledger.clone()),
            name,
            fs: Some(view),
            fs_cell: Some(cell),
            ns: Some(ns.clone()),
            files: BTreeMap::new(),
            sbs: BTreeMap::new(),
            cap_sys_admin: self.cap_sys_admin,
        })
    }

    /// Whether the task has exited.
    pub fn exited(&self) -> bool {
        self.fs.is_none()
    }

    /// Pick up what `chroot_fs_refs` changed in this task's `fs_struct` since its last call (a
    /// call reads `current->fs` at its start).
    pub fn refresh_fs(&mut self) {
        if let (Some(cell), Some(view)) = (&self.fs_cell, self.fs.as_mut()) {
            self.k.fs_refresh(cell, view);
        }
    }

    pub(crate) fn tag(&self, what: &str) -> String {
        format!("{what} by {}", self.name)
    }

    pub(crate) fn fs(&self) -> MResult<&FsStruct> {
        self.fs.as_ref().ok_or(MountError::Invalid)
    }

    pub(crate) fn walk(&self, path: &str, tag: &str) -> MResult<(PathRef, Kind)> {
        let fs = self.fs()?;
        self.k.path_walk(&self.ctx, &fs.root, &fs.pwd, path, tag)
    }

    fn walk_parent(&self, path: &str, tag: &str) -> MResult<(PathRef, String)> {
        let fs = self.fs()?;
        self.k
            .path_walk_parent(&self.ctx, &fs.root, &fs.pwd, path, tag)
    }

    pub(crate) fn check_cap(&self) -> MResult<()> {
        if self.cap_sys_admin {
            Ok(())
        } else {
            Err(MountError::Perm)
        }
    }

    /// `check_mnt`: the mount belongs to the caller's namespace.
    pub(crate) fn check_mnt(&self, p: &PathRef) -> bool {
        let ns = self.k.mnt_ns(&self.ctx, &p.mnt);
        match (ns, &self.ns) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a, b),
            _ => false,
        }
    }

    /// Drop CAP_SYS_ADMIN.
    pub fn drop_cap(&mut self) {
        self.cap_sys_admin = false;
    }

    /// `mkdir(path)`.
    pub fn mkdir(&mut self, path: &str) -> MResult<()> {
        // lookup_create: a last component that is not a name (`/`, `.`) is EEXIST.
        let (parent, name) = match self.walk_parent(path, &self.tag("mkdir")) {
            Err(MountError::Busy | MountError::Invalid | MountError::NotEmpty) => {
                return Err(MountError::Exists)
            }
            r => r?,
        };
        let full = parent.dentry.child_path(&name);
        let k = &self.k;
        let sb = parent.mnt.sb.clone();
        k.down_i_sem(&self.ctx, &sb);
        let created = sb
            .contents(k, &self.ctx, "mkdir")
            .create(&parent.dentry, &full, Kind::Dir);
        k.up_i_sem(&self.ctx, &sb);
        k.path_release(&self.ctx, parent);
        created
    }

    /// `rmdir(path)`: EBUSY on a mountpoint or a mount root, ENOTEMPTY on a non-empty directory.
    pub fn rmdir(&mut self, path: &str) -> MResult<()> {
        let (parent, name) = self.walk_parent(path, &self.tag("rmdir"))?;
        let full = parent.dentry.child_path(&name);
        let k = &self.k;
        let sb = parent.mnt.sb.clone();
        // The mutant checks for a mount on the directory before taking its semaphore.
        let unlocked = k.mutant(Mutant::RmdirMountpointUnlocked);
        let mounted_on = |d: &Dentry| {
            self.ctx.require(&rules::RMDIR_MOUNTPOINT, Some(sb.oid));
            let tree = k.tree.read(&self.ctx);
            tree.hash.iter().any(|((p, ino), v)| {
                *ino == d.ino
                    && !v.is_empty()
                    && tree
                        .links
                        .get(p)
                        .is_some_and(|l| Arc::ptr_eq(&l.mnt.sb, &sb))
            })
        };
        let early = if unlocked {
            let found = sb.contents(k, &self.ctx, "rmdir").lookup(&full);
            found.map(|(d, _)| mounted_on(&d))
        } else {
            None
        };
        k.down_i_sem(&self.ctx, &sb);
        let res = (|| {
            let (found, read_only) = {
                let fs = sb.contents(k, &self.ctx, "rmdir");
                (fs.lookup(&full), fs.read_only)
            };
            // may_delete: the victim must exist, then permission() is EROFS on a read-only fs.
            let (d, kind) = found.ok_or(MountError::NoEntry)?;
            if read_only {
                return Err(MountError::ReadOnly);
            }
            if kind != Kind::Dir {
                return Err(MountError::NotDir);
            }
            let mounted = match early {
                Some(m) => m,
                None => mounted_on(&d),
            };
            if mounted {
                return Err(MountError::Busy);
            }
            let mut fs = sb.contents(k, &self.ctx, "rmdir");
            if fs.has_children(&full) {
                return Err(MountError::NotEmpty);
            }
            fs.remove(&full);
            Ok(())
        })();
        k.up_i_sem(&self.ctx, &sb);
        k.path_release(&self.ctx, parent);
        res
    }

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

    /// `open(path, O_CREAT)` as handle `h`.
    pub fn open(&mut self, path: &str, h: &str) -> MResult<()> {
        let tag = format!("file {h} of {}", self.name);
        let nd = match self.walk(path, &tag) {
            Ok((nd, _)) => nd,
            // O_CREAT makes a name: a path ending in `.`, `..` or `/` names nothing to make, so
            // the walk's ENOENT stands (its parent may exist by now, which would otherwise turn
            // into rmdir's errnos for those components).
            Err(MountError::NoEntry) if !Kernel::last_is_name(path) => {
                return Err(MountError::NoEntry)
            }
            Err(MountError::NoEntry) => {
                let (parent, name) = self.walk_parent(path, &self.tag("open"))?;
                let full = parent.dentry.child_path(&name);
                let sb = parent.mnt.sb.clone();
                self.k.down_i_sem(&self.ctx, &sb);
                let created = {
                    let mut fs = sb.contents(&self.k, &self.ctx, "open O_CREAT");
                    fs.create(&parent.dentry, &full, Kind::File)
                        .map(|()| fs.lookup(&full).expect("just created").0)
                };
                self.k.up_i_sem(&self.ctx, &sb);
                // open_namei opens the dentry it created, in the directory it walked to, not
                // the result of a second walk from the root (which a concurrent lazy umount can
                // make fail after the file was created). A file another task created meanwhile
                // is opened (O_CREAT without O_EXCL) by a walk, as before.
                let nd = match created {
                    Ok(dentry) => {
                        let base = PathRef {
                            mnt: parent.mnt.clone(),
                            dentry,
                            tag: String::new(),
                        };
                        Ok(Some(self.k.path_get(&self.ctx, &base, &tag)))
                    }
                    Err(MountError::Exists) => Ok(None),
                    Err(e) => Err(e),
                };
                self.k.path_release(&self.ctx, parent);
                match nd? {
                    Some(nd) => nd,
                    None => self.walk(path, &tag)?.0,
                }
            }
            Err(e) => return Err(e),
        };
        if let Some(old) = self.files.insert(
            h.to_string(),
            OpenFile {
                path: nd,
                anon_ns: None,
            },
        ) {
            self.release_file(old);
        }
        Ok(())
    }

    fn release_file(&self, f: OpenFile) {
        if let Some(ns) = f.anon_ns {
            // dissolve_on_fput: the anonymous namespace goes first.
            self.k.put_namespace(&self.ctx, &ns, &f.path.tag);
        }
        self.k.path_release(&self.ctx, f.path);
    }

    /// `close(h)`.
    pub fn close(&mut self, h: &str) -> MResult<()> {
        let f = self.files.remove(h).ok_or(MountError::BadHandle)?;
        self.release_file(f);
        Ok(())
    }

    /// `stat(path)`: a path walk and release.
    pub fn stat(&mut self, path: &str) -> MResult<()> {
        let (nd, _) = self.walk(path, &self.tag("stat"))?;
        self.k.path_release(&self.ctx, nd);
        Ok(())
    }

    fn set_fs(&mut self, path: &str, which: &str) -> MResult<()> {
        let tag = format!("{which} of {}", self.name);
        let (nd, kind) = self.walk(path, &tag)?;
        if kind != Kind::Dir {
            self.k.path_release(&self.ctx, nd);
            return Err(MountError::NotDir);
        }
        let slot = if which == "root" {
            FsSlot::Root
        } else {
            FsSlot::Pwd
        };
        let (Some(cell), Some(fs)) = (&self.fs_cell, self.fs.as_mut()) else {
            self.k.path_release(&self.ctx, nd);
            return Err(MountError::Invalid);
        };
        let copy = self.k.set_fs(&self.ctx, cell, slot, nd);
        match slot {
            FsSlot::Root => fs.root = copy,
            FsSlot::Pwd => fs.pwd = copy,
        }
        Ok(())
    }

    /// `chdir(path)`.
    pub fn chdir(&mut self, path: &str) -> MResult<()> {
        self.set_fs(path, "cwd")
    }

    /// `chroot(path)`.
    pub fn chroot(&mut self, path: &str) -> MResult<()> {
        self.check_cap()?;
        self.set_fs(path, "root")
    }

    /// `clone(CLONE_NEWNS)` with the thread continuing as the child, the parent's references
    /// released as if it exited at once (equivalently `unshare(CLONE_NEWNS)`): `copy_namespace`.
    /// `fail` injects an allocation failure in `copy_tree`.
    pub fn clone_newns(&mut self, fail: bool) -> MResult<()> {
        self.check_cap()?;
        let k = self.k.clone();
        let ctx = &self.ctx;
        let old = self.ns.clone().ok_or(MountError::Invalid)?;
        let holder = format!("task {}", self.name);
        let new = k.alloc_namespace(ctx, &holder);
        // The mutant copies a tree that other tasks of the namespace are changing.
        let locked = !k.mutant(Mutant::CopyNamespaceUnlocked);
        if locked {
            k.ns_down_write(ctx, &old);
        }
        let pairs = match k.copy_tree(ctx, &old, &new, fail) {
            Ok(p) => p,
            Err(e) => {
                if locked {
                    k.ns_up_write(ctx, &old);
                }
                if k.mutant(Mutant::CopyNamespaceNullRoot) {
                    self.ns = Some(new);
                    k.put_namespace(ctx, &old, &holder);
                    return Ok(());
                }
                crate::sync::oracle_atomic(|| {
                    let now = new.count.fetch_sub(1, Ordering::SeqCst) - 1;
                    k.ledger
                        .put(ctx, new.oid, Counter::NsCount, &holder, 1, now);
                });
                new.freed(&k, ctx);
                return Err(e);
            }
        };
        *new.root.lock().unwrap_or_else(|p| p.into_inner()) = pairs.first().map(|(_, c)| c.clone());
        let cell = self.fs_cell.clone().ok_or(MountError::Invalid)?;
        let fs = self.fs.as_mut().ok_or(MountError::Invalid)?;
        for (which, slot) in [(FsSlot::Root, &mut fs.root), (FsSlot::Pwd, &mut fs.pwd)] {
            if let Some((_, copy)) = pairs.iter().find(|(o, _)| Arc::ptr_eq(o, &slot.mnt)) {
                let base = PathRef {
                    mnt: copy.clone(),
                    dentry: slot.dentry.clone(),
                    tag: String::new(),
                };
                let fresh = k.path_get(ctx, &base, &slot.tag);
                *slot = k.set_fs(ctx, &cell, which, fresh);
            }
        }
        if locked {
            k.ns_up_write(ctx, &old);
        }
        self.ns = Some(new);
        k.put_namespace(ctx, &old, &holder);
        Ok(())
    }

    /// `exit`: close every file, `exit_fs`, `exit_namespace`. `get_super` handles are not
    /// released (the kernel has no such per-task list): a thread that ends holding one leaks it.
    pub fn exit(&mut self) -> MResult<()> {
        self.fs.take().ok_or(MountError::Invalid)?;
        for (_, f) in std::mem::take(&mut self.files) {
            self.release_file(f);
        }
        if let Some(cell) = self.fs_cell.take() {
            self.k.fs_exit(&self.ctx, &cell);
        }
        if let Some(ns) = self.ns.take() {
            self.k
                .put_namespace(&self.ctx, &ns, &format!("task {}", self.name));
        }
        Ok(())
    }

    /// `get_super(dev)` as handle `h`: 0, or NULL when the device has no live filesystem (as
    /// fs/super.c `get_super()` returns NULL; the handle then names nothing).
    pub fn get_super(&mut self, dev: &str, h: &str) -> OpResult {
        let tag = format!("get_super {h} of {}", self.name);
        match self.k.get_super(&self.ctx, dev, &tag) {
            Some(sb) => {
                self.sbs.insert(h.to_string(), SbHandle { sb, tag });
                OpResult::Ok
            }
            None => {
                // `h = get_super(dev)` is NULL now: whatever it named before is no longer named.
                self.sbs.remove(h);
                OpResult::Null
            }
        }
    }

    /// `drop_super(h)`.
    pub fn drop_super(&mut self, h: &str) -> MResult<()> {
        let hd = self.sbs.remove(h).ok_or(MountError::BadHandle)?;
        self.k.drop_super(&self.ctx, &hd.sb, &hd.tag);
        Ok(())
    }

    fn sb_handle(&self, h: &str) -> MResult<Arc<SuperBlock>> {
        self.sbs
            .get(h)
            .map(|hd| hd.sb.clone())
            .ok_or(MountError::BadHandle)
    }

    /// `->statfs` on a held super_block.
    pub fn statfs(&mut self, h: &str) -> MResult<()> {
        let sb = self.sb_handle(h)?;
        self.k.statfs(&self.ctx, &sb);
        Ok(())
    }

    /// `lock_super(h)`.
    pub fn lock_super(&mut self, h: &str) -> MResult<()> {
        let sb = self.sb_handle(h)?;
        self.k.lock_super(&self.ctx, &sb);
        Ok(())
    }

    /// `unlock_super(h)`.
    pub fn unlock_super(&mut self, h: &str) -> MResult<()> {
        let sb = self.sb_handle(h)?;
        self.k.unlock_super(&self.ctx, &sb);
        Ok(())
    }

    /// `ustat(dev)`: `get_super`, `->statfs`, `drop_super`.
    pub fn ustat(&mut self, dev: &str) -> MResult<()> {
        let tag = format!("ustat by {}", self.name);
        let sb = self
            .k
            .get_super(&self.ctx, dev, &tag)
            .ok_or(MountError::Invalid)?;
        self.k.statfs(&self.ctx, &sb);
        if !self.k.mutant(Mutant::MissingDropSuper) {
            self.k.drop_super(&self.ctx, &sb, &tag);
        }
        Ok(())
    }

    /// `sync()`: the `super_blocks` walk.
    pub fn sync(&mut self) -> MResult<()> {
        self.k.sync_filesystems(&self.ctx);
        Ok(())
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

fn relative(path: &str, base: &str) -> Option<String> {
    if base == "/" {
        return Some(path.to_string());
    }
    if path == base {
        return Some("/".into());
    }
    path.strip_prefix(base)
        .filter(|r| r.starts_with('/'))
        .map(str::to_string)
}

fn join(a: &str, b: &str) -> String {
    match (a, b) {
        ("/", b) => b.to_string(),
        (a, "/") => a.to_string(),
        (a, b) => format!("{a}{b}"),
    }
}
