//! The handles a generated task holds: which it bound, which it locked, which it gave back,
//! so that its calls follow the calling rules of the operation table's `handle` column
//! ([`HandleUse`]): a use names a held handle, an unlock a locked one, and what a task still
//! holds at its end is given back.
//!
//! Invariant: a handle is locked at most once at a time and never used after it was given
//! back.

use mountcheck_model::program::{HandleClass, HandleUse, OpSpec, OPERATIONS};

/// One handle a task's calls bound, and what the task holds on it.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub(super) name: String,
    pub(super) class: HandleClass,
    /// Locked by this task ([`HandleUse::Locks`]).
    pub(super) locked: bool,
    /// Given back ([`HandleUse::Releases`]).
    pub(super) released: bool,
    /// Given back at the end of the task's calls if still held: always when the class must be
    /// ([`HandleClass::must_release`]), else as the binding call's last argument byte says.
    pub(super) release_at_end: bool,
}

/// The first operation of the table that does `what` (the calls appended to keep the calling
/// rules).
pub(super) fn op_doing(what: HandleUse) -> Option<&'static OpSpec> {
    OPERATIONS.iter().find(|s| s.handle == what)
}

/// The handles of one task, in the order they were bound.
#[derive(Default)]
pub(super) struct Handles(pub(super) Vec<Held>);

impl Handles {
    /// A handle `what` may be applied to under the calling rules, the most recent first, picked
    /// by `b`: a held one (not given back; for a lock, not locked; for a release, not locked; for
    /// an unlock, locked).
    pub(super) fn pick(&self, what: HandleUse, b: u8) -> Option<usize> {
        let ok: Vec<usize> = (0..self.0.len())
            .rev()
            .filter(|&i| {
                let h = &self.0[i];
                Some(h.class) == what.class()
                    && !h.released
                    && match what {
                        HandleUse::Locks(_) | HandleUse::Releases(_) => !h.locked,
                        HandleUse::Unlocks(_) => h.locked,
                        _ => true,
                    }
            })
            .collect();
        (!ok.is_empty()).then(|| ok[usize::from(b) % ok.len()])
    }

    /// Whether the task holds a handle it must give back ([`HandleClass::must_release`]).
    pub(super) fn holds_must_release(&self) -> bool {
        self.0.iter().any(|h| h.class.must_release() && !h.released)
    }

    /// Whether the task holds a lock on a handle of `class`.
    pub(super) fn locks(&self, class: HandleClass) -> bool {
        self.0
            .iter()
            .any(|h| h.class == class && h.locked && !h.released)
    }

    /// Record that `what` was applied to handle `i`.
    pub(super) fn apply(&mut self, i: usize, what: HandleUse) {
        let h = &mut self.0[i];
        match what {
            HandleUse::Locks(_) => h.locked = true,
            HandleUse::Unlocks(_) => h.locked = false,
            HandleUse::Releases(_) => h.released = true,
            _ => {}
        }
    }
}
