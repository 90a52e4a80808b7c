//! Model variants: the fixed 2.4 protocol, or one historical bug switched back on.
//!
//! What it models: each [`Mutant`] undoes one fix or removes one guard of fs/super.c,
//! fs/namespace.c or fs/namei.c, at the exact place the kernel had the bug; the place is marked
//! in the code with `Mutant::X` and the kernel function it follows. The switch is a runtime value
//! carried by [`crate::kernel::Config`], so one build explores them all.
//!
//! `mutants!` is the one table of the catalog: for each mutant its variant, id, one-line
//! description, trigger, the finding class it must produce, its `See:` reference, whether it is
//! a bug of the kernel's history (rather than a removed guard), and the lock design its code
//! lives in (`None`: every design). Its scenario is `scenarios/<id>.toml`
//! ([`Mutant::scenario_file`]), which must say `variant = "<id>"`, `expect = "<class>"` and,
//! for a design-bound mutant, `lock_design` (checked by the harness's tests and at `catalog`).
//!
//! Invariant: with [`Variant::Fixed`] no mutant branch is taken.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::kernel::LockDesign;
use crate::oracle::FindingClass;

/// One mutant's description (a row of [`Mutant::ALL`]'s table).
#[derive(Clone, Copy, Debug)]
pub struct MutantSpec {
    /// The mutant.
    pub mutant: Mutant,
    /// The id used in scenario files, reports and the CLI.
    pub id: &'static str,
    /// One line describing the bug.
    pub description: &'static str,
    /// The interleaving (or call) that exposes it.
    pub trigger: &'static str,
    /// The finding class its scenario must produce.
    pub expected: FindingClass,
    /// The `See:` reference.
    pub see: &'static str,
    /// From the catalog of real kernel bugs (as opposed to a removed guard or a plausible slip).
    pub historical: bool,
    /// The lock design whose code the mutant changes; `None` when it is in every design.
    pub lock_design: Option<LockDesign>,
    /// The designs under which its first finding is of another class than `expected`, and that
    /// class (the same bug seen by another oracle first).
    pub elsewhere: &'static [(LockDesign, FindingClass)],
}

