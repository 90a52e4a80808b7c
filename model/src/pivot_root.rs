//! `pivot_root(new_root, put_old)`: the caller's root mount moves to `put_old` and `new_root`
//! takes its place; every task whose root or cwd was the old root moves to the new one.
//!
//! What it models: fs/namespace.c `sys_pivot_root()` of 2.6.11 (`down_write(&namespace->sem)`,
//! `down(&old_nd.dentry->d_inode->i_sem)`, the checks, `detach_mnt` × 2 and `attach_mnt` × 2
//! under `vfsmount_lock`, then `chroot_fs_refs`) with the checks of modern kernels: both paths
//! directories (ENOTDIR), the root and new_root in the caller's namespace (EINVAL), a deleted
//! new_root or put_old (ENOENT), new_root or put_old on the root's mount (EBUSY), the root and
//! new_root each the root of an attached mount (EINVAL), put_old at or under new_root (EINVAL)
//! and, since CVE-2014-7970's fix, new_root under the root (EINVAL). The `pivot-root-loop`
//! mutant drops that last check; the `pivot-root-lock-order` mutant takes put_old's directory
//! semaphore before the namespace's, as modern `lock_mount()` does.
//!
//! Invariants: the tree stays a tree (`attach_mnt` refuses to make a mount its own ancestor:
//! an `invariant` finding); every reference taken is put (the walks' and the root's at the end,
//! the detached parents' and mountpoints' after the tree lock, the moved roots' and cwds' in
//! `chroot_fs_refs`); lock order `namespace->sem` → `i_sem` → tree lock, as `do_add_mount`.

use crate::error::{MResult, MountError};
use crate::fs::Kind;
use crate::kernel::Tree;
use crate::mount::Mount;
use crate::namei::PathRef;
use crate::oracle::Oid;
use crate::sync::Arc;
use crate::task::Task;
use crate::variant::Mutant;

