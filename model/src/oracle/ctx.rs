//! A thread's context for the ledger: the thread, the operation it runs and the locks it holds,
//! as lockdep keeps `current->held_locks` (kernel/locking/lockdep.c `lock_acquire()`,
//! `lock_release()`).
//!
//! Invariant: a context is owned by one model thread and never shared; the locks it holds are
//! the ones it acquired and has not released, in acquisition order.

use super::lockdep::{EdgeSeen, Held, LockId, LockMode, LockRule};
use super::trace::Ev;
use super::trace::{Note, Verb};
use super::{lockdep, FindingClass, Ledger, Oid};
use std::cell::{Cell, Ref, RefCell};
use std::panic::Location;
use std::sync::Arc;

/// A thread's identity for the ledger: its number, the operation it is executing and the locks
/// it holds. Owned by one model thread; never shared.
#[derive(Debug)]
pub struct Ctx {
    /// Thread number: 0 for the main thread, 1.. for scenario threads.
    pub tid: usize,
    /// Index of the operation text in the ledger's table.
    pub(super) op: Cell<u32>,
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
            // Made only when the graph records a new edge or a cycle closes, not on every acquire.
            let edge = || EdgeSeen {
                execution: self.ledger.execution(),
                thread: self.tid,
                op: self.op(),
                held: h.label(),
                taken: lockdep::label(id, mode),
                at: format!("{}:{}", at.file(), at.line()),
            };
            let cycle = self.ledger.order.add_edge(from, to, edge);
            if let Some(path) = cycle {
                let now = edge();
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
