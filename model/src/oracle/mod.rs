//! The lifetime oracle: a ledger of every super_block, vfsmount and namespace of one execution.
//!
//! What it models: the KASAN / SLUB-debug view of the objects that fs/super.c, fs/namespace.c
//! and include/linux/namespace.h allocate and free, and lockdep's view of the locks the model
//! takes ([`lockdep`]). Each object is alive, shut down (a super_block whose filesystem
//! `kill_super` tore down while `s_count` still keeps the struct) or freed. Every reference the
//! model takes or drops is recorded with its holder (who took it, in which operation, at which
//! step), so a leak names the reference that was never put; every lock taken and released is
//! recorded with its typed identity, so the locks a thread held at any step, the lock rules and
//! the lock order can be checked.
//!
//! Invariants it enforces (each a [`Finding`]): no access to a freed object (or to the filesystem
//! of a shut-down super_block), no second free, no count below zero, no put of a reference nobody
//! holds, no access without the lock its rule needs, no lock-order cycle, and at quiescence every
//! count equals the sum of the holders the ledger knows, every object nobody refers to is freed,
//! and no `s_umount` is left held.
//!
//! Cost: the ledger is consulted at every reference and lock operation of every execution, and
//! almost no execution fails, so it records a compact tape of typed events ([`trace`]) with no
//! string formatting on the way (holder tags and operation texts are interned), and renders the
//! text of a trace, an object's history or a finding's message only when someone reads them.
//!
//! The ledger uses `std::sync` on purpose: it is invisible to loom and shuttle and adds no
//! scheduling points. A finding is stored in the ledger, recorded as the last step of the trace
//! (the failing step), and then raised as a panic, so that the checker stops the execution and
//! the engine reads the finding back.
//!
//! Where each part lives: this file holds the [`Ledger`] itself (objects, the tape, findings
//! raised); `object` the objects' identities, kinds, states and counts; `refs` every get, put
//! and free; `quiescence` the checks once every task exited; `finding` the reported forms;
//! `ctx` a thread's context (its operation and held locks); [`lockdep`] the lock rules and
//! order; [`trace`] the tape's records and rendering; `capacity` a new ledger's room.

mod ctx;
mod finding;
pub mod lockdep;
mod object;
mod quiescence;
mod refs;
pub mod trace;

use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::checks::Oracles;
use crate::program::outcome::Comparison;
pub use ctx::Ctx;
pub use finding::{Finding, FindingClass, HistoryEntry, Holder, ObjectReport};
use lockdep::LockOrder;
pub use object::{Counter, ObjKind, ObjState, Oid};
use trace::{Ev, Rec};
pub use trace::{Note, Step, Verb};

/// `S_BIAS` of fs/super.c: the weight of the `super_blocks` list's reference on `s_count`.
pub const S_BIAS: isize = 1 << 30;

/// A reference as the ledger keeps it while exploring (see [`Holder`] for the reported form).
#[derive(Clone, Debug)]
struct HolderRec {
    counter: Counter,
    tag: Arc<str>,
    weight: isize,
    thread: usize,
    op: u32,
    step: usize,
}

#[derive(Debug)]
struct Object {
    kind: ObjKind,
    /// The labels it had, each with the step from which it held (the first from allocation).
    labels: Vec<(usize, Arc<str>)>,
    state: ObjState,
    /// Counts as last recorded, by [`Counter::index`]; `None` for a count never touched.
    counts: [Option<isize>; 5],
    holders: Vec<HolderRec>,
}

impl Object {
    fn label(&self) -> &Arc<str> {
        &self.labels.last().expect("an object has a label").1
    }
}

#[derive(Debug, Default)]
struct Inner {
    execution: u64,
    objects: Vec<Object>,
    recs: Vec<Rec>,
    ops: Vec<Arc<str>>,
    op_index: FxHashMap<Arc<str>, u32>,
    tags: FxHashSet<Arc<str>>,
    finding: Option<Finding>,
    /// The oracle families whose findings are raised (`crate::checks`).
    oracles: Oracles,
}