/// `is_subdir(d, ancestor)` on the paths of one filesystem.
fn is_subdir(d: &str, ancestor: &str) -> bool {
    ancestor == "/"
        || d == ancestor
        || d.strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `is_path_reachable(mnt, dentry, root)`: climbing from (`mnt`, `dentry`) through
/// `mnt_parent`/`mnt_mountpoint` reaches `root`'s mount at a dentry under `root`'s dentry.
fn is_path_reachable(tree: &Tree, mnt: &Arc<Mount>, dentry: &str, root: &PathRef) -> bool {
    let mut m: Oid = mnt.oid;
    let mut d = dentry.to_string();
    for _ in 0..=tree.links.len() {
        if m == root.mnt.oid {
            break;
        }
        let Some((parent, mp)) = tree
            .links
            .get(&m)
            .and_then(|l| l.parent.as_ref().map(|p| p.oid).zip(l.mountpoint.clone()))
        else {
            break;
        };
        d = mp.path;
        m = parent;
    }
    m == root.mnt.oid && is_subdir(&d, &root.dentry.path)
}

fn has_parent(tree: &Tree, m: &Mount) -> bool {
    tree.links.get(&m.oid).is_some_and(|l| l.parent.is_some())
}

impl Task {
    /// `pivot_root(new_root, put_old)`.
    pub fn pivot_root(&mut self, new_root: &str, put_old: &str) -> MResult<()> {
        self.check_cap()?;
        let tag = self.tag("pivot_root");
        // user_path_dir(): LOOKUP_FOLLOW | LOOKUP_DIRECTORY, new_root first.
        let (new, kind) = self.walk(new_root, &tag)?;
        if kind != Kind::Dir {
            self.k.path_release(&self.ctx, new);
            return Err(MountError::NotDir);
        }
        let old = match self.walk(put_old, &tag) {
            Ok((old, Kind::Dir)) => old,
            Ok((old, _)) => {
                self.k.path_release(&self.ctx, old);
                self.k.path_release(&self.ctx, new);
                return Err(MountError::NotDir);
            }
            Err(e) => {
                self.k.path_release(&self.ctx, new);
                return Err(e);
            }
        };
        // get_fs_root().
        let root = match self.fs() {
            Ok(fs) => self.k.path_get(&self.ctx, &fs.root, &tag),
            Err(e) => {
                self.k.path_release(&self.ctx, old);
                self.k.path_release(&self.ctx, new);
                return Err(e);
            }
        };
        let res = self.pivot_locked(&new, old, &root);
        self.k.path_release(&self.ctx, root);
        self.k.path_release(&self.ctx, new);
        res
    }

    /// Under `namespace->sem` and put_old's directory semaphore: the checks, the move and
    /// `chroot_fs_refs`. Puts `old`.
    fn pivot_locked(&mut self, new: &PathRef, mut old: PathRef, root: &PathRef) -> MResult<()> {
        let k = self.k.clone();
        let ctx = &self.ctx;
        let Some(ns) = self.ns.clone() else {
            k.path_release(ctx, old);
            return Err(MountError::Invalid);
        };
        let inverted = k.mutant(Mutant::PivotRootLockOrder);
        if inverted {
            k.down_i_sem(ctx, &old.mnt.sb);
        }
        k.ns_down_write(ctx, &ns);
        // lock_mount(): put_old is the top of whatever was mounted on it meanwhile.
        let before = old.mnt.sb.clone();
        k.follow_down_all(ctx, &mut old);
        let isem = if inverted { before } else { old.mnt.sb.clone() };
        if !inverted {
            k.down_i_sem(ctx, &isem);
        }
        let res = (|| {
            let live = |p: &PathRef| p.mnt.sb.dentry_is_live(&p.dentry);
            if !live(&old) {
                return Err(MountError::NoEntry);
            }
            if !self.check_mnt(root) || !self.check_mnt(new) {
                return Err(MountError::Invalid);
            }
            if !live(new) {
                return Err(MountError::NoEntry);
            }
            if Arc::ptr_eq(&new.mnt, &root.mnt) || Arc::ptr_eq(&old.mnt, &root.mnt) {
                // A loop, on the same filesystem.
                return Err(MountError::Busy);
            }
            let mut tree = k.tree.write(ctx);
            if root.dentry != root.mnt.root || !has_parent(&tree, &root.mnt) {
                return Err(MountError::Invalid);
            }
            if new.dentry != new.mnt.root || !has_parent(&tree, &new.mnt) {
                return Err(MountError::Invalid);
            }
            // Make sure put_old can be reached from new_root.
            if !is_path_reachable(&tree, &old.mnt, &old.dentry.path, new) {
                return Err(MountError::Invalid);
            }
            // Make certain new_root is below the root (the fix of CVE-2014-7970).
            if !k.mutant(Mutant::PivotRootLoop)
                && !is_path_reachable(&tree, &new.mnt, &new.dentry.path, root)
            {
                return Err(MountError::Invalid);
            }
            let mut rel = k.detach_mnt(&mut tree, &new.mnt);
            let (root_parent, root_mp) = {
                let l = tree.links.get(&root.mnt.oid).expect("links of the root");
                (
                    l.parent.clone().expect("checked: attached"),
                    l.mountpoint
                        .clone()
                        .expect("an attached mount has a mountpoint"),
                )
            };
            rel.extend(k.detach_mnt(&mut tree, &root.mnt));
            // Mount the old root on put_old, and new_root where the old root was.
            k.attach_mnt(
                ctx,
                &mut tree,
                &root.mnt,
                &old.mnt,
                &old.dentry,
                Some(ns.clone()),
            );
            k.attach_mnt(
                ctx,
                &mut tree,
                &new.mnt,
                &root_parent,
                &root_mp,
                Some(ns.clone()),
            );
            drop(tree);
            k.chroot_fs_refs(ctx, root, new);
            k.release(ctx, rel);
            Ok(())
        })();
        k.up_i_sem(ctx, &isem);
        k.ns_up_write(ctx, &ns);
        k.path_release(ctx, old);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::is_subdir;

    #[test]
    fn is_subdir_is_by_whole_components() {
        assert!(is_subdir("/a/b", "/a"));
        assert!(is_subdir("/a", "/a"));
        assert!(is_subdir("/x", "/"));
        assert!(!is_subdir("/ab", "/a"));
        assert!(!is_subdir("/a", "/a/b"));
    }
}
