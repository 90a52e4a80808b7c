//! The lifetime oracle: a ledger of every super_block, vfsmount and namespace of one execution.
//!
//! What it models: the KASAN / SLUB-debug view of the objects that fs/super.c, fs/namespace.c
//! and include/linux/namespace.h allocate and free. Each object is alive, shut down (a super_block
//! whose filesystem `kill_super` tore down while `s_count` still keeps the struct) or freed. Every
//! reference the model takes or drops is recorded with its holder (who took it, in which
//! operation, at which step), so a leak names the reference that was never put, and every step is
//! recorded with the locks its thread held and the counts it read or changed, so a report can draw
//! the interleaving as a per-thread timeline.
//!
//! Invariants it enforces (each a [`Finding`]): no access to a freed object (or to the filesystem
//! of a shut-down super_block), no second free, no count below zero, no put of a reference nobody
//! holds, and at quiescence every count equals the sum of the holders the ledger knows, every
//! object nobody refers to is freed, and no `s_umount` is left held.
//!
//! The ledger uses `std::sync` on purpose (see `checkers.md`): it is invisible to loom and shuttle
//! and adds no scheduling points. A finding is stored in the ledger and then raised as a panic, so
//! that the checker stops the execution and the engine reads the finding back.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::checks::Oracles;
use crate::program::outcome::Comparison;

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
    pub const ALL: [FindingClass; 10] = [
        FindingClass::UseAfterFree,
        FindingClass::DoubleFree,
        FindingClass::Underflow,
        FindingClass::Leak,
        FindingClass::Deadlock,
        FindingClass::Invariant,
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

/// One step of an execution, for the per-thread timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Sequence number in the execution.
    pub seq: usize,
    /// Thread (0 is the main thread: setup and quiescence).
    pub thread: usize,
    /// Scenario operation being executed.
    pub op: String,
    /// What the step did, in kernel terms (`mntget mnt#3`, `down_write(s_umount) sb#1`).
    pub action: String,
    /// Locks the thread held when the step ran.
    pub locks: Vec<String>,
    /// Counts read or changed.
    pub counts: String,
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

#[derive(Debug)]
struct Object {
    kind: ObjKind,
    label: String,
    state: ObjState,
    counts: BTreeMap<Counter, isize>,
    holders: Vec<Holder>,
    history: Vec<HistoryEntry>,
    /// Counters that were ever above zero: for `mnt_count` and `count`, an addition on a count
    /// that went back to zero is a use after free (refcount_t's "addition on 0").
    seen: Vec<Counter>,
}

#[derive(Debug, Default)]
struct Inner {
    objects: Vec<Object>,
    trace: Vec<Step>,
    finding: Option<Finding>,
    /// The oracle families whose findings are raised (`crate::checks`).
    oracles: Oracles,
}

/// The ledger of one execution. Cheap to clone (an `Arc`).
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    inner: Arc<Mutex<Inner>>,
}

/// A thread's identity for the ledger: its number, the operation it is executing and the locks
/// it holds. Owned by one model thread; never shared.
#[derive(Debug)]
pub struct Ctx {
    /// Thread number: 0 for the main thread, 1.. for scenario threads.
    pub tid: usize,
    op: RefCell<String>,
    held: RefCell<Vec<String>>,
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
            op: RefCell::new(String::new()),
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

    /// Set the scenario operation now executing (and start counting its mountpoint crossings).
    pub fn set_op(&self, op: &str) {
        *self.op.borrow_mut() = op.to_string();
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
        self.op.borrow().clone()
    }

    /// Record that this thread now holds `lock`.
    pub fn push_lock(&self, lock: String) {
        self.held.borrow_mut().push(lock);
    }

    /// Record that this thread released `lock` (the most recent one of that name).
    pub fn pop_lock(&self, lock: &str) {
        let mut held = self.held.borrow_mut();
        if let Some(i) = held.iter().rposition(|l| l == lock) {
            held.remove(i);
        }
    }

    /// Locks held now.
    pub fn locks(&self) -> Vec<String> {
        self.held.borrow().clone()
    }