/// The ledger of one execution. Cheap to clone (an `Arc`).
#[derive(Clone, Debug)]
pub struct Ledger {
    inner: Arc<Mutex<Inner>>,
    order: LockOrder,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn obj(&self, oid: Oid) -> &Object {
        &self.objects[(oid.0 - 1) as usize]
    }
    fn obj_mut(&mut self, oid: Oid) -> &mut Object {
        &mut self.objects[(oid.0 - 1) as usize]
    }
    fn label(&self, oid: Oid) -> String {
        self.obj(oid).label().to_string()
    }
    fn push(&mut self, ctx: &Ctx, ev: Ev) -> usize {
        let seq = self.recs.len();
        if self.finding.is_some() {
            // The failing step is the last one: what unwinding does after it (guards dropped
            // while the panic unwinds) is not part of the execution.
            return seq;
        }
        self.recs.push(Rec {
            thread: ctx.tid,
            op: ctx.op.get(),
            ev,
        });
        seq
    }
    fn tag(&mut self, t: &str) -> Arc<str> {
        if let Some(a) = self.tags.get(t) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(t);
        self.tags.insert(a.clone());
        a
    }
    fn op_text(&self, i: u32) -> String {
        self.ops
            .get(i as usize)
            .map_or_else(String::new, |s| s.to_string())
    }
    fn holder(&self, h: &HolderRec) -> Holder {
        Holder {
            counter: h.counter,
            tag: h.tag.to_string(),
            weight: h.weight,
            thread: h.thread,
            op: self.op_text(h.op),
            step: h.step,
        }
    }
    fn report(&self, oid: Oid) -> ObjectReport {
        let o = self.obj(oid);
        let history = self
            .recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.ev.object() == Some(oid))
            .filter_map(|(step, r)| {
                trace::history_text(&r.ev).map(|what| HistoryEntry {
                    step,
                    thread: r.thread,
                    op: self.op_text(r.op),
                    what,
                })
            })
            .collect();
        ObjectReport {
            oid,
            kind: o.kind,
            label: o.label().to_string(),
            state: o.state,
            counts: Counter::ALL
                .iter()
                .filter_map(|c| o.counts[c.index()].map(|v| (c.name().to_string(), v)))
                .collect(),
            holders: o.holders.iter().map(|h| self.holder(h)).collect(),
            history,
        }
    }
}

impl Ledger {
    /// A fresh ledger for one execution that stands alone (its lock-order graph is its own).
    pub fn new() -> Self {
        Self::in_exploration(&LockOrder::new())
    }

    /// A fresh ledger for the next execution of an exploration whose executions share the
    /// lock-order graph `order`.
    pub fn in_exploration(order: &LockOrder) -> Self {
        let execution = order.next_execution();
        let inner = Inner {
            execution,
            ops: vec![Arc::from("")],
            ..Inner::default()
        };
        Ledger {
            inner: Arc::new(Mutex::new(inner)),
            order: order.clone(),
        }
    }

    /// The lock-order graph this ledger records into.
    pub fn lock_order(&self) -> &LockOrder {
        &self.order
    }

    /// This execution's number within its exploration (1-based).
    pub fn execution(&self) -> u64 {
        lock(&self.inner).execution
    }

    fn push(&self, ctx: &Ctx, ev: Ev) -> usize {
        lock(&self.inner).push(ctx, ev)
    }

    fn intern_op(&self, op: &str) -> u32 {
        let mut g = lock(&self.inner);
        if let Some(i) = g.op_index.get(op) {
            return *i;
        }
        let a: Arc<str> = Arc::from(op);
        let i = g.ops.len() as u32;
        g.ops.push(a.clone());
        g.op_index.insert(a, i);
        i
    }

    fn op_text(&self, i: u32) -> String {
        lock(&self.inner).op_text(i)
    }

    /// Register a newly allocated object.
    pub fn create(&self, ctx: &Ctx, kind: ObjKind, label: impl FnOnce(Oid) -> String) -> Oid {
        let mut g = lock(&self.inner);
        let oid = Oid(g.objects.len() as u32 + 1);
        let label: Arc<str> = Arc::from(label(oid).as_str());
        let step = g.recs.len();
        g.objects.push(Object {
            kind,
            labels: vec![(step, label)],
            state: ObjState::Alive,
            counts: [None; 5],
            holders: Vec::with_capacity(capacity::HOLDERS_CAPACITY),
        });
        g.push(ctx, Ev::Alloc(oid));
        oid
    }

    /// Change an object's label (a mount learns its mountpoint when it is attached); steps from
    /// now on show the new label.
    pub fn relabel(&self, oid: Oid, label: String) {
        let mut g = lock(&self.inner);
        let step = g.recs.len();
        g.obj_mut(oid)
            .labels
            .push((step, Arc::from(label.as_str())));
    }

    /// The object's label.
    pub fn label(&self, oid: Oid) -> String {
        lock(&self.inner).label(oid)
    }

    /// Record a free-form step of `ctx`'s thread.
    pub fn step(&self, ctx: &Ctx, action: String, counts: String) {
        ctx.step(action, counts);
    }

    /// Check that `oid` is not freed before `what` touches it.
    pub fn access(&self, ctx: &Ctx, oid: Oid, what: &str) {
        self.access_with(ctx, oid, || what.to_string());
    }

