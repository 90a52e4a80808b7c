//! `sync_supers` / `writeback_inodes`: the walk of `super_blocks` that `sync` makes, each
//! super_block pinned while `sb_lock` is dropped (fs/super.c of 2.4.17, fs/fs-writeback.c).
//!
//! Invariant: the walk touches a super_block's filesystem only while it pins the struct and holds
//! its `s_umount` for read (rule `write-super`), and a super_block unlinked while `sb_lock` was
//! dropped restarts the walk (`__put_super_and_need_restart`) instead of following its stale
//! link; the restarts are bounded ([`crate::sync::Retries`]).

use crate::kernel::Kernel;
use crate::oracle::{Ctx, Note};
use crate::rules;
use crate::sync::{self, Arc, Ordering};
use crate::variant::Mutant;

impl Kernel {
    /// `sync_supers` / `writeback_inodes`: walk `super_blocks`, pinning each super_block while
    /// `sb_lock` is dropped. After the pin is put, a super_block that was unlinked meanwhile
    /// restarts the walk (`__put_super_and_need_restart`); the mutant follows its stale link.
    pub fn sync_filesystems(&self, ctx: &Ctx) {
        let tag = format!("sync walk by T{}", ctx.tid);
        let mut list = self.sb_lock.lock(ctx);
        let mut idx = 0;
        let mut restarts = sync::Retries::new();
        while idx < list.len() {
            let sb = list[idx].clone();
            self.sb_get(ctx, &sb, &tag, 1);
            drop(list);
            // The mutant calls ->write_super without s_umount.
            let locked = !self.mutant(Mutant::SyncWriteSuperUnlocked);
            if locked {
                self.down_read_umount(ctx, &sb);
            }
            // The s_root test and ->write_super are two steps (each a scheduling point).
            if sb.s_root.load(Ordering::SeqCst) {
                ctx.require(&rules::WRITE_SUPER, Some(sb.oid));
                sb.touch_fs(self, ctx, "sync_fs");
                ctx.note(Note::WriteSuper(sb.oid));
            }
            if locked {
                self.up_read_umount(ctx, &sb);
            }
            list = self.sb_lock.lock(ctx);
            if self.mutant(Mutant::SyncPoisonedWalk) {
                self.sb_put_locked(ctx, &sb, &tag, 1);
                sb.touch(self, ctx, "sync: follow s_list.next");
                if !sb.on_list.load(Ordering::SeqCst) {
                    self.ledger.fail(
                        ctx,
                        crate::oracle::FindingClass::UseAfterFree,
                        format!("sync follows the poisoned s_list link of sb#{}, unlinked by kill_super", sb.oid.0),
                        Some(sb.oid),
                        Vec::new(),
                    );
                }
                idx = list
                    .iter()
                    .position(|s| Arc::ptr_eq(s, &sb))
                    .map_or(list.len(), |p| p + 1);
            } else {
                let unlinked = !sb.on_list.load(Ordering::SeqCst);
                let pos = list.iter().position(|s| Arc::ptr_eq(s, &sb));
                self.sb_put_locked(ctx, &sb, &tag, 1);
                idx = match (unlinked, pos) {
                    (false, Some(p)) => p + 1,
                    _ => {
                        if let Err(n) = restarts.count() {
                            drop(list);
                            let what = format!(
                                "sync restarted its super_blocks walk {n} times (last after sb#{} was unlinked)",
                                sb.oid.0
                            );
                            self.livelock(ctx, &sb, what);
                        }
                        0
                    }
                };
            }
        }
    }
}
