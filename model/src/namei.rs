//! Path walk: resolving a path from a task's root or cwd, crossing mountpoints.
//!
//! Follows fs/namei.c of 2.4.17 / 2.6.11 (`path_walk`, `link_path_walk`, `follow_down`,
//! `__follow_down`, `path_release`). A walk in progress holds one mount reference and one dentry
//! reference, both under the walker's tag; crossing a mountpoint takes the child mount under the
//! tree lock (`lookup_mnt`), then drops the old dentry, and only then the old mount.
//!
//! Invariant: the old dentry is put before the mount that keeps its filesystem alive (the 2005
//! "namei fixes"; the `follow-down-early-mntput` mutant reverses it). A detached mount is never
//! reached: the walk only enters mounts through the hash, which `detach_mnt` leaves.

use crate::error::{MResult, MountError};
use crate::fs::{Dentry, Kind};
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
        ctx.step(
            format!("follow_down mnt#{} -> mnt#{}", old_mnt.oid.0, child.oid.0),
            "",
        );
        if self.mutant(Mutant::FollowDownEarlyMntput) {
            self.mntput(ctx, &old_mnt, &p.tag);
            self.dput(ctx, &old_mnt.sb, &old_dentry, &p.tag);
        } else {
            self.dput(ctx, &old_mnt.sb, &old_dentry, &p.tag);
            self.mntput(ctx, &old_mnt, &p.tag);
        }
        true
    }

    /// Look `name` up in the directory `p` and move `p` onto it (no mount crossing).
    fn walk_component(&self, ctx: &Ctx, p: &mut PathRef, name: &str) -> MResult<Kind> {
        let path = p.dentry.child_path(name);
        let found = p
            .mnt
            .sb
            .contents(self, ctx, &format!("lookup {path}"))
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
        let comps: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        for name in comps {
            if kind != Kind::Dir {
                self.path_release(ctx, p);
                return Err(MountError::NotDir);
            }
            match self.walk_component(ctx, &mut p, name) {
                Ok(k) => kind = k,
                Err(e) => {
                    self.path_release(ctx, p);
                    return Err(e);
                }
            }
            while self.follow_down(ctx, &mut p) {
                kind = Kind::Dir;
            }
        }
        Ok((p, kind))
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
        // The last component is not a name: LAST_ROOT (`/`) is EBUSY, LAST_DOT (`.`) EINVAL, as
        // sys_rmdir answers; sys_mkdir turns both into EEXIST (lookup_create).
        if last.is_empty() || last == "." {
            self.path_release(ctx, p);
            return Err(if last.is_empty() {
                MountError::Busy
            } else {
                MountError::Invalid
            });
        }
        Ok((p, last.to_string()))
    }
}