    /// [`Ledger::access`] with the description made only if the check fails.
    pub fn access_with(&self, ctx: &Ctx, oid: Oid, what: impl FnOnce() -> String) {
        let g = lock(&self.inner);
        if g.obj(oid).state == ObjState::Freed {
            let msg = format!("{} touches {} after it was freed", what(), g.label(oid));
            drop(g);
            self.fail(ctx, FindingClass::UseAfterFree, msg, Some(oid), Vec::new());
        }
    }

    /// Check that the filesystem of super_block `oid` is still alive before `what` uses it.
    pub fn access_fs(&self, ctx: &Ctx, oid: Oid, what: &str) {
        self.access_fs_with(ctx, oid, || what.to_string());
    }

    /// [`Ledger::access_fs`] with the description made only if the check fails.
    pub fn access_fs_with(&self, ctx: &Ctx, oid: Oid, what: impl FnOnce() -> String) {
        let g = lock(&self.inner);
        let state = g.obj(oid).state;
        if state != ObjState::Alive {
            let how = if state == ObjState::Freed {
                "after it was freed"
            } else {
                "after its filesystem was shut down"
            };
            let msg = format!("{} uses {} {how}", what(), g.label(oid));
            drop(g);
            self.fail(ctx, FindingClass::UseAfterFree, msg, Some(oid), Vec::new());
        }
    }

    /// An object's state.
    pub fn state(&self, oid: Oid) -> ObjState {
        lock(&self.inner).obj(oid).state
    }

    /// The oracle families whose findings this ledger raises (set at boot from
    /// `crate::kernel::Config::oracles`; all by default).
    pub fn set_oracles(&self, oracles: Oracles) {
        lock(&self.inner).oracles = oracles;
    }

    /// Whether a finding of `class` is raised (its oracle family is on).
    pub fn raises(&self, class: FindingClass) -> bool {
        lock(&self.inner).oracles.raises(class)
    }

    /// Raise a finding: record the failing step, store the finding (the first one wins) and panic
    /// so the checker stops. When the finding's oracle family is off (`crate::checks`), nothing
    /// happens and the execution goes on as if the check were not there.
    pub fn fail(
        &self,
        ctx: &Ctx,
        class: FindingClass,
        message: String,
        oid: Option<Oid>,
        unmatched: Vec<Holder>,
    ) {
        if !self.raises(class) {
            return;
        }
        {
            let mut g = lock(&self.inner);
            if g.finding.is_none() {
                g.push(
                    ctx,
                    Ev::Fail {
                        class,
                        what: Arc::from(message.as_str()),
                    },
                );
            }
        }
        self.record(
            Some(ctx.tid),
            ctx.op(),
            class,
            message.clone(),
            oid,
            unmatched,
        );
        panic!("mountcheck finding: {class}: {message}");
    }

    /// Raise a `not-linearizable` (or other result) finding with its comparison of the observed
    /// outcome against the nearest sequential ones. Skipped when the class's family is off.
    pub fn fail_with_comparison(
        &self,
        ctx: &Ctx,
        class: FindingClass,
        message: String,
        comparison: Comparison,
    ) {
        if !self.raises(class) {
            return;
        }
        // The op's text comes from the ledger's intern table: read it before locking `inner`.
        let op = ctx.op();
        {
            let mut g = lock(&self.inner);
            if g.finding.is_none() {
                g.push(
                    ctx,
                    Ev::Fail {
                        class,
                        what: Arc::from(message.as_str()),
                    },
                );
                g.finding = Some(Finding {
                    class,
                    message: message.clone(),
                    thread: Some(ctx.tid),
                    op,
                    object: None,
                    unmatched: Vec::new(),
                    comparison: Some(Box::new(comparison)),
                });
            }
        }
        panic!("mountcheck finding: {class}: {message}");
    }

    /// Store a finding without panicking (the first one wins).
    pub fn record(
        &self,
        thread: Option<usize>,
        op: String,
        class: FindingClass,
        message: String,
        oid: Option<Oid>,
        unmatched: Vec<Holder>,
    ) {
        let mut g = lock(&self.inner);
        if g.finding.is_none() {
            let object = oid.map(|o| g.report(o));
            g.finding = Some(Finding {
                class,
                message,
                thread,
                op,
                object,
                unmatched,
                comparison: None,
            });
        }
    }

    /// The first finding of this execution, if any.
    pub fn finding(&self) -> Option<Finding> {
        lock(&self.inner).finding.clone()
    }

    /// The steps recorded so far, rendered.
    pub fn trace(&self) -> Vec<Step> {
        let g = lock(&self.inner);
        let labels: Vec<Vec<(usize, Arc<str>)>> =
            g.objects.iter().map(|o| o.labels.clone()).collect();
        trace::render(&g.recs, &g.ops, &labels)
    }

    /// How many steps were recorded so far.
    pub fn steps(&self) -> usize {
        lock(&self.inner).recs.len()
    }

