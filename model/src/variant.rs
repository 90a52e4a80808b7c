//! Model variants: the fixed 2.4 protocol, or one historical bug switched back on.
//!
//! What it models: each [`Mutant`] undoes one fix or removes one guard of fs/super.c,
//! fs/namespace.c or fs/namei.c, at the exact place the kernel had the bug; the place is marked
//! in the code with `Mutant::X` and the kernel function it follows. The switch is a runtime value
//! carried by [`crate::kernel::Config`], so one build explores them all.
//!
//! Invariant: with [`Variant::Fixed`] no mutant branch is taken; every mutant is documented here
//! with its trigger, the finding class it must produce and a `See:` reference to the kernel fix.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::oracle::FindingClass;

/// A historical bug or a removed guard, switched on one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mutant {
    /// Catalog #1, the race of the seed: `get_super` returns the super_block without the
    /// `s_count` pin, so a concurrent `umount` frees it under the caller (`ustat` then reads a
    /// freed super_block). Trigger: `get_super ram0` finds the sb, then `umount /mnt` runs
    /// `kill_super` to its final `put_super` before the caller's `down_read(s_umount)`.
    /// See: Al Viro, "[PATCH][CFT] per-process namespaces for Linux" (namespaces-S2, 2.4.2, Feb 2001)
    /// and "Re: test13-pre6" (30 Dec 2000), fs/super.c get_super().
    GetSuperNoPin,
    /// §3 guard: `get_super` pins and locks but does not re-check `s_root`, so it returns a
    /// super_block whose filesystem `kill_super` already shut down. Trigger: `umount` wins
    /// `s_umount` first; `get_super` takes it for read after `kill_super` released it.
    /// See: fs/super.c get_super() of 2.4.17 (`if (s->s_root) return s; drop_super(s); goto rescan;`).
    GetSuperNoRecheck,
    /// §3 guard: `ustat` forgets `drop_super`: the `s_count` pin leaks and `s_umount` stays held
    /// for read, so a later `umount` sleeps forever in `kill_super`'s `down_write`.
    /// See: fs/super.c drop_super(), fs/open.c sys_ustat() of 2.4.17.
    MissingDropSuper,
    /// Catalog #2: the `super_blocks` walk of `sync` follows the list link of a super_block that
    /// `kill_super` unlinked while the walker held it pinned (the 2004 code used `list_del`,
    /// poisoning the link). Trigger: `sync` pins sb, `umount` unlinks it, `sync` moves on.
    /// See: Kirill Korotaev, "[PATCH] Fix of race in writeback_inodes()", 14 Sep 2004
    /// (`__put_super_and_need_restart`, `list_del_init`).
    SyncPoisonedWalk,
    /// Catalog #3: `copy_namespace` ignores a failed `copy_tree` and installs a namespace with a
    /// NULL root; the namespace's last put then runs `umount_tree(NULL)`.
    /// Trigger: `clone -n --fail` (fault injection of the allocation).
    /// See: Christoph Hellwig, "fix copy_namespace()", 25 Aug 2003; Andries Brouwer,
    /// "fix slab corruption in namespace.c", 19 Apr 2003.
    CopyNamespaceNullRoot,
    /// Catalog #4: `follow_down` drops the parent mount before the mountpoint dentry. If a
    /// concurrent `umount -l` made that `mntput` the last one, the filesystem is shut down and the
    /// following `dput` touches a dead super_block.
    /// See: Al Viro, "[CFR][PATCH] namei fixes (10/19), (17/19)", 19 May 2005.
    FollowDownEarlyMntput,
    /// Catalog #5: `mark_mounts_for_expiry` reads `namespace->count > 0` and then increments it
    /// in two steps; the last task's exit drops it to zero in between and frees the namespace.
    /// See: Miklos Szeredi, "fix race in mark_mounts_for_expiry()", 20 May 2005
    /// (increment-not-zero under `vfsmount_lock`).
    ExpiryGetNamespace,
    /// Catalog #6: `umount_tree` does not clear `mnt_namespace`, so after `umount -l`,
    /// `check_mnt` still accepts the detached mount and a task whose cwd is inside it mounts on
    /// it; that mount pins the detached tree forever.
    /// See: Miklos Szeredi, "fix mnt_namespace clearing", 16 May 2005.
    UmountKeepsNamespace,
    /// Catalog #11: `fsmount` takes one mount reference where two are needed (one for the file,
    /// one for the anonymous namespace), so closing the file drops the count below zero.
    /// See: commit 1b0b9cc8d379 "vfs: fsmount: add missing mntget()" (2019).
    FsmountMissingMntget,
    /// §4 guard: `do_add_mount` without the "something was mounted here while we slept" loop:
    /// two concurrent mounts on one directory both graft on it and one hides the other.
    /// See: fs/namespace.c do_add_mount() of 2.4.17
    /// (`while (d_mountpoint(nd->dentry) && follow_down(&nd->mnt, &nd->dentry))`).
    NoFollowDownInMount,
    /// §4 guard: `graft_tree` without the deleted-mountpoint check (`d_unhashed`): a mount
    /// grafted on a directory removed while the mount slept is unreachable by any path.
    /// See: fs/namespace.c graft_tree() of 2.4.17 (`if (d_unhashed(nd->dentry)) goto out_unlock;`).
    GraftDeletedMountpoint,
    /// §4 guard: `umount_tree` puts the detached mounts while still holding the tree spinlock;
    /// the last `mntput` sleeps in `kill_super`'s `down_write(s_umount)` in atomic context.
    /// See: fs/namespace.c umount_tree() of 2.4.17 (`spin_unlock(&dcache_lock); path_release();
    /// mntput(); spin_lock(&dcache_lock);`).
    MntputUnderSpinlock,
    /// Removed guard: `kill_super` tears the filesystem down without `down_write(s_umount)`, so a
    /// `get_super` holder uses a filesystem that is being shut down under it. lockdep's rule
    /// `s-root-clear` catches the missing lock on the first execution; with that oracle off, the
    /// race is a use after free.
    /// See: fs/super.c kill_super() of 2.4.17.
    KillSuperNoUmountLock,
    /// Removed guard (the shape of commit 65781e19dcfc, 2025): `do_umount` checks
    /// `mnt_count == 2` before taking `namespace->sem` and the tree lock, so a concurrent `open`
    /// gets in between and a plain umount detaches a busy mount, acting like `umount -l`.
    /// lockdep's rule `umount-busy` catches the unlocked read on the first execution; with that
    /// oracle off, the race is an invariant finding (a plain umount detached a busy mount).
    /// See: fs/namespace.c do_umount() of 2.4.17; commit 65781e19dcfc (2025).
    UmountCheckBeforeLock,
    /// Removed guard: `lock_super` as before the seed, a flag tested and then set with no atomic
    /// step, so two threads both enter the super_block's critical section.
    /// See: the seed's "SMP-safe lock_super()"; fs/super.c lock_super() of 2.4.17 (`down(&sb->s_lock)`).
    LockSuperUnlocked,
}

