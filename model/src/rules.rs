//! The kernel's locking rules that the model relies on, stated once and checked at every access.
//!
//! What it models: the "must be called with X held" comments and `lockdep_assert_held()` calls of
//! fs/super.c, fs/namespace.c and fs/namei.c. Each [`LockRule`] names the model function that
//! relies on it, what must be held, and the kernel source that states it; the function calls
//! [`crate::oracle::Ctx::require`] at the access, so a call made without the lock is a
//! `lock-rule` finding in the first execution that makes it, on every backend, whether or not the
//! interleaving that would exploit the missing lock is ever scheduled. Rules that the type system
//! already enforces (changing the tree needs the `&mut Tree` that only the tree lock's write
//! guard gives; changing the `super_blocks` list needs `sb_lock`'s exclusive guard) are not
//! repeated here.
//!
//! | rule | function | needs | kernel source |
//! |---|---|---|---|
//! | `s-count` | `Kernel::sb_get`, `Kernel::sb_put_locked` | `sb_lock` | fs/super.c `__put_super()`: "The caller must hold sb_lock" (2.6.11); `get_super()` `s_count++` under `sb_lock` |
//! | `s-root-clear` | `Kernel::deactivate_super` (kill_super) | `s_umount` of the sb, for write | fs/super.c `kill_super()` (2.4.17): `down_write(&sb->s_umount); … sb->s_root = NULL` |
//! | `write-super` | `Kernel::sync_filesystems` | `s_umount` of the sb | fs/super.c `sync_supers()` (2.6.11): `down_read(&sb->s_umount); if (sb->s_root && sb->s_dirt) sb->s_op->write_super(sb)` |
//! | `statfs` | `Kernel::statfs` | `s_umount` of the sb | fs/super.c `get_super()` returns the sb with `s_umount` held for read; fs/open.c `sys_ustat()` calls `->statfs` before `drop_super()` |
//! | `graft` | `Task::do_add_mount` (follow down, graft) | `namespace->sem` for write | fs/namespace.c `do_add_mount()` (2.4.17): `down_write(&current->namespace->sem)` before the "something was mounted here while we slept" loop and `graft_tree()` |
//! | `graft-mountpoint` | `Task::do_add_mount` (`d_unhashed` check) | `i_sem` of the mountpoint's filesystem | fs/namespace.c `graft_tree()` (2.4.17): `down(&nd->dentry->d_inode->i_zombie)` around the `d_unhashed` check and `attach_mnt` |
//! | `umount-busy` | `Task::do_umount` (busy check and detach) | `namespace->sem` for write and the tree lock | fs/namespace.c `do_umount()` (2.4.17): `down_write(&current->namespace->sem); spin_lock(&dcache_lock); if (atomic_read(&mnt->mnt_count) == 2 …` |
//! | `umount-tree` | `Kernel::umount_tree` | `namespace->sem` for write | fs/namespace.c `umount_tree()`, called from `do_umount()`, `__put_namespace()` and `mark_mounts_for_expiry()` under `namespace->sem` |
//! | `copy-tree` | `Kernel::copy_tree` | `namespace->sem` of the copied namespace, for write | fs/namespace.c `copy_namespace()` (2.4.17): `down_write(&tsk->namespace->sem); new_ns->root = copy_tree(…)` |
//! | `expire-ns-ref` | `Kernel::expire_mount` | the tree lock | M. Szeredi, "fix race in mark_mounts_for_expiry()" (2005): the namespace reference is taken with `vfsmount_lock` held |
//! | `rmdir-mountpoint` | `Task::rmdir` (mountpoint check) | `i_sem` of the directory's filesystem | fs/namei.c `vfs_rmdir()` (2.4.17): `d_mountpoint()` checked with `i_zombie` held, so no mount can be grafted meanwhile |

use crate::oracle::lockdep::{LockClass, LockMode, LockRule, Need};

/// `s_count` changes under `sb_lock`.
pub const S_COUNT: LockRule = LockRule {
    id: "s-count",
    function: "sb_get / __put_super",
    need: Need::Held(LockClass::SbLock, None),
    source: "fs/super.c __put_super(): \"The caller must hold sb_lock\"",
};

/// `kill_super` clears `s_root` with `s_umount` held for write.
pub const S_ROOT_CLEAR: LockRule = LockRule {
    id: "s-root-clear",
    function: "kill_super",
    need: Need::Held(LockClass::SUmount, Some(LockMode::Exclusive)),
    source: "fs/super.c kill_super(): down_write(&sb->s_umount) before sb->s_root = NULL",
};

