//! The columns of the operation table that are not text: what a call returns ([`Results`]),
//! whether the kernel makes it atomic ([`Atomicity`]), which of its steps other tasks can see
//! ([`Steps`]) and what it does with a handle ([`HandleUse`], [`HandleClass`]).
//!
//! What it models: the facts of `fs/namespace.c`, `fs/super.c`, `fs/namei.c` and `fs/open.c`
//! that decide how the linearizability check and `mountcheck fuzz` treat each operation;
//! every value is named in one row of [`super::OPERATIONS`] and read from there.
//!
//! Invariant: a column only describes the kernel's behaviour; the decisions more than one reader
//! makes from it (whether a result is compared, whether two calls' steps meet, whether a handle
//! must be given back before `exit`) are the methods here, so those readers decide alike.

use crate::error::{MountError, OpResult};

/// The kinds of result an operation can return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Results {
    /// Success (`0`).
    pub zero: bool,
    /// An errno.
    pub errno: bool,
    /// `NULL` (a pointer-returning kernel function found nothing).
    pub null: bool,
}

impl Results {
    /// Always `0` (the call returns nothing that can fail).
    pub const ZERO: Results = Results {
        zero: true,
        errno: false,
        null: false,
    };
    /// `0` or an errno: most system calls.
    pub const ZERO_OR_ERRNO: Results = Results {
        zero: true,
        errno: true,
        null: false,
    };
    /// `0` (a pointer) or `NULL`: `get_super`.
    pub const ZERO_OR_NULL: Results = Results {
        zero: true,
        errno: false,
        null: true,
    };

    /// Whether `r` is of one of these kinds.
    pub fn admits(self, r: OpResult) -> bool {
        match r {
            OpResult::Ok => self.zero,
            OpResult::Err(_) => self.errno,
            OpResult::Null => self.null,
        }
    }

    /// `0 or an errno`, `0 or NULL`, `0`.
    pub fn describe(self) -> &'static str {
        match (self.errno, self.null) {
            (true, false) => "0 or an errno",
            (false, true) => "0 or NULL",
            (true, true) => "0, NULL or an errno",
            (false, false) => "only 0",
        }
    }
}

/// Whether the kernel makes an operation atomic, which decides how the linearizability check
/// treats the operation's own result (its effects on the mount tables are always compared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Atomicity {
    /// Atomic: the result is compared.
    Atomic,
    /// Atomic unless the operation's path walks crossed more than one mountpoint in this
    /// execution: each crossing is one `lookup_mnt` under the tree lock, but between two
    /// crossings the walk holds only references, so it can see a tree no single instant had;
    /// such a result is not compared.
    Walk,
    /// As [`Atomicity::Walk`], and it can fail out of order with one of these errnos: the
    /// path is looked up (and a reference taken) before the namespace semaphore, so another
    /// task's change in between (a lazy umount of the mount the path led to: EINVAL from
    /// `check_mnt`; another umount's or walk's reference on the mount: EBUSY) makes it fail
    /// where no sequential order does. Such a failure has no effect; the specification lets
    /// the operation fail that way, without effect, in every order.
    WalkOrNoEffect(&'static [MountError]),
    /// Not atomic: the result is never compared.
    No,
}

impl Atomicity {
    /// Whether result `r` is a failure without effect that the kernel can return out of order.
    pub fn no_effect(self, r: OpResult) -> bool {
        match (self, r) {
            (Atomicity::WalkOrNoEffect(errs), OpResult::Err(e)) => errs.contains(&e),
            _ => false,
        }
    }

    /// Whether a result `r` of an operation whose walks crossed `crossings` mountpoints is
    /// compared with the sequential outcomes (a failure without effect is compared as such).
    pub fn compared(self, r: OpResult, crossings: u32) -> bool {
        match self {
            Atomicity::Atomic => true,
            Atomicity::Walk => crossings <= 1,
            Atomicity::WalkOrNoEffect(_) => self.no_effect(r) || crossings <= 1,
            Atomicity::No => false,
        }
    }

    /// A short label for the documentation table.
    pub fn label(self) -> String {
        match self {
            Atomicity::Atomic => "atomic".into(),
            Atomicity::Walk => "atomic unless its walk crossed more than one mountpoint".into(),
            Atomicity::WalkOrNoEffect(errs) => format!(
                "atomic unless its walk crossed more than one mountpoint; can fail out of order, without effect, with {}",
                errs.iter().map(|e| e.errno_name()).collect::<Vec<_>>().join(" or ")
            ),
            Atomicity::No => "**not atomic**: result never compared".into(),
        }
    }
}

