//! The outcome of an execution and its comparison with the sequential specification.
//!
//! What it models: what user space can observe once the scenario's threads have ended: every
//! thread call's result and, for every namespace a task still uses, its mount table as
//! `/proc/<pid>/mountinfo` would list it (mountpoint from the namespace's root, device, root of
//! the mount within its filesystem, parent's mountpoint), with the entries of the filesystem
//! below each mount's root (`ls -R`: where a file was created is seen). A namespace is named by
//! the lowest numbered task using it (init is T0, the threads T1..), never by an object id, so two
//! executions that built the same tree compare equal. The sequential specification ([`Spec`],
//! computed by `super::linearizable`) is the set of outcomes of every order of the threads' whole
//! operations; an execution is linearizable when its outcome is in it, comparing only the results
//! of operations the kernel makes atomic ([`super::ops::Atomicity`]) and every table.
//!
//! Invariant: [`Spec`]'s outcomes are distinct and sorted, so it serializes the same way every
//! time; its index (by the hash of the tables) is rebuilt from them, never serialized, and
//! lookups use it first and compare outcomes in full only among those with equal tables.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use super::Call;
use crate::error::OpResult;
use crate::fs::{join, relative};
use crate::kernel::Tree;
use crate::mount::Mount;
use crate::namespace::Namespace;
use crate::sync::Arc;
use crate::task::Task;

/// One line of a namespace's mount table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MountRow {
    /// Where it is mounted, from the namespace's root (`/` for the root mount).
    pub mountpoint: String,
    /// Device.
    pub dev: String,
    /// Root of the mount within its filesystem (`/`, or a directory for a bind mount).
    pub root: String,
    /// The parent mount's mountpoint (empty for the namespace's root mount).
    pub parent: String,
    /// What `ls -R` of the mount's root lists: every entry of its filesystem below the mount's
    /// root, relative to it (a directory with a `/` after its name), sorted, hidden ones included
    /// (what a mount on top covers is still the filesystem's). A file created in a mount that a
    /// umount had already detached is missing here, where every order that gives the same
    /// results puts it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl fmt::Display for MountRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.mountpoint, self.dev)?;
        if self.root != "/" {
            write!(f, ":{}", self.root)?;
        }
        if !self.parent.is_empty() {
            write!(f, " (on {})", self.parent)?;
        }
        if !self.files.is_empty() {
            write!(f, " [{}]", self.files.join(" "))?;
        }
        Ok(())
    }
}

/// The mount tables of the namespaces in use, each named by the lowest numbered task using it.
pub type Tables = BTreeMap<usize, Vec<MountRow>>;

/// What an execution produced: each thread call's result, and the mount tables once the
/// threads ended (before any quiescence exit).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Outcome {
    /// Per thread, each call's result; `None` for a call that failed without effect with an
    /// errno the kernel can return out of order ([`super::ops::Atomicity::WalkOrNoEffect`]).
    pub results: Vec<Vec<Option<OpResult>>>,
    /// Per namespace in use, its mount table.
    pub tables: Tables,
}

/// The mountpoint of mount `m` from its namespace's root `root`, following parents (bounded, so a
/// cyclic tree of a mutant cannot loop).
fn mountpoint_of(tree: &Tree, root: &Option<Arc<Mount>>, m: &Mount) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = m.oid;
    for _ in 0..=tree.links.len() {
        if root.as_ref().is_some_and(|r| r.oid == cur) {
            let mut path = "/".to_string();
            for p in parts.iter().rev() {
                path = join(&path, p);
            }
            return Some(path);
        }
        let l = tree.links.get(&cur)?;
        let (Some(parent), Some(mp)) = (&l.parent, &l.mountpoint) else {
            return None;
        };
        parts.push(relative(&mp.path, &parent.root.path)?);
        cur = parent.oid;
    }
    None
}

/// The mount table of namespace `ns`: every mount of `ns` (`mnt_namespace`) attached to its
/// tree, that is whose parents lead to the namespace's root (what its `mnt_list`, and so
/// `/proc/<pid>/mountinfo`, holds), sorted.
pub fn namespace_table(tree: &Tree, ns: &Arc<Namespace>) -> Vec<MountRow> {
    let root = ns.root();
    let mut rows: Vec<MountRow> = tree
        .links
        .values()
        .filter(|l| l.ns.as_ref().is_some_and(|n| Arc::ptr_eq(n, ns)))
        .filter_map(|l| {
            let mountpoint = mountpoint_of(tree, &root, &l.mnt)?;
            let parent = match l.parent.as_deref() {
                Some(p) => mountpoint_of(tree, &root, p)?,
                None => String::new(),
            };
            let files = l.mnt.sb.listing(&l.mnt.root.path);
            Some(MountRow {
                mountpoint,
                dev: l.mnt.sb.dev.clone(),
                root: l.mnt.root.path.clone(),
                parent,
                files,
            })
        })
        .collect();
    rows.sort();
    rows
}