impl Mutant {
    /// Every mutant, in catalog order.
    pub const ALL: [Mutant; 15] = [
        Mutant::GetSuperNoPin,
        Mutant::GetSuperNoRecheck,
        Mutant::MissingDropSuper,
        Mutant::SyncPoisonedWalk,
        Mutant::CopyNamespaceNullRoot,
        Mutant::FollowDownEarlyMntput,
        Mutant::ExpiryGetNamespace,
        Mutant::UmountKeepsNamespace,
        Mutant::FsmountMissingMntget,
        Mutant::NoFollowDownInMount,
        Mutant::GraftDeletedMountpoint,
        Mutant::MntputUnderSpinlock,
        Mutant::KillSuperNoUmountLock,
        Mutant::UmountCheckBeforeLock,
        Mutant::LockSuperUnlocked,
    ];

    /// The id used in scenario files, reports and the CLI.
    pub fn id(self) -> &'static str {
        match self {
            Mutant::GetSuperNoPin => "get-super-no-pin",
            Mutant::GetSuperNoRecheck => "get-super-no-recheck",
            Mutant::MissingDropSuper => "missing-drop-super",
            Mutant::SyncPoisonedWalk => "sync-poisoned-walk",
            Mutant::CopyNamespaceNullRoot => "copy-namespace-null-root",
            Mutant::FollowDownEarlyMntput => "follow-down-early-mntput",
            Mutant::ExpiryGetNamespace => "expiry-get-namespace",
            Mutant::UmountKeepsNamespace => "umount-keeps-namespace",
            Mutant::FsmountMissingMntget => "fsmount-missing-mntget",
            Mutant::NoFollowDownInMount => "no-follow-down-in-mount",
            Mutant::GraftDeletedMountpoint => "graft-deleted-mountpoint",
            Mutant::MntputUnderSpinlock => "mntput-under-spinlock",
            Mutant::KillSuperNoUmountLock => "kill-super-no-umount-lock",
            Mutant::UmountCheckBeforeLock => "umount-check-before-lock",
            Mutant::LockSuperUnlocked => "lock-super-unlocked",
        }
    }

    /// Parse an id.
    pub fn from_id(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.id() == s)
    }

    /// One line describing the bug.
    pub fn description(self) -> &'static str {
        match self {
            Mutant::GetSuperNoPin => "get_super returns the super_block without the s_count pin (2.4.0 get_super vs umount)",
            Mutant::GetSuperNoRecheck => "get_super does not re-check s_root after down_read(s_umount)",
            Mutant::MissingDropSuper => "ustat forgets drop_super: s_count leaks and s_umount stays read-held",
            Mutant::SyncPoisonedWalk => "sync follows the list link of a super_block unlinked while it was pinned",
            Mutant::CopyNamespaceNullRoot => "copy_namespace installs a NULL root when copy_tree fails",
            Mutant::FollowDownEarlyMntput => "follow_down drops the parent mount before the mountpoint dentry",
            Mutant::ExpiryGetNamespace => "mark_mounts_for_expiry checks namespace->count > 0, then increments it",
            Mutant::UmountKeepsNamespace => "umount_tree leaves mnt_namespace set on detached mounts",
            Mutant::FsmountMissingMntget => "fsmount takes one mount reference for the file and the anonymous namespace",
            Mutant::NoFollowDownInMount => "do_add_mount does not follow mounts made while it slept",
            Mutant::GraftDeletedMountpoint => "graft_tree accepts a deleted mountpoint",
            Mutant::MntputUnderSpinlock => "umount_tree puts detached mounts under the tree spinlock",
            Mutant::KillSuperNoUmountLock => "kill_super shuts the filesystem down without down_write(s_umount)",
            Mutant::UmountCheckBeforeLock => "do_umount reads the busy count before taking the locks",
            Mutant::LockSuperUnlocked => "lock_super tests and sets a flag non-atomically (pre-seed)",
        }
    }

    /// The finding class the mutant must produce.
    pub fn expected(self) -> FindingClass {
        match self {
            Mutant::GetSuperNoPin => FindingClass::UseAfterFree,
            Mutant::GetSuperNoRecheck => FindingClass::UseAfterFree,
            Mutant::MissingDropSuper => FindingClass::Deadlock,
            Mutant::SyncPoisonedWalk => FindingClass::UseAfterFree,
            Mutant::CopyNamespaceNullRoot => FindingClass::Invariant,
            Mutant::FollowDownEarlyMntput => FindingClass::UseAfterFree,
            Mutant::ExpiryGetNamespace => FindingClass::UseAfterFree,
            Mutant::UmountKeepsNamespace => FindingClass::Leak,
            Mutant::FsmountMissingMntget => FindingClass::Underflow,
            Mutant::NoFollowDownInMount => FindingClass::Invariant,
            Mutant::GraftDeletedMountpoint => FindingClass::Invariant,
            Mutant::MntputUnderSpinlock => FindingClass::Invariant,
            Mutant::KillSuperNoUmountLock => FindingClass::LockRule,
            Mutant::UmountCheckBeforeLock => FindingClass::LockRule,
            Mutant::LockSuperUnlocked => FindingClass::Invariant,
        }
    }

    /// The `See:` reference.
    pub fn see(self) -> &'static str {
        match self {
            Mutant::GetSuperNoPin => "Al Viro, \"[PATCH][CFT] per-process namespaces for Linux\", Feb 2001 (namespaces-S2); \"Re: test13-pre6\", 30 Dec 2000",
            Mutant::GetSuperNoRecheck => "fs/super.c get_super() of 2.4.17 (s_root re-check and rescan)",
            Mutant::MissingDropSuper => "fs/super.c drop_super(), fs/open.c sys_ustat() of 2.4.17",
            Mutant::SyncPoisonedWalk => "Kirill Korotaev, \"[PATCH] Fix of race in writeback_inodes()\", 14 Sep 2004",
            Mutant::CopyNamespaceNullRoot => "Christoph Hellwig, \"fix copy_namespace()\", 25 Aug 2003; Andries Brouwer, \"fix slab corruption in namespace.c\", 19 Apr 2003",
            Mutant::FollowDownEarlyMntput => "Al Viro, \"[CFR][PATCH] namei fixes (10/19), (17/19)\", 19 May 2005",
            Mutant::ExpiryGetNamespace => "Miklos Szeredi, \"fix race in mark_mounts_for_expiry()\", 20 May 2005",
            Mutant::UmountKeepsNamespace => "Miklos Szeredi, \"fix mnt_namespace clearing\", 16 May 2005",
            Mutant::FsmountMissingMntget => "commit 1b0b9cc8d379 \"vfs: fsmount: add missing mntget()\" (2019)",
            Mutant::NoFollowDownInMount => "fs/namespace.c do_add_mount() of 2.4.17 (\"something was mounted here while we slept\")",
            Mutant::GraftDeletedMountpoint => "fs/namespace.c graft_tree() of 2.4.17 (d_unhashed check)",
            Mutant::MntputUnderSpinlock => "fs/namespace.c umount_tree() of 2.4.17 (spin_unlock before path_release/mntput)",
            Mutant::KillSuperNoUmountLock => "fs/super.c kill_super() of 2.4.17 (down_write(&sb->s_umount))",
            Mutant::UmountCheckBeforeLock => "fs/namespace.c do_umount() of 2.4.17; commit 65781e19dcfc (2025)",
            Mutant::LockSuperUnlocked => "the seed's \"SMP-safe lock_super()\"; fs/super.c lock_super() of 2.4.17",
        }
    }

    /// Whether the bug is from the catalog of real kernel bugs (as opposed to a removed guard).
    pub fn is_historical(self) -> bool {
        matches!(
            self,
            Mutant::GetSuperNoPin
                | Mutant::SyncPoisonedWalk
                | Mutant::CopyNamespaceNullRoot
                | Mutant::FollowDownEarlyMntput
                | Mutant::ExpiryGetNamespace
                | Mutant::UmountKeepsNamespace
                | Mutant::FsmountMissingMntget
                | Mutant::NoFollowDownInMount
                | Mutant::GraftDeletedMountpoint
                | Mutant::MntputUnderSpinlock
        )
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Which protocol the model runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The 2.4-after-the-fix protocol of the seed (§1–§2 of the reference).
    #[default]
    Fixed,
    /// The fixed protocol with one bug switched back on.
    Mutant(Mutant),
}

impl Variant {
    /// `fixed` or the mutant's id.
    pub fn id(self) -> &'static str {
        match self {
            Variant::Fixed => "fixed",
            Variant::Mutant(m) => m.id(),
        }
    }

    /// Parse `fixed` or a mutant id.
    pub fn from_id(s: &str) -> Option<Self> {
        if s == "fixed" {
            Some(Variant::Fixed)
        } else {
            Mutant::from_id(s).map(Variant::Mutant)
        }
    }

    /// Whether mutant `m` is on.
    pub fn has(self, m: Mutant) -> bool {
        self == Variant::Mutant(m)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