    /// A snapshot of one object.
    pub fn report(&self, oid: Oid) -> ObjectReport {
        lock(&self.inner).report(oid)
    }

    /// Every object, as the ledger sees it now.
    pub fn objects(&self) -> Vec<ObjectReport> {
        let g = lock(&self.inner);
        (1..=g.objects.len() as u32)
            .map(|i| g.report(Oid(i)))
            .collect()
    }

    /// The references held on `oid` now.
    pub fn holders(&self, oid: Oid) -> Vec<Holder> {
        let g = lock(&self.inner);
        g.obj(oid).holders.iter().map(|h| g.holder(h)).collect()
    }
}

// The hot path's helpers sit below the finding code on purpose: a finding's panic message names
// the line of the `panic!` in `Ledger::fail`, and reports stay byte-identical when it does not move.
impl Ledger {
    /// [`Ledger::access_with`], then the ledger locked for the caller's record: one lock when
    /// the object is not freed (the common case); when it is, the finding exactly as
    /// `access_with` raises it (and, with the use-after-free oracle off, the lock taken again).
    fn checked(&self, ctx: &Ctx, oid: Oid, what: impl FnOnce() -> String) -> MutexGuard<'_, Inner> {
        let g = lock(&self.inner);
        if g.obj(oid).state != ObjState::Freed {
            return g;
        }
        drop(g);
        self.access_with(ctx, oid, what);
        lock(&self.inner)
    }
}

// Below the finding code for the same reason as the hot path's helpers above.
mod capacity;
pub use capacity::Capacity;

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// The same references taken, moved and put on two objects, and the put of a reference
    /// nobody holds (an underflow finding, with the object's label in its message).
    fn record(ledger: &Ledger) -> Finding {
        let ctx = Ctx::new(1, ledger.clone());
        ctx.set_op("mount ram0 /mnt");
        let sb = ledger.create(&ctx, ObjKind::SuperBlock, |o| format!("sb#{} (ram0)", o.0));
        let m = ledger.create(&ctx, ObjKind::Mount, |o| format!("mnt#{} (ram0)", o.0));
        ledger.get(&ctx, sb, Counter::SActive, "mnt#?", 1, 1);
        ledger.transfer(&ctx, sb, Counter::SActive, "mnt#?", format!("mnt#{}", m.0));
        ledger.get(&ctx, m, Counter::MntCount, "creator", 1, 1);
        ledger.get(&ctx, m, Counter::MntCount, "open file f1", 1, 2);
        ctx.set_op("close f1");
        ledger.put(&ctx, m, Counter::MntCount, "open file f1", 1, 1);
        let r = catch_unwind(AssertUnwindSafe(|| {
            ledger.put(&ctx, m, Counter::MntCount, "nobody", 1, 0);
        }));
        assert!(r.is_err(), "a put nobody holds raises a finding");
        ledger.finding().expect("the underflow finding")
    }

    #[test]
    fn a_ledger_sized_like_an_earlier_one_records_exactly_what_a_fresh_one_does() {
        let order = LockOrder::new();
        let first = Ledger::in_exploration(&order);
        let f1 = record(&first);
        let capacity = first.capacity();
        assert_eq!(
            capacity,
            Capacity {
                recs: first.steps(),
                objects: 2,
                tags: 5,
                ops: 3,
            }
        );
        let second = Ledger::in_exploration_sized(&order, capacity);
        let f2 = record(&second);
        assert_eq!(second.execution(), first.execution() + 1);
        assert_eq!(f1, f2);
        assert_eq!(first.trace(), second.trace());
        assert_eq!(first.objects(), second.objects());
        assert_eq!(f1.class, FindingClass::Underflow);
        assert_eq!(
            f1.message,
            "mnt_count of mnt#2 (ram0) put by \"nobody\", who holds no such reference"
        );
    }

    #[test]
    fn a_reference_on_a_freed_object_is_still_a_use_after_free() {
        let ledger = Ledger::new();
        let ctx = Ctx::new(1, ledger.clone());
        ctx.set_op("umount /mnt");
        let m = ledger.create(&ctx, ObjKind::Mount, |o| format!("mnt#{}", o.0));
        ledger.get(&ctx, m, Counter::MntCount, "creator", 1, 1);
        ledger.put(&ctx, m, Counter::MntCount, "creator", 1, 0);
        ledger.free(&ctx, m);
        let r = catch_unwind(AssertUnwindSafe(|| {
            ledger.get(&ctx, m, Counter::MntCount, "late", 1, 1);
        }));
        assert!(r.is_err());
        let f = ledger.finding().expect("a finding");
        assert_eq!(f.class, FindingClass::UseAfterFree);
        assert_eq!(
            f.message,
            "get mnt_count (late) touches mnt#1 after it was freed"
        );
    }
}