/// The mount tables of the namespaces that the tasks still running use. `tasks[i]` is task
/// number `i` (init is 0); a namespace is keyed by the lowest number among its tasks.
pub fn observe(tasks: &[&Task]) -> Tables {
    let mut seen: Vec<(usize, Arc<Namespace>)> = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        if t.exited() {
            continue;
        }
        if let Some(ns) = &t.ns {
            if !seen.iter().any(|(_, n)| Arc::ptr_eq(n, ns)) {
                seen.push((i, ns.clone()));
            }
        }
    }
    let Some(first) = tasks.first() else {
        return Tables::new();
    };
    first.k.tree.peek(|tree| {
        seen.iter()
            .map(|(i, ns)| (*i, namespace_table(tree, ns)))
            .collect()
    })
}

fn hash_of<T: Hash>(v: &T) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// One distinct sequential outcome with an order that produced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecOutcome {
    /// The outcome.
    pub outcome: Outcome,
    /// The first order (in enumeration order) that produced it: thread numbers (1..), one per
    /// operation run (the calls whose result is `None` were let fail without effect).
    pub order: Vec<u8>,
}

/// The serialized part of a [`Spec`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecData {
    /// Orders enumerated: every merge of the threads' lists that keeps each thread's order,
    /// for every set of calls let fail without effect
    /// ([`super::ops::Atomicity::WalkOrNoEffect`]).
    pub orders: u64,
    /// Orders that ran to their end (in the others an operation waited for ever).
    pub feasible: u64,
    /// The distinct outcomes, sorted.
    pub outcomes: Vec<SpecOutcome>,
}

/// The sequential specification of a program: its distinct sequential outcomes, indexed by the
/// hash of their mount tables.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "SpecData", into = "SpecData")]
pub struct Spec {
    data: SpecData,
    by_tables: HashMap<u64, Vec<usize>>,
}

impl PartialEq for Spec {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl Eq for Spec {}

impl From<SpecData> for Spec {
    fn from(mut data: SpecData) -> Self {
        data.outcomes.sort_by(|a, b| a.outcome.cmp(&b.outcome));
        data.outcomes.dedup_by(|a, b| a.outcome == b.outcome);
        let mut by_tables: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, o) in data.outcomes.iter().enumerate() {
            by_tables
                .entry(hash_of(&o.outcome.tables))
                .or_default()
                .push(i);
        }
        Spec { data, by_tables }
    }
}

impl From<Spec> for SpecData {
    fn from(s: Spec) -> Self {
        s.data
    }
}

/// Which results of an observed execution are compared: per thread, per call.
pub type Mask = Vec<Vec<bool>>;

/// A result as a report shows it: the errno, or `no effect`.
pub fn shown(r: Option<OpResult>) -> String {
    r.map_or("failed, no effect".to_string(), |r| r.to_string())
}

fn results_match(
    a: &[Vec<Option<OpResult>>],
    b: &[Vec<Option<OpResult>>],
    compared: &Mask,
) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).zip(compared).all(|((x, y), m)| {
            x.len() == y.len() && x.iter().zip(y).zip(m).all(|((p, q), c)| !c || p == q)
        })
}

/// How far apart two outcomes are: differing compared results plus rows in one table and not
/// the other.
fn distance(a: &Outcome, b: &Outcome, compared: &Mask) -> usize {
    let mut d = 0;
    for ((x, y), m) in a.results.iter().zip(&b.results).zip(compared) {
        d += x
            .iter()
            .zip(y)
            .zip(m)
            .filter(|((p, q), c)| **c && p != q)
            .count();
    }
    let empty = Vec::new();
    let keys: BTreeSet<&usize> = a.tables.keys().chain(b.tables.keys()).collect();
    for k in keys {
        let (x, y) = (
            a.tables.get(k).unwrap_or(&empty),
            b.tables.get(k).unwrap_or(&empty),
        );
        d += x.iter().filter(|r| !y.contains(r)).count();
        d += y.iter().filter(|r| !x.contains(r)).count();
    }
    d
}

