//! A task (process) and the system calls the model offers it.
//!
//! Follows fs/namespace.c (`sys_mount` → `do_add_mount` / `do_loopback`, `sys_umount` →
//! `do_umount`, `copy_namespace`, `exit_namespace`), fs/open.c (`sys_open`, `sys_close`,
//! `sys_chdir`, `sys_chroot`, `sys_ustat`), fs/namei.c (`sys_mkdir`, `sys_rmdir`), fs/super.c
//! (`get_super`, `drop_super`, `sync_supers`), kernel/exit.c (`exit_fs`, `exit_namespace`) and,
//! for catalog bug 11, the modern `fsmount` (fs/namespace.c, 5.2+). The calls live beside the
//! kernel file they follow: `namei` (fs/namei.c), `namespace` (fs/namespace.c),
//! `open` (fs/open.c), `super_calls` (fs/super.c) and `crate::pivot_root`; this file keeps
//! the task itself: `boot`, `fork`, `clone(CLONE_NEWNS)` (kernel/fork.c) and `exit`
//! (kernel/exit.c).
//!
//! Invariants: a task's root and cwd each hold one mount and one dentry reference; an open
//! file holds one of each; a task holds one reference on its namespace until it exits; every
//! operation returns an errno-like [`MountError`] on failure and leaves no reference behind.

use std::collections::BTreeMap;

use crate::error::{MResult, MountError};
use crate::fs::{Dentry, Kind};
use crate::fs_struct::{FsCell, FsSlot};
use crate::kernel::{Config, Kernel};
use crate::mount::attach_tag;
use crate::namei::PathRef;
use crate::namespace::Namespace;
use crate::oracle::{Counter, Ctx, Ledger};
use crate::super_block::SuperBlock;
use crate::sync::{Arc, Ordering};
use crate::variant::Mutant;

/// The task's copy of its `struct fs_struct` (root and cwd; the references are its
/// [`FsCell`]'s, see [`crate::fs_struct`]).
pub use crate::fs_struct::FsView as FsStruct;

mod namei;
mod namespace;
mod open;
mod super_calls;

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
}
