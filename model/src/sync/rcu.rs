//! RCU: read sections and deferred frees for the read-mostly lock design.
//!
//! What it models: the kernel's `rcu_read_lock()` / `rcu_read_unlock()` and `call_rcu()` /
//! `kfree_rcu()` (include/linux/rcupdate.h), which `lookup_mnt` and the read-mostly
//! `super_blocks` index use so that a reader never takes a lock and a writer never frees what a
//! reader may still be looking at.
//!
//! Which implementation, chosen here and nowhere else:
//! - std (real threads, benchmarks): crossbeam-epoch. [`read_lock`] pins the thread's epoch
//!   (`crossbeam_epoch::pin`), and [`Reclaim::defer_drop`] hands the box to the collector,
//!   which drops it once every thread pinned at the time has unpinned (a grace period).
//! - loom with `--cfg crossbeam_loom` as well: the same crossbeam-epoch, built by crossbeam
//!   against loom's primitives, so loom also explores the grace period itself.
//! - loom alone, and shuttle: a read section is a marker, and a retired box waits in its
//!   structure's graveyard until the structure itself is dropped, at the end of the execution.
//!   That is a grace period as long as the execution: correct for any reader, and the only
//!   choice shuttle has (crossbeam-epoch has no shuttle build). Everything else a read-mostly
//!   structure does (publishing with release stores, reading with acquire loads, the data in
//!   the facade's `UnsafeCell`) goes through facade primitives that both checkers see.
//!
//! Invariant: memory handed to [`Reclaim::defer_drop`] stays valid for every [`ReadGuard`] that
//! existed when it was handed over; a guard must not outlive the thread's read section (it is not
//! `Send`).

#[cfg(any(not(any(loom, feature = "shuttle")), all(loom, crossbeam_loom)))]
mod imp {
    /// An RCU read section (`rcu_read_lock()` until dropped): a pinned crossbeam-epoch guard.
    pub struct ReadGuard(crossbeam_epoch::Guard);

    impl ReadGuard {
        /// `rcu_read_unlock()`: end the read section (as dropping the guard does).
        pub fn unlock(self) {
            drop(self.0);
        }

        /// Hand this thread's deferred frees to the collector and try to collect
        /// (`crossbeam_epoch::Guard::flush`): lets a test advance the grace period.
        pub fn flush(&self) {
            self.0.flush();
        }
    }

    /// `rcu_read_lock()`.
    #[inline]
    pub fn read_lock() -> ReadGuard {
        ReadGuard(crossbeam_epoch::pin())
    }

    /// Where a structure's retired memory waits for its grace period: crossbeam-epoch's global
    /// collector, so nothing is kept here.
    #[derive(Debug, Default)]
    pub struct Reclaim;

    impl Reclaim {
        /// A new reclaimer.
        pub fn new() -> Self {
            Reclaim
        }

        /// `kfree_rcu`: drop `b` once every read section open now has ended.
        pub fn defer_drop<T: Send + 'static>(&self, g: &ReadGuard, b: Box<T>) {
            g.0.defer(move || drop(b));
        }
    }

    /// Whether retired memory is really reclaimed during an execution.
    pub const RECLAIMS: &str = "crossbeam-epoch";
}

#[cfg(not(any(not(any(loom, feature = "shuttle")), all(loom, crossbeam_loom))))]
mod imp {
    use std::any::Any;
    use std::marker::PhantomData;

    /// An RCU read section (`rcu_read_lock()` until dropped): a marker under the checkers.
    pub struct ReadGuard(PhantomData<*const ()>);

    impl ReadGuard {
        /// `rcu_read_unlock()`: end the read section (as dropping the guard does).
        pub fn unlock(self) {}

        /// Nothing to hand over: retired memory waits for the end of the execution.
        pub fn flush(&self) {}
    }

    /// `rcu_read_lock()`.
    #[inline]
    pub fn read_lock() -> ReadGuard {
        ReadGuard(PhantomData)
    }

    /// Where a structure's retired memory waits: until the structure is dropped. A std mutex, never
    /// contended (writers of the structure are serialised by a model lock) and invisible to the
    /// checkers, so it adds no interleavings.
    #[derive(Default)]
    pub struct Reclaim(std::sync::Mutex<Vec<Box<dyn Any + Send>>>);

    impl std::fmt::Debug for Reclaim {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let n = self.0.lock().map(|g| g.len()).unwrap_or(0);
            write!(f, "Reclaim({n} retired)")
        }
    }

    impl Reclaim {
        /// A new reclaimer.
        pub fn new() -> Self {
            Reclaim::default()
        }

        /// `kfree_rcu`: keep `b` until this reclaimer is dropped.
        pub fn defer_drop<T: Send + 'static>(&self, _g: &ReadGuard, b: Box<T>) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(b);
        }
    }

    /// Whether retired memory is really reclaimed during an execution.
    pub const RECLAIMS: &str = "at the end of the execution";
}

pub use imp::*;
