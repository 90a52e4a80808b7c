//! The shadow of an object's life in a facade atomic, so that every access the oracle checks is a
//! scheduling point the checkers see.
//!
//! What it models: nothing of the kernel. The lifetime oracle ([`crate::oracle`]) is std-only and
//! invisible to loom and shuttle, so a check of an object's state is not a point where a checker
//! can switch threads: a model that tests a flag and then uses the object (`sync` testing
//! `s_root` and calling `->write_super`) would check and use in one step, and no interleaving
//! could land in between. Each super_block, vfsmount and namespace therefore carries a [`Life`]:
//! the model stores the object's new state into it when the oracle learns that the object was shut
//! down or freed, and loads it right before each access check. Under loom the load is dependent on
//! the store, so its DPOR explores the free both before and after the check; under shuttle every
//! atomic access is a scheduling point; on real threads it costs one load.
//!
//! Invariant: `Life` holds the oracle's [`ObjState`] of its object whenever the object's lock
//! discipline lets another thread observe it (it is stored before the oracle records the change).

use crate::oracle::ObjState;
use crate::sync::{AtomicUsize, Ordering};

/// An object's state, mirrored in a facade atomic.
#[derive(Debug)]
pub struct Life(AtomicUsize);

impl Default for Life {
    fn default() -> Self {
        Self::new()
    }
}

impl Life {
    /// An alive object.
    pub fn new() -> Self {
        Life(AtomicUsize::new(ObjState::Alive as usize))
    }

    /// Load the state (a scheduling point): made right before an access check.
    #[inline]
    pub fn probe(&self) {
        let _ = self.0.load(Ordering::SeqCst);
    }

    /// Store the object's new state: made right before the oracle records it.
    #[inline]
    pub fn set(&self, state: ObjState) {
        self.0.store(state as usize, Ordering::SeqCst);
    }
}
