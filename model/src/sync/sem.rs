//! Kernel sleeping locks built from the facade's mutex and condition variable.
//!
//! Follows include/linux/rwsem.h and asm/semaphore.h of 2.4: `down_read`/`up_read`/`down_write`/
//! `up_write` are separate calls with no guard object, because the kernel releases them in another
//! function than the one that took them (`get_super` takes `s_umount` for read, `drop_super`
//! releases it). Invariant: `writer` implies `readers == 0`, checked with `debug_assert!`.
//!
//! On the std build a thread that is a task of the sequential specification's runner
//! ([`super::seq`]) does not sleep on the condition variable: a wait it cannot take at once is
//! reported to the runner's coordinator, which resumes it once another task's operation made it
//! satisfiable (the suspension semantics of `crate::program::linearizable`).

use super::{lock, Condvar, Mutex};

/// Whether this thread runs in the sequential specification's runner (std build only).
fn sequential() -> bool {
    #[cfg(not(any(loom, feature = "shuttle")))]
    {
        super::seq::active()
    }
    #[cfg(any(loom, feature = "shuttle"))]
    {
        false
    }
}

/// Wait in the sequential runner until `acquire` succeeds (see [`super::seq`]).
#[cfg(not(any(loom, feature = "shuttle")))]
fn wait_sequential(acquire: impl FnMut() -> bool, what: impl Fn() -> String) {
    super::seq::block_until(acquire, what);
}

#[cfg(any(loom, feature = "shuttle"))]
fn wait_sequential(_: impl FnMut() -> bool, _: impl Fn() -> String) {
    unreachable!("the sequential runner exists on the std build only");
}

#[derive(Debug, Default)]
struct RwState {
    /// Number of read holders. Invariant: 0 while `writer` is set.
    readers: usize,
    /// A write holder exists.
    writer: bool,
}

/// A reader-writer semaphore (`struct rw_semaphore`).
#[derive(Debug)]
pub struct RwSem {
    state: Mutex<RwState>,
    wake: Condvar,
}

impl Default for RwSem {
    fn default() -> Self {
        Self::new()
    }
}

impl RwSem {
    /// An unlocked semaphore.
    pub fn new() -> Self {
        RwSem {
            state: Mutex::new(RwState::default()),
            wake: Condvar::new(),
        }
    }

    /// `down_read`: sleep while a writer holds it.
    pub fn down_read(&self) {
        if sequential() {
            return wait_sequential(
                || {
                    let mut s = lock(&self.state);
                    let free = !s.writer;
                    if free {
                        s.readers += 1;
                    }
                    free
                },
                || "down_read of an rw_semaphore held for write".into(),
            );
        }
        let mut s = lock(&self.state);
        while s.writer {
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.readers += 1;
    }

    /// `up_read`. Returns false (and changes nothing) when no reader holds it.
    pub fn up_read(&self) -> bool {
        let mut s = lock(&self.state);
        if s.readers == 0 {
            return false;
        }
        s.readers -= 1;
        if s.readers == 0 {
            self.wake.notify_all();
        }
        true
    }

    /// `down_write`: sleep while anyone holds it.
    pub fn down_write(&self) {
        if sequential() {
            return wait_sequential(
                || {
                    let mut s = lock(&self.state);
                    let free = !s.writer && s.readers == 0;
                    if free {
                        s.writer = true;
                    }
                    free
                },
                || {
                    let (readers, writer) = self.holders();
                    if writer {
                        "down_write of an rw_semaphore held for write".into()
                    } else {
                        format!("down_write of an rw_semaphore held by {readers} reader(s)")
                    }
                },
            );
        }
        let mut s = lock(&self.state);
        while s.writer || s.readers > 0 {
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        debug_assert_eq!(s.readers, 0);
        s.writer = true;
    }

    /// `up_write`. Returns false (and changes nothing) when no writer holds it.
    pub fn up_write(&self) -> bool {
        let mut s = lock(&self.state);
        if !s.writer {
            return false;
        }
        s.writer = false;
        self.wake.notify_all();
        true
    }

    /// (readers, writer) now: used by the oracle at quiescence to find a hung semaphore.
    pub fn holders(&self) -> (usize, bool) {
        let s = lock(&self.state);
        (s.readers, s.writer)
    }
}

/// A binary semaphore (`struct semaphore` initialised to 1), as `lock_super` uses after the seed
/// made it SMP-safe.
#[derive(Debug)]
pub struct Semaphore {
    held: Mutex<bool>,
    wake: Condvar,
}

impl Default for Semaphore {
    fn default() -> Self {
        Self::new()
    }
}

impl Semaphore {
    /// An available semaphore.
    pub fn new() -> Self {
        Semaphore {
            held: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    /// `down`.
    pub fn down(&self) {
        if sequential() {
            return wait_sequential(
                || {
                    let mut h = lock(&self.held);
                    let free = !*h;
                    if free {
                        *h = true;
                    }
                    free
                },
                || "down of a held semaphore".into(),
            );
        }
        let mut h = lock(&self.held);
        while *h {
            h = self.wake.wait(h).unwrap_or_else(|p| p.into_inner());
        }
        *h = true;
    }

    /// `up`. Returns false when it was not held.
    pub fn up(&self) -> bool {
        let mut h = lock(&self.held);
        let was = *h;
        *h = false;
        self.wake.notify_one();
        was
    }

    /// Whether it is held now.
    pub fn is_held(&self) -> bool {
        *lock(&self.held)
    }
}