    /// Record a step with no count change.
    pub fn step(&self, action: impl Into<String>, counts: impl Into<String>) {
        self.ledger.step(self, action.into(), counts.into());
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
        self.obj(oid).label.clone()
    }
    fn report(&self, oid: Oid) -> ObjectReport {
        let o = self.obj(oid);
        ObjectReport {
            oid,
            kind: o.kind,
            label: o.label.clone(),
            state: o.state,
            counts: o
                .counts
                .iter()
                .map(|(c, v)| (c.name().to_string(), *v))
                .collect(),
            holders: o.holders.clone(),
            history: o.history.clone(),
        }
    }
    fn push_step(&mut self, ctx: &Ctx, action: String, counts: String) -> usize {
        let seq = self.trace.len();
        self.trace.push(Step {
            seq,
            thread: ctx.tid,
            op: ctx.op(),
            action,
            locks: ctx.locks(),
            counts,
        });
        seq
    }
    fn history(&mut self, oid: Oid, ctx: &Ctx, step: usize, what: String) {
        let op = ctx.op();
        self.obj_mut(oid).history.push(HistoryEntry {
            step,
            thread: ctx.tid,
            op,
            what,
        });
    }
}

impl Ledger {
    /// A fresh ledger for one execution.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a newly allocated object.
    pub fn create(&self, ctx: &Ctx, kind: ObjKind, label: impl FnOnce(Oid) -> String) -> Oid {
        let mut g = lock(&self.inner);
        let oid = Oid(g.objects.len() as u32 + 1);
        let label = label(oid);
        g.objects.push(Object {
            kind,
            label: label.clone(),
            state: ObjState::Alive,
            counts: BTreeMap::new(),
            holders: Vec::new(),
            history: Vec::new(),
            seen: Vec::new(),
        });
        let step = g.push_step(ctx, format!("alloc {label}"), String::new());
        g.history(oid, ctx, step, "allocated".into());
        oid
    }

    /// Change an object's label (a mount learns its mountpoint when it is attached).
    pub fn relabel(&self, oid: Oid, label: String) {
        lock(&self.inner).obj_mut(oid).label = label;
    }

    /// The object's label.
    pub fn label(&self, oid: Oid) -> String {
        lock(&self.inner).label(oid)
    }

    /// Record a step of `ctx`'s thread.
    pub fn step(&self, ctx: &Ctx, action: String, counts: String) {
        lock(&self.inner).push_step(ctx, action, counts);
    }

    /// Check that `oid` is not freed before `what` touches it.
    pub fn access(&self, ctx: &Ctx, oid: Oid, what: &str) {
        let g = lock(&self.inner);
        if g.obj(oid).state == ObjState::Freed {
            let msg = format!("{what} touches {} after it was freed", g.label(oid));
            drop(g);
            self.fail(ctx, FindingClass::UseAfterFree, msg, Some(oid), Vec::new());
        }
    }

    /// Check that the filesystem of super_block `oid` is still alive before `what` uses it.
    pub fn access_fs(&self, ctx: &Ctx, oid: Oid, what: &str) {
        let g = lock(&self.inner);
        let state = g.obj(oid).state;
        if state != ObjState::Alive {
            let how = if state == ObjState::Freed {
                "after it was freed"
            } else {
                "after its filesystem was shut down"
            };
            let msg = format!("{what} uses {} {how}", g.label(oid));
            drop(g);
            self.fail(ctx, FindingClass::UseAfterFree, msg, Some(oid), Vec::new());
        }
    }

