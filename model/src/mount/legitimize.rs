//! The read-mostly design's `lookup_mnt` and its handshake with umount, after fs/namespace.c of
//! Linux 3.14+: `__lookup_mnt` under `rcu_read_lock()`, the pin taken speculatively and then
//! `legitimize_mnt` (kept, or dropped when a umount's busy check is in progress or detached
//! the mount), and the umounter's half: the busy count read, the grace period waited for after
//! the detach, and the mount handed back when the umount did not detach it.
//!
//! Invariant: a pin taken before the re-check is held under a tag ending in
//! [`super::SPECULATIVE`] until it is legitimized (renamed to the caller's tag) or dropped; the
//! umounter sets `mnt_umounting` and fences before it reads the count, and a lookup fences after
//! its pin before it re-checks the flag (the `smp_mb()` pair), so either the umount's busy check
//! sees the pin or the lookup sees the flag and drops it.

use super::{Mount, SPECULATIVE};
use crate::kernel::{Kernel, LockDesign, RCU_READ};
use crate::oracle::lockdep::LockMode;
use crate::oracle::{Counter, Ctx, Note, Verb};
use crate::sync::{self, Arc, Ordering};
use crate::variant::Mutant;

impl Kernel {
    /// The read-mostly `lookup_mnt`: search the RCU hash and pin what is found
    /// (increment-if-not-zero) inside a read section, then `legitimize_mnt`: a full fence, then
    /// the mount's `mnt_umounting` flag. A pin that fails the re-check is put after the read
    /// section (the put may be the last, which sleeps) and the search starts again.
    pub(super) fn lookup_mnt_rcu(
        &self,
        ctx: &Ctx,
        key: crate::kernel::MountKey,
        tag: &str,
    ) -> Option<Arc<Mount>> {
        let hash = self.tree.rcu_hash().expect("read-mostly design");
        let spec = format!("{tag}{SPECULATIVE}");
        let mut retries = sync::Retries::new();
        loop {
            let g = sync::rcu::read_lock();
            ctx.acquire(RCU_READ, LockMode::Shared, Verb::Rcu, 0);
            let found = hash.find_map(&g, &key, |m| Some(m.clone())).map(|m| {
                // Count this lookup before pinning, then look at the flag: a umounter that
                // detached the mount and found no lookup counted has set the flag before, so
                // this lookup then does not pin (see `synchronize_lookups`).
                m.mnt_lookups.fetch_add(1, Ordering::SeqCst);
                sync::fence(Ordering::SeqCst);
                let unmounting = !self.mutant(Mutant::LegitimizeNoRecheck)
                    && m.mnt_umounting.load(Ordering::SeqCst);
                let state = if unmounting {
                    Legit::Refused
                } else if !self.mntget_not_zero(ctx, &m, &spec) {
                    Legit::Dying
                } else if self.mutant(Mutant::LegitimizeNoRecheck) {
                    // No re-check: whatever a umount decided meanwhile, the pin is kept.
                    Legit::Yes
                } else {
                    // smp_mb(), paired with the umounter's (see `umount_busy_count`).
                    sync::fence(Ordering::SeqCst);
                    if m.mnt_umounting.load(Ordering::SeqCst) {
                        Legit::Umounting
                    } else {
                        Legit::Yes
                    }
                };
                (m, state)
            });
            ctx.release(RCU_READ, LockMode::Shared, Verb::Rcu);
            g.unlock();
            let (m, state) = found?;
            match state {
                Legit::Yes => {
                    self.ledger
                        .transfer(ctx, m.oid, Counter::MntCount, &spec, tag);
                    ctx.note(Note::LegitimizeKept(m.oid));
                    m.mnt_lookups.fetch_sub(1, Ordering::SeqCst);
                    return Some(m);
                }
                Legit::Refused => {
                    ctx.step(
                        format!("lookup_mnt(mnt#{}): being unmounted, retry", m.oid.0),
                        "",
                    );
                    m.mnt_lookups.fetch_sub(1, Ordering::SeqCst);
                }
                Legit::Umounting => {
                    ctx.note(Note::LegitimizeRetry(m.oid));
                    // Never the last reference: the umounter waits for this lookup.
                    self.mntput(ctx, &m, &spec);
                    m.mnt_lookups.fetch_sub(1, Ordering::SeqCst);
                }
                Legit::Dying => {
                    m.mnt_lookups.fetch_sub(1, Ordering::SeqCst);
                    // A mount whose last reference went must already be unhashed; one still
                    // hashed would be searched for ever.
                    let tree = self.tree.read(ctx);
                    let hashed = tree
                        .hash
                        .get(&key)
                        .is_some_and(|v| v.iter().any(|x| x.oid == m.oid));
                    drop(tree);
                    if hashed {
                        self.ledger.invariant(
                            ctx,
                            Some(m.oid),
                            format!("mnt#{} is in the mount hash with mnt_count 0", m.oid.0),
                        );
                    }
                }
            }
            // Let the umounter finish before searching again.
            if let Err(n) = retries.again() {
                self.ledger.invariant(
                    ctx,
                    Some(m.oid),
                    format!(
                        "livelock: lookup_mnt retried {n} times on mnt#{} ({})",
                        m.oid.0,
                        match state {
                            Legit::Umounting | Legit::Refused => "always being unmounted",
                            _ => "always dying, yet hashed",
                        }
                    ),
                );
            }
        }
    }

