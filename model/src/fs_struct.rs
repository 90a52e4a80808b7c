//! `struct fs_struct` shared with the kernel: each task's root and cwd, reachable by
//! `chroot_fs_refs` (pivot_root) as well as by the task itself.
//!
//! What it models: fs/namespace.c `set_fs_root()`, `set_fs_pwd()` and `chroot_fs_refs()` of
//! 2.6.11 (the `tasklist_lock` walk over every task's `fs_struct`, each changed under its
//! `fs->lock`). Each task's `fs_struct` is an [`FsCell`] kept in the kernel's registry; the cell
//! owns the task's root and cwd references (one mount and one dentry reference each, under the
//! task's tags). The task keeps a copy of both paths without references ([`FsView`]) that it
//! reads during its calls; `chroot_fs_refs` moves the references in the cell and leaves the task
//! a fresh copy, which the task picks up at the start of its next call ([`Kernel::fs_refresh`]),
//! as a path walk of 2.6.11 reads `current->fs` once at its start.
//!
//! Invariants: the references a task holds on its root and cwd are exactly those of its cell
//! (`owned`), so `chroot_fs_refs` takes the new pair and puts the old one with the task's tag and
//! the lifetime oracle sees every count stay balanced; no model (facade) operation runs while a
//! cell's lock is held (values are moved in and out, references taken and put outside), so the
//! lock, a std mutex invisible to the checkers, adds no interleaving and never blocks a checker's
//! thread.

use std::sync::{Arc as StdArc, Mutex as StdMutex, MutexGuard as StdGuard};

use crate::kernel::Kernel;
use crate::namei::PathRef;
use crate::oracle::Ctx;

/// A path without references of its own: the task's copy of its root or cwd (the references
/// are its [`FsCell`]'s).
pub fn view_of(p: &PathRef) -> PathRef {
    PathRef {
        mnt: p.mnt.clone(),
        dentry: p.dentry.clone(),
        tag: p.tag.clone(),
    }
}

/// The task's copy of its `fs_struct`: root and cwd without references of their own.
#[derive(Debug)]
pub struct FsView {
    /// `root`/`rootmnt`.
    pub root: PathRef,
    /// `pwd`/`pwdmnt`.
    pub pwd: PathRef,
}

#[derive(Debug, Default)]
struct FsState {
    /// The references on (root, cwd); `None` once the task has exited (`exit_fs`).
    owned: Option<(PathRef, PathRef)>,
    /// Copies of a root / cwd that `chroot_fs_refs` installed, for the task's next refresh.
    fresh_root: Option<PathRef>,
    fresh_pwd: Option<PathRef>,
}

/// One task's `fs_struct` as the kernel sees it.
#[derive(Debug)]
pub struct FsCell {
    /// The task's name (for the trace).
    pub owner: String,
    state: StdMutex<FsState>,
}

impl FsCell {
    fn lock(&self) -> StdGuard<'_, FsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Which half of an `fs_struct`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsSlot {
    /// `root`.
    Root,
    /// `pwd`.
    Pwd,
}

fn same(a: &PathRef, b: &PathRef) -> bool {
    crate::sync::Arc::ptr_eq(&a.mnt, &b.mnt) && a.dentry == b.dentry
}

impl Kernel {
    /// Install a task's `fs_struct` holding `root` and `pwd` (references already taken for the
    /// task) in the registry; returns the cell and the task's copy.
    pub fn fs_install(&self, owner: &str, root: PathRef, pwd: PathRef) -> (StdArc<FsCell>, FsView) {
        let view = FsView {
            root: view_of(&root),
            pwd: view_of(&pwd),
        };
        let cell = StdArc::new(FsCell {
            owner: owner.to_string(),
            state: StdMutex::new(FsState {
                owned: Some((root, pwd)),
                ..FsState::default()
            }),
        });
        self.registry().fs_structs.push(cell.clone());
        (cell, view)
    }

    /// `set_fs_root` / `set_fs_pwd` by the task itself: install `new` (its references taken for
    /// the task) and put the old pair. Returns the task's new copy, or gives `new` back when the
    /// task has exited.
    pub fn set_fs(&self, ctx: &Ctx, cell: &FsCell, slot: FsSlot, new: PathRef) -> PathRef {
        let copy = view_of(&new);
        let (old, stale) = {
            let mut st = cell.lock();
            let stale = match slot {
                FsSlot::Root => st.fresh_root.take(),
                FsSlot::Pwd => st.fresh_pwd.take(),
            };
            match st.owned.as_mut() {
                Some((root, pwd)) => {
                    let at = if slot == FsSlot::Root { root } else { pwd };
                    (Some(std::mem::replace(at, new)), stale)
                }
                None => (Some(new), stale),
            }
        };
        drop(stale);
        if let Some(old) = old {
            self.path_release(ctx, old);
        }
        copy
    }

