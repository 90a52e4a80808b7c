//! `get_super(dev)` and `drop_super`: find the live super_block of a device, pinned by
//! `s_count` and held by `s_umount` for read, then re-checked alive (fs/super.c of 2.4.17:
//! the seed's fix of the `get_super()` vs `umount()` race), and the read-mostly design's
//! lock-free find-and-pin.
//!
//! Invariant: a super_block `get_super` returns has its `s_root` set and stays pinned until
//! `drop_super`; a pin is taken only while the list's `S_BIAS` is held (the struct is listed).

use super::{dec_if_not_last, inc_if_listed, SuperBlock};
use crate::kernel::{Kernel, LockDesign, RCU_READ};
use crate::oracle::lockdep::LockMode;
use crate::oracle::{Counter, Ctx, Verb};
use crate::sync::{self, Arc, Ordering};
use crate::variant::Mutant;

impl Kernel {
    /// `get_super(dev)`: find the live super_block of `dev`, pinned by `s_count` (tag `tag`) and
    /// with `s_umount` held for read; `None` if the device has no live filesystem. Rescans when
    /// the super_block died before `s_umount` was won. The search and the pin follow the lock
    /// design (see the module documentation).
    pub fn get_super(&self, ctx: &Ctx, dev: &str, tag: &str) -> Option<Arc<SuperBlock>> {
        let mut retries = sync::Retries::new();
        loop {
            let sb = match self.cfg.lock_design {
                LockDesign::Global | LockDesign::RwLock => {
                    // The shared side: the one `sb_lock` (global), `read_lock` (rwlock).
                    let list = self.sb_lock.read(ctx);
                    let sb = list.iter().find(|s| s.dev == dev).cloned()?;
                    if !self.mutant(Mutant::GetSuperNoPin) {
                        self.sb_get(ctx, &sb, tag, 1);
                    }
                    drop(list);
                    sb
                }
                LockDesign::ReadMostly => {
                    let index = self.sb_index.as_ref().expect("read-mostly design");
                    let g = sync::rcu::read_lock();
                    ctx.acquire(RCU_READ, LockMode::Shared, Verb::Rcu, 0);
                    let sb = if self.mutant(Mutant::GetSuperNoPin) {
                        index.find_map(&g, dev, |s| Some(s.clone()))
                    } else {
                        index.find_map(&g, dev, |s| {
                            self.pin_if_listed(ctx, s, tag).then(|| s.clone())
                        })
                    };
                    ctx.release(RCU_READ, LockMode::Shared, Verb::Rcu);
                    g.unlock();
                    sb?
                }
            };
            self.down_read_umount(ctx, &sb);
            if sb.s_root.load(Ordering::SeqCst) || self.mutant(Mutant::GetSuperNoRecheck) {
                return Some(sb);
            }
            self.drop_super(ctx, &sb, tag);
            // Rescan. In the fixed protocol the dead super_block is already unlinked; a mutant that
            // lets readers in early may spin here, so let the checker run the others first.
            if let Err(n) = retries.again() {
                let what = format!(
                    "get_super({dev}) rescanned {n} times and keeps finding sb#{} dead",
                    sb.oid.0
                );
                self.livelock(ctx, &sb, what);
            }
        }
    }

    /// The read-mostly design's pin: `s_count++` only while the list's `S_BIAS` is held
    /// (increment-if-listed), without `sb_lock`. Returns whether it pinned.
    fn pin_if_listed(&self, ctx: &Ctx, sb: &SuperBlock, tag: &str) -> bool {
        sync::oracle_atomic(|| match inc_if_listed(sb) {
            Some(now) => {
                self.ledger.get(ctx, sb.oid, Counter::SCount, tag, 1, now);
                true
            }
            None => false,
        })
    }

    /// `get_super`'s find-and-pin with no bookkeeping (no `Ctx`, nothing in the ledger, no
    /// `s_umount`): the design's search of the list and its `s_count` pin, what the benchmarks
    /// time. Undo with [`Kernel::unpin_super_quiet`].
    pub fn find_super_quiet(&self, dev: &str) -> Option<Arc<SuperBlock>> {
        match self.cfg.lock_design {
            LockDesign::Global | LockDesign::RwLock => self.sb_lock.peek(|list| {
                let sb = list.iter().find(|s| s.dev == dev)?;
                sb.s_count.fetch_add(1, Ordering::SeqCst);
                Some(sb.clone())
            }),
            LockDesign::ReadMostly => {
                let index = self.sb_index.as_ref().expect("read-mostly design");
                let g = sync::rcu::read_lock();
                index.find_map(&g, dev, |s| inc_if_listed(s).map(|_| s.clone()))
            }
        }
    }

    /// Drop a pin taken by [`Kernel::find_super_quiet`] the way `put_super` of the design does it
    /// (under the exclusive `sb_lock`, or the read-mostly design's `atomic_dec_and_lock`). The
    /// super_block must stay listed meanwhile: this put is never the last.
    pub fn unpin_super_quiet(&self, sb: &SuperBlock) {
        if self.cfg.lock_design == LockDesign::ReadMostly && dec_if_not_last(sb).is_some() {
            return;
        }
        self.sb_lock.peek_exclusive(|_| {
            let before = sb.s_count.fetch_sub(1, Ordering::SeqCst);
            debug_assert!(before > 1, "unpin_super_quiet dropped the last s_count");
        });
    }
}