impl Spec {
    /// A specification from its outcomes (sorted and deduplicated here).
    pub fn new(orders: u64, feasible: u64, outcomes: Vec<SpecOutcome>) -> Spec {
        SpecData {
            orders,
            feasible,
            outcomes,
        }
        .into()
    }

    /// Orders enumerated.
    pub fn orders(&self) -> u64 {
        self.data.orders
    }

    /// Orders that ran to their end.
    pub fn feasible(&self) -> u64 {
        self.data.feasible
    }

    /// The distinct outcomes.
    pub fn outcomes(&self) -> &[SpecOutcome] {
        &self.data.outcomes
    }

    /// Whether `observed` is one of the sequential outcomes, comparing the results `compared`
    /// marks and every table. Looks the tables' hash up first.
    pub fn admits(&self, observed: &Outcome, compared: &Mask) -> bool {
        self.by_tables
            .get(&hash_of(&observed.tables))
            .is_some_and(|ix| {
                ix.iter().any(|&i| {
                    let o = &self.data.outcomes[i].outcome;
                    o.tables == observed.tables
                        && results_match(&o.results, &observed.results, compared)
                })
            })
    }

    /// The sequential outcomes nearest to `observed` (fewest differing compared results and
    /// table rows), at most `n`, in the specification's order.
    pub fn nearest(&self, observed: &Outcome, compared: &Mask, n: usize) -> Vec<Nearest> {
        let ds: Vec<usize> = self
            .data
            .outcomes
            .iter()
            .map(|o| distance(&o.outcome, observed, compared))
            .collect();
        let Some(&best) = ds.iter().min() else {
            return Vec::new();
        };
        self.data
            .outcomes
            .iter()
            .zip(ds)
            .filter(|(_, d)| *d == best)
            .take(n)
            .map(|(o, d)| Nearest {
                outcome: o.outcome.clone(),
                order: o.order.clone(),
                distance: d,
            })
            .collect()
    }
}

/// A sequential outcome shown beside an observed one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nearest {
    /// The sequential outcome.
    pub outcome: Outcome,
    /// An order that produces it (thread numbers, one per operation).
    pub order: Vec<u8>,
    /// Differing compared results plus differing table rows.
    pub distance: usize,
}

/// What a `not-linearizable` finding shows: the observed outcome beside the nearest sequential
/// ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// The calls of each thread, as text.
    pub calls: Vec<Vec<String>>,
    /// What this execution produced.
    pub observed: Outcome,
    /// Which observed results were compared (the others are of operations the kernel does not
    /// make atomic, or whose walk crossed more than one mountpoint).
    pub compared: Mask,
    /// The nearest sequential outcomes.
    pub nearest: Vec<Nearest>,
    /// Orders enumerated.
    pub orders: u64,
    /// Orders that ran to their end.
    pub feasible: u64,
    /// Distinct sequential outcomes.
    pub outcomes: usize,
}

impl Comparison {
    /// The order that produced `n` as text: `T1 get_super ram0 as sb; T2 umount /mnt; ...`,
    /// then the calls it let fail without effect.
    pub fn order_text(&self, n: &Nearest) -> String {
        let ran = |t: usize, i: usize| {
            n.outcome
                .results
                .get(t)
                .and_then(|v| v.get(i))
                .is_some_and(Option::is_some)
        };
        let mut next = vec![0usize; self.calls.len()];
        let mut parts: Vec<String> = Vec::new();
        for &t in &n.order {
            let Some(i) = usize::from(t).checked_sub(1) else {
                continue;
            };
            let Some(calls) = self.calls.get(i) else {
                continue;
            };
            while next[i] < calls.len() && !ran(i, next[i]) {
                next[i] += 1;
            }
            if let Some(c) = calls.get(next[i]) {
                parts.push(format!("T{t} {c}"));
                next[i] += 1;
            }
        }
        let mut text = parts.join("; ");
        for (t, calls) in self.calls.iter().enumerate() {
            for (i, c) in calls.iter().enumerate() {
                if !ran(t, i) {
                    text.push_str(&format!("; T{} `{c}` fails without effect", t + 1));
                }
            }
        }
        text
    }

