//! Path walk: resolving a path from a task's root or cwd, crossing mountpoints.
//!
//! Follows fs/namei.c of 2.4.17 / 2.6.11 (`path_walk`, `link_path_walk`, `follow_down`,
//! `__follow_down`, `follow_dotdot`, `path_release`). A walk in progress holds one mount
//! reference and one dentry reference, both under the walker's tag; crossing a mountpoint takes
//! the child mount under the tree lock (`lookup_mnt`), then drops the old dentry, and only then
//! the old mount. `..` (`follow_dotdot`) stays at the task's root; inside a mount it moves to
//! the parent directory; at a mount's root it climbs to the mountpoint in the parent mount
//! (`mnt_parent`, `mnt_mountpoint` read and pinned under the tree lock, as 2.4 does under
//! `dcache_lock`) and goes on from there, so `..` of a mount root is the mountpoint's parent; a
//! detached mount or a namespace root has no parent to climb to and stays at its root; the
//! result is followed down if something is mounted on it.
//!
//! Invariant: the old dentry is put before the mount that keeps its filesystem alive (the 2005
//! "namei fixes"; the `follow-down-early-mntput` mutant reverses it). A detached mount is never
//! reached: the walk only enters mounts through the hash, which `detach_mnt` leaves, and `..`
//! only climbs through `mnt_parent`, which `detach_mnt` clears.

use crate::error::{MResult, MountError};
use crate::fs::{parent_of, Dentry, Kind};
use crate::kernel::Kernel;
use crate::mount::Mount;
use crate::oracle::Ctx;
use crate::sync::Arc;
use crate::variant::Mutant;

/// A (mount, dentry) pair with one reference on each, held under `tag` (`struct nameidata`'s
/// result, a `struct path`).
#[derive(Debug)]
pub struct PathRef {
    /// The mount.
    pub mnt: Arc<Mount>,
    /// The dentry in `mnt`'s filesystem.
    pub dentry: Dentry,
    /// Who holds the two references.
    pub tag: String,
}

impl Kernel {
    /// Take a second reference pair on `p`'s mount and dentry for `tag`.
    pub fn path_get(&self, ctx: &Ctx, p: &PathRef, tag: &str) -> PathRef {
        self.mntget(ctx, &p.mnt, tag);
        self.dget(ctx, &p.mnt.sb, &p.dentry, tag);
        PathRef {
            mnt: p.mnt.clone(),
            dentry: p.dentry.clone(),
            tag: tag.to_string(),
        }
    }

    /// `path_release`: `dput` then `mntput`.
    pub fn path_release(&self, ctx: &Ctx, p: PathRef) {
        self.dput(ctx, &p.mnt.sb, &p.dentry, &p.tag);
        self.mntput(ctx, &p.mnt, &p.tag);
    }

    /// `follow_down`: if a mount sits on `p`, move `p` onto that mount's root. Returns whether it
    /// moved.
    pub fn follow_down(&self, ctx: &Ctx, p: &mut PathRef) -> bool {
        let Some(child) = self.lookup_mnt(ctx, &p.mnt, &p.dentry, &p.tag) else {
            return false;
        };
        self.dget(ctx, &child.sb, &child.root, &p.tag);
        let old_mnt = std::mem::replace(&mut p.mnt, child.clone());
        let old_dentry = std::mem::replace(&mut p.dentry, child.root.clone());
        ctx.crossed_mountpoint();
        ctx.note(crate::oracle::Note::FollowDown {
            from: old_mnt.oid,
            to: child.oid,
        });
        if self.mutant(Mutant::FollowDownEarlyMntput) {
            self.mntput(ctx, &old_mnt, &p.tag);
            self.dput(ctx, &old_mnt.sb, &old_dentry, &p.tag);
        } else {
            self.dput(ctx, &old_mnt.sb, &old_dentry, &p.tag);
            self.mntput(ctx, &old_mnt, &p.tag);
        }
        true
    }

    /// `follow_dotdot`: move `p` to its parent directory, climbing out of mounts whose root it is,
    /// never above `root` (the task's root), then follow down what is mounted there.
    pub fn follow_dotdot(&self, ctx: &Ctx, p: &mut PathRef, root: &PathRef) {
        loop {
            if Arc::ptr_eq(&p.mnt, &root.mnt) && p.dentry == root.dentry {
                break;
            }
            if p.dentry != p.mnt.root {
                let parent_path = parent_of(&p.dentry.path);
                let d = p
                    .mnt
                    .sb
                    .contents(self, ctx, "follow_dotdot: d_parent")
                    .lookup(parent_path)
                    .map_or(
                        // The directory was removed with its parent: d_parent is a dead dentry,
                        // in which every lookup fails.
                        Dentry {
                            path: parent_path.to_string(),
                            ino: 0,
                        },
                        |(d, _)| d,
                    );
                self.dget(ctx, &p.mnt.sb, &d, &p.tag);
                let old = std::mem::replace(&mut p.dentry, d);
                self.dput(ctx, &p.mnt.sb, &old, &p.tag);
                break;
            }
            // At a mount's root: climb to its mountpoint in the parent mount, pinned under the
            // tree lock (2.4: `mntget(mnt_parent)`, `dget(mnt_mountpoint)` under dcache_lock).
            let up = {
                let tree = self.tree.read(ctx);
                tree.links
                    .get(&p.mnt.oid)
                    .and_then(|l| l.parent.clone().zip(l.mountpoint.clone()))
                    .map(|(parent, mp)| {
                        self.mntget(ctx, &parent, &p.tag);
                        self.dget(ctx, &parent.sb, &mp, &p.tag);
                        (parent, mp)
                    })
            };
            let Some((parent, mp)) = up else {
                break;
            };
            let old_mnt = std::mem::replace(&mut p.mnt, parent);
            let old_dentry = std::mem::replace(&mut p.dentry, mp);
            self.dput(ctx, &old_mnt.sb, &old_dentry, &p.tag);
            self.mntput(ctx, &old_mnt, &p.tag);
        }
        self.follow_down_all(ctx, p);
    }

