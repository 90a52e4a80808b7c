//! The operations of the scenario language, each described once.
//!
//! What it models: the system calls and kernel entry points a scenario thread can make, with the
//! kernel function each one follows. `operations!` is the one table: for every operation its
//! variant and fields, its name and syntax ([`Piece`]s), the kernel call it stands for, the kinds
//! of result it returns, whether the kernel makes it atomic (with the reason and the source),
//! which of its steps other tasks can see ([`Steps`]), what it does with a handle under the
//! kernel's calling rules ([`HandleUse`]: what `mountcheck fuzz` generates from) and an
//! example. From it come the [`Op`] enum, [`OpKind`], [`OPERATIONS`], parsing, `Display`,
//! [`Op::binds`] / [`Op::uses`] (which validation reads), the tables of `scenarios/README.md`
//! ([`operations_markdown`], [`atomicity_markdown`]) and the round-trip test of every example.
//! Running an operation is `super::exec`'s exhaustive match (`run_op`, behind
//! [`super::exec::apply`]) onto the [`crate::task::Task`] method.
//!
//! Invariant: [`OPERATIONS`] is in [`OpKind`] order (`OPERATIONS[k as usize].kind == k`); every
//! entry's example parses to that operation and prints back identically (tested).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::syntax::{Flags, OpError, Piece, Tokens};
use crate::error::MountError;
use crate::task::UmountFlags;

mod columns;
#[macro_use]
mod pieces;

pub use columns::{Atomicity, HandleClass, HandleUse, Results, Steps};

/// The description of one operation (one row of [`OPERATIONS`]).
#[derive(Clone, Copy, Debug)]
pub struct OpSpec {
    /// Which operation.
    pub kind: OpKind,
    /// Its name, the first word of its syntax (two operations may share one: `mount`).
    pub name: &'static str,
    /// What follows the name.
    pub syntax: &'static [Piece],
    /// The system call or kernel function it stands for.
    pub call: &'static str,
    /// The kinds of result it returns.
    pub results: Results,
    /// Whether the kernel makes it atomic.
    pub atomicity: Atomicity,
    /// What it does with a handle (the calling rules).
    pub handle: HandleUse,
    /// Which of its steps other tasks can see.
    pub steps: Steps,
    /// Why (from the kernel's code).
    pub why: &'static str,
    /// Where in the kernel.
    pub source: &'static str,
    /// An example call, which the round-trip test parses and prints back.
    pub example: &'static str,
}