/// `->write_super` is called with `s_umount` held.
pub const WRITE_SUPER: LockRule = LockRule {
    id: "write-super",
    function: "sync_supers",
    need: Need::Held(LockClass::SUmount, None),
    source: "fs/super.c sync_supers(): down_read(&sb->s_umount) around ->write_super",
};

/// `->statfs` on a super_block found by `get_super` is called with its `s_umount` held.
pub const STATFS: LockRule = LockRule {
    id: "statfs",
    function: "statfs (ustat, a get_super handle)",
    need: Need::Held(LockClass::SUmount, None),
    source: "fs/super.c get_super() returns with s_umount held; fs/open.c sys_ustat()",
};

/// `do_add_mount` follows mounts made meanwhile and grafts under `namespace->sem`.
pub const GRAFT: LockRule = LockRule {
    id: "graft",
    function: "do_add_mount",
    need: Need::Held(LockClass::NsSem, Some(LockMode::Exclusive)),
    source: "fs/namespace.c do_add_mount(): down_write(&current->namespace->sem) before follow_down and graft_tree",
};

/// `graft_tree`'s deleted-mountpoint check is made under the mountpoint directory's semaphore.
pub const GRAFT_MOUNTPOINT: LockRule = LockRule {
    id: "graft-mountpoint",
    function: "graft_tree",
    need: Need::Held(LockClass::ISem, None),
    source: "fs/namespace.c graft_tree(): down(&nd->dentry->d_inode->i_zombie) around d_unhashed and attach_mnt",
};

/// `do_umount`'s busy check is made with the namespace semaphore and the tree lock held.
pub const UMOUNT_BUSY: LockRule = LockRule {
    id: "umount-busy",
    function: "do_umount (busy check)",
    need: Need::All(&[
        Need::Held(LockClass::NsSem, Some(LockMode::Exclusive)),
        Need::Held(LockClass::TreeLock, None),
    ]),
    source: "fs/namespace.c do_umount(): down_write(&namespace->sem); spin_lock(&dcache_lock); then the mnt_count test",
};

/// `umount_tree` runs under the namespace semaphore.
pub const UMOUNT_TREE: LockRule = LockRule {
    id: "umount-tree",
    function: "umount_tree",
    need: Need::Held(LockClass::NsSem, Some(LockMode::Exclusive)),
    source: "fs/namespace.c: do_umount(), __put_namespace() and mark_mounts_for_expiry() call umount_tree() under namespace->sem",
};

/// `copy_namespace` copies the tree under the old namespace's semaphore.
pub const COPY_TREE: LockRule = LockRule {
    id: "copy-tree",
    function: "copy_tree (copy_namespace)",
    need: Need::Held(LockClass::NsSem, Some(LockMode::Exclusive)),
    source: "fs/namespace.c copy_namespace(): down_write(&tsk->namespace->sem); copy_tree(…)",
};

/// The expiry takes its namespace reference with the tree lock held.
pub const EXPIRE_NS_REF: LockRule = LockRule {
    id: "expire-ns-ref",
    function: "mark_mounts_for_expiry",
    need: Need::Held(LockClass::TreeLock, None),
    source: "M. Szeredi, \"fix race in mark_mounts_for_expiry()\" (2005): get the namespace under vfsmount_lock",
};

/// `rmdir`'s mountpoint check is made under the directory's semaphore.
pub const RMDIR_MOUNTPOINT: LockRule = LockRule {
    id: "rmdir-mountpoint",
    function: "vfs_rmdir",
    need: Need::Held(LockClass::ISem, None),
    source: "fs/namei.c vfs_rmdir(): d_mountpoint() checked with i_zombie held",
};

/// Every rule, in the order of the table above.
pub const ALL: [&LockRule; 11] = [
    &S_COUNT,
    &S_ROOT_CLEAR,
    &WRITE_SUPER,
    &STATFS,
    &GRAFT,
    &GRAFT_MOUNTPOINT,
    &UMOUNT_BUSY,
    &UMOUNT_TREE,
    &COPY_TREE,
    &EXPIRE_NS_REF,
    &RMDIR_MOUNTPOINT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_rule_is_in_the_module_table() {
        let doc = include_str!("rules.rs");
        let mut ids: Vec<&str> = ALL.iter().map(|r| r.id).collect();
        for id in &ids {
            assert!(
                doc.contains(&format!("//! | `{id}` |")),
                "rule `{id}` is missing from the table in the module documentation"
            );
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len(), "duplicate rule ids");
    }
}
