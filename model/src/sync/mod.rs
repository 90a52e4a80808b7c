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
//!
//! No wait and no retry of the model is unbounded. Threads are spawned and joined through this
//! module ([`spawn`], [`JoinHandle`]) and every lock and condition wait goes through it, so the
//! [`census`] knows how many threads of an execution are alive and how many are blocked: what the
//! engine reads to tell a deadlock from another failure of a checker. On real threads the sleeping
//! locks give up after [`STD_WAIT_BOUND`] ([`Stuck`], reported by the caller as a deadlock), and
//! every retry loop counts its rounds with [`Retries`] up to [`MAX_RETRIES`] (a livelock finding).
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

#[cfg(any(loom, feature = "shuttle"))]
pub use imp::yield_now;
pub use imp::{
    fence, Arc, AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize, Condvar, Mutex, MutexGuard,
    Ordering, RwLock, RwLockReadGuard, RwLockWriteGuard, UnsafeCell, BACKEND,
};

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
pub mod census;
pub mod rcu;
mod sem;
pub use sem::{RwSem, Semaphore, Stuck, STD_WAIT_BOUND};

/// A model thread, spawned with [`spawn`]: the backend's own handle, whose [`JoinHandle::join`]
/// counts the joiner as blocked in the [`census`].
#[derive(Debug)]
pub struct JoinHandle<T>(imp::JoinHandle<T>);

impl<T> JoinHandle<T> {
    /// Wait for the thread to end (`std::thread::JoinHandle::join`).
    pub fn join(self) -> std::thread::Result<T> {
        census::blocked(|| self.0.join())
    }
}

/// Spawn a model thread with the backend's `spawn`, counted alive in the [`census`] until its
/// closure returns.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    census::spawned();
    JoinHandle(imp::spawn(move || {
        let r = f();
        census::finished();
        r
    }))
}

/// Lock a facade mutex, ignoring poisoning: a poisoned lock means another thread of the same
/// execution already panicked with a finding, and that first finding is the one reported. The
/// wait counts as blocked in the [`census`].
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    census::blocked(|| match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    })
}

/// Take a facade reader-writer lock for read, ignoring poisoning as [`lock`] does.
pub fn read<T>(r: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    census::blocked(|| r.read().unwrap_or_else(|p| p.into_inner()))
}

/// Take a facade reader-writer lock for write, ignoring poisoning as [`lock`] does.
pub fn write<T>(r: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    census::blocked(|| r.write().unwrap_or_else(|p| p.into_inner()))
}

/// How many times a retry loop of the model may go round before it is reported as a livelock
/// (an `invariant` finding naming the loop and the object), on every backend. In the fixed
/// protocol a loop retries only while another thread is inside a short, bounded section (a
/// umount's busy check, a `kill_super` between its unlink and its `up_write`), and each retry
/// yields to it: under loom and shuttle it retries once or twice per preemption, so 100 is far
/// above any legitimate count, and low enough that the finding comes before loom's branch bound
/// (a retry is a few dozen branches). On real threads the other thread may be descheduled for a
/// while, so there the loop must also have been retrying for [`STD_WAIT_BOUND`] (see
/// [`Retries`]).
pub const MAX_RETRIES: usize = 100;

/// The count of one retry loop, bounded by [`MAX_RETRIES`]. Call [`Retries::again`] before each
/// retry: it yields to the other threads and says when the loop has become a livelock.
#[derive(Debug)]
pub struct Retries {
    n: usize,
    #[cfg(not(any(loom, feature = "shuttle")))]
    since: std::time::Instant,
}

impl Default for Retries {
    fn default() -> Self {
        Self::new()
    }
}

impl Retries {
    /// A loop that has not retried yet.
    pub fn new() -> Self {
        Retries {
            n: 0,
            #[cfg(not(any(loom, feature = "shuttle")))]
            since: std::time::Instant::now(),
        }
    }

    /// One more round of a loop whose every round waits for, or walks past, something another
    /// thread did (a restart after an unlink): `Err(n)` past [`MAX_RETRIES`] rounds on every
    /// backend, without yielding.
    pub fn count(&mut self) -> Result<(), usize> {
        self.n += 1;
        if self.n > MAX_RETRIES {
            Err(self.n - 1)
        } else {
            Ok(())
        }
    }

    /// One more retry: `Err(n)` (the retries so far) when the loop is a livelock, else yield to
    /// the other threads (on real threads, once past [`MAX_RETRIES`], sleep a millisecond so the
    /// wait for the time bound does not burn a core) and `Ok`.
    pub fn again(&mut self) -> Result<(), usize> {
        self.n += 1;
        #[cfg(not(any(loom, feature = "shuttle")))]
        {
            if self.n > MAX_RETRIES {
                if self.since.elapsed() >= STD_WAIT_BOUND {
                    return Err(self.n - 1);
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        #[cfg(any(loom, feature = "shuttle"))]
        {
            if self.n > MAX_RETRIES {
                return Err(self.n - 1);
            }
        }
        yield_now();
        Ok(())
    }
}

/// `atomic_add_unless`-style conditional add: add `delta` to `a` only while `allowed(current)`
/// holds, with a compare-and-swap loop (include/linux/atomic.h `atomic_inc_not_zero`,
/// `atomic_add_unless`). Returns the new value, or `None` if the condition failed first.
///
/// The loop needs no retry bound: a compare-and-swap fails only because another thread changed
/// `a` in between, that is because another update succeeded (the loop is lock-free), and each
/// failure hands back the value that won, so the loop never spins on a value nobody changes.
/// Call it inside [`oracle_atomic`] with the ledger's record of the change.
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