    /// Record that `tag` took a reference of `weight` on `counter` of `oid`, whose value is now
    /// `now`. An access check comes first: taking a reference on a freed object is a use after free.
    pub fn get(
        &self,
        ctx: &Ctx,
        oid: Oid,
        counter: Counter,
        tag: impl Into<String>,
        weight: isize,
        now: isize,
    ) {
        let tag = tag.into();
        self.access(ctx, oid, &format!("get {} ({tag})", counter.name()));
        let mut g = lock(&self.inner);
        let revived = now - weight == 0
            && matches!(counter, Counter::MntCount | Counter::NsCount)
            && g.obj(oid).seen.contains(&counter);
        if revived {
            let msg = format!("{} of {} incremented from 0 by \"{tag}\" (refcount addition on 0: the object is being freed)", counter.name(), g.label(oid));
            drop(g);
            self.fail(ctx, FindingClass::UseAfterFree, msg, Some(oid), Vec::new());
            g = lock(&self.inner);
        }
        let label = g.label(oid);
        let what = format!("{} {} -> {} (+ {tag})", counter.name(), now - weight, now);
        let step = g.push_step(ctx, format!("get {label}.{}", counter.name()), what.clone());
        g.history(oid, ctx, step, what);
        let op = ctx.op();
        let o = g.obj_mut(oid);
        o.counts.insert(counter, now);
        if !o.seen.contains(&counter) {
            o.seen.push(counter);
        }
        o.holders.push(Holder {
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
        self.access(ctx, oid, &format!("put {} ({tag})", counter.name()));
        let mut g = lock(&self.inner);
        let label = g.label(oid);
        let what = format!("{} {} -> {} (- {tag})", counter.name(), now + weight, now);
        let step = g.push_step(ctx, format!("put {label}.{}", counter.name()), what.clone());
        g.history(oid, ctx, step, what);
        let o = g.obj_mut(oid);
        o.counts.insert(counter, now);
        let pos = o
            .holders
            .iter()
            .rposition(|h| h.counter == counter && h.tag == tag);
        match pos {
            Some(i) => {
                o.holders.remove(i);
            }
            None => {
                drop(g);
                let msg = format!(
                    "{} of {label} put by \"{tag}\", who holds no such reference",
                    counter.name()
                );
                self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
            }
        }
        if now < 0 {
            let msg = format!("{} of {label} went below zero ({now})", counter.name());
            self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
        }
    }

    /// Move a reference from one holder to another without changing the count (a creator's
    /// reference becomes an open file's, a task's root moves to the copy of a namespace...).
    pub fn transfer(
        &self,
        ctx: &Ctx,
        oid: Oid,
        counter: Counter,
        from: &str,
        to: impl Into<String>,
    ) {
        let to = to.into();
        let mut g = lock(&self.inner);
        let label = g.label(oid);
        let step = g.push_step(
            ctx,
            format!("hand over {label}.{}", counter.name()),
            format!("{from} -> {to}"),
        );
        g.history(
            oid,
            ctx,
            step,
            format!("{} reference handed from {from} to {to}", counter.name()),
        );
        let op = ctx.op();
        let tid = ctx.tid;
        let o = g.obj_mut(oid);
        if let Some(h) = o
            .holders
            .iter_mut()
            .rev()
            .find(|h| h.counter == counter && h.tag == from)
        {
            h.tag = to;
            h.thread = tid;
            h.op = op;
            h.step = step;
        } else {
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
        let label = g.label(oid);
        let step = g.push_step(ctx, format!("shut down {label}"), String::new());
        g.history(oid, ctx, step, "filesystem shut down".into());
        g.obj_mut(oid).state = ObjState::ShutDown;
    }

    /// `oid` is freed. Flags a double free.
    pub fn free(&self, ctx: &Ctx, oid: Oid) {
        let mut g = lock(&self.inner);
        let label = g.label(oid);
        if g.obj(oid).state == ObjState::Freed {
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
        let step = g.push_step(ctx, format!("free {label}"), String::new());
        g.history(oid, ctx, step, "freed".into());
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

    /// Raise a finding: store it (the first one wins) and panic so the checker stops. When the
    /// finding's oracle family is off (`crate::checks`), nothing happens and the execution goes
    /// on as if the check were not there.
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
        {
            let mut g = lock(&self.inner);
            if g.finding.is_none() {
                g.finding = Some(Finding {
                    class,
                    message: message.clone(),
                    thread: Some(ctx.tid),
                    op: ctx.op(),
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

    /// The steps recorded so far.
    pub fn trace(&self) -> Vec<Step> {
        lock(&self.inner).trace.clone()
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

    /// Quiescence check of one count: the model's `actual` value must equal the sum of the holders
    /// the ledger knows. Returns the mismatch as a finding message.
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
                .cloned()
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
            let holders = o.holders.clone();
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
                    o.label
                )
            } else {
                format!(
                    "{} {state} after every task exited; still held by: {}",
                    o.label,
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
