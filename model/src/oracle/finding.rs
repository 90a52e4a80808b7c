//! What a breach of the ledger's rules becomes: a [`Finding`] of one [`FindingClass`], with the
//! objects it involves ([`ObjectReport`]: state, counts, the references held ([`Holder`]) and
//! the history of each), as KASAN reports an access with the object's allocation and free
//! stacks.
//!
//! Invariant: these are the reported forms, made when a finding is raised or a report is
//! read, never on the exploring path (which keeps the compact records of [`super::trace`]).

use super::{Counter, ObjKind, ObjState, Oid};
use crate::program::outcome::Comparison;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The class of a finding, as a report and a scenario's expected verdict name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingClass {
    /// An access to a freed object, or to the filesystem of a shut-down super_block.
    UseAfterFree,
    /// A second free of one object.
    DoubleFree,
    /// A count below zero, or a put of a reference nobody holds.
    Underflow,
    /// At quiescence, an object not freed that should be, or a count that does not match its holders.
    Leak,
    /// Every thread blocked (reported by the checker, not the ledger).
    Deadlock,
    /// A structural or protocol invariant broken (tree acyclic, parents alive, mutual exclusion...).
    Invariant,
    /// A locking rule of the kernel broken: an access made without the lock it needs
    /// (lockdep's `lockdep_assert_held`).
    LockRule,
    /// Two locks taken in both orders across the executions of one exploration: a possible
    /// deadlock, found without scheduling it (lockdep's lock-order inversion).
    LockOrder,
    /// Any other panic of the model.
    Panic,
    /// The exploration ran out of time or memory in its child process, or the child crashed.
    Crash,
    /// A call returned something its assertion in the scenario excludes (`umount /mnt = EBUSY`
    /// that returned 0).
    WrongResult,
    /// The execution's results and mount tables are those of no sequential order of the same
    /// operations (`check = "linearizable"`).
    NotLinearizable,
}

impl FindingClass {
    /// Every class, in a stable order.
    pub const ALL: [FindingClass; 12] = [
        FindingClass::UseAfterFree,
        FindingClass::DoubleFree,
        FindingClass::Underflow,
        FindingClass::Leak,
        FindingClass::Deadlock,
        FindingClass::Invariant,
        FindingClass::LockRule,
        FindingClass::LockOrder,
        FindingClass::Panic,
        FindingClass::Crash,
        FindingClass::WrongResult,
        FindingClass::NotLinearizable,
    ];

    /// The kebab-case name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            FindingClass::UseAfterFree => "use-after-free",
            FindingClass::DoubleFree => "double-free",
            FindingClass::Underflow => "underflow",
            FindingClass::Leak => "leak",
            FindingClass::Deadlock => "deadlock",
            FindingClass::Invariant => "invariant",
            FindingClass::LockRule => "lock-rule",
            FindingClass::LockOrder => "lock-order",
            FindingClass::Panic => "panic",
            FindingClass::Crash => "crash",
            FindingClass::WrongResult => "wrong-result",
            FindingClass::NotLinearizable => "not-linearizable",
        }
    }

    /// Parse a kebab-case name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for FindingClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One reference the ledger knows: who holds it and where it was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Which count it is part of.
    pub counter: Counter,
    /// Who holds it, e.g. `open file f1 of T1`, `child mnt#4 pins its parent`.
    pub tag: String,
    /// Its weight on the count (1, or `S_BIAS` for the super_blocks list).
    pub weight: isize,
    /// The thread that took it.
    pub thread: usize,
    /// The scenario operation during which it was taken.
    pub op: String,
    /// The step of the trace at which it was taken.
    pub step: usize,
}

/// One entry of an object's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Step of the trace.
    pub step: usize,
    /// Thread.
    pub thread: usize,
    /// Scenario operation.
    pub op: String,
    /// What happened, e.g. `mnt_count 2 -> 3 (+ open file f1 of T1)`.
    pub what: String,
}

/// The state of one object at the time a finding was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectReport {
    /// Identity.
    pub oid: Oid,
    /// Kind.
    pub kind: ObjKind,
    /// Human label, e.g. `mnt#3 (ram0 on /mnt)`.
    pub label: String,
    /// State.
    pub state: ObjState,
    /// Counts as the ledger last saw them.
    pub counts: BTreeMap<String, isize>,
    /// References still held.
    pub holders: Vec<Holder>,
    /// Every recorded event on this object.
    pub history: Vec<HistoryEntry>,
}

/// A finding: what broke, where, and the objects involved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Class.
    pub class: FindingClass,
    /// One-line summary.
    pub message: String,
    /// Thread that tripped the check (`None` for quiescence checks made by the main thread).
    pub thread: Option<usize>,
    /// Scenario operation being executed.
    pub op: String,
    /// The object the finding is about, with its reference history.
    pub object: Option<ObjectReport>,
    /// For a leak: the references that were never put, each with the operation that took it.
    pub unmatched: Vec<Holder>,
    /// For `not-linearizable`: the observed results and mount tables beside the nearest
    /// sequential outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Box<Comparison>>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}
