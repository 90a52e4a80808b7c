//! The super_block's sleeping locks, as fs/super.c of 2.4.17 uses them: `s_umount` (a
//! reader-writer semaphore: `get_super` holds it for read, `kill_super` and `grab_super` for
//! write), the directories' `i_sem` (`down(&dir->i_sem)`, which `graft_tree` and `vfs_rmdir`
//! take), and `lock_super` (the seed's semaphore; the `lock-super-unlocked` mutant is the
//! pre-seed test-and-set flag).
//!
//! Invariant: each is taken and released through the ledger with its typed identity, never
//! with a spinlock held (the model's `might_sleep()`).

use super::{rwsem_holders, SuperBlock};
use crate::kernel::Kernel;
use crate::oracle::lockdep::{LockClass, LockId, LockMode};
use crate::oracle::{Ctx, Verb};
use crate::sync::{self, Ordering};
use crate::variant::Mutant;
use std::sync::atomic::Ordering as StdOrdering;

impl Kernel {
    /// `down_read(s_umount)`.
    #[track_caller]
    pub fn down_read_umount(&self, ctx: &Ctx, sb: &SuperBlock) {
        let id = LockId::of(LockClass::SUmount, sb.oid);
        sb.touch(self, ctx, "down_read(s_umount)");
        self.might_sleep(ctx, "down_read(s_umount)", Some(sb.oid));
        ctx.before_acquire(id, LockMode::Shared, 0);
        if let Err(e) = sb.s_umount.down_read() {
            let lock = format!("down_read(sb#{}.s_umount)", sb.oid.0);
            self.stuck(ctx, &lock, &rwsem_holders(&sb.s_umount), Some(sb.oid), e);
        }
        sb.touch(self, ctx, "down_read(s_umount) woke up and");
        ctx.acquired(id, LockMode::Shared, Verb::Semaphore, 0);
    }

    /// `up_read(s_umount)`.
    pub fn up_read_umount(&self, ctx: &Ctx, sb: &SuperBlock) {
        sb.touch(self, ctx, "up_read(s_umount)");
        if !sb.s_umount.up_read() {
            self.ledger.invariant(
                ctx,
                Some(sb.oid),
                format!("up_read of sb#{}.s_umount not held for read", sb.oid.0),
            );
        }
        ctx.release(
            LockId::of(LockClass::SUmount, sb.oid),
            LockMode::Shared,
            Verb::Semaphore,
        );
    }

    /// `down_write(s_umount)`.
    #[track_caller]
    pub fn down_write_umount(&self, ctx: &Ctx, sb: &SuperBlock) {
        self.down_write_umount_nested(ctx, sb, 0);
    }

    /// `down_write_nested(s_umount, subclass)`: a second `s_umount` taken while one is held,
    /// annotated for lockdep as the kernel's `alloc_super` does for the super_block it is
    /// setting up (`SINGLE_DEPTH_NESTING`: that one is not yet visible to anyone).
    #[track_caller]
    pub fn down_write_umount_nested(&self, ctx: &Ctx, sb: &SuperBlock, subclass: u8) {
        let id = LockId::of(LockClass::SUmount, sb.oid);
        sb.touch(self, ctx, "down_write(s_umount)");
        self.might_sleep(ctx, "down_write(s_umount)", Some(sb.oid));
        ctx.before_acquire(id, LockMode::Exclusive, subclass);
        if let Err(e) = sb.s_umount.down_write() {
            let lock = format!("down_write(sb#{}.s_umount)", sb.oid.0);
            self.stuck(ctx, &lock, &rwsem_holders(&sb.s_umount), Some(sb.oid), e);
        }
        sb.touch(self, ctx, "down_write(s_umount) woke up and");
        ctx.acquired(id, LockMode::Exclusive, Verb::Semaphore, subclass);
    }

    /// `up_write(s_umount)`.
    pub fn up_write_umount(&self, ctx: &Ctx, sb: &SuperBlock) {
        sb.touch(self, ctx, "up_write(s_umount)");
        sb.s_umount.up_write();
        ctx.release(
            LockId::of(LockClass::SUmount, sb.oid),
            LockMode::Exclusive,
            Verb::Semaphore,
        );
    }

    /// `down(&dir->i_sem)` of the filesystem's directories.
    #[track_caller]
    pub fn down_i_sem(&self, ctx: &Ctx, sb: &SuperBlock) {
        let id = LockId::of(LockClass::ISem, sb.oid);
        sb.touch_fs(self, ctx, "down(i_sem)");
        self.might_sleep(ctx, "down(i_sem)", Some(sb.oid));
        ctx.before_acquire(id, LockMode::Exclusive, 0);
        if let Err(e) = sb.i_sem.down() {
            let lock = format!("down(sb#{}.i_sem)", sb.oid.0);
            self.stuck(ctx, &lock, "another thread", Some(sb.oid), e);
        }
        ctx.acquired(id, LockMode::Exclusive, Verb::Semaphore, 0);
    }

    /// `up(&dir->i_sem)`.
    pub fn up_i_sem(&self, ctx: &Ctx, sb: &SuperBlock) {
        sb.i_sem.up();
        ctx.release(
            LockId::of(LockClass::ISem, sb.oid),
            LockMode::Exclusive,
            Verb::Semaphore,
        );
    }

    /// `lock_super`: the seed's semaphore, or the pre-seed flag under the mutant.
    pub fn lock_super(&self, ctx: &Ctx, sb: &SuperBlock) {
        sb.touch(self, ctx, "lock_super");
        let id = LockId::of(LockClass::SLock, sb.oid);
        if self.mutant(Mutant::LockSuperUnlocked) {
            let mut retries = sync::Retries::new();
            while sb.s_lock_flag.load(Ordering::SeqCst) {
                if let Err(n) = retries.again() {
                    self.livelock(
                        ctx,
                        sb,
                        format!("lock_super spun {n} times on sb#{}'s flag", sb.oid.0),
                    );
                }
            }
            sb.s_lock_flag.store(true, Ordering::SeqCst);
        } else {
            self.might_sleep(ctx, "lock_super", Some(sb.oid));
            ctx.before_acquire(id, LockMode::Exclusive, 0);
            if let Err(e) = sb.s_lock.down() {
                let lock = format!("lock_super(sb#{})", sb.oid.0);
                self.stuck(ctx, &lock, "another thread", Some(sb.oid), e);
            }
        }
        ctx.acquired(id, LockMode::Exclusive, Verb::LockSuper, 0);
        let inside = sb.s_lock_inside.fetch_add(1, StdOrdering::SeqCst) + 1;
        if inside > 1 {
            self.ledger.invariant(
                ctx,
                Some(sb.oid),
                format!(
                    "lock_super: {inside} threads inside sb#{}'s s_lock at once",
                    sb.oid.0
                ),
            );
        }
    }

    /// `unlock_super`.
    pub fn unlock_super(&self, ctx: &Ctx, sb: &SuperBlock) {
        sb.touch(self, ctx, "unlock_super");
        sb.s_lock_inside.fetch_sub(1, StdOrdering::SeqCst);
        if self.mutant(Mutant::LockSuperUnlocked) {
            sb.s_lock_flag.store(false, Ordering::SeqCst);
        } else if !sb.s_lock.up() {
            self.ledger.invariant(
                ctx,
                Some(sb.oid),
                format!("unlock_super of sb#{} that is not locked", sb.oid.0),
            );
        }
        ctx.release(
            LockId::of(LockClass::SLock, sb.oid),
            LockMode::Exclusive,
            Verb::LockSuper,
        );
    }
}