impl OpSpec {
    /// The usage text, e.g. `umount [-l] [-f] PATH`.
    pub fn usage(&self) -> String {
        std::iter::once(self.name.to_string())
            .chain(self.syntax.iter().map(|p| p.usage()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The handle argument this operation binds (`as HANDLE`), if any.
    pub fn binds_handle(&self) -> bool {
        self.syntax.iter().any(|p| matches!(p, Piece::Binds(_)))
    }
}

/// The table of operations: everything else about an operation is derived from its entry.
macro_rules! operations {
    ($(
        $(#[doc = $doc:literal])*
        $V:ident $({ $($f:ident : $t:ty),* $(,)? })? => {
            name: $name:literal,
            syntax: [$($p:ident ( $($pa:tt)* )),* $(,)?],
            call: $call:literal,
            results: $results:expr,
            atomicity: $atom:expr,
            $(handle: $handle:expr,)?
            $(steps: $steps:expr,)?
            why: $why:literal,
            source: $source:literal,
            example: $example:literal $(,)?
        }
    )*) => {
        /// One operation of a scenario (see [`OPERATIONS`] for each one's syntax and meaning).
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(tag = "op", rename_all = "snake_case")]
        pub enum Op {
            $( $(#[doc = $doc])* $V $({ $($f : $t),* })?, )*
        }

        /// An operation without its arguments, in [`OPERATIONS`] order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OpKind {
            $( $(#[doc = $doc])* $V, )*
        }

        /// Every operation's description, in [`OpKind`] order.
        pub const OPERATIONS: &[OpSpec] = &[
            $( OpSpec {
                kind: OpKind::$V,
                name: $name,
                syntax: &[$( piece!(@desc $p($($pa)*)) ),*],
                call: $call,
                results: $results,
                atomicity: $atom,
                handle: handle_use!($($handle)?),
                steps: steps!($($steps)?),
                why: $why,
                source: $source,
                example: $example,
            }, )*
        ];

        impl Op {
            /// Which operation this is.
            pub fn kind(&self) -> OpKind {
                match self {
                    $( Op::$V { .. } => OpKind::$V, )*
                }
            }

            /// The handle this operation binds (`as HANDLE`), if any.
            #[allow(unused_variables, unused_mut)]
            pub fn binds(&self) -> Option<&str> {
                let mut out = None;
                match self {
                    $( Op::$V $({ $($f),* })? => { $( piece!(@binds out, $p($($pa)*)); )* } )*
                }
                out
            }

            /// The handle this operation uses (bound earlier by the same task), if any.
            #[allow(unused_variables, unused_mut)]
            pub fn uses(&self) -> Option<&str> {
                let mut out = None;
                match self {
                    $( Op::$V $({ $($f),* })? => { $( piece!(@uses out, $p($($pa)*)); )* } )*
                }
                out
            }
        }

        impl fmt::Display for Op {
            fn fmt(&self, w: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Op::$V $({ $($f),* })? => {
                        w.write_str($name)?;
                        $( piece!(@show w, $p($($pa)*)); )*
                        Ok(())
                    } )*
                }
            }
        }

        /// Read the words after the name of operation `kind`.
        pub(super) fn parse_kind(kind: OpKind, t: &mut Tokens) -> Result<Op, OpError> {
            match kind {
                $( OpKind::$V => {
                    $( piece!(@parse t, $p($($pa)*)); )*
                    Ok(Op::$V $({ $($f),* })?)
                } )*
            }
        }
    };
}

operations! {
    /// `mkdir PATH`
    Mkdir { path: String } => {
        name: "mkdir",
        syntax: [path(path)],
        call: "`sys_mkdir`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Walk,
        why: "the parent is found by a path walk; the directory is created under the parent's `i_sem`",
        source: "fs/namei.c `sys_mkdir()` → `lookup_create()`, `vfs_mkdir()`",
        example: "mkdir /a",
    }
    /// `rmdir PATH`
    Rmdir { path: String } => {
        name: "rmdir",
        syntax: [path(path)],
        call: "`sys_rmdir` (EBUSY on a mountpoint)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Walk,
        why: "the parent is found by a path walk; the mountpoint test and the removal happen under the parent's `i_sem`, which `graft_tree` takes too",
        source: "fs/namei.c `do_rmdir()`, `vfs_rmdir()` (`d_mountpoint` → EBUSY)",
        example: "rmdir /a",
    }
    /// `mount DEV PATH`
    Mount { dev: String, path: String } => {
        name: "mount",
        syntax: [dev(dev), path(path)],
        call: "`do_add_mount`: a new mount of device DEV (a second mount of a mounted device shares its super_block via `grab_super`)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::WalkOrNoEffect(&[MountError::Invalid]),
        steps: Steps::Tree,
        why: "`do_mount` looks the mountpoint up before `do_add_mount` takes `namespace->sem`; under it the graft is atomic (follow what was mounted meanwhile, `check_mnt`, `graft_tree`), but a lazy umount of the mount holding the mountpoint between the two makes `check_mnt` fail with EINVAL, and nothing is mounted, in an order where the mountpoint exists",
        source: "fs/namespace.c `do_mount()` (`path_lookup`), `do_add_mount()` of 2.6.11",
        example: "mount ram0 /a",
    }
    /// `mount --bind SRC DST`
    Bind { src: String, dst: String } => {
        name: "mount",
        syntax: [lit("--bind"), path(src), path(dst)],
        call: "`do_loopback`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::WalkOrNoEffect(&[MountError::Invalid]),
        steps: Steps::Tree,
        why: "both paths are looked up before `namespace->sem`; `check_mnt` (EINVAL, nothing bound) and the graft run under it",
        source: "fs/namespace.c `do_loopback()` of 2.6.11",
        example: "mount --bind /a /b",
    }
    /// `umount [-l] [-f] PATH`
    Umount { path: String, flags: UmountFlags } => {
        name: "umount",
        syntax: [flags(flags: UmountFlags), path(path)],
        call: "`do_umount`: plain, `MNT_DETACH` (`-l`), `MNT_FORCE` (`-f`)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::WalkOrNoEffect(&[MountError::Invalid, MountError::Busy]),
        steps: Steps::Tree,
        why: "`sys_umount` walks (taking a reference on the mount) and runs `check_mnt` before `do_umount` takes `namespace->sem`; the busy test (`mnt_count == 2`) and `umount_tree` are atomic under it and the tree lock, but a mount detached between the walk and `check_mnt` gives EINVAL, and the references of other tasks' walks in progress (another umount's lookup, a `stat` crossing it) count in the busy test: EBUSY where every sequential order has the mount idle. Either failure unmounts nothing. And a mount another umount detached after `check_mnt` is found off the list: `do_umount` returns 0 having done nothing, which the check also takes as a call without effect",
        source: "fs/namespace.c `sys_umount()`, `do_umount()` of 2.6.11",
        example: "umount -l -f /a",
    }
    /// `get_super DEV as HANDLE`
    GetSuper { dev: String, handle: String } => {
        name: "get_super",
        syntax: [dev(dev), binds(handle)],
        call: "`get_super`: the live super_block of DEV, held (`s_count`, `s_umount` for read) until `drop_super`; NULL when DEV has no live filesystem",
        results: Results::ZERO_OR_NULL,
        atomicity: Atomicity::Atomic,
        handle: HandleUse::Binds(HandleClass::Super),
        steps: Steps::Supers,
        why: "atomic with respect to `kill_super`: the `s_count` pin under `sb_lock`, `down_read(s_umount)` and the `s_root` re-check return a live super_block that `kill_super` waits for, or NULL",
        source: "fs/super.c `get_super()` of 2.4.17 and 2.6.11",
        example: "get_super ram0 as sb",
    }
    /// `drop_super HANDLE`
    DropSuper { handle: String } => {
        name: "drop_super",
        syntax: [uses(handle)],
        call: "`drop_super`: `up_read(s_umount)`, drop the pin (EBADF for a handle `get_super` left NULL)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        handle: HandleUse::Releases(HandleClass::Super),
        why: "two releases of what the caller holds",
        source: "fs/super.c `drop_super()`",
        example: "drop_super sb",
    }
    /// `statfs HANDLE`
    Statfs { handle: String } => {
        name: "statfs",
        syntax: [uses(handle)],
        call: "`->statfs` on a held super_block",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        handle: HandleUse::Uses(HandleClass::Super),
        why: "reads a super_block that `s_umount` keeps alive",
        source: "fs/super.c `vfs_statfs()` of 2.6.11",
        example: "statfs sb",
    }
    /// `lock_super HANDLE`
    LockSuper { handle: String } => {
        name: "lock_super",
        syntax: [uses(handle)],
        call: "`lock_super` on a held super_block (sleeps while another task holds it)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        handle: HandleUse::Locks(HandleClass::Super),
        why: "one `down(&sb->s_lock)`; while it sleeps the sequential specification suspends it",
        source: "include/linux/fs.h `lock_super()` (the seed's SMP-safe semaphore)",
        example: "lock_super sb",
    }
    /// `unlock_super HANDLE`
    UnlockSuper { handle: String } => {
        name: "unlock_super",
        syntax: [uses(handle)],
        call: "`unlock_super`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        handle: HandleUse::Unlocks(HandleClass::Super),
        why: "one `up(&sb->s_lock)`",
        source: "include/linux/fs.h `unlock_super()`",
        example: "unlock_super sb",
    }
    /// `ustat DEV`
    Ustat { dev: String } => {
        name: "ustat",
        syntax: [dev(dev)],
        call: "`sys_ustat`: `get_super`, `->statfs`, `drop_super` (EINVAL when DEV has no live filesystem)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        steps: Steps::Supers,
        why: "as `get_super`: either the filesystem is live and held for the whole call, or EINVAL",
        source: "fs/super.c `sys_ustat()` of 2.6.11",
        example: "ustat ram0",
    }
    /// `sync`
    Sync => {
        name: "sync",
        syntax: [],
        call: "the `super_blocks` walk of `sync_supers`",
        results: Results::ZERO,
        atomicity: Atomicity::No,
        steps: Steps::Supers,
        why: "walks the list dropping `sb_lock` at every super_block and returns nothing (`sys_sync` always returns 0)",
        source: "fs/super.c `sync_supers()`, fs/buffer.c `sys_sync()` of 2.6.11",
        example: "sync",
    }
    /// `open PATH as HANDLE`
    Open { path: String, handle: String } => {
        name: "open",
        syntax: [path(path), binds(handle)],
        call: "`sys_open(O_CREAT)`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Walk,
        handle: HandleUse::Binds(HandleClass::File),
        why: "a path walk, then the lookup or creation under the parent's `i_sem`",
        source: "fs/namei.c `open_namei()` of 2.6.11",
        example: "open /a/f as f",
    }
    /// `close HANDLE`
    Close { handle: String } => {
        name: "close",
        syntax: [uses(handle)],
        call: "`sys_close`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        handle: HandleUse::Releases(HandleClass::File),
        why: "drops the file's references",
        source: "fs/open.c `sys_close()`, fs/file_table.c `fput()`",
        example: "close f",
    }
    /// `stat PATH`
    Stat { path: String } => {
        name: "stat",
        syntax: [path(path)],
        call: "a path walk, crossing mountpoints",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Walk,
        why: "a path walk: one `lookup_mnt` per mountpoint under the tree lock, references only in between",
        source: "fs/namei.c `link_path_walk()`, `__follow_mount()`; fs/stat.c `vfs_stat()` of 2.6.11",
        example: "stat a/b",
    }
    /// `chdir PATH`
    Chdir { path: String } => {
        name: "chdir",
        syntax: [path(path)],
        call: "`set_fs_pwd`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Walk,
        why: "a path walk, then `set_fs_pwd` on the caller's own `fs_struct`",
        source: "fs/open.c `sys_chdir()`",
        example: "chdir /a",
    }
    /// `chroot PATH`
    Chroot { path: String } => {
        name: "chroot",
        syntax: [path(path)],
        call: "`set_fs_root`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Walk,
        why: "a path walk, then `set_fs_root` on the caller's own `fs_struct`",
        source: "fs/open.c `sys_chroot()`",
        example: "chroot /a",
    }
    /// `pivot_root NEW PUT_OLD`
    PivotRoot { new_root: String, put_old: String } => {
        name: "pivot_root",
        syntax: [path(new_root), path(put_old)],
        call: "`sys_pivot_root`: the caller's root mount moves onto PUT_OLD and NEW_ROOT (a mount root) takes its place; every task whose root or cwd was the old root moves to NEW_ROOT (`chroot_fs_refs`)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::WalkOrNoEffect(&[MountError::Invalid, MountError::NoEntry]),
        steps: Steps::Tree,
        why: "both paths are looked up before `namespace->sem`; the checks and the moves run under it and the tree lock, but a mount detached or a directory removed between a walk and the semaphore fails it (EINVAL, ENOENT) without effect; `chroot_fs_refs` moves the tasks' roots and cwds (each task's pair in one step) after the tree lock, still under the semaphore, so another task's walk in between climbs the moved tree from its old root: a scenario that looks at that window (a `chdir` below the old root then) can see what no order gives, as on the kernel",
        source: "fs/namespace.c `sys_pivot_root()` of 2.6.11 and of 3.18+ (`is_path_reachable(new_mnt, new.dentry, &root)`)",
        example: "pivot_root /r/new /r/new/old",
    }
    /// `clone -n [--fail]`
    CloneNewns { fail: bool } => {
        name: "clone",
        syntax: [lit("-n"), opt("--fail", fail)],
        call: "`clone(CLONE_NEWNS)` with the thread continuing as the child (`copy_namespace`); `--fail` injects an allocation failure in `copy_tree`",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        why: "the whole tree is copied under `down_write(&namespace->sem)`, which every mount, umount and bind of the namespace takes",
        source: "fs/namespace.c `copy_namespace()`, `copy_tree()` of 2.6.11",
        example: "clone -n --fail",
    }
    /// `expire DEV`
    Expire { dev: String } => {
        name: "expire",
        syntax: [dev(dev)],
        call: "`mark_mounts_for_expiry` over the expiry list of DEV: every unused attached mount of DEV, in any namespace, is unmounted (the 2.6.x-era single-call simplification of the two-phase expiry)",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::No,
        steps: Steps::Tree,
        why: "walks several mounts, dropping the tree lock and taking each mount's `namespace->sem` in turn; the kernel's expiry is two calls (the first marks, the second unmounts what is still marked and unused), the model's one call is a simplification",
        source: "fs/namespace.c `mark_mounts_for_expiry()` of 2.6.11",
        example: "expire ram0",
    }
    /// `fsmount DEV as HANDLE`
    Fsmount { dev: String, handle: String } => {
        name: "fsmount",
        syntax: [dev(dev), binds(handle)],
        call: "the modern `fsmount`: a detached mount in an anonymous namespace, as a file",
        results: Results::ZERO_OR_ERRNO,
        atomicity: Atomicity::Atomic,
        handle: HandleUse::Binds(HandleClass::File),
        why: "makes a mount no other task can reach",
        source: "fs/namespace.c `fsmount()` (5.2+)",
        example: "fsmount ram0 as f",
    }
    /// `drop_cap`
    DropCap => {
        name: "drop_cap",
        syntax: [],
        call: "the task loses CAP_SYS_ADMIN (mount operations then fail with EPERM)",
        results: Results::ZERO,
        atomicity: Atomicity::Atomic,
        why: "changes only the caller's credentials",
        source: "kernel/capability.c `sys_capset()`",
        example: "drop_cap",
    }
    /// `exit`
    Exit => {
        name: "exit",
        syntax: [],
        call: "`exit_files`, `exit_fs`, `exit_namespace`; must be a thread's last operation",
        results: Results::ZERO,
        atomicity: Atomicity::Atomic,
        why: "returns nothing; its effects are not one step (files, then root and cwd, then the namespace are put in turn), which a thread that checks two mounts' busy counts in between could see: the check treats it as one step",
        source: "kernel/exit.c `do_exit()`: `exit_files()`, `exit_fs()`, `exit_namespace()`",
        example: "exit",
    }
}

impl OpKind {
    /// This operation's description.
    pub fn spec(self) -> &'static OpSpec {
        &OPERATIONS[self as usize]
    }
}

impl Op {
    /// This operation's description.
    pub fn spec(&self) -> &'static OpSpec {
        self.kind().spec()
    }

    /// Whether this call detaches mounts that other tasks pin (`umount -l`, `MNT_DETACH`): their
    /// super_block then dies at the last of those pins' puts, which may come in another task's
    /// call after this one returned, so a later call of this task that reads `super_blocks`
    /// ([`Steps::Supers`]) can find it alive where no sequential order does (a walk's pin is
    /// never held between two calls of a sequential order).
    pub fn detaches_pinned(&self) -> bool {
        matches!(self, Op::Umount { flags, .. } if flags.detach)
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The operations table of `scenarios/README.md` (between its `operations` markers).
pub fn operations_markdown() -> String {
    let mut o =
        String::from("| operation | system call / kernel function | returns |\n|---|---|---|\n");
    for s in OPERATIONS {
        o.push_str(&format!(
            "| `{}` | {} | {} |\n",
            s.usage(),
            cell(s.call),
            s.results.describe()
        ));
    }
    o
}

/// The atomicity table of `scenarios/README.md` (between its `atomicity` markers).
pub fn atomicity_markdown() -> String {
    let mut o = String::from(
        "| operation | atomic? | steps others see | why | source |\n|---|---|---|---|---|\n",
    );
    for s in OPERATIONS {
        o.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            s.usage(),
            s.atomicity.label(),
            s.steps.label(),
            cell(s.why),
            cell(s.source)
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::super::syntax::{parse_call, parse_op};
    use super::*;

    #[test]
    fn the_handle_column_agrees_with_the_syntax_and_every_rule_can_be_kept() {
        for s in OPERATIONS {
            let binds = s.syntax.iter().any(|p| matches!(p, Piece::Binds(_)));
            let uses = s.syntax.iter().any(|p| matches!(p, Piece::Uses(_)));
            assert_eq!(binds, matches!(s.handle, HandleUse::Binds(_)), "{}", s.name);
            assert_eq!(
                uses,
                s.handle.class().is_some() && !binds,
                "{}: a handle it uses needs its class",
                s.name
            );
        }
        let has = |h: HandleUse| OPERATIONS.iter().any(|s| s.handle == h);
        for s in OPERATIONS {
            if let Some(c) = s.handle.class() {
                assert!(has(HandleUse::Binds(c)), "{}: nothing binds {c:?}", s.name);
                if c.must_release() {
                    assert!(has(HandleUse::Releases(c)), "nothing gives {c:?} back");
                }
                if matches!(s.handle, HandleUse::Locks(_)) {
                    assert!(has(HandleUse::Unlocks(c)), "nothing unlocks {c:?}");
                }
            }
        }
    }

    #[test]
    fn the_table_is_in_kind_order() {
        for (i, s) in OPERATIONS.iter().enumerate() {
            assert_eq!(s.kind as usize, i, "{}", s.name);
            assert_eq!(s.kind.spec().name, s.name);
        }
    }

    #[test]
    fn every_operation_has_an_example_that_round_trips() {
        for s in OPERATIONS {
            let op = parse_op(s.example).unwrap_or_else(|e| panic!("{}: {e}", s.example));
            assert_eq!(
                op.kind(),
                s.kind,
                "{} parses to another operation",
                s.example
            );
            assert_eq!(
                op.to_string(),
                s.example,
                "{} prints back differently",
                s.example
            );
            let call = parse_call(s.example).unwrap();
            assert_eq!(call.to_string(), s.example);
            // Its handles are the ones its syntax declares.
            assert_eq!(op.binds().is_some(), s.binds_handle(), "{}", s.example);
            assert_eq!(
                op.uses().is_some(),
                s.syntax.iter().any(|p| matches!(p, Piece::Uses(_))),
                "{}",
                s.example
            );
        }
    }
}
