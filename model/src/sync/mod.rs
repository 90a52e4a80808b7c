//! The one place that chooses the concurrency backend.
//!
//! What it models: nothing of the kernel; it is the facade every model type is written against,
//! in the shape of crossbeam-epoch's `primitive` module and tokio's `loom` shim. Under
//! `--cfg loom` it re-exports loom's primitives (exhaustive, DPOR-style exploration), under the
//! cargo feature `shuttle` it re-exports shuttle's (random, PCT and DFS schedulers), and otherwise
//! std's (real threads, for stress runs and criterion benchmarks).
//!
//! Invariant: no other module of the model names loom, shuttle or `std::sync`/`std::thread` for
//! state that threads share inside an explored execution. The lifetime oracle
//! ([`crate::oracle`]) is the one deliberate exception: it uses std types so that the checkers
//! never see it and its bookkeeping adds no interleavings.
//!
//! Shared memory that is not an atomic goes in [`UnsafeCell`] (loom's, whose `with`/`with_mut`
//! let loom check that every access is ordered after the write it reads; a plain cell with the
//! same API elsewhere). Read sections and deferred frees of read-mostly structures go through
//! [`rcu`], the one place that chooses crossbeam-epoch.
//!
//! On top of the primitives this module builds the kernel's sleeping locks
//! ([`RwSem`], [`Semaphore`]) from a mutex and a condition variable, so that `down_read` and
//! `up_read` can be separate calls, as `get_super` / `drop_super` need (include/linux/rwsem.h).
//! On the std build, `seq` runs tasks one at a time on their own threads for the sequential
//! specification, and the sleeping locks and `yield_now` report to it instead of sleeping.

#[cfg(all(loom, feature = "shuttle"))]
compile_error!("choose one backend: `--cfg loom` or the `shuttle` feature, not both");

#[cfg(all(crossbeam_loom, not(loom)))]
compile_error!("`--cfg crossbeam_loom` builds crossbeam-epoch on loom: use it with `--cfg loom`");

#[cfg(loom)]
mod imp {
    pub use loom::cell::UnsafeCell;
    pub use loom::sync::atomic::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize, Ordering,
    };
    pub use loom::sync::{
        Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    };
    pub use loom::thread::{spawn, yield_now, JoinHandle};
    /// The backend this build was compiled for.
    pub const BACKEND: &str = "loom";
}

#[cfg(all(feature = "shuttle", not(loom)))]
mod imp {
    pub use super::cell::UnsafeCell;
    pub use shuttle::sync::atomic::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize, Ordering,
    };
    pub use shuttle::sync::{
        Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    };
    pub use shuttle::thread::{spawn, yield_now, JoinHandle};
    /// The backend this build was compiled for.
    pub const BACKEND: &str = "shuttle";
}

#[cfg(not(any(loom, feature = "shuttle")))]
mod imp {
    pub use super::cell::UnsafeCell;
    pub use std::sync::atomic::{fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize, Ordering};
    pub use std::sync::{
        Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    };
    pub use std::thread::{spawn, JoinHandle};
    /// The backend this build was compiled for.
    pub const BACKEND: &str = "std";
}

pub use imp::*;

/// `yield()`: let other threads run. In the sequential specification's runner ([`seq`]) it
/// lets the coordinator run the other tasks first.
#[cfg(not(any(loom, feature = "shuttle")))]
pub fn yield_now() {
    if seq::active() {
        seq::yield_now();
    } else {
        std::thread::yield_now();
    }
}

#[cfg(not(any(loom, feature = "shuttle")))]
pub mod seq;

#[cfg(not(loom))]
mod cell;
pub mod rcu;
mod sem;
pub use sem::{RwSem, Semaphore};

/// Lock a facade mutex, ignoring poisoning: a poisoned lock means another thread of the same
/// execution already panicked with a finding, and that first finding is the one reported.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// `atomic_add_unless`-style conditional add: add `delta` to `a` only while `allowed(current)`
/// holds, with a compare-and-swap loop (include/linux/atomic.h `atomic_inc_not_zero`,
/// `atomic_add_unless`). Returns the new value, or `None` if the condition failed first.
pub fn atomic_add_if(
    a: &AtomicIsize,
    delta: isize,
    allowed: impl Fn(isize) -> bool,
) -> Option<isize> {
    let mut v = a.load(Ordering::SeqCst);
    loop {
        if !allowed(v) {
            return None;
        }
        match a.compare_exchange(v, v + delta, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return Some(v + delta),
            Err(cur) => v = cur,
        }
    }
}

/// Run a reference-count update together with the oracle's record of it, as one step.
///
/// Under loom and shuttle nothing can run between two operations of a thread that are not
/// scheduling points, so the update and its record are already indivisible. On real threads (std)
/// another thread could otherwise drop the last reference and record the free between this
/// thread's decrement and its record, which the oracle would report as a use after free that never
/// happened; a process-wide lock makes the pair indivisible there too. The closure must only touch
/// atomics and the ledger: it never blocks on a model lock.
pub fn oracle_atomic<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(not(any(loom, feature = "shuttle")))]
    {
        static ORACLE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _g = ORACLE.lock().unwrap_or_else(|p| p.into_inner());
        f()
    }
    #[cfg(any(loom, feature = "shuttle"))]
    {
        f()
    }
}
