//! Which model threads of the execution running now are alive, and how many of them are blocked
//! in a model wait: the structural view the engine needs to tell a deadlock from any other
//! failure of a checker, without reading the checker's panic message.
//!
//! What it models: nothing of the kernel; it follows what loom's and shuttle's schedulers know
//! when they give up (every thread of the execution blocked), from the model's side. A thread is
//! alive from the moment the facade spawns it (or, for the execution's main thread, from
//! [`reset`]) until its closure returns; it is blocked while it is inside a facade call that can
//! sleep: taking a mutex or a reader-writer lock, waiting on a condition variable (the sleeping
//! locks of `sync::sem`), joining a thread.
//!
//! Invariant: `0 <= blocked <= alive` while an execution runs. The counts are std atomics, so
//! the checkers never see them and they add no interleavings. They are updated by explicit calls,
//! not by destructors: when a checker tears an execution down it may unwind blocked threads, and
//! the counts must still say what the threads were doing when the checker gave up. Under loom and
//! shuttle one execution runs at a time per process and every model thread runs on the checker's
//! own OS thread, so process-wide counters are exact. On real threads (std) nothing reads them (a
//! deadlock there is found by the bounded waits of `sync::sem`), so they compile to nothing:
//! parallel test executions in one process cannot disturb them, and the benchmarks pay nothing.

#[cfg(any(loom, feature = "shuttle"))]
mod imp {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static ALIVE: AtomicUsize = AtomicUsize::new(0);
    static BLOCKED: AtomicUsize = AtomicUsize::new(0);

    pub fn reset() {
        ALIVE.store(1, Ordering::SeqCst);
        BLOCKED.store(0, Ordering::SeqCst);
    }
    pub fn spawned() {
        ALIVE.fetch_add(1, Ordering::SeqCst);
    }
    pub fn finished() {
        ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
    pub fn block() {
        BLOCKED.fetch_add(1, Ordering::SeqCst);
    }
    pub fn unblock() {
        BLOCKED.fetch_sub(1, Ordering::SeqCst);
    }
    pub fn counts() -> (usize, usize) {
        (ALIVE.load(Ordering::SeqCst), BLOCKED.load(Ordering::SeqCst))
    }
}

#[cfg(not(any(loom, feature = "shuttle")))]
mod imp {
    pub fn reset() {}
    pub fn spawned() {}
    pub fn finished() {}
    pub fn block() {}
    pub fn unblock() {}
    pub fn counts() -> (usize, usize) {
        (0, 0)
    }
}

/// A new execution starts: its main thread is the one alive thread, and it is not blocked.
pub fn reset() {
    imp::reset();
}

/// A model thread was spawned (called by the spawner, before the thread can run).
pub(crate) fn spawned() {
    imp::spawned();
}

/// A model thread's closure returned.
pub(crate) fn finished() {
    imp::finished();
}

/// Run `wait`, a facade call that may sleep, with the calling thread counted as blocked. If
/// `wait` unwinds (the checker tears the execution down), the thread stays counted as blocked:
/// that is what it was when the checker stopped.
pub(crate) fn blocked<R>(wait: impl FnOnce() -> R) -> R {
    imp::block();
    let r = wait();
    imp::unblock();
    r
}

/// (alive, blocked) now. Always (0, 0) on real threads.
pub fn counts() -> (usize, usize) {
    imp::counts()
}

/// Whether every alive model thread of the execution is blocked in a model wait: what a checker
/// that gave up without a finding saw, if what it saw was a deadlock of the model. Always false
/// on real threads.
pub fn all_blocked() -> bool {
    let (alive, blocked) = counts();
    alive > 0 && blocked >= alive
}
