//! `mkdir` and `rmdir`: fs/namei.c `sys_mkdir()` and `sys_rmdir()`, the directory changed under
//! its filesystem's directory semaphore (`i_sem`).
//!
//! Invariants: `vfs_rmdir()`'s EBUSY test (is something mounted on the victim?) is made under
//! that semaphore, which `graft_tree` holds while it attaches a mount (rule `rmdir-mountpoint`);
//! the walk's reference on the parent is put before the call returns, whatever it returns.

use super::Task;
use crate::error::{MResult, MountError};
use crate::fs::{Dentry, Kind};
use crate::rules;
use crate::sync::Arc;
use crate::variant::Mutant;

impl Task {
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
}
