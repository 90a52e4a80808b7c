//! Lock identities, lock rules and the lock-order graph: the model's lockdep.
//!
//! What it models: the kernel's lockdep (kernel/locking/lockdep.c, include/linux/lockdep.h). Every
//! lock the model takes has a typed identity ([`LockId`]: a [`LockClass`] and, for per-object
//! locks, the object), taken in a mode ([`LockMode`]) at a source location (`#[track_caller]`, as
//! loom records where each of its objects was created). Two checks ride on it:
//!
//! - Lock rules ([`LockRule`]): what `lockdep_assert_held()` and "must be called with X held"
//!   comments state in the kernel. A model function that touches protected state states its rule
//!   and the ledger checks the thread's held locks at that access, on every backend and in every
//!   execution, so a broken rule is a `lock-rule` finding the first time the access runs, whether
//!   or not the interleaving that would exploit it is ever scheduled.
//! - Lock order: each time a thread takes lock B while holding lock A (both within one system
//!   call), the class edge A → B is recorded with the execution and the operation that took it
//!   in a [`LockOrder`] graph that every execution of one exploration shares (the engine makes
//!   one per exploration and hands it to each execution's ledger; a ledger made on its own has a
//!   graph of its own). An edge that closes a cycle is a `lock-order` finding naming the
//!   executions that took the edges, found without the deadlock being scheduled.
//!
//! Invariants: a lock class is a kernel lock type, not an instance (lockdep's classes); two
//! instances of one class may nest only with distinct subclasses (the kernel's
//! `down_write_nested(…, SINGLE_DEPTH_NESTING)`); a lock a thread still holds from an earlier
//! operation of its scenario (a `get_super` handle's `s_umount`, a `lock_super` handle's
//! `s_lock`) orders nothing that later operations take, because in the kernel no system call
//! returns to user space holding a lock: those are artefacts of the scenario language. RCU read
//! sections order nothing either; they only make the context atomic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::Oid;

/// A kernel lock type (lockdep's lock class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockClass {
    /// `namespace->sem` (rw-semaphore; `namespace_sem` in later kernels).
    NsSem,
    /// A filesystem's directory inode semaphore (`i_sem`, later `i_rwsem`).
    ISem,
    /// `super_block->s_umount` (rw-semaphore).
    SUmount,
    /// `super_block->s_lock` (`lock_super`, a semaphore).
    SLock,
    /// The mount hash and tree spinlock: `dcache_lock` in 2.4, `vfsmount_lock` in 2.6.
    TreeLock,
    /// `sb_lock`, the spinlock of the `super_blocks` list.
    SbLock,
    /// An RCU read section (`rcu_read_lock()`): atomic context, not a lock for ordering.
    RcuRead,
}

impl LockClass {
    /// The kernel's name of the lock.
    pub const fn name(self) -> &'static str {
        match self {
            LockClass::NsSem => "sem",
            LockClass::ISem => "i_sem",
            LockClass::SUmount => "s_umount",
            LockClass::SLock => "s_lock",
            LockClass::TreeLock => "vfsmount_lock",
            LockClass::SbLock => "sb_lock",
            LockClass::RcuRead => "rcu_read_lock",
        }
    }

    /// A sleeping lock (a semaphore): taking it in atomic context is a bug (`might_sleep()`).
    pub const fn sleeps(self) -> bool {
        matches!(
            self,
            LockClass::NsSem | LockClass::ISem | LockClass::SUmount | LockClass::SLock
        )
    }

    /// Holding it makes the context atomic (a spinlock or an RCU read section).
    pub const fn atomic_context(self) -> bool {
        matches!(
            self,
            LockClass::TreeLock | LockClass::SbLock | LockClass::RcuRead
        )
    }

    /// Whether the class takes part in the lock-order graph.
    pub const fn ordered(self) -> bool {
        !matches!(self, LockClass::RcuRead)
    }

    /// A reader-writer semaphore, whose modes show as `(r)` and `(w)`.
    const fn rw_semaphore(self) -> bool {
        matches!(self, LockClass::NsSem | LockClass::SUmount)
    }
}

/// How a lock is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Exclusively: a spinlock, a semaphore, `down_write`, `write_lock`.
    Exclusive,
    /// Shared: `down_read`, `read_lock`, an RCU read section. In the designs where the shared
    /// side of a lock is a mutex, the mode records what the caller asked for (its intent), so a
    /// rule that needs the exclusive side is checked the same way under every design.
    Shared,
}

