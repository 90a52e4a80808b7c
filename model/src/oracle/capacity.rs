//! Room for the next execution's ledger: how far one execution's tables grew ([`Capacity`]),
//! so that the executions after the first of an exploration start with that much room instead
//! of growing their tables one push at a time again.
//!
//! What it models: nothing of the kernel; it is the ledger's allocation policy (the cost section
//! of [`super`]).
//!
//! Invariant: room only. A ledger made with [`Ledger::in_exploration_sized`] records exactly
//! what one made with [`Ledger::in_exploration`] records (tested in [`super`]).

use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashMap, FxHashSet};

use super::lockdep::LockOrder;
use super::{lock, Inner, Ledger};

/// How far one execution's ledger grew (steps, objects, holder tags, operation texts): the
/// ledger of the next execution of the same exploration starts with that much room
/// ([`Ledger::in_exploration_sized`]), so that the executions after the first do not grow their
/// tables one push at a time again. Room only: what a ledger records does not depend on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Steps on the tape.
    pub(super) recs: usize,
    /// Objects.
    pub(super) objects: usize,
    /// Interned holder tags.
    pub(super) tags: usize,
    /// Interned operation texts.
    pub(super) ops: usize,
}

/// The room a new object's holder list starts with: the objects of the bundled scenarios hold
/// at most this many references at once, so their lists are allocated once.
pub(super) const HOLDERS_CAPACITY: usize = 8;

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
}