    /// The busy check's read of `mnt_count` by a plain umount or an expiry, with the tree lock
    /// held. In the read-mostly design it is the umounter's half of the handshake with
    /// `lookup_mnt`: set `mnt_umounting`, full fence (do_umount's `smp_mb()` "paired with
    /// `__legitimize_mnt()`"), then read. Undo with [`Kernel::umount_abandoned`] if the mount
    /// stays.
    pub fn umount_busy_count(&self, m: &Mount) -> isize {
        if self.cfg.lock_design == LockDesign::ReadMostly {
            m.mnt_umounting.store(true, Ordering::SeqCst);
            sync::fence(Ordering::SeqCst);
        }
        m.mnt_count.load(Ordering::SeqCst)
    }

    /// The grace period a plain umount or an expiry waits for after detaching `m` and before
    /// its own last put (`namespace_unlock()`'s `synchronize_rcu()` before the `mntput` of the
    /// detached mounts): every `lookup_mnt` that found `m` has kept or dropped its pin, so a
    /// lookup whose `legitimize_mnt` fails never drops the last reference (it would run
    /// `kill_super` in the middle of its walk). Read-mostly design only; the others pin under
    /// the tree lock.
    pub fn synchronize_lookups(&self, ctx: &Ctx, m: &Mount) {
        if self.cfg.lock_design != LockDesign::ReadMostly {
            return;
        }
        ctx.step(
            format!("synchronize_rcu(): wait for the lookups of mnt#{}", m.oid.0),
            "",
        );
        // Paired with the lookup's fence between counting itself and reading the flag.
        sync::fence(Ordering::SeqCst);
        while m.mnt_lookups.load(Ordering::SeqCst) != 0 {
            sync::yield_now();
        }
    }

    /// The umount that read the busy count did not detach `m`: lookups may keep it again.
    pub fn umount_abandoned(&self, m: &Mount) {
        if self.cfg.lock_design == LockDesign::ReadMostly {
            m.mnt_umounting.store(false, Ordering::SeqCst);
        }
    }

    /// The references on `m.mnt_count` that the ledger knows, without the pins not yet
    /// legitimized: the oracle's view, for invariant checks only (the model never decides on
    /// it). It reads no model atomic, so it adds no scheduling point: the check sees the same
    /// instant as the model step just before it.
    ///
    /// On real threads that instant needs two guards. The read is one read of the ledger (a
    /// lookup may drop its speculative pin between two), and it is taken inside
    /// [`sync::oracle_atomic`], which waits for any count update in flight to be recorded: a
    /// busy check that read the count just after another thread's `mntput` decremented it,
    /// and before that thread recorded the put, would otherwise still see the put's holder.
    pub fn mnt_count_legit(&self, m: &Mount) -> isize {
        sync::oracle_atomic(|| {
            self.ledger
                .weight_except(m.oid, Counter::MntCount, SPECULATIVE)
        })
    }
}

/// What `legitimize_mnt` made of a pin.
enum Legit {
    /// Kept: the mount is not being unmounted.
    Yes,
    /// Not taken: a umount's busy check was already in progress or had detached the mount.
    Refused,
    /// Dropped: a umount's busy check is in progress or detached it.
    Umounting,
    /// Not taken: the count had reached zero.
    Dying,
}