/// One lock: its class and, for a per-object lock, the object it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockId {
    /// The class.
    pub class: LockClass,
    /// The super_block or namespace the lock is a field of (`None` for the global locks).
    pub obj: Option<Oid>,
}

impl LockId {
    /// A global lock (`sb_lock`, the tree lock, an RCU read section).
    pub const fn global(class: LockClass) -> Self {
        LockId { class, obj: None }
    }

    /// The lock `class` of super_block or namespace `obj`.
    pub const fn of(class: LockClass, obj: Oid) -> Self {
        LockId {
            class,
            obj: Some(obj),
        }
    }
}

impl fmt::Display for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.class, self.obj) {
            (LockClass::NsSem, Some(o)) => write!(f, "ns#{}.{}", o.0, self.class.name()),
            (_, Some(o)) => write!(f, "sb#{}.{}", o.0, self.class.name()),
            (_, None) => f.write_str(self.class.name()),
        }
    }
}

/// A lock a thread holds.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    /// Which lock.
    pub id: LockId,
    /// How.
    pub mode: LockMode,
    /// lockdep subclass: 0, or 1 for the annotated nesting of two locks of one class.
    pub subclass: u8,
    /// The thread's operation sequence number when it was taken (see [`super::Ctx`]).
    pub op_seq: u32,
    /// Where it was taken.
    pub at: &'static Location<'static>,
}

impl Held {
    /// `sb#4.s_umount(r)`, `ns#2.sem(w)`, `sb_lock`, `vfsmount_lock(r)`.
    pub fn label(&self) -> String {
        label(self.id, self.mode)
    }
}

/// The display of a lock held in a mode (`sb#4.s_umount(r)`, `sb_lock`, `vfsmount_lock(r)`).
pub fn label(id: LockId, mode: LockMode) -> String {
    match (id.class.rw_semaphore(), mode, id.class) {
        (_, _, LockClass::RcuRead) => id.to_string(),
        (true, LockMode::Shared, _) => format!("{id}(r)"),
        (true, LockMode::Exclusive, _) => format!("{id}(w)"),
        (false, LockMode::Shared, _) => format!("{id}(r)"),
        (false, LockMode::Exclusive, _) => id.to_string(),
    }
}

/// What a lock rule needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The lock of `class` held by this thread, in `mode` if given (either mode otherwise). For a
    /// per-object class, the lock of the object the access is about.
    Held(LockClass, Option<LockMode>),
    /// One of these.
    Any(&'static [Need]),
    /// Every one of these.
    All(&'static [Need]),
}

impl Need {
    fn met(self, held: &[Held], obj: Option<Oid>) -> bool {
        match self {
            Need::Held(class, mode) => held.iter().any(|h| {
                h.id.class == class
                    && (h.id.obj.is_none() || obj.is_none() || h.id.obj == obj)
                    && mode.is_none_or(|m| h.mode == m)
            }),
            Need::Any(list) => list.iter().any(|n| n.met(held, obj)),
            Need::All(list) => list.iter().all(|n| n.met(held, obj)),
        }
    }

    fn describe(self, obj: Option<Oid>) -> String {
        match self {
            Need::Held(class, mode) => {
                let id = match (class, obj) {
                    (LockClass::NsSem | LockClass::SUmount | LockClass::SLock, Some(o))
                    | (LockClass::ISem, Some(o)) => LockId::of(class, o).to_string(),
                    _ => class.name().to_string(),
                };
                match mode {
                    Some(LockMode::Exclusive) if class.rw_semaphore() => {
                        format!("{id} held for write")
                    }
                    Some(LockMode::Exclusive) => format!("{id} held exclusively"),
                    Some(LockMode::Shared) => format!("{id} held for read"),
                    None => format!("{id} held"),
                }
            }
            Need::Any(list) => list
                .iter()
                .map(|n| n.describe(obj))
                .collect::<Vec<_>>()
                .join(" or "),
            Need::All(list) => list
                .iter()
                .map(|n| n.describe(obj))
                .collect::<Vec<_>>()
                .join(" and "),
        }
    }
}

/// A locking rule of the kernel, stated once and checked at every access that relies on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockRule {
    /// Short id, as findings and the rules table name it (`tree-links`).
    pub id: &'static str,
    /// The model function that relies on it.
    pub function: &'static str,
    /// What must be held.
    pub need: Need,
    /// The kernel source that states it.
    pub source: &'static str,
}

