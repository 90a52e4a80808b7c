//! The objects the ledger tracks: their identity ([`Oid`]), kind, state and the counts a
//! reference is taken on ([`Counter`]), each named after the field of the kernel struct it
//! stands for (include/linux/fs.h, include/linux/mount.h, include/linux/namespace.h).
//!
//! Invariant: an object's state only moves forward (alive → shut down → freed): a second free
//! is a `double-free` finding, and shutting down (or touching) the filesystem of a super_block
//! already shut down or freed a `use-after-free` (`Ledger::free`, `Ledger::shut_down`).

use serde::{Deserialize, Serialize};

/// An object's identity within one execution (allocation order, from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Oid(pub u32);

/// What kind of kernel object an [`Oid`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjKind {
    /// `struct super_block`.
    SuperBlock,
    /// `struct vfsmount`.
    Mount,
    /// `struct namespace`.
    Namespace,
}

/// Where an object is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjState {
    /// Allocated and usable.
    Alive,
    /// A super_block whose filesystem is shut down (`kill_super` ran) but whose struct is still
    /// allocated because `s_count` holders remain.
    ShutDown,
    /// Freed: any access is a use after free.
    Freed,
}

/// The reference counts the ledger follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    /// `super_block.s_count` (passive: keeps the struct).
    SCount,
    /// `super_block.s_active` (active: keeps the filesystem).
    SActive,
    /// Dentry references into a super_block's filesystem (what "Busy inodes after unmount" counts).
    Dentries,
    /// `vfsmount.mnt_count`.
    MntCount,
    /// `namespace.count`.
    NsCount,
}

impl Counter {
    /// Every counter, in a stable order.
    pub const ALL: [Counter; 5] = [
        Counter::SCount,
        Counter::SActive,
        Counter::Dentries,
        Counter::MntCount,
        Counter::NsCount,
    ];

    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// The kernel's field name.
    pub fn name(self) -> &'static str {
        match self {
            Counter::SCount => "s_count",
            Counter::SActive => "s_active",
            Counter::Dentries => "dentry refs",
            Counter::MntCount => "mnt_count",
            Counter::NsCount => "count",
        }
    }
}