macro_rules! mutants {
    ($(
        $(#[doc = $doc:literal])*
        $V:ident => {
            id: $id:literal,
            description: $descr:literal,
            trigger: $trigger:literal,
            expected: $class:ident,
            see: $see:literal,
            historical: $hist:literal,
            lock_design: $design:expr,
            elsewhere: $else:expr $(,)?
        }
    )*) => {
        /// A historical bug or a removed guard, switched on one at a time.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Mutant {
            $( $(#[doc = $doc])* $V, )*
        }

        /// Every mutant's description, in [`Mutant`] order.
        const MUTANTS: &[MutantSpec] = &[
            $( MutantSpec {
                mutant: Mutant::$V,
                id: $id,
                description: $descr,
                trigger: $trigger,
                expected: FindingClass::$class,
                see: $see,
                historical: $hist,
                lock_design: $design,
                elsewhere: $else,
            }, )*
        ];

        impl Mutant {
            /// Every mutant, in catalog order.
            pub const ALL: &'static [Mutant] = &[$(Mutant::$V),*];
        }
    };
}

mutants! {
    /// Catalog #1, the race of the seed: `get_super` returns the super_block without the
    /// `s_count` pin, so a concurrent `umount` frees it under the caller (`ustat` then reads a
    /// freed super_block).
    GetSuperNoPin => {
        id: "get-super-no-pin",
        description: "get_super returns the super_block without the s_count pin (2.4.0 get_super vs umount)",
        trigger: "get_super finds the super_block, then umount runs kill_super to its final put_super before the caller's down_read(s_umount)",
        expected: UseAfterFree,
        see: "Al Viro, \"[PATCH][CFT] per-process namespaces for Linux\", Feb 2001 (namespaces-S2); \"Re: test13-pre6\", 30 Dec 2000",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// §3 guard: `get_super` pins and locks but does not re-check `s_root`, so it returns a
    /// super_block whose filesystem `kill_super` already shut down.
    GetSuperNoRecheck => {
        id: "get-super-no-recheck",
        description: "get_super does not re-check s_root after down_read(s_umount)",
        trigger: "umount wins s_umount first; get_super takes it for read after kill_super released it",
        expected: UseAfterFree,
        see: "fs/super.c get_super() of 2.4.17 (s_root re-check and rescan)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// §3 guard: `ustat` forgets `drop_super`: the `s_count` pin leaks and `s_umount` stays held
    /// for read, so a later `umount` sleeps forever in `kill_super`'s `down_write`.
    MissingDropSuper => {
        id: "missing-drop-super",
        description: "ustat forgets drop_super: s_count leaks and s_umount stays read-held",
        trigger: "ustat, then umount of the device's only mount",
        expected: Deadlock,
        see: "fs/super.c drop_super(), fs/open.c sys_ustat() of 2.4.17",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Catalog #2: the `super_blocks` walk of `sync` follows the list link of a super_block that
    /// `kill_super` unlinked while the walker held it pinned (the 2004 code used `list_del`,
    /// poisoning the link).
    SyncPoisonedWalk => {
        id: "sync-poisoned-walk",
        description: "sync follows the list link of a super_block unlinked while it was pinned",
        trigger: "sync pins a super_block, umount unlinks it, sync moves on",
        expected: UseAfterFree,
        see: "Kirill Korotaev, \"[PATCH] Fix of race in writeback_inodes()\", 14 Sep 2004",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// Catalog #3: `copy_namespace` ignores a failed `copy_tree` and installs a namespace with a
    /// NULL root; the namespace's last put then runs `umount_tree(NULL)`.
    CopyNamespaceNullRoot => {
        id: "copy-namespace-null-root",
        description: "copy_namespace installs a NULL root when copy_tree fails",
        trigger: "clone -n --fail (fault injection of the allocation), then the task's exit",
        expected: Invariant,
        see: "Christoph Hellwig, \"fix copy_namespace()\", 25 Aug 2003; Andries Brouwer, \"fix slab corruption in namespace.c\", 19 Apr 2003",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// Catalog #4: `follow_down` drops the parent mount before the mountpoint dentry. If a
    /// concurrent `umount -l` made that `mntput` the last one, the filesystem is shut down and the
    /// following `dput` touches a dead super_block.
    FollowDownEarlyMntput => {
        id: "follow-down-early-mntput",
        description: "follow_down drops the parent mount before the mountpoint dentry",
        trigger: "a walk crosses from ram0 into ram1 while umount -l detaches both",
        expected: UseAfterFree,
        see: "Al Viro, \"[CFR][PATCH] namei fixes (10/19), (17/19)\", 19 May 2005",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// Catalog #5: `mark_mounts_for_expiry` reads `namespace->count > 0` and then increments it
    /// in two steps; the last task's exit drops it to zero in between and frees the namespace.
    ExpiryGetNamespace => {
        id: "expiry-get-namespace",
        description: "mark_mounts_for_expiry checks namespace->count > 0, then increments it",
        trigger: "expiry reads the count of a cloned namespace whose only task exits before the increment",
        expected: UseAfterFree,
        see: "Miklos Szeredi, \"fix race in mark_mounts_for_expiry()\", 20 May 2005",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// Catalog #6: `umount_tree` does not clear `mnt_namespace`, so after `umount -l`,
    /// `check_mnt` still accepts the detached mount and a task whose cwd is inside it mounts on
    /// it; that mount pins the detached tree forever.
    UmountKeepsNamespace => {
        id: "umount-keeps-namespace",
        description: "umount_tree leaves mnt_namespace set on detached mounts",
        trigger: "umount -l of a tree a task's cwd is in, then a mount on that cwd",
        expected: Leak,
        see: "Miklos Szeredi, \"fix mnt_namespace clearing\", 16 May 2005",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// Catalog #11: `fsmount` takes one mount reference where two are needed (one for the file,
    /// one for the anonymous namespace), so closing the file drops the count below zero.
    FsmountMissingMntget => {
        id: "fsmount-missing-mntget",
        description: "fsmount takes one mount reference for the file and the anonymous namespace",
        trigger: "fsmount, then close of its file",
        expected: Underflow,
        see: "commit 1b0b9cc8d379 \"vfs: fsmount: add missing mntget()\" (2019)",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// §4 guard: `do_add_mount` without the "something was mounted here while we slept" loop:
    /// two concurrent mounts on one directory both graft on it and one hides the other.
    NoFollowDownInMount => {
        id: "no-follow-down-in-mount",
        description: "do_add_mount does not follow mounts made while it slept",
        trigger: "two mounts of one device on one directory, both walks before either graft",
        expected: Invariant,
        see: "fs/namespace.c do_add_mount() of 2.4.17 (\"something was mounted here while we slept\")",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// §4 guard: `graft_tree` without the deleted-mountpoint check (`d_unhashed`): a mount
    /// grafted on a directory removed while the mount slept is unreachable by any path.
    GraftDeletedMountpoint => {
        id: "graft-deleted-mountpoint",
        description: "graft_tree accepts a deleted mountpoint",
        trigger: "rmdir of the mountpoint between mount's walk and its graft",
        expected: Invariant,
        see: "fs/namespace.c graft_tree() of 2.4.17 (d_unhashed check)",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// §4 guard: `umount_tree` puts the detached mounts while still holding the tree spinlock;
    /// the last `mntput` sleeps in `kill_super`'s `down_write(s_umount)` in atomic context.
    MntputUnderSpinlock => {
        id: "mntput-under-spinlock",
        description: "umount_tree puts detached mounts under the tree spinlock",
        trigger: "the namespace teardown of a task's exit puts the last reference of a mount",
        expected: Invariant,
        see: "fs/namespace.c umount_tree() of 2.4.17 (spin_unlock before path_release/mntput)",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// Removed guard: `kill_super` tears the filesystem down without `down_write(s_umount)`, so a
    /// `get_super` holder uses a filesystem that is being shut down under it. lockdep's rule
    /// `s-root-clear` catches the missing lock on the first execution; with that oracle off, the
    /// race is a use after free.
    KillSuperNoUmountLock => {
        id: "kill-super-no-umount-lock",
        description: "kill_super shuts the filesystem down without down_write(s_umount)",
        trigger: "umount's kill_super clears s_root without s_umount (lockdep's rule); get_super holds the super_block while kill_super shuts it down (the race)",
        expected: LockRule,
        see: "fs/super.c kill_super() of 2.4.17 (down_write(&sb->s_umount))",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Removed guard (the shape of commit 65781e19dcfc, 2025): `do_umount` checks
    /// `mnt_count == 2` before taking `namespace->sem` and the tree lock, so a concurrent `open`
    /// gets in between and a plain umount detaches a busy mount, acting like `umount -l`.
    /// lockdep's rule `umount-busy` catches the unlocked read on the first execution, under every
    /// lock design; with that oracle off, the race is an invariant finding (a plain umount
    /// detached a busy mount), and under the read-mostly design (where the open's lookup pins
    /// without the tree lock, so the pin is not yet legitimized and not busy to the invariant
    /// oracle) the opener's wrong result.
    UmountCheckBeforeLock => {
        id: "umount-check-before-lock",
        description: "do_umount reads the busy count before taking the locks",
        trigger: "umount reads mnt_count without namespace->sem and the tree lock (lockdep's rule); an open's walk pins the mount between that read and the detach (the race)",
        expected: LockRule,
        see: "fs/namespace.c do_umount() of 2.4.17; commit 65781e19dcfc (2025)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Removed guard: `lock_super` as before the seed, a flag tested and then set with no atomic
    /// step, so two threads both enter the super_block's critical section.
    LockSuperUnlocked => {
        id: "lock-super-unlocked",
        description: "lock_super tests and sets a flag non-atomically (pre-seed)",
        trigger: "two lock_super calls on one super_block",
        expected: Invariant,
        see: "the seed's \"SMP-safe lock_super()\"; fs/super.c lock_super() of 2.4.17",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: the expiry's busy test is off by one (`mnt_count <= 3` for `== 2`), so
    /// `mark_mounts_for_expiry` unmounts a mount that an open file still uses. Nothing is freed
    /// early (the file keeps the detached mount), so only the results show it: the file's path
    /// no longer leads to it.
    ExpireBusyOffByOne => {
        id: "expire-busy-off-by-one",
        description: "mark_mounts_for_expiry's busy test is off by one: it expires a mount in use",
        trigger: "expire while a task holds a file open in the mount, then the task looks the file up again",
        expected: WrongResult,
        see: "fs/namespace.c mark_mounts_for_expiry() of 2.6.11 (`atomic_read(&mnt->mnt_count) == 2`: the parent's reference and the expiry's own)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: `copy_namespace` copies the tree without `down_write(&namespace->sem)`,
    /// so the copy walks a tree other tasks are changing and can take a later mount of another
    /// task without an earlier one: a tree that never existed. The lock rule `copy-tree` (the
    /// kernel's `lockdep_assert_held(&namespace_sem)` in `copy_tree`) sees the missing lock first;
    /// with the lockdep oracle off, the results show the impossible tree (`not-linearizable`).
    CopyNamespaceUnlocked => {
        id: "copy-namespace-unlocked",
        description: "copy_namespace copies the tree without holding the old namespace's semaphore",
        trigger: "clone -n walks the tree while another task mounts twice, the first mount where the walk already passed",
        expected: LockRule,
        see: "fs/namespace.c copy_namespace() of 2.6.11 (`down_write(&tsk->namespace->sem)` around copy_tree and the second pass)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Catalog #8 in the read-mostly design: `lookup_mnt` keeps the mount it pinned under RCU
    /// without `legitimize_mnt`'s re-check, so a walk enters a mount that a plain umount has
    /// already found idle and detached: the umount succeeds while the walk goes on in the
    /// detached tree.
    LegitimizeNoRecheck => {
        id: "legitimize-no-recheck",
        description: "read-mostly lookup_mnt keeps its RCU pin without legitimize_mnt's re-check",
        trigger: "an open's walk pins the mount after a plain umount read its busy count, and goes on in the detached mount",
        expected: NotLinearizable,
        see: "Al Viro, commit 119e1ef80ecf \"fix __legitimize_mnt()/mntput() race\" (2018); fs/namespace.c __legitimize_mnt()",
        historical: true,
        lock_design: Some(LockDesign::ReadMostly),
        elsewhere: &[],
    }
    /// Plausible slip, in the shape of `graft_tree` in an LSM vendor tree of 2.4.17: `err` is set
    /// from `security_sb_check_sb()` and not set back to -ENOENT before the deleted-mountpoint
    /// test, so a mount on a directory removed while it slept returns 0 and attaches nothing:
    /// success, effect lost (2.6.11 restates `err = -ENOENT;` after the hook).
    GraftLostEnoent => {
        id: "graft-lost-enoent",
        description: "graft_tree returns 0 without attaching on a deleted mountpoint (err left at the security hook's 0)",
        trigger: "rmdir of the mountpoint between mount's walk and its graft",
        expected: NotLinearizable,
        see: "fs/namespace.c graft_tree() of the LSM tree rickgaiser/linux-2.4.17-ps2 (`if ((err = security_sb_check_sb(mnt, nd))) goto out_unlock;` then the d_unhashed test with err 0) against 2.6.11 (`err = -ENOENT;` restated after the hook)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// CVE-2014-7970: `pivot_root` without the check that the new root is reachable from the
    /// caller's root. With the root chrooted into a mount below the new root (the cwd left at
    /// the new root), the old root's parent is the new root itself, so attaching the new root
    /// where the old root was makes it its own parent: a loop in the mount tree, whose mounts
    /// are leaked.
    PivotRootLoop => {
        id: "pivot-root-loop",
        description: "pivot_root does not check that new_root is reachable from the caller's root (CVE-2014-7970)",
        trigger: "chdir to a mount root, chroot into a mount below it, pivot_root . to a directory of the cwd's mount",
        expected: Invariant,
        see: "Eric W. Biederman, commit 0d0826019e52 \"mnt: Prevent pivot_root from creating a loop in the mount tree\" (2014, CVE-2014-7970); fs/namespace.c sys_pivot_root() (`is_path_reachable(new_mnt, new.dentry, &root)`)",
        historical: true,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: `sync_supers` calls `->write_super` on each listed super_block without
    /// `down_read(&sb->s_umount)`, so a `kill_super` running meanwhile shuts the filesystem down
    /// under the writeback. lockdep's rule `write-super` sees the missing lock on the first
    /// execution; the race needs `kill_super` between the `s_root` test and `->write_super`.
    SyncWriteSuperUnlocked => {
        id: "sync-write-super-unlocked",
        description: "sync_supers calls ->write_super without s_umount",
        trigger: "sync of a mounted filesystem (lockdep's rule); umount's kill_super between sync's s_root test and ->write_super (the race)",
        expected: LockRule,
        see: "fs/super.c sync_supers() of 2.6.11 (`down_read(&sb->s_umount); if (sb->s_root && sb->s_dirt) sb->s_op->write_super(sb); up_read(&sb->s_umount)`)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: `mark_mounts_for_expiry` reads the mount's namespace under the tree lock
    /// but takes its reference after dropping the lock, so the namespace's last task can exit and
    /// free it in between. lockdep's rule `expire-ns-ref` sees it on the first execution.
    ExpireNsRefUnlocked => {
        id: "expire-ns-ref-unlocked",
        description: "mark_mounts_for_expiry takes the namespace reference after dropping the tree lock",
        trigger: "expire of a mount (lockdep's rule); the namespace's last task exits between the unlock and the reference (the race)",
        expected: LockRule,
        see: "Miklos Szeredi, \"fix race in mark_mounts_for_expiry()\" (2005): the namespace reference is taken with vfsmount_lock held",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: `do_add_mount` follows what was mounted on the mountpoint before taking
    /// `namespace->sem`, so a mount made between the follow and the graft is hidden. lockdep's
    /// rule `graft` sees it on the first execution.
    AddMountFollowUnlocked => {
        id: "add-mount-follow-unlocked",
        description: "do_add_mount follows mounts made while it slept before taking namespace->sem",
        trigger: "a mount (lockdep's rule); two mounts on one directory, both following before either takes the semaphore (the race)",
        expected: LockRule,
        see: "fs/namespace.c do_add_mount() of 2.4.17 (`down_write(&current->namespace->sem)` before the \"something was mounted here while we slept\" loop)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: `graft_tree` tests `d_unhashed` on the mountpoint before taking its
    /// directory's semaphore, so an rmdir can remove it between the test and the attach. lockdep's
    /// rule `graft-mountpoint` sees it on the first execution.
    GraftMountpointUnlocked => {
        id: "graft-mountpoint-unlocked",
        description: "graft_tree checks the mountpoint is not deleted before taking its directory's semaphore",
        trigger: "a mount (lockdep's rule); rmdir of the mountpoint between the check and the attach (the race)",
        expected: LockRule,
        see: "fs/namespace.c graft_tree() of 2.4.17 (`down(&nd->dentry->d_inode->i_zombie)` around the d_unhashed check and attach_mnt)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: `vfs_rmdir` checks `d_mountpoint` before taking the directory's
    /// semaphore, so a mount can be grafted between the check and the removal. lockdep's rule
    /// `rmdir-mountpoint` sees it on the first execution.
    RmdirMountpointUnlocked => {
        id: "rmdir-mountpoint-unlocked",
        description: "vfs_rmdir checks d_mountpoint before taking the directory's semaphore",
        trigger: "an rmdir (lockdep's rule); a mount grafted on the directory between the check and the removal (the race)",
        expected: LockRule,
        see: "fs/namei.c vfs_rmdir() of 2.4.17 (`double_down(&dir->i_zombie, &dentry->d_inode->i_zombie)` before `d_mountpoint(dentry)`)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
    /// Plausible slip: `pivot_root` locks put_old as modern kernels' `lock_mount()` does (the
    /// directory's inode lock, then the namespace semaphore) in a model whose `do_add_mount`
    /// takes them the other way round (2.4's `down_write(&namespace->sem)`, then
    /// `graft_tree`'s `i_zombie`). A mount and a pivot_root can then deadlock; lockdep reports
    /// the inversion the first time both orders have been seen, without the deadlock.
    PivotRootLockOrder => {
        id: "pivot-root-lock-order",
        description: "pivot_root takes put_old's directory semaphore before namespace->sem, against do_add_mount's order",
        trigger: "a mount (namespace->sem, then i_sem) and a pivot_root (i_sem, then namespace->sem), in any order",
        expected: LockOrder,
        see: "fs/namespace.c sys_pivot_root() of 2.6.11 (`down_write(&current->namespace->sem); down(&old_nd.dentry->d_inode->i_sem)`) against lock_mount() of 3.x+ (`inode_lock` before `namespace_lock`)",
        historical: false,
        lock_design: None,
        elsewhere: &[],
    }
}

impl Mutant {
    /// This mutant's row of the table.
    pub fn spec(self) -> &'static MutantSpec {
        &MUTANTS[self as usize]
    }

    /// The id used in scenario files, reports and the CLI.
    pub fn id(self) -> &'static str {
        self.spec().id
    }

    /// Parse an id.
    pub fn from_id(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.id() == s)
    }

    /// One line describing the bug.
    pub fn description(self) -> &'static str {
        self.spec().description
    }

    /// The interleaving (or call) that exposes it.
    pub fn trigger(self) -> &'static str {
        self.spec().trigger
    }

    /// The finding class the mutant must produce.
    pub fn expected(self) -> FindingClass {
        self.spec().expected
    }

    /// The `See:` reference.
    pub fn see(self) -> &'static str {
        self.spec().see
    }

    /// Whether the bug is from the catalog of real kernel bugs (as opposed to a removed guard).
    pub fn is_historical(self) -> bool {
        self.spec().historical
    }

    /// The lock design whose code the mutant changes (`None`: every design). Under another
    /// design the mutant's code does not run and its scenario runs the fixed protocol.
    pub fn lock_design(self) -> Option<LockDesign> {
        self.spec().lock_design
    }

    /// The finding class the mutant must produce under lock design `d`.
    pub fn expected_under(self, d: LockDesign) -> FindingClass {
        self.spec()
            .elsewhere
            .iter()
            .find(|(design, _)| *design == d)
            .map_or(self.expected(), |(_, c)| *c)
    }

    /// The path of its scenario, relative to the workspace: `scenarios/<id>.toml`.
    pub fn scenario_file(self) -> String {
        format!("scenarios/{}.toml", self.id())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_mutant_order_and_ids_are_unique() {
        for (i, m) in Mutant::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i);
            assert_eq!(m.spec().mutant, *m);
            assert_eq!(Mutant::from_id(m.id()), Some(*m));
            assert_eq!(m.scenario_file(), format!("scenarios/{}.toml", m.id()));
        }
        let mut ids: Vec<&str> = Mutant::ALL.iter().map(|m| m.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Mutant::ALL.len());
        assert_eq!(Variant::from_id("fixed"), Some(Variant::Fixed));
        assert_eq!(Variant::from_id("nope"), None);
    }
}
