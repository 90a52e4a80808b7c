//! The errno-like result of a model operation.
//!
//! Follows the error returns of fs/namespace.c (`do_umount`, `do_add_mount`, `graft_tree`,
//! `copy_namespace`) and fs/namei.c (`path_walk`). A race found by the oracle is not an error: it
//! is a [`crate::oracle::Finding`] raised by the ledger.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a system call of the model returns on failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
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
        [
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
        ]
        .into_iter()
        .find(|e| e.errno_name() == s)
    }
}

/// The model's result type.
pub type MResult<T> = Result<T, MountError>;