/// Which steps of an operation other tasks can see, beyond what [`Atomicity`] says of its own
/// result. The linearizability check compares whole calls, so a scenario whose threads meet on
/// such steps can fail it with no bug: `mountcheck fuzz` checks a generated program for
/// linearizability only when no two threads' calls meet on them (see [`Steps::meet`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Steps {
    /// None that another task can see.
    None,
    /// Changes the mount tree in steps: it acts on the mount its path walk found before it
    /// took `namespace->sem` (a mount another task stacked on the path in between is not the
    /// one unmounted, and a bind's source is what the path was at its walk), and the
    /// super_block a `umount` frees (`deactivate_super` after the locks are dropped), or a new
    /// `mount` makes (`get_sb` before the graft, alive while a failing graft backs out), is in
    /// `super_blocks` while the tree says otherwise.
    Tree,
    /// Reads `super_blocks`, where it sees the steps of a [`Steps::Tree`] call.
    Supers,
}

impl Steps {
    /// Whether a call with steps `a` and another task's call with steps `b` can see each
    /// other's intermediate states.
    pub fn meet(a: Steps, b: Steps) -> bool {
        matches!(
            (a, b),
            (Steps::Tree, Steps::Tree | Steps::Supers) | (Steps::Supers, Steps::Tree)
        )
    }

    /// A short label for the documentation table.
    pub fn label(self) -> &'static str {
        match self {
            Steps::None => "–",
            Steps::Tree => "**the tree**: walk, then change; its super_block made or freed apart",
            Steps::Supers => "reads `super_blocks`",
        }
    }
}

/// The kind of object a handle names, which decides the calling rules around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandleClass {
    /// A held super_block (`get_super`): it holds `s_umount` for read, so the task must give it
    /// back (`drop_super`) before it exits, and lock it (`lock_super`) only while it holds it.
    Super,
    /// An open file (`open`, `fsmount`): `exit` closes what the task left open.
    File,
}

impl HandleClass {
    /// Whether a task must give the handle back before it exits (else it breaks the kernel's
    /// calling rules: its own bug, not the protocol's).
    pub fn must_release(self) -> bool {
        matches!(self, HandleClass::Super)
    }
}

/// What an operation does with a handle: the calling rules of the kernel's API, from which a
/// program generator knows which call binds, uses, locks and gives back a handle (one column of
/// [`super::OPERATIONS`]; `None` for operations without a handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleUse {
    /// No handle.
    None,
    /// Binds a new handle of this class (`get_super`, `open`).
    Binds(HandleClass),
    /// Uses a held handle of this class (`statfs`).
    Uses(HandleClass),
    /// Takes a lock on a held handle, which [`HandleUse::Unlocks`] gives back (`lock_super`);
    /// a task takes it at most once at a time (a second `down` would sleep for ever).
    Locks(HandleClass),
    /// Gives back the lock [`HandleUse::Locks`] took (`unlock_super`).
    Unlocks(HandleClass),
    /// Gives the handle back, its last use; never while locked (`drop_super`, `close`).
    Releases(HandleClass),
}

impl HandleUse {
    /// The class of handle it binds or uses.
    pub fn class(self) -> Option<HandleClass> {
        match self {
            HandleUse::None => None,
            HandleUse::Binds(c)
            | HandleUse::Uses(c)
            | HandleUse::Locks(c)
            | HandleUse::Unlocks(c)
            | HandleUse::Releases(c) => Some(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomicity_decides_what_is_compared() {
        let e = OpResult::Err(MountError::Invalid);
        assert!(Atomicity::Atomic.compared(e, 5));
        assert!(Atomicity::Walk.compared(e, 1));
        assert!(!Atomicity::Walk.compared(OpResult::Ok, 2));
        let mount = Atomicity::WalkOrNoEffect(&[MountError::Invalid]);
        assert!(mount.no_effect(e) && mount.compared(e, 3));
        assert!(mount.compared(OpResult::Ok, 0) && !mount.compared(OpResult::Ok, 2));
        assert!(!mount.no_effect(OpResult::Err(MountError::Busy)));
        assert!(!Atomicity::Atomic.no_effect(e));
        assert!(!Atomicity::No.compared(OpResult::Ok, 0));
    }
}
