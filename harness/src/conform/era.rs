//! The differences between the model (Linux 2.4 after the seed's fix) and the current kernel
//! `conform` runs on that are there by design of one era or the other: each with what differs,
//! why (what each kernel does, and where), the facts about the operation that recognise it, and
//! whether the two sides can diverge silently there (which ends a trace's comparison).

use super::model::Facts;
use mountcheck_model::Op;

/// A difference between the model (2.4 after the fix) and a current kernel that is there by
/// design of one era or the other.
pub struct EraDifference {
    /// Short id.
    pub id: &'static str,
    /// What differs.
    pub what: &'static str,
    /// Why: what each kernel does, and where.
    pub reason: &'static str,
    /// Whether a difference is this one: the facts about the operation, the operation, the
    /// model's result and the kernel's (`ok` or an errno name).
    pub(super) matches: fn(&Facts, &Op, &str, &str) -> bool,
    /// The two sides can diverge here with equal results and tables (the change is invisible to
    /// the caller): a step that matches ends the trace's comparison even when nothing differs yet.
    pub(super) silent: bool,
}

/// The differences that count as explained. Kept short: each is a documented behaviour of one of
/// the two kernels (2.4.17 as the model follows it, and the running kernel), or, for
/// `umount-namespace-root`, the one structural difference of the kernel side (its rootfs has the
/// namespace's hidden absolute root above it). Each is recognised by facts about the operation
/// taken from the model, not by errnos alone, except where the kernel's errno cannot arise
/// otherwise (EROFS needs a read-only filesystem).
pub const ERA_DIFFERENCES: &[EraDifference] = &[
    EraDifference {
        id: "umount-crosses-last-mount",
        what: "umount of `.` or `/` when a mount sits on that very directory: the model unmounts (or refuses, or \
               remounts read-only) the mount the directory belongs to, the kernel the mount on top of it",
        reason: "2.4's sys_umount resolves the path with path_walk, which stops at a final `.` or `/` without \
                 crossing a mount stacked there (link_path_walk: `case 1: goto return_reval`); later kernels look \
                 the path up as a mountpoint (path_mountpoint, now LOOKUP_MOUNTPOINT), which ends with \
                 handle_lookup_down and so reaches the topmost mount",
        matches: |f, op, _, _| matches!(op, Op::Umount { path, .. } if path == "/" || path == "." || path.ends_with("/.")) && f.target_overmounted,
        silent: false,
    },
    EraDifference {
        id: "umount-namespace-root",
        what: "umount that reaches the namespace's root mount (`umount -l /`, or a plain umount of it when it is idle \
               and not the caller's root): both return 0; the kernel detaches it (every task of the namespace then \
               sees no mount), the model keeps it attached",
        reason: "three behaviours: 2.4.17's do_umount runs umount_tree on any mount on the namespace list, the root \
                 included, so /proc/mounts empties (and __put_namespace later puts the root a second time); the \
                 model returns 0 but leaves a parentless root in place; a current kernel refuses the absolute root \
                 of a namespace (`if (!mnt_has_parent(mnt))` → EINVAL). The kernel side cannot make its rootfs \
                 the absolute root (pivot_root leaves the new root under the namespace's hidden absolute root), so \
                 here the kernel detaches it, as 2.4 would",
        matches: |f, op, m, k| {
            matches!(op, Op::Umount { flags, .. } if flags.detach || !f.target_is_own_root_mount)
                && f.target_is_ns_root
                && m == "ok"
                && k == "ok"
        },
        silent: true,
    },
    EraDifference {
        id: "mount-on-detached-mount",
        what: "mount or bind onto a directory of a lazily unmounted (detached) mount, reached through the \
               caller's root or cwd: the model returns EINVAL, the kernel ENOENT",
        reason: "2.4's do_add_mount and do_loopback refuse a mountpoint outside the caller's namespace with \
                 check_mnt → EINVAL; current kernels first lock the mountpoint, and do_lock_mount refuses one \
                 whose mount is no longer mounted (`cant_mount(dentry) || !is_mounted(path->mnt)` → -ENOENT) \
                 before do_add_mount's check_mnt",
        matches: |f, op, m, k| matches!(op, Op::Mount { .. } | Op::Bind { .. }) && f.target_detached && m == "EINVAL" && k == "ENOENT",
        silent: false,
    },
    EraDifference {
        id: "remount-ro-removed-cwd",
        what: "plain umount of the caller's root (a read-only remount) while a removed directory of that \
               filesystem is still some task's cwd or root: the model returns 0, the kernel EBUSY",
        reason: "2.4's do_remount_sb refuses only for open files (fs_may_remount_ro: an open file with pending \
                 delete, or open for writing); current kernels refuse while any unlinked inode is still in use \
                 (sb_prepare_remount_readonly: `atomic_long_read(&sb->s_remove_count)` → -EBUSY), a removed \
                 cwd or root included",
        matches: |f, op, m, k| {
            matches!(op, Op::Umount { flags, .. } if !flags.detach)
                && f.target_is_own_root_mount
                && f.removed_dir_in_use
                && !f.removed_dir_open
                && m == "ok"
                && k == "EBUSY"
        },
        silent: false,
    },
    EraDifference {
        id: "rmdir-missing-on-read-only",
        what: "rmdir of a missing name in a directory of a read-only filesystem: the model returns ENOENT, the \
               kernel EROFS",
        reason: "2.4's vfs_rmdir starts with may_delete, which checks that the victim exists (ENOENT) before \
                 permission() finds the filesystem read-only (EROFS); current kernels call mnt_want_write \
                 (EROFS) in do_rmdir before looking the name up",
        matches: |_, op, m, k| matches!(op, Op::Rmdir { .. }) && m == "ENOENT" && k == "EROFS",
        silent: false,
    },
    EraDifference {
        id: "pivot-root-namespace-root",
        what: "pivot_root while the caller's root is the namespace's root mount: the model returns EINVAL, the \
               kernel pivots",
        reason: "a current kernel refuses a root mount with no parent (`if (!mnt_has_parent(root_mnt))` → EINVAL, \
                 as 2.6.11 could not detach it either); the model's namespace root has no parent, as 2.4's \
                 init_mount_tree made it, but the kernel side's root is a tmpfs that pivot_root left under the \
                 namespace's hidden absolute root (see `umount-namespace-root`), so it has a parent and pivots",
        matches: |f, op, m, k| matches!(op, Op::PivotRoot { .. }) && f.caller_root_is_ns_root && m == "EINVAL" && k != "EINVAL",
        silent: false,
    },
    EraDifference {
        id: "rmdir-mountpoint-elsewhere",
        what: "rmdir of a directory that is a mountpoint only in other namespaces: the model returns EBUSY, \
               the kernel removes it (or finds it not empty)",
        reason: "2.4's vfs_rmdir refuses any dentry with d_mountpoint set, whatever namespace the mount is in; \
                 since Linux 3.18 (\"vfs: Lazily remove mounts on unlinked files and directories\") only a mount \
                 in the caller's namespace makes it EBUSY (is_local_mountpoint) and the others are detached \
                 (detach_mounts)",
        matches: |f, op, m, k| matches!(op, Op::Rmdir { .. }) && f.mountpoint_only_elsewhere && m == "EBUSY" && k != "EBUSY",
        silent: false,
    },
];
