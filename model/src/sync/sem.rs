//! Kernel sleeping locks built from the facade's mutex and condition variable.
//!
//! Follows include/linux/rwsem.h and asm/semaphore.h of 2.4: `down_read`/`up_read`/`down_write`/
//! `up_write` are separate calls with no guard object, because the kernel releases them in another
//! function than the one that took them (`get_super` takes `s_umount` for read, `drop_super`
//! releases it). Invariant: `writer` implies `readers == 0`, checked with `debug_assert!`.
//!
//! Every wait is bounded where nothing else bounds it. Under loom and shuttle the checker sees
//! every thread blocked and reports the deadlock itself; the wait is counted in the
//! [`census`](super::census) so the engine can tell that deadlock from another failure of the
//! checker. On real threads nothing would ever wake a deadlocked wait, so a wait gives up after
//! [`STD_WAIT_BOUND`] and returns [`Stuck`], which the caller (who knows the lock's name and
//! holds the ledger) reports as a `deadlock` finding.
//!
//! On the std build a thread that is a task of the sequential specification's runner
//! ([`super::seq`]) does not sleep on the condition variable: a wait it cannot take at once is
//! reported to the runner's coordinator, which resumes it once another task's operation made it
//! satisfiable (the suspension semantics of `crate::program::linearizable`).

use super::{lock, Condvar, Mutex, MutexGuard};

/// How long a model thread waits for a sleeping lock on real threads before the wait is reported
/// as a deadlock. Every section of the model that holds a sleeping lock is a handful of system-call
/// steps (microseconds, with no I/O), so a holder that has not released it after seconds never
/// will: it is blocked itself or it ended without releasing. Five seconds is thousands of times
/// the longest such section even on a loaded two-core machine, and short enough that a stress
/// run's deadlock is reported well inside its time limit.
pub const STD_WAIT_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// A wait that gave up: on real threads the lock was not released within [`STD_WAIT_BOUND`].
/// Never returned under loom or shuttle, whose schedulers detect deadlocks themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// How long the thread waited.
    pub waited: std::time::Duration,
}

impl std::fmt::Display for Stuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waited {:.1} s (the real-threads bound) and nobody released it",
            self.waited.as_secs_f64()
        )
    }
}

/// One wait for a condition on a lock's state: bounded on real threads, counted in the census
/// under the checkers.
struct Wait {
    #[cfg(not(any(loom, feature = "shuttle")))]
    deadline: std::time::Instant,
}

impl Wait {
    fn new() -> Self {
        Wait {
            #[cfg(not(any(loom, feature = "shuttle")))]
            deadline: std::time::Instant::now() + STD_WAIT_BOUND,
        }
    }

    /// Sleep on `cv` until woken (or, on real threads, until the deadline: then `Stuck`).
    fn sleep<'a, T>(&self, cv: &Condvar, g: MutexGuard<'a, T>) -> Result<MutexGuard<'a, T>, Stuck> {
        #[cfg(not(any(loom, feature = "shuttle")))]
        {
            let now = std::time::Instant::now();
            if now >= self.deadline {
                return Err(Stuck {
                    waited: STD_WAIT_BOUND,
                });
            }
            let (g, _) = cv
                .wait_timeout(g, self.deadline - now)
                .unwrap_or_else(|p| p.into_inner());
            Ok(g)
        }
        #[cfg(any(loom, feature = "shuttle"))]
        {
            Ok(super::census::blocked(|| {
                cv.wait(g).unwrap_or_else(|p| p.into_inner())
            }))
        }
    }
}

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

    /// `down_read`: sleep while a writer holds it. `Stuck` only on real threads (see the module
    /// documentation).
    pub fn down_read(&self) -> Result<(), Stuck> {
        if sequential() {
            wait_sequential(
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
            return Ok(());
        }
        let wait = Wait::new();
        let mut s = lock(&self.state);
        while s.writer {
            s = wait.sleep(&self.wake, s)?;
        }
        s.readers += 1;
        Ok(())
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

    /// `down_write`: sleep while anyone holds it. `Stuck` only on real threads.
    pub fn down_write(&self) -> Result<(), Stuck> {
        if sequential() {
            wait_sequential(
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
            return Ok(());
        }
        let wait = Wait::new();
        let mut s = lock(&self.state);
        while s.writer || s.readers > 0 {
            s = wait.sleep(&self.wake, s)?;
        }
        debug_assert_eq!(s.readers, 0);
        s.writer = true;
        Ok(())
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

    /// (readers, writer) now: used by the oracle at quiescence to find a hung semaphore, and to
    /// say who holds a semaphore a thread got stuck on.
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

    /// `down`. `Stuck` only on real threads (see the module documentation).
    pub fn down(&self) -> Result<(), Stuck> {
        if sequential() {
            wait_sequential(
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
            return Ok(());
        }
        let wait = Wait::new();
        let mut h = lock(&self.held);
        while *h {
            h = wait.sleep(&self.wake, h)?;
        }
        *h = true;
        Ok(())
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

#[cfg(all(test, not(any(loom, feature = "shuttle"))))]
mod tests {
    use super::*;

    #[test]
    fn a_wait_nobody_ends_gives_up_after_the_bound_instead_of_hanging() {
        let (rw, bin) = (RwSem::new(), Semaphore::new());
        rw.down_read().expect("free");
        bin.down().expect("free");
        let start = std::time::Instant::now();
        // Both waits at once, so the test takes the bound once.
        let (w, d) = std::thread::scope(|s| {
            let w = s.spawn(|| rw.down_write());
            let d = s.spawn(|| bin.down());
            (w.join().expect("writer"), d.join().expect("down"))
        });
        let stuck = Err(Stuck {
            waited: STD_WAIT_BOUND,
        });
        assert_eq!(w, stuck, "down_write behind a reader nobody releases");
        assert_eq!(d, stuck, "a second down of a binary semaphore");
        assert!(start.elapsed() >= STD_WAIT_BOUND);
        assert!(rw.up_read(), "the reader still holds it");
        rw.down_write().expect("free again");
    }
}
