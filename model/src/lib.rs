//! mountcheck-model: the Linux 2.4 mount lifecycle as real concurrent Rust.
//!
//! What it models: the protocol of Al Viro's per-process namespaces patch (namespaces-S2, Feb
//! 2001, as merged by 2.4.17): refcounted super_blocks (`s_count`, `s_active`, `s_umount`), garbage
//! collected vfsmounts (`mnt_count`), the fixed `get_super`, lazy umount (`MNT_DETACH`) and
//! per-process namespaces, following fs/super.c, fs/namespace.c and fs/namei.c. Every shared
//! primitive comes from [`sync`], which is loom, shuttle or std; every object's lifetime is
//! followed by the [`oracle`], which flags use after free, double free, underflow and leaks;
//! each call's result is checked against the scenario's assertion, and each execution's results
//! and mount tables against the model's own sequential specification
//! (`program::linearizable`, std build); [`checks`] names these oracle families.
//!
//! Invariant of the crate: no I/O, no reporting, no choice of checker outside [`sync`]. A
//! finding is data in the [`oracle::Ledger`]; the harness decides what to print.
//!
//! Entry points: [`program::execute`] runs one execution of a [`program::Program`];
//! [`task::Task`] is the system call API for tests and the conformance check.

pub mod checks;
pub mod error;
pub mod fs;
pub mod fs_struct;
pub mod kernel;
pub mod life;
pub mod mount;
pub mod namei;
pub mod namespace;
pub mod oracle;
pub mod pivot_root;
pub mod program;
pub mod rcu_hash;
pub mod rules;
pub mod super_block;
pub mod sync;
pub mod task;
pub mod variant;

/// The directory of this crate's sources as the compiler names them in panic locations
/// (`file!()` of this file, without `lib.rs`): a panic located under it was raised by the model
/// itself (or by a `#[track_caller]` function the model called), not by a checker.
pub fn source_dir() -> &'static str {
    let f = file!();
    f.strip_suffix("lib.rs").unwrap_or(f)
}

pub use checks::{Oracle, Oracles};
pub use error::{MResult, MountError, OpResult};
pub use kernel::{Config, LockDesign};
pub use oracle::{Finding, FindingClass, Ledger};
pub use program::{execute, parse_call, parse_op, Call, EndState, Op, Program};
pub use variant::{Mutant, Variant};
