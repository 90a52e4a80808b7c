//! Which pairs of operations have run concurrently: the op × op table of `mountcheck fuzz`'s
//! summary, `reports/fuzz.md` and `mountcheck list --coverage`.
//!
//! What it counts: two operations ran concurrently in a scenario when one thread calls the one
//! and another thread the other (the setup runs alone, so it does not count); each scenario
//! counts once per unordered pair, however many times the pair occurs in it, and the pair is
//! marked found when the scenario's exploration found something (for bundled scenarios: when
//! the scenario expects a finding). The rows and columns are [`OPERATIONS`] in table order, so
//! a new operation gets its row and column with no change here.
//!
//! Invariant: the table is symmetric and keyed by (smaller kind, larger kind); a cell's found
//! count never exceeds its scenario count.

use std::collections::{BTreeMap, BTreeSet};

use mountcheck_model::program::syntax::Piece;
use mountcheck_model::program::{OpKind, OpSpec, OPERATIONS};
use mountcheck_model::Program;
use serde::Serialize;

/// The op × op coverage of a set of scenarios.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Scenarios counted.
    pub scenarios: u64,
    /// For each unordered pair (smaller kind first): scenarios in which it ran concurrently, and
    /// how many of those found something.
    #[serde(skip)]
    pub pairs: BTreeMap<(OpKind, OpKind), (u64, u64)>,
}

/// The unordered pairs of operations that different threads of `p` call.
pub fn concurrent_pairs(p: &Program) -> BTreeSet<(OpKind, OpKind)> {
    let mut out = BTreeSet::new();
    for (i, a) in p.threads.iter().enumerate() {
        for b in &p.threads[i + 1..] {
            for x in a {
                for y in b {
                    let (k, l) = (x.op.kind(), y.op.kind());
                    out.insert((k.min(l), k.max(l)));
                }
            }
        }
    }
    out
}

impl Coverage {
    /// Count scenario `p`, which found something when `found`.
    pub fn add(&mut self, p: &Program, found: bool) {
        self.scenarios += 1;
        for pair in concurrent_pairs(p) {
            let e = self.pairs.entry(pair).or_default();
            e.0 += 1;
            e.1 += u64::from(found);
        }
    }

    /// Pairs of operations never run concurrently, of all pairs.
    pub fn never(&self) -> (usize, usize) {
        let n = OPERATIONS.len();
        let all = n * (n + 1) / 2;
        (all - self.pairs.len(), all)
    }

    /// The Markdown table: a row and a column per operation; a cell is `·` (never run
    /// concurrently), the number of scenarios, and `(k found)` when k of them found something.
    pub fn markdown(&self) -> String {
        let names: Vec<String> = OPERATIONS.iter().map(label).collect();
        let mut o = format!("| | {} |\n|---|", names.join(" | "));
        o.push_str(&"---|".repeat(names.len()));
        o.push('\n');
        for a in OPERATIONS {
            o.push_str(&format!("| **{}** |", label(a)));
            for b in OPERATIONS {
                let key = (a.kind.min(b.kind), a.kind.max(b.kind));
                let cell = match self.pairs.get(&key) {
                    None => "·".to_string(),
                    Some((n, 0)) => n.to_string(),
                    Some((n, f)) => format!("{n} ({f} found)"),
                };
                o.push_str(&format!(" {cell} |"));
            }
            o.push('\n');
        }
        let (never, all) = self.never();
        o.push_str(&format!(
            "\n{} scenario(s); {never} of {all} pairs of operations never ran concurrently (`·`).\n",
            self.scenarios
        ));
        o
    }
}

/// A short label for an operation in the table: its name, and the literal words that tell apart
/// two operations of one name (`mount --bind`).
pub fn label(spec: &OpSpec) -> String {
    let shared = OPERATIONS.iter().filter(|t| t.name == spec.name).count() > 1;
    let lits: Vec<&str> = spec
        .syntax
        .iter()
        .filter_map(|p| match p {
            Piece::Lit(w) => Some(*w),
            _ => None,
        })
        .collect();
    if shared && !lits.is_empty() {
        format!("{} {}", spec.name, lits.join(" "))
    } else {
        spec.name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mountcheck_model::parse_call;

    fn prog(threads: &[&[&str]]) -> Program {
        Program {
            threads: threads
                .iter()
                .map(|t| t.iter().map(|c| parse_call(c).unwrap()).collect())
                .collect(),
            ..Program::default()
        }
    }

    #[test]
    fn pairs_are_across_threads_only_and_counted_once_per_scenario() {
        let p = prog(&[&["stat /a", "stat /b"], &["umount /a", "stat /a"]]);
        let pairs = concurrent_pairs(&p);
        let stat = parse_call("stat /a").unwrap().op.kind();
        let umount = parse_call("umount /a").unwrap().op.kind();
        assert_eq!(
            pairs,
            BTreeSet::from([(stat, stat), (stat.min(umount), stat.max(umount))])
        );
        let mut c = Coverage::default();
        c.add(&p, true);
        c.add(&prog(&[&["stat /a"], &["sync"]]), false);
        assert_eq!(c.scenarios, 2);
        assert_eq!(c.pairs[&(stat, stat)], (1, 1));
        let md = c.markdown();
        assert!(md.contains("1 (1 found)"), "{md}");
        assert!(md.contains("| **mount --bind** |"), "{md}");
        // One thread alone runs nothing concurrently.
        assert!(concurrent_pairs(&prog(&[&["stat /a", "umount /a"]])).is_empty());
    }
}