impl LockRule {
    /// Whether `held` satisfies the rule for an access to `obj`.
    pub fn met(&self, held: &[Held], obj: Option<Oid>) -> bool {
        self.need.met(held, obj)
    }

    /// What the rule needs, in words, for an access to `obj`.
    pub fn describe(&self, obj: Option<Oid>) -> String {
        self.need.describe(obj)
    }
}

/// A class in the order graph: the lock class and its subclass.
pub type ClassKey = (LockClass, u8);

/// One edge of the order graph with where it was first seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorEdge {
    /// The class held.
    pub from: ClassKey,
    /// The class taken while `from` was held.
    pub to: ClassKey,
    /// Where it was first seen.
    pub seen: EdgeSeen,
}

/// The lock-order graph as the executions before one execution of an exploration left it:
/// what a replay of that execution needs, since a `lock-order` finding can close a cycle with
/// edges of earlier executions ([`LockOrder::before`], [`LockOrder::resume`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorOrder {
    /// The execution (1-based, within the exploration) the graph was left for.
    pub execution: u64,
    /// The edges first seen before it.
    pub edges: Vec<PriorEdge>,
}

/// Where an order edge was first seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeSeen {
    /// The execution (1-based, within the exploration).
    pub execution: u64,
    /// The thread.
    pub thread: usize,
    /// The scenario operation.
    pub op: String,
    /// The lock held (with mode).
    pub held: String,
    /// The lock taken (with mode).
    pub taken: String,
    /// Where the second lock was taken (`file:line`).
    pub at: String,
}

impl fmt::Display for EdgeSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "execution {}: T{} in `{}` took {} while holding {} (at {})",
            self.execution, self.thread, self.op, self.taken, self.held, self.at
        )
    }
}

#[derive(Debug, Default)]
struct Graph {
    edges: BTreeMap<(ClassKey, ClassKey), EdgeSeen>,
    executions: u64,
}

/// The lock-order graph of one exploration: class edges with where each was first seen, and
/// the count of executions that recorded into it. Cheap to clone (an `Arc`); std-only, so the
/// checkers never see it.
#[derive(Clone, Debug, Default)]
pub struct LockOrder(Arc<Mutex<Graph>>);

