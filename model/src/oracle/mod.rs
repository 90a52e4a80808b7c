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

pub mod lockdep;
pub mod trace;

use std::cell::{Cell, Ref, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::checks::Oracles;
use crate::program::outcome::Comparison;
use lockdep::{EdgeSeen, Held, LockId, LockMode, LockOrder, LockRule};
use trace::{Ev, Rec};
pub use trace::{Note, Step, Verb};

/// `S_BIAS` of fs/super.c: the weight of the `super_blocks` list's reference on `s_count`.
pub const S_BIAS: isize = 1 << 30;

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

    fn index(self) -> usize {
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

/// A thread's identity for the ledger: its number, the operation it is executing and the locks
/// it holds. Owned by one model thread; never shared.
#[derive(Debug)]
pub struct Ctx {
    /// Thread number: 0 for the main thread, 1.. for scenario threads.
    pub tid: usize,
    /// Index of the operation text in the ledger's table.
    op: Cell<u32>,
    /// How many operations this thread has started: a lock taken in an earlier operation is held
    /// across a system call boundary (see [`lockdep`]).
    op_seq: Cell<u32>,
    held: RefCell<Vec<Held>>,
    ledger: Ledger,
    /// Mountpoints the path walks of the current operation crossed (`follow_down` that moved).
    crossings: Cell<u32>,
    /// The current operation returned success but changed nothing, because another task's change
    /// came between its unlocked lookup and its locked part (a umount of a mount that another
    /// umount detached meanwhile).
    without_effect: Cell<bool>,
}

impl Ctx {
    /// A context for thread `tid` recording into `ledger`.
    pub fn new(tid: usize, ledger: Ledger) -> Self {
        Ctx {
            tid,
            op: Cell::new(0),
            op_seq: Cell::new(0),
            held: RefCell::new(Vec::new()),
            ledger,
            crossings: Cell::new(0),
            without_effect: Cell::new(false),
        }
    }

    /// The ledger this thread records into.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Set the scenario operation now executing: a new system call (for lock ordering), with its
    /// mountpoint crossings counted from zero.
    pub fn set_op(&self, op: &str) {
        self.op.set(self.ledger.intern_op(op));
        self.op_seq.set(self.op_seq.get() + 1);
        self.crossings.set(0);
        self.without_effect.set(false);
    }

    /// The current operation succeeds without effect: what it was to change, another task
    /// changed between its unlocked lookup and its locked part.
    pub fn succeeded_without_effect(&self) {
        self.without_effect.set(true);
    }

    /// Whether the current operation succeeded without effect.
    pub fn without_effect(&self) -> bool {
        self.without_effect.get()
    }

    /// A path walk of the current operation crossed a mountpoint (`follow_down` moved).
    pub fn crossed_mountpoint(&self) {
        self.crossings.set(self.crossings.get() + 1);
    }

    /// Mountpoints the current operation's path walks crossed so far.
    pub fn crossings(&self) -> u32 {
        self.crossings.get()
    }

    /// The scenario operation now executing.
    pub fn op(&self) -> String {
        self.ledger.op_text(self.op.get())
    }

    /// The locks held now.
    pub fn held(&self) -> Ref<'_, Vec<Held>> {
        self.held.borrow()
    }

    /// Whether this thread holds a lock of `class`.
    pub fn holds(&self, class: lockdep::LockClass) -> bool {
        self.held.borrow().iter().any(|h| h.id.class == class)
    }

    /// The locks held now, as a report shows them (`sb#4.s_umount(r)`, `sb_lock`).
    pub fn locks(&self) -> Vec<String> {
        self.held.borrow().iter().map(Held::label).collect()
    }

    /// lockdep's check before this thread takes `id` (before it may block on it): record the
    /// order edge from every lock it holds since the start of its current operation, and raise
    /// a `lock-order` finding if an edge closes a cycle. `subclass` is 0, or 1 for the
    /// annotated nesting of a second lock of one class (`down_write_nested`).
    #[track_caller]
    pub fn before_acquire(&self, id: LockId, mode: LockMode, subclass: u8) {
        if !id.class.ordered() {
            return;
        }
        let at = Location::caller();
        let seq = self.op_seq.get();
        let held: Vec<Held> = self
            .held
            .borrow()
            .iter()
            .filter(|h| h.op_seq == seq && h.id.class.ordered())
            .copied()
            .collect();
        for h in held {
            let from = (h.id.class, h.subclass);
            let to = (id.class, subclass);
            let cycle = self.ledger.order.add_edge(from, to, || EdgeSeen {
                execution: self.ledger.execution(),
                thread: self.tid,
                op: self.op(),
                held: h.label(),
                taken: lockdep::label(id, mode),
                at: format!("{}:{}", at.file(), at.line()),
            });
            if let Some(path) = cycle {
                let now = EdgeSeen {
                    execution: self.ledger.execution(),
                    thread: self.tid,
                    op: self.op(),
                    held: h.label(),
                    taken: lockdep::label(id, mode),
                    at: format!("{}:{}", at.file(), at.line()),
                };
                let before = path
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                let msg = if from == to {
                    format!("possible recursive locking: {now} (same lock class, no nesting annotation)")
                } else {
                    format!(
                        "lock-order inversion: {now}, but the opposite order was taken: {before}"
                    )
                };
                self.ledger
                    .fail(self, FindingClass::LockOrder, msg, None, Vec::new());
            }
        }
    }

    /// Record that this thread now holds `id` in `mode` (taken with `verb`; see
    /// [`Ctx::before_acquire`] for `subclass`).
    #[track_caller]
    pub fn acquired(&self, id: LockId, mode: LockMode, verb: Verb, subclass: u8) {
        self.held.borrow_mut().push(Held {
            id,
            mode,
            subclass,
            op_seq: self.op_seq.get(),
            at: Location::caller(),
        });
        self.ledger.push(self, Ev::Acquire(id, mode, verb));
    }

    /// [`Ctx::before_acquire`] then [`Ctx::acquired`], for a lock that cannot block.
    #[track_caller]
    pub fn acquire(&self, id: LockId, mode: LockMode, verb: Verb, subclass: u8) {
        self.before_acquire(id, mode, subclass);
        self.acquired(id, mode, verb, subclass);
    }

    /// Record that this thread released `id` held in `mode` (the most recent such hold).
    pub fn release(&self, id: LockId, mode: LockMode, verb: Verb) {
        {
            let mut held = self.held.borrow_mut();
            if let Some(i) = held.iter().rposition(|h| h.id == id && h.mode == mode) {
                held.remove(i);
            }
        }
        self.ledger.push(self, Ev::Release(id, mode, verb));
    }

    /// Check lock rule `rule` for an access to `obj`: a `lock-rule` finding when this thread does
    /// not hold what the rule needs.
    pub fn require(&self, rule: &LockRule, obj: Option<Oid>) {
        let ok = rule.met(&self.held.borrow(), obj);
        if !ok {
            let held = self.locks();
            let msg = format!(
                "lock rule `{}` broken: {} needs {} ({}); T{} holds {}",
                rule.id,
                rule.function,
                rule.describe(obj),
                rule.source,
                self.tid,
                if held.is_empty() {
                    "no lock".to_string()
                } else {
                    format!("[{}]", held.join(", "))
                }
            );
            self.ledger
                .fail(self, FindingClass::LockRule, msg, obj, Vec::new());
        }
    }

    /// Record a model note.
    pub fn note(&self, note: Note) {
        self.ledger.push(self, Ev::Note(note));
    }

    /// Record a free-form step (slow path: it formats; hot paths use [`Ctx::note`]).
    pub fn step(&self, action: impl Into<String>, counts: impl Into<String>) {
        let (a, c): (String, String) = (action.into(), counts.into());
        self.ledger
            .push(self, Ev::Text(Arc::from(a.as_str()), Arc::from(c.as_str())));
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
            holders: Vec::with_capacity(HOLDERS_CAPACITY),
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

    /// Record that `tag` took a reference of `weight` on `counter` of `oid`, whose value is now
    /// `now`. An access check comes first: taking a reference on a freed object is a use after
    /// free, and so is an addition on a `mnt_count` or namespace `count` that went back to zero.
    pub fn get(
        &self,
        ctx: &Ctx,
        oid: Oid,
        counter: Counter,
        tag: impl AsRef<str>,
        weight: isize,
        now: isize,
    ) {
        let tag = tag.as_ref();
        let mut g = self.checked(ctx, oid, || format!("get {} ({tag})", counter.name()));
        let o = g.obj(oid);
        let revived = now - weight == 0
            && matches!(counter, Counter::MntCount | Counter::NsCount)
            && o.counts[counter.index()].is_some();
        if revived {
            let msg = format!("{} of {} incremented from 0 by \"{tag}\" (refcount addition on 0: the object is being freed)", counter.name(), g.label(oid));
            drop(g);
            self.fail(ctx, FindingClass::UseAfterFree, msg, Some(oid), Vec::new());
            g = lock(&self.inner);
        }
        let tag = g.tag(tag);
        let step = g.push(
            ctx,
            Ev::Get {
                oid,
                counter,
                tag: tag.clone(),
                weight,
                now,
            },
        );
        let op = ctx.op.get();
        let o = g.obj_mut(oid);
        o.counts[counter.index()] = Some(now);
        o.holders.push(HolderRec {
            counter,
            tag,
            weight,
            thread: ctx.tid,
            op,
            step,
        });
    }

    /// Record that `tag` dropped its reference on `counter` of `oid`, whose value is now `now`.
    /// Flags an underflow when `now` is negative or when nobody held such a reference.
    pub fn put(&self, ctx: &Ctx, oid: Oid, counter: Counter, tag: &str, weight: isize, now: isize) {
        let mut g = self.checked(ctx, oid, || format!("put {} ({tag})", counter.name()));
        let t = g.tag(tag);
        g.push(
            ctx,
            Ev::Put {
                oid,
                counter,
                tag: t.clone(),
                weight,
                now,
            },
        );
        let o = g.obj_mut(oid);
        o.counts[counter.index()] = Some(now);
        let pos = o
            .holders
            .iter()
            .rposition(|h| h.counter == counter && (Arc::ptr_eq(&h.tag, &t) || h.tag == t));
        if let Some(i) = pos {
            o.holders.remove(i);
        }
        let Some(label) = (pos.is_none() || now < 0).then(|| g.label(oid)) else {
            return;
        };
        drop(g);
        if pos.is_none() {
            let msg = format!(
                "{} of {label} put by \"{tag}\", who holds no such reference",
                counter.name()
            );
            self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
        }
        if now < 0 {
            let msg = format!("{} of {label} went below zero ({now})", counter.name());
            self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
        }
    }

    /// Move a reference from one holder to another without changing the count (a creator's
    /// reference becomes an open file's, a task's root moves to the copy of a namespace...).
    pub fn transfer(&self, ctx: &Ctx, oid: Oid, counter: Counter, from: &str, to: impl AsRef<str>) {
        let mut g = lock(&self.inner);
        let (f, t) = (g.tag(from), g.tag(to.as_ref()));
        let step = g.push(
            ctx,
            Ev::Transfer {
                oid,
                counter,
                from: f.clone(),
                to: t.clone(),
            },
        );
        let op = ctx.op.get();
        let tid = ctx.tid;
        let o = g.obj_mut(oid);
        if let Some(h) = o
            .holders
            .iter_mut()
            .rev()
            .find(|h| h.counter == counter && (Arc::ptr_eq(&h.tag, &f) || h.tag == f))
        {
            h.tag = t;
            h.thread = tid;
            h.op = op;
            h.step = step;
        } else {
            let label = g.label(oid);
            drop(g);
            let msg = format!(
                "{} of {label}: \"{from}\" hands over a reference it does not hold",
                counter.name()
            );
            self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
        }
    }

    /// The filesystem of super_block `oid` is shut down (`kill_super` cleared `s_root`).
    pub fn shut_down(&self, ctx: &Ctx, oid: Oid) {
        self.access_fs(ctx, oid, "kill_super");
        let mut g = lock(&self.inner);
        g.push(ctx, Ev::ShutDown(oid));
        g.obj_mut(oid).state = ObjState::ShutDown;
    }

    /// `oid` is freed. Flags a double free.
    pub fn free(&self, ctx: &Ctx, oid: Oid) {
        let mut g = lock(&self.inner);
        if g.obj(oid).state == ObjState::Freed {
            let label = g.label(oid);
            drop(g);
            self.fail(
                ctx,
                FindingClass::DoubleFree,
                format!("{label} freed twice"),
                Some(oid),
                Vec::new(),
            );
            return;
        }
        g.push(ctx, Ev::Free(oid));
        g.obj_mut(oid).state = ObjState::Freed;
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

    /// The sum of the weights of `counter` references on `oid` whose tag ends with `suffix`.
    pub fn weight_of(&self, oid: Oid, counter: Counter, suffix: &str) -> isize {
        let g = lock(&self.inner);
        g.obj(oid)
            .holders
            .iter()
            .filter(|h| h.counter == counter && h.tag.ends_with(suffix))
            .map(|h| h.weight)
            .sum()
    }

    /// Quiescence check of one count: the model's `actual` value must equal the sum of the holders
    /// the ledger knows.
    pub fn check_count(&self, ctx: &Ctx, oid: Oid, counter: Counter, actual: isize) {
        let g = lock(&self.inner);
        let o = g.obj(oid);
        let known: isize = o
            .holders
            .iter()
            .filter(|h| h.counter == counter)
            .map(|h| h.weight)
            .sum();
        if known != actual {
            let label = g.label(oid);
            let unmatched: Vec<Holder> = o
                .holders
                .iter()
                .filter(|h| h.counter == counter)
                .map(|h| g.holder(h))
                .collect();
            drop(g);
            let msg = format!(
                "{} of {label} is {actual} but the ledger knows holders worth {known}",
                counter.name()
            );
            let class = if actual < known {
                FindingClass::Underflow
            } else {
                FindingClass::Leak
            };
            self.fail(ctx, class, msg, Some(oid), unmatched);
        }
    }

    /// Quiescence check: after every task exited, every object must be freed. The first object
    /// that is not is reported as a leak naming each reference still held and who took it.
    pub fn check_all_freed(&self, ctx: &Ctx) {
        let g = lock(&self.inner);
        let leaked = g
            .objects
            .iter()
            .enumerate()
            .find(|(_, o)| o.state != ObjState::Freed);
        if let Some((i, o)) = leaked {
            let oid = Oid(i as u32 + 1);
            let holders: Vec<Holder> = o.holders.iter().map(|h| g.holder(h)).collect();
            let names: Vec<String> = holders
                .iter()
                .map(|h| {
                    format!(
                        "{} ({}, taken by T{} in `{}`)",
                        h.tag,
                        h.counter.name(),
                        h.thread,
                        h.op
                    )
                })
                .collect();
            let state = match o.state {
                ObjState::ShutDown => "shut down but not freed",
                _ => "never freed",
            };
            let msg = if names.is_empty() {
                format!(
                    "{} {state} after every task exited, though nobody holds it",
                    o.label()
                )
            } else {
                format!(
                    "{} {state} after every task exited; still held by: {}",
                    o.label(),
                    names.join("; ")
                )
            };
            drop(g);
            self.fail(ctx, FindingClass::Leak, msg, Some(oid), holders);
        }
    }

    /// Raise an invariant finding about `oid` (nothing happens when the invariant oracle is off).
    pub fn invariant(&self, ctx: &Ctx, oid: Option<Oid>, message: String) {
        self.fail(ctx, FindingClass::Invariant, message, oid, Vec::new())
    }
}

/// How far one execution's ledger grew (steps, objects, holder tags, operation texts): the
/// ledger of the next execution of the same exploration starts with that much room
/// ([`Ledger::in_exploration_sized`]), so that the executions after the first do not grow their
/// tables one push at a time again. Room only: what a ledger records does not depend on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    recs: usize,
    objects: usize,
    tags: usize,
    ops: usize,
}

/// The room a new object's holder list starts with: the objects of the bundled scenarios hold
/// at most this many references at once, so their lists are allocated once.
const HOLDERS_CAPACITY: usize = 8;

// The hot path's helpers sit below the finding code on purpose: a finding's panic message names
// the line of the `panic!` in `Ledger::fail`, and reports stay byte-identical when it does not move.
impl Ledger {
    /// [`Ledger::in_exploration`] with room for `capacity` (what an earlier execution's ledger
    /// reached, [`Ledger::capacity`]). Records exactly what `in_exploration` would.
    pub fn in_exploration_sized(order: &LockOrder, capacity: Capacity) -> Self {
        let execution = order.next_execution();
        let mut ops = Vec::with_capacity(capacity.ops.max(1));
        ops.push(Arc::from(""));
        let hasher = rustc_hash::FxBuildHasher;
        let inner = Inner {
            execution,
            objects: Vec::with_capacity(capacity.objects),
            recs: Vec::with_capacity(capacity.recs),
            ops,
            op_index: FxHashMap::with_capacity_and_hasher(capacity.ops, hasher),
            tags: FxHashSet::with_capacity_and_hasher(capacity.tags, hasher),
            ..Inner::default()
        };
        Ledger {
            inner: Arc::new(Mutex::new(inner)),
            order: order.clone(),
        }
    }

    /// How far this ledger's tables grew so far (see [`Capacity`]).
    pub fn capacity(&self) -> Capacity {
        let g = lock(&self.inner);
        Capacity {
            recs: g.recs.len(),
            objects: g.objects.len(),
            tags: g.tags.len(),
            ops: g.ops.len(),
        }
    }

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