    /// The task's copies of what `chroot_fs_refs` installed since its last refresh.
    pub fn fs_refresh(&self, cell: &FsCell, view: &mut FsView) {
        let (r, p) = {
            let mut st = cell.lock();
            (st.fresh_root.take(), st.fresh_pwd.take())
        };
        if let Some(r) = r {
            view.root = r;
        }
        if let Some(p) = p {
            view.pwd = p;
        }
    }

    /// `exit_fs`: put the task's root and cwd.
    pub fn fs_exit(&self, ctx: &Ctx, cell: &FsCell) {
        let (owned, a, b) = {
            let mut st = cell.lock();
            (st.owned.take(), st.fresh_root.take(), st.fresh_pwd.take())
        };
        drop((a, b));
        if let Some((root, pwd)) = owned {
            self.path_release(ctx, root);
            self.path_release(ctx, pwd);
        }
    }

    /// `chroot_fs_refs(old_root, new_root)`: every task whose root or cwd is `old` gets `new`
    /// instead (a reference pair taken for it under its tag, the old pair put), root and cwd of
    /// one task in one step under its `fs->lock` (as `replace_path` twice inside one
    /// `write_seqcount` section of modern kernels). Returns how many roots and cwds moved.
    pub fn chroot_fs_refs(&self, ctx: &Ctx, old: &PathRef, new: &PathRef) -> usize {
        let cells: Vec<StdArc<FsCell>> = self.registry().fs_structs.clone();
        let mut moved = 0;
        for cell in cells {
            // The tags of the task's references on the halves that are `old`.
            let tags: Vec<(FsSlot, String)> = {
                let st = cell.lock();
                st.owned.as_ref().map_or_else(Vec::new, |(r, p)| {
                    [(FsSlot::Root, r), (FsSlot::Pwd, p)]
                        .into_iter()
                        .filter(|(_, at)| same(at, old))
                        .map(|(slot, at)| (slot, at.tag.clone()))
                        .collect()
                })
            };
            if tags.is_empty() {
                continue;
            }
            let mut fresh: Vec<(FsSlot, PathRef, PathRef)> = tags
                .iter()
                .map(|(slot, tag)| {
                    let f = self.path_get(ctx, new, tag);
                    let copy = view_of(&f);
                    (*slot, f, copy)
                })
                .collect();
            let mut put: Vec<PathRef> = Vec::new();
            let mut stale: Vec<PathRef> = Vec::new();
            {
                let mut st = cell.lock();
                let FsState {
                    owned,
                    fresh_root,
                    fresh_pwd,
                } = &mut *st;
                for (slot, f, copy) in fresh.drain(..) {
                    let at = owned
                        .as_mut()
                        .map(|(r, p)| if slot == FsSlot::Root { r } else { p })
                        .filter(|at| same(at, old));
                    match at {
                        Some(at) => {
                            put.push(std::mem::replace(at, f));
                            let pending = if slot == FsSlot::Root {
                                &mut *fresh_root
                            } else {
                                &mut *fresh_pwd
                            };
                            stale.extend(pending.replace(copy));
                            moved += 1;
                        }
                        // The task changed it (or exited) meanwhile: give back what we took.
                        None => {
                            put.push(f);
                            stale.push(copy);
                        }
                    }
                }
            }
            drop(stale);
            for p in put {
                self.path_release(ctx, p);
            }
        }
        moved
    }
}

impl Kernel {
    /// A copy of the root `chroot_fs_refs` installed for the task that it has not picked up yet
    /// (for a view of the task from outside it: its mount table after the threads joined).
    pub fn fs_fresh_root(&self, cell: &FsCell) -> Option<PathRef> {
        let r = cell.lock().fresh_root.take()?;
        let copy = view_of(&r);
        let newer = {
            let mut st = cell.lock();
            match st.fresh_root {
                None => {
                    st.fresh_root = Some(r);
                    None
                }
                Some(_) => Some(r),
            }
        };
        drop(newer);
        Some(copy)
    }
}