impl LockOrder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a new execution; its 1-based number within the exploration.
    pub(super) fn next_execution(&self) -> u64 {
        let mut g = self.graph();
        g.executions += 1;
        g.executions
    }

    /// The edges recorded so far.
    pub fn edges(&self) -> Vec<((ClassKey, ClassKey), EdgeSeen)> {
        self.graph()
            .edges
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Seed an edge seen elsewhere (a replay re-creates the edges an earlier execution of the
    /// exploration recorded, so the replayed execution closes the same cycle).
    pub fn seed(&self, from: ClassKey, to: ClassKey, seen: EdgeSeen) {
        self.graph().edges.entry((from, to)).or_insert(seen);
    }

    /// What the executions before execution `n` left in the graph: the edges they were first
    /// seen in (an edge first seen in execution `n` or later is not included), for a replay of
    /// execution `n` to start from.
    pub fn before(&self, n: u64) -> PriorOrder {
        PriorOrder {
            execution: n,
            edges: self
                .edges()
                .into_iter()
                .filter(|(_, seen)| seen.execution < n)
                .map(|((from, to), seen)| PriorEdge { from, to, seen })
                .collect(),
        }
    }

    /// Start this (fresh) graph where `prior` says the exploration was before its execution:
    /// its edges, and the count of executions before it, so the next execution has the number
    /// it had in the exploration.
    pub fn resume(&self, prior: &PriorOrder) {
        for e in &prior.edges {
            self.seed(e.from, e.to, e.seen.clone());
        }
        self.graph().executions = prior.execution.saturating_sub(1);
    }

    /// Record the edge `from` → `to` (the first sighting wins). If it is new and closes a
    /// cycle, return the edges of the path from `to` back to `from`, in order.
    pub(super) fn add_edge(
        &self,
        from: ClassKey,
        to: ClassKey,
        seen: impl FnOnce() -> EdgeSeen,
    ) -> Option<Vec<EdgeSeen>> {
        let mut g = self.graph();
        if g.edges.contains_key(&(from, to)) {
            return None;
        }
        g.edges.insert((from, to), seen());
        // Breadth-first search for a path to -> … -> from among the recorded edges.
        let mut prev: BTreeMap<ClassKey, ClassKey> = BTreeMap::new();
        let mut seen_nodes: BTreeSet<ClassKey> = BTreeSet::from([to]);
        let mut todo = VecDeque::from([to]);
        while let Some(n) = todo.pop_front() {
            if n == from {
                let mut path = Vec::new();
                let mut cur = from;
                while cur != to {
                    let p = prev[&cur];
                    path.push(g.edges[&(p, cur)].clone());
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            let next: Vec<ClassKey> = g
                .edges
                .keys()
                .filter(|(a, _)| *a == n)
                .map(|(_, b)| *b)
                .collect();
            for m in next {
                if seen_nodes.insert(m) {
                    prev.insert(m, n);
                    todo.push_back(m);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(e: u64) -> EdgeSeen {
        EdgeSeen {
            execution: e,
            thread: 1,
            op: "op".into(),
            held: "a".into(),
            taken: "b".into(),
            at: "here".into(),
        }
    }

    #[test]
    fn a_reversed_pair_is_a_cycle_and_names_both_executions() {
        let g = LockOrder::new();
        let a = (LockClass::SLock, 0);
        let b = (LockClass::ISem, 0);
        let c = (LockClass::TreeLock, 0);
        assert_eq!(g.add_edge(a, b, || seen(1)), None);
        assert_eq!(
            g.add_edge(a, b, || seen(2)),
            None,
            "a known edge is not new"
        );
        assert_eq!(g.add_edge(b, c, || seen(3)), None);
        let cycle = g
            .add_edge(c, a, || seen(4))
            .expect("c -> a closes a -> b -> c");
        assert_eq!(cycle.len(), 2);
        assert_eq!((cycle[0].execution, cycle[1].execution), (1, 3));
        assert_eq!(g.edges().len(), 3);
    }

    #[test]
    fn a_graph_resumed_from_before_an_execution_finds_the_same_cycle_in_it() {
        let g = LockOrder::new();
        let a = (LockClass::NsSem, 0);
        let b = (LockClass::ISem, 0);
        assert_eq!(g.next_execution(), 1);
        assert_eq!(g.add_edge(a, b, || seen(1)), None);
        assert_eq!(g.next_execution(), 2);
        let found = g.add_edge(b, a, || seen(2)).expect("the inversion");
        let prior = g.before(2);
        assert_eq!(
            prior.edges.len(),
            1,
            "the edge of execution 2 itself is left out"
        );
        let h = LockOrder::new();
        h.resume(&prior);
        assert_eq!(
            h.next_execution(),
            2,
            "the replayed execution keeps its number"
        );
        assert_eq!(h.add_edge(b, a, || seen(2)), Some(found));
        // Without the prior edges, the same execution finds nothing.
        let fresh = LockOrder::new();
        assert_eq!(fresh.add_edge(b, a, || seen(1)), None);
    }

    #[test]
    fn two_graphs_share_nothing() {
        let (g, h) = (LockOrder::new(), LockOrder::new());
        let a = (LockClass::SLock, 0);
        let b = (LockClass::ISem, 0);
        assert_eq!(g.add_edge(a, b, || seen(1)), None);
        assert_eq!(h.add_edge(b, a, || seen(1)), None);
    }

    #[test]
    fn rules_name_what_they_need() {
        let r = LockRule {
            id: "t",
            function: "f",
            need: Need::Any(&[
                Need::Held(LockClass::TreeLock, None),
                Need::Held(LockClass::RcuRead, None),
            ]),
            source: "s",
        };
        assert_eq!(r.describe(None), "vfsmount_lock held or rcu_read_lock held");
        let held = [Held {
            id: LockId::global(LockClass::RcuRead),
            mode: LockMode::Shared,
            subclass: 0,
            op_seq: 0,
            at: Location::caller(),
        }];
        assert!(r.met(&held, None));
        assert!(!r.met(&[], None));
        let w = Need::Held(LockClass::SUmount, Some(LockMode::Exclusive));
        let r_held = [Held {
            id: LockId::of(LockClass::SUmount, Oid(4)),
            mode: LockMode::Shared,
            subclass: 0,
            op_seq: 0,
            at: Location::caller(),
        }];
        assert!(!w.met(&r_held, Some(Oid(4))));
        assert_eq!(w.describe(Some(Oid(4))), "sb#4.s_umount held for write");
    }
}
