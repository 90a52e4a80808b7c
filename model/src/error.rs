//! The errno-like result of a model operation, and the typed result of a scenario call.
//!
//! Follows the error returns of fs/namespace.c (`do_umount`, `do_add_mount`, `graft_tree`,
//! `copy_namespace`) and fs/namei.c (`path_walk`), and the NULL return of fs/super.c
//! `get_super()`. A race found by the oracle is not an error: it is a
//! [`crate::oracle::Finding`] raised by the ledger.
//!
//! Invariant: [`OpResult`]'s text form (`0`, `NULL`, or an errno name) parses back to the same
//! value, and [`MountError::ALL`] lists every errno the model can return.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a system call of the model returns on failure.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Error, Serialize, Deserialize,
)]
pub enum MountError {
    /// The mount is busy (open file, cwd, child mount, or the same filesystem already there).
    #[error("EBUSY")]
    Busy,
    /// Not a mount root, not in the caller's namespace, or a bad argument.
    #[error("EINVAL")]
    Invalid,
    /// No such file or directory (also a deleted mountpoint in `graft_tree`).
    #[error("ENOENT")]
    NoEntry,
    /// The task lacks CAP_SYS_ADMIN.
    #[error("EPERM")]
    Perm,
    /// A path component is not a directory.
    #[error("ENOTDIR")]
    NotDir,
    /// The directory already exists.
    #[error("EEXIST")]
    Exists,
    /// The directory is not empty.
    #[error("ENOTEMPTY")]
    NotEmpty,
    /// An allocation failed (fault injection in `copy_namespace`).
    #[error("ENOMEM")]
    NoMem,
    /// The handle names nothing (an earlier `get_super` found no filesystem, or `open` failed).
    #[error("EBADF")]
    BadHandle,
    /// The filesystem is read-only (remounted so by a plain umount of the caller's root).
    #[error("EROFS")]
    ReadOnly,
}

impl MountError {
    /// Every errno the model returns, in the order of the variants above.
    pub const ALL: [MountError; 10] = [
        MountError::Busy,
        MountError::Invalid,
        MountError::NoEntry,
        MountError::Perm,
        MountError::NotDir,
        MountError::Exists,
        MountError::NotEmpty,
        MountError::NoMem,
        MountError::BadHandle,
        MountError::ReadOnly,
    ];

    /// The errno name, e.g. `EBUSY`.
    pub fn errno_name(self) -> &'static str {
        match self {
            MountError::Busy => "EBUSY",
            MountError::Invalid => "EINVAL",
            MountError::NoEntry => "ENOENT",
            MountError::Perm => "EPERM",
            MountError::NotDir => "ENOTDIR",
            MountError::Exists => "EEXIST",
            MountError::NotEmpty => "ENOTEMPTY",
            MountError::NoMem => "ENOMEM",
            MountError::BadHandle => "EBADF",
            MountError::ReadOnly => "EROFS",
        }
    }

    /// The Linux errno number.
    pub fn errno(self) -> i32 {
        match self {
            MountError::Busy => 16,
            MountError::Invalid => 22,
            MountError::NoEntry => 2,
            MountError::Perm => 1,
            MountError::NotDir => 20,
            MountError::Exists => 17,
            MountError::NotEmpty => 39,
            MountError::NoMem => 12,
            MountError::BadHandle => 9,
            MountError::ReadOnly => 30,
        }
    }

    /// Parse an errno name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.errno_name() == s)
    }
}

/// What one call of a scenario returned: success (`0`), an errno, or `NULL` for a call that
/// returns nothing usable (fs/super.c `get_super()` of a device with no live filesystem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum OpResult {
    /// Success: `0`.
    Ok,
    /// Failure with this errno.
    Err(MountError),
    /// A pointer-returning kernel function returned NULL.
    Null,
}

impl OpResult {
    /// Parse `0`, `NULL` or an errno name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "0" => Some(OpResult::Ok),
            "NULL" => Some(OpResult::Null),
            e => MountError::from_name(e).map(OpResult::Err),
        }
    }

    /// Whether it is success.
    pub fn is_ok(self) -> bool {
        self == OpResult::Ok
    }
}

impl From<MResult<()>> for OpResult {
    fn from(r: MResult<()>) -> Self {
        match r {
            Ok(()) => OpResult::Ok,
            Err(e) => OpResult::Err(e),
        }
    }
}

impl fmt::Display for OpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpResult::Ok => f.write_str("0"),
            OpResult::Err(e) => f.write_str(e.errno_name()),
            OpResult::Null => f.write_str("NULL"),
        }
    }
}

impl From<OpResult> for String {
    fn from(r: OpResult) -> String {
        r.to_string()
    }
}

impl TryFrom<String> for OpResult {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        OpResult::from_name(&s).ok_or_else(|| format!("unknown result `{s}`"))
    }
}

/// The model's result type.
pub type MResult<T> = Result<T, MountError>;