    /// `follow_down` as long as a mount sits on `p` (to the top of a stack of mounts). Returns
    /// whether it moved. A stack cannot be higher than the number of mounts the execution ever
    /// allocated: following more is a cycle in the mount hash, an `invariant` finding, never an
    /// endless walk.
    pub fn follow_down_all(&self, ctx: &Ctx, p: &mut PathRef) -> bool {
        let mut followed = 0;
        while self.follow_down(ctx, p) {
            followed += 1;
            let allocated = self.registry().mounts.len();
            if followed > allocated {
                self.ledger.invariant(
                    ctx,
                    Some(p.mnt.oid),
                    format!(
                        "the mount hash has a cycle: a path walk followed {followed} mounts down at one mountpoint, of {allocated} ever allocated (reached mnt#{})",
                        p.mnt.oid.0
                    ),
                );
            }
        }
        followed > 0
    }

    /// Look `name` up in the directory `p` and move `p` onto it (no mount crossing).
    fn walk_component(&self, ctx: &Ctx, p: &mut PathRef, name: &str) -> MResult<Kind> {
        let path = p.dentry.child_path(name);
        let found = p
            .mnt
            .sb
            .contents_with(self, ctx, || format!("lookup {path}"))
            .lookup(&path);
        let Some((d, kind)) = found else {
            return Err(MountError::NoEntry);
        };
        self.dget(ctx, &p.mnt.sb, &d, &p.tag);
        let old = std::mem::replace(&mut p.dentry, d);
        self.dput(ctx, &p.mnt.sb, &old, &p.tag);
        Ok(kind)
    }

    /// `path_walk` of `path` from `root` (absolute) or `cwd` (relative), following mounts at every
    /// component. The result holds references for `tag`.
    pub fn path_walk(
        &self,
        ctx: &Ctx,
        root: &PathRef,
        cwd: &PathRef,
        path: &str,
        tag: &str,
    ) -> MResult<(PathRef, Kind)> {
        let start = if path.starts_with('/') { root } else { cwd };
        let mut p = self.path_get(ctx, start, tag);
        let mut kind = Kind::Dir;
        // `.` is kept as a component: like every component after the first, it needs a directory
        // before it (`/f/.` of a file `f` is ENOTDIR in link_path_walk).
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for name in comps {
            if kind != Kind::Dir {
                self.path_release(ctx, p);
                return Err(MountError::NotDir);
            }
            if name == "." {
                continue;
            }
            if name == ".." {
                self.follow_dotdot(ctx, &mut p, root);
                kind = Kind::Dir;
                continue;
            }
            match self.walk_component(ctx, &mut p, name) {
                Ok(k) => kind = k,
                Err(e) => {
                    self.path_release(ctx, p);
                    return Err(e);
                }
            }
            // What is mounted on a dentry is of its kind (a device's root on a directory, a
            // file bound on a file: graft_tree's ENOTDIR rule), so `kind` holds across.
            self.follow_down_all(ctx, &mut p);
        }
        Ok((p, kind))
    }

    /// Whether the last component of `path` is a name (not `.`, `..` or the root): what
    /// open_namei's `LAST_NORM` test asks before it creates anything.
    pub fn last_is_name(path: &str) -> bool {
        let trimmed = path.trim_end_matches('/');
        let last = trimmed.rsplit('/').next().unwrap_or("");
        !(last.is_empty() || last == "." || last == "..")
    }

    /// Walk to the parent directory of `path` and return it with the last component's name.
    pub fn path_walk_parent(
        &self,
        ctx: &Ctx,
        root: &PathRef,
        cwd: &PathRef,
        path: &str,
        tag: &str,
    ) -> MResult<(PathRef, String)> {
        let trimmed = path.trim_end_matches('/');
        let (dir, last) = match trimmed.rfind('/') {
            Some(i) => (if i == 0 { "/" } else { &trimmed[..i] }, &trimmed[i + 1..]),
            None => (".", trimmed),
        };
        let (p, kind) = self.path_walk(ctx, root, cwd, dir, tag)?;
        if kind != Kind::Dir {
            self.path_release(ctx, p);
            return Err(MountError::NotDir);
        }
        // The last component is not a name: LAST_ROOT (`/`) is EBUSY, LAST_DOT (`.`) EINVAL,
        // LAST_DOTDOT (`..`) ENOTEMPTY, as sys_rmdir answers; sys_mkdir turns each into EEXIST
        // (lookup_create).
        if last.is_empty() || last == "." || last == ".." {
            self.path_release(ctx, p);
            return Err(match last {
                "" => MountError::Busy,
                "." => MountError::Invalid,
                _ => MountError::NotEmpty,
            });
        }
        Ok((p, last.to_string()))
    }
}
