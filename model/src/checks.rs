//! Which oracle families judge an execution.
//!
//! What it models: nothing of the kernel. An execution is judged by several families of
//! checks, each raising findings of its own classes ([`Oracle::classes`]): the lifetime oracle
//! (KASAN's view: use after free, double free, underflow, leak), the invariant oracle (the tree's
//! structure and the protocol's `BUG_ON`s: mutual exclusion, `might_sleep`, a busy mount
//! detached by a plain umount), the result oracle (each call's result against the scenario's
//! assertion) and the linearizability oracle (the results and mount tables of a whole execution
//! against the model's own sequential orders, `crate::program::linearizable`). A family that is
//! off is skipped where it would raise: the execution goes on as the kernel would without the
//! check, so the catalog can tell which family catches a mutant (`mountcheck catalog`).
//!
//! Invariant: [`Oracles::default`] is every family on; checker verdicts (deadlock, panic, crash)
//! belong to no family and are never switched off.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::oracle::FindingClass;

/// One family of checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oracle {
    /// Use after free, double free, underflow, leak (`crate::oracle::Ledger`).
    Lifetime,
    /// Structural and protocol invariants.
    Invariant,
    /// Lock rules (`crate::rules`) and the lock-order graph (`crate::oracle::lockdep`).
    Lockdep,
    /// Each call's result against its assertion in the scenario (`umount /mnt = EBUSY`).
    Result,
    /// The whole execution's results and mount tables against every sequential order.
    Linearizability,
}

impl Oracle {
    /// Every family, in the order reports list them.
    pub const ALL: [Oracle; 5] = [
        Oracle::Lifetime,
        Oracle::Invariant,
        Oracle::Lockdep,
        Oracle::Result,
        Oracle::Linearizability,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Oracle::Lifetime => "lifetime",
            Oracle::Invariant => "invariant",
            Oracle::Lockdep => "lockdep",
            Oracle::Result => "result",
            Oracle::Linearizability => "linearizability",
        }
    }

    /// Parse a name.
    pub fn from_name(s: &str) -> Option<Oracle> {
        Oracle::ALL.into_iter().find(|o| o.name() == s)
    }

    /// The finding classes this family raises.
    pub fn classes(self) -> &'static [FindingClass] {
        match self {
            Oracle::Lifetime => &[
                FindingClass::UseAfterFree,
                FindingClass::DoubleFree,
                FindingClass::Underflow,
                FindingClass::Leak,
            ],
            Oracle::Invariant => &[FindingClass::Invariant],
            Oracle::Lockdep => &[FindingClass::LockRule, FindingClass::LockOrder],
            Oracle::Result => &[FindingClass::WrongResult],
            Oracle::Linearizability => &[FindingClass::NotLinearizable],
        }
    }

    /// The family that raises `class`; `None` for the checkers' own verdicts (deadlock, panic,
    /// crash), which no switch turns off.
    pub fn of(class: FindingClass) -> Option<Oracle> {
        Oracle::ALL
            .into_iter()
            .find(|o| o.classes().contains(&class))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of oracle families. Default: all of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Vec<Oracle>", from = "Vec<Oracle>")]
pub struct Oracles(u8);

impl Oracles {
    /// Every family.
    pub fn all() -> Oracles {
        Oracle::ALL.into_iter().collect()
    }

    /// Only `o`.
    pub fn only(o: Oracle) -> Oracles {
        Oracles(o.bit())
    }

    /// Whether `o` is on.
    pub fn has(self, o: Oracle) -> bool {
        self.0 & o.bit() != 0
    }

    /// Whether a finding of `class` is raised: its family is on, or it belongs to none.
    pub fn raises(self, class: FindingClass) -> bool {
        Oracle::of(class).is_none_or(|o| self.has(o))
    }

    /// The families on, in [`Oracle::ALL`] order.
    pub fn list(self) -> Vec<Oracle> {
        Oracle::ALL.into_iter().filter(|o| self.has(*o)).collect()
    }
}

impl Default for Oracles {
    fn default() -> Self {
        Oracles::all()
    }
}

impl FromIterator<Oracle> for Oracles {
    fn from_iter<I: IntoIterator<Item = Oracle>>(it: I) -> Self {
        Oracles(it.into_iter().fold(0, |b, o| b | o.bit()))
    }
}

impl From<Vec<Oracle>> for Oracles {
    fn from(v: Vec<Oracle>) -> Self {
        v.into_iter().collect()
    }
}

impl From<Oracles> for Vec<Oracle> {
    fn from(o: Oracles) -> Self {
        o.list()
    }
}

impl fmt::Debug for Oracles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.list()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_but_the_checkers_has_one_family() {
        for c in FindingClass::ALL {
            let n = Oracle::ALL
                .iter()
                .filter(|o| o.classes().contains(&c))
                .count();
            let checker = matches!(
                c,
                FindingClass::Deadlock | FindingClass::Panic | FindingClass::Crash
            );
            assert_eq!(n, usize::from(!checker), "{c}");
        }
    }

    #[test]
    fn sets() {
        let s = Oracles::only(Oracle::Result);
        assert!(s.has(Oracle::Result) && !s.has(Oracle::Lifetime));
        assert!(!s.raises(FindingClass::UseAfterFree));
        assert!(s.raises(FindingClass::Deadlock));
        assert!(Oracles::default().raises(FindingClass::NotLinearizable));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "[\"result\"]");
        assert_eq!(serde_json::from_str::<Oracles>(&json).unwrap(), s);
    }
}