    /// The first difference between the observed outcome and the nearest sequential one, in
    /// words.
    pub fn first_difference(&self) -> String {
        let Some(n) = self.nearest.first() else {
            return "no order of the threads' operations runs to its end".into();
        };
        for (t, ((obs, seq), m)) in self
            .observed
            .results
            .iter()
            .zip(&n.outcome.results)
            .zip(&self.compared)
            .enumerate()
        {
            for (i, ((a, b), c)) in obs.iter().zip(seq).zip(m).enumerate() {
                if *c && a != b {
                    let call = self.calls[t].get(i).map_or("?", String::as_str);
                    return format!(
                        "T{} `{call}` returned {} where the nearest order gives {}",
                        t + 1,
                        shown(*a),
                        shown(*b)
                    );
                }
            }
        }
        let empty = Vec::new();
        let keys: BTreeSet<&usize> = self
            .observed
            .tables
            .keys()
            .chain(n.outcome.tables.keys())
            .collect();
        for k in keys {
            let a = self.observed.tables.get(k).unwrap_or(&empty);
            let b = n.outcome.tables.get(k).unwrap_or(&empty);
            if let Some(r) = a.iter().find(|r| !b.contains(r)) {
                return format!("the mount table of T{k}'s namespace has `{r}`, which the nearest order does not");
            }
            if let Some(r) = b.iter().find(|r| !a.contains(r)) {
                return format!(
                    "the mount table of T{k}'s namespace lacks `{r}`, which the nearest order has"
                );
            }
        }
        "nothing".into()
    }
}

/// The text of every call of each thread.
pub fn call_texts(threads: &[Vec<Call>]) -> Vec<Vec<String>> {
    threads
        .iter()
        .map(|t| t.iter().map(|c| c.op.to_string()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MountError;

    fn row(mp: &str, dev: &str) -> MountRow {
        MountRow {
            mountpoint: mp.into(),
            dev: dev.into(),
            root: "/".into(),
            parent: if mp == "/" { String::new() } else { "/".into() },
            files: Vec::new(),
        }
    }

    #[test]
    fn the_files_under_a_mount_are_part_of_its_row() {
        let ok = OpResult::Ok;
        let mut seen = row("/", "rootfs");
        seen.files = vec!["mnt/".into(), "mnt/f".into()];
        assert_eq!(seen.to_string(), "/ rootfs [mnt/ mnt/f]");
        let spec = Spec::new(
            1,
            1,
            vec![SpecOutcome {
                outcome: outcome(vec![vec![ok]], vec![seen]),
                order: vec![1],
            }],
        );
        let mut lost = row("/", "rootfs");
        lost.files = vec!["mnt/".into()];
        // Same results, same mounts: only the file created in a detached mount is missing.
        assert!(!spec.admits(&outcome(vec![vec![ok]], vec![lost]), &vec![vec![true]]));
    }

    fn outcome(r: Vec<Vec<OpResult>>, rows: Vec<MountRow>) -> Outcome {
        Outcome {
            results: r
                .into_iter()
                .map(|t| t.into_iter().map(Some).collect())
                .collect(),
            tables: [(0, rows)].into_iter().collect(),
        }
    }

    #[test]
    fn admits_compares_tables_and_the_compared_results() {
        let ok = OpResult::Ok;
        let busy = OpResult::Err(MountError::Busy);
        let a = outcome(vec![vec![ok], vec![busy]], vec![row("/", "rootfs")]);
        let b = outcome(
            vec![vec![ok], vec![ok]],
            vec![row("/", "rootfs"), row("/mnt", "ram0")],
        );
        let spec = Spec::new(
            2,
            2,
            vec![
                SpecOutcome {
                    outcome: b.clone(),
                    order: vec![1, 2],
                },
                SpecOutcome {
                    outcome: a.clone(),
                    order: vec![2, 1],
                },
            ],
        );
        let all = vec![vec![true], vec![true]];
        assert!(spec.admits(&a, &all) && spec.admits(&b, &all));
        let c = outcome(vec![vec![ok], vec![ok]], vec![row("/", "rootfs")]);
        assert!(!spec.admits(&c, &all));
        // With T2's result left out, c's tables and T1's result are a's.
        assert!(spec.admits(&c, &vec![vec![true], vec![false]]));
        // a differs in T2's result, b in one row: both are one away.
        let near = spec.nearest(&c, &all, 3);
        assert_eq!(near.len(), 2);
        assert!(near.iter().all(|n| n.distance == 1));
        assert!(near.iter().any(|n| n.outcome == a) && near.iter().any(|n| n.outcome == b));
        assert_eq!(spec.nearest(&c, &all, 1).len(), 1);
        // Serialization keeps the outcomes, sorted, and rebuilds the index.
        let json = serde_json::to_string(&spec).unwrap();
        let back: Spec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        assert!(back.admits(&a, &all));
    }
}
