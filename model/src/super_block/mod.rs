//! `struct super_block` and its lifecycle: allocation, `grab_super`, `get_super`/`drop_super`,
//! `kill_super`, `lock_super`, and the `super_blocks` walk of `sync`.
//!
//! Follows fs/super.c of 2.4.17 (the seed's protocol, "S2"): `s_count` is a passive count under
//! `sb_lock` that keeps the struct (biased by `S_BIAS` while the super_block is on the list),
//! `s_active` an active count that keeps the filesystem (one per vfsmount), `s_umount` a
//! reader-writer semaphore that `get_super` holds for read and `kill_super` takes for write, and
//! `s_root` the flag that says the filesystem is alive.
//!
//! Invariants: `s_count` changes only with `sb_lock` held (a `debug_assert!` on the thread's held
//! locks); a super_block is freed exactly when `s_count` reaches zero; its filesystem is shut down
//! exactly when `s_active` reaches zero; `get_super` never returns a super_block whose `s_root` is
//! clear. The ledger checks each access against the object's state.
//!
//! Find-then-pin under the lock designs ([`crate::kernel::LockDesign`]). Global: the list is
//! searched and the pin taken under the one `sb_lock`, exactly as 2.4.17 does. RwLock: the list
//! is searched and the pin taken under `read_lock(sb_lock)`; every put takes the write side, so no
//! put can reach zero while a reader pins, and a listed super_block always has `s_count >= 1`
//! (`kill_super` keeps its own pin until after it unlinks), so the atomic increment under the
//! shared lock never revives a dying struct. ReadMostly: no lock on the read path. `get_super`
//! searches the RCU index of the list by device ([`crate::kernel::SuperBlocks`], in list order
//! per device) inside a read section and pins with an atomic increment-if-listed: a
//! compare-and-swap that succeeds only while `s_count >= S_BIAS`, that is while the list's
//! reference is held, so the struct cannot be freed under it (the read section keeps the index
//! node, and the node's `Arc` the memory, as RCU does). A super_block whose bias is gone is being
//! killed and is skipped, as the locked designs' rescan ends by skipping it. The re-check is the
//! one every design has: sleep on `s_umount` for read, then test `s_root`. `put_super` of that
//! design is `atomic_dec_and_lock`:
//! a put that cannot be the last is a compare-and-swap from a count above one, and only the put
//! that may reach zero takes `sb_lock` and frees; so every free is still decided under the lock,
//! and `grab_super`'s `s_count > S_BIAS` test, made with its own pin held, is unaffected by
//! concurrent pins and puts of weight one.

use std::sync::atomic::AtomicUsize as StdAtomicUsize;

use crate::fs::{Dentry, FsTree};
use crate::kernel::{Kernel, LockDesign, SpinGuard, SuperBlocks};
use crate::life::Life;
use crate::oracle::{Counter, Ctx, Note, ObjKind, ObjState, Oid, S_BIAS};
use crate::rules;
use crate::sync::{self, Arc, AtomicBool, AtomicIsize, Ordering, RwSem, Semaphore};
use crate::variant::Mutant;

mod get_super;
mod locks;
mod sync_supers;

/// The ledger tag of the `super_blocks` list's reference.
pub const LIST_TAG: &str = "super_blocks list";

/// `struct super_block`.
#[derive(Debug)]
pub struct SuperBlock {
    /// Ledger identity.
    pub oid: Oid,
    /// Device name (`s_dev`).
    pub dev: String,
    /// `s_count`: passive count, changed only under `sb_lock`. Invariant: `>= 0`; includes
    /// `S_BIAS` while on the `super_blocks` list.
    pub s_count: AtomicIsize,
    /// `s_active`: one per vfsmount of this filesystem. Invariant: `>= 0`; zero means shut down.
    pub s_active: AtomicIsize,
    /// `s_umount`: read by `get_super` holders, written by set-up and `kill_super`.
    pub s_umount: RwSem,
    /// `s_lock` (`lock_super`), the seed's SMP-safe version.
    pub s_lock: Semaphore,
    /// The directory inode semaphore (`i_sem`/`i_zombie`), one per filesystem here: `rmdir`'s
    /// mountpoint check and `graft_tree`'s deleted-mountpoint check each run under it.
    pub i_sem: Semaphore,
    /// The pre-seed `lock_super` flag (used by the `lock-super-unlocked` mutant only).
    s_lock_flag: AtomicBool,
    /// Threads inside the `lock_super` critical section (std: the oracle's view). Invariant: <= 1.
    s_lock_inside: StdAtomicUsize,
    /// `s_root != NULL`: the filesystem is alive. Cleared by `kill_super` under `s_umount` write.
    pub s_root: AtomicBool,
    /// On the `super_blocks` list. Changed under `sb_lock`.
    pub on_list: AtomicBool,
    /// Dentry references into this filesystem ("busy inodes").
    pub dentries: AtomicIsize,
    /// The oracle's state of this super_block, as a scheduling point (see [`crate::life`]).
    pub life: Life,
    /// The filesystem's contents.
    pub fs: std::sync::Mutex<FsTree>,
}

impl SuperBlock {
    /// The ledger access check for a touch of the struct.
    pub fn touch(&self, k: &Kernel, ctx: &Ctx, what: &str) {
        self.life.probe();
        k.ledger.access(ctx, self.oid, what);
    }

    /// The ledger access check for a use of the filesystem behind it.
    pub fn touch_fs(&self, k: &Kernel, ctx: &Ctx, what: &str) {
        self.life.probe();
        k.ledger.access_fs(ctx, self.oid, what);
    }

    /// Whether dentry `d` of this filesystem still exists (the root always does). Read without
    /// the ledger: for observers (mount tables, quiescence checks, conformance), not model steps.
    pub fn dentry_is_live(&self, d: &Dentry) -> bool {
        d.path == "/" || self.fs.lock().unwrap_or_else(|p| p.into_inner()).is_live(d)
    }

    /// The entries below `base` ([`FsTree::listing`]). Read without the ledger: for observers
    /// (mount tables), not model steps.
    pub fn listing(&self, base: &str) -> Vec<String> {
        self.fs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .listing(base)
    }

    /// The filesystem's contents, after an access check.
    pub fn contents(&self, k: &Kernel, ctx: &Ctx, what: &str) -> std::sync::MutexGuard<'_, FsTree> {
        self.touch_fs(k, ctx, what);
        self.fs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `s_count++` if the list's `S_BIAS` is still held; the new count, or `None` (not listed).
fn inc_if_listed(sb: &SuperBlock) -> Option<isize> {
    sync::atomic_add_if(&sb.s_count, 1, |v| v >= S_BIAS)
}

/// `s_count--` if that cannot reach zero; the new count, or `None` (this put may be the last).
fn dec_if_not_last(sb: &SuperBlock) -> Option<isize> {
    sync::atomic_add_if(&sb.s_count, -1, |v| v > 1)
}

/// `s_active--` if that cannot reach zero; the new count, or `None` (this put may be the last).
fn dec_active_if_not_last(sb: &SuperBlock) -> Option<isize> {
    sync::atomic_add_if(&sb.s_active, -1, |v| v > 1)
}

/// Who holds a reader-writer semaphore, for a deadlock's message.
fn rwsem_holders(s: &RwSem) -> String {
    match s.holders() {
        (_, true) => "a writer".to_string(),
        (0, false) => "nobody now".to_string(),
        (n, false) => format!("{n} reader(s)"),
    }
}
impl Kernel {
    /// `s_count++` with `sb_lock` held.
    pub fn sb_get(&self, ctx: &Ctx, sb: &SuperBlock, tag: &str, weight: isize) {
        ctx.require(&rules::S_COUNT, None);
        sync::oracle_atomic(|| {
            let now = sb.s_count.fetch_add(weight, Ordering::SeqCst) + weight;
            self.ledger
                .get(ctx, sb.oid, Counter::SCount, tag, weight, now);
        });
    }

    /// `__put_super`: `s_count--` with `sb_lock` held; frees the struct at zero. Returns whether it
    /// was freed.
    pub fn sb_put_locked(&self, ctx: &Ctx, sb: &SuperBlock, tag: &str, weight: isize) -> bool {
        ctx.require(&rules::S_COUNT, None);
        let now = sync::oracle_atomic(|| {
            let now = sb.s_count.fetch_sub(weight, Ordering::SeqCst) - weight;
            self.ledger
                .put(ctx, sb.oid, Counter::SCount, tag, weight, now);
            if now == 0 {
                sb.life.set(ObjState::Freed);
                self.ledger.free(ctx, sb.oid);
            }
            now
        });
        now == 0
    }

    /// `put_super`: take `sb_lock`, `__put_super`. The read-mostly design first tries a put
    /// that cannot be the last without the lock (`atomic_dec_and_lock`).
    pub fn put_super(&self, ctx: &Ctx, sb: &SuperBlock, tag: &str) {
        if self.cfg.lock_design == LockDesign::ReadMostly {
            let done = sync::oracle_atomic(|| {
                dec_if_not_last(sb)
                    .map(|now| self.ledger.put(ctx, sb.oid, Counter::SCount, tag, 1, now))
                    .is_some()
            });
            if done {
                return;
            }
        }
        let _g = self.sb_lock.lock(ctx);
        self.sb_put_locked(ctx, sb, tag, 1);
    }

    /// `s_active++` for `holder`, recorded in the same step (`atomic_inc(&s->s_active)`).
    fn active_get(&self, ctx: &Ctx, sb: &SuperBlock, holder: &str) {
        sync::oracle_atomic(|| {
            let now = sb.s_active.fetch_add(1, Ordering::SeqCst) + 1;
            self.ledger
                .get(ctx, sb.oid, Counter::SActive, holder, 1, now);
        });
    }

    /// A retry loop on `sb` went round [`sync::MAX_RETRIES`] times: an `invariant` finding.
    /// With the invariant family off the execution still cannot go on: it ends in a panic.
    fn livelock(&self, ctx: &Ctx, sb: &SuperBlock, what: String) -> ! {
        self.ledger
            .invariant(ctx, Some(sb.oid), format!("livelock: {what}"));
        panic!("livelock (invariant oracle off): {what}")
    }

    /// `get_sb_bdev` / `get_sb_nodev` for a named device: return the device's live super_block
    /// with one more `s_active` reference held by `holder` (via `grab_super`), or allocate,
    /// fill and list a new one (`alloc_super`, `insert_super`, `read_super`). Follows the
    /// restart of `get_sb_bdev`: the list is searched again after the allocation slept.
    pub fn get_sb(&self, ctx: &Ctx, dev: &str, holder: &str) -> Arc<SuperBlock> {
        let mut fresh: Option<Arc<SuperBlock>> = None;
        let mut retries = sync::Retries::new();
        loop {
            let list = self.sb_lock.lock(ctx);
            let found = list.find(dev).cloned();
            match (found, fresh.take()) {
                (Some(sb), spare) => {
                    if let Some(spare) = spare {
                        // Lost the race with another mount of the same device: the spare was
                        // never listed; destroy it (`destroy_super`).
                        self.up_write_umount(ctx, &spare);
                        self.sb_put_locked(ctx, &spare, "alloc_super", 1);
                    }
                    if self.grab_super(ctx, list, &sb, holder) {
                        return sb;
                    }
                    // It is dying: let kill_super unlink it before searching again (2.6's
                    // grab_super ends its failure path with `yield()`).
                    if let Err(n) = retries.again() {
                        let what = format!("get_sb({dev}) retried {n} times on sb#{}, which grab_super keeps finding dying", sb.oid.0);
                        self.livelock(ctx, &sb, what);
                    }
                }
                (None, Some(sb)) => {
                    self.insert_super(ctx, list, &sb, holder);
                    return sb;
                }
                (None, None) => {
                    drop(list);
                    fresh = Some(self.alloc_super(ctx, dev));
                }
            }
        }
    }

    fn alloc_super(&self, ctx: &Ctx, dev: &str) -> Arc<SuperBlock> {
        let oid = self
            .ledger
            .create(ctx, ObjKind::SuperBlock, |o| format!("sb#{} ({dev})", o.0));
        let sb = Arc::new(SuperBlock {
            oid,
            dev: dev.to_string(),
            s_count: AtomicIsize::new(0),
            s_active: AtomicIsize::new(0),
            s_umount: RwSem::new(),
            s_lock: Semaphore::new(),
            i_sem: Semaphore::new(),
            s_lock_flag: AtomicBool::new(false),
            s_lock_inside: StdAtomicUsize::new(0),
            s_root: AtomicBool::new(false),
            on_list: AtomicBool::new(false),
            dentries: AtomicIsize::new(0),
            life: Life::new(),
            fs: std::sync::Mutex::new(FsTree::new()),
        });
        self.registry().sbs.push(sb.clone());
        {
            let _g = self.sb_lock.lock(ctx);
            self.sb_get(ctx, &sb, "alloc_super", 1);
        }
        // alloc_super returns it with s_umount held for write: nobody who finds it on the list
        // can use it before read_super has filled it. lockdep subclass 1: get_sb may take an
        // existing super_block's s_umount (grab_super) while holding this one.
        self.down_write_umount_nested(ctx, &sb, 1);
        sb
    }

    /// `insert_super` + `read_super`: list the new super_block (the allocation reference becomes
    /// the list's `S_BIAS`), fill it under `s_umount` write and give `holder` its `s_active`.
    fn insert_super(
        &self,
        ctx: &Ctx,
        mut list: SpinGuard<'_, SuperBlocks>,
        sb: &Arc<SuperBlock>,
        holder: &str,
    ) {
        self.sb_get(ctx, sb, LIST_TAG, S_BIAS);
        self.sb_put_locked(ctx, sb, "alloc_super", 1);
        sb.on_list.store(true, Ordering::SeqCst);
        list.add(sb.clone());
        drop(list);
        self.active_get(ctx, sb, holder);
        sb.s_root.store(true, Ordering::SeqCst);
        self.dget(
            ctx,
            sb,
            &Dentry::root(),
            &format!("s_root of sb#{}", sb.oid.0),
        );
        self.up_write_umount(ctx, sb);
    }

    /// `grab_super`: called with `sb_lock` held; pins, sleeps on `s_umount` for write, and
    /// succeeds only if the filesystem is alive and still listed (`s_count > S_BIAS`). On
    /// success `holder` has an `s_active` reference.
    fn grab_super(
        &self,
        ctx: &Ctx,
        list: SpinGuard<'_, SuperBlocks>,
        sb: &Arc<SuperBlock>,
        holder: &str,
    ) -> bool {
        let tag = format!("grab_super by T{}", ctx.tid);
        self.sb_get(ctx, sb, &tag, 1);
        drop(list);
        self.down_write_umount(ctx, sb);
        if sb.s_root.load(Ordering::SeqCst) {
            let _g = self.sb_lock.lock(ctx);
            if sb.s_count.load(Ordering::SeqCst) > S_BIAS {
                self.active_get(ctx, sb, holder);
                self.sb_put_locked(ctx, sb, &tag, 1);
                drop(_g);
                self.up_write_umount(ctx, sb);
                return true;
            }
        }
        self.up_write_umount(ctx, sb);
        self.put_super(ctx, sb, &tag);
        false
    }

    /// `drop_super`: `up_read(s_umount)` and drop the `s_count` pin taken as `tag`.
    pub fn drop_super(&self, ctx: &Ctx, sb: &SuperBlock, tag: &str) {
        self.up_read_umount(ctx, sb);
        if !self.mutant(Mutant::GetSuperNoPin) {
            self.put_super(ctx, sb, tag);
        }
    }

    /// `deactivate_super` / `kill_super` (2.4.17): drop `holder`'s `s_active`; the last one
    /// shuts the filesystem down under `s_umount` write, unlinks it from `super_blocks` and drops
    /// the list's `S_BIAS`, the struct staying allocated while `get_super` holders pin it.
    pub fn deactivate_super(&self, ctx: &Ctx, sb: &Arc<SuperBlock>, holder: &str) {
        sb.touch(self, ctx, "deactivate_super");
        // atomic_dec_and_lock(&s->s_active, &sb_lock): a put that cannot be the last is a
        // compare-and-swap from above one, recorded in the same step; only a put that may reach
        // zero takes the lock.
        let not_last = sync::oracle_atomic(|| {
            dec_active_if_not_last(sb)
                .map(|now| {
                    self.ledger
                        .put(ctx, sb.oid, Counter::SActive, holder, 1, now)
                })
                .is_some()
        });
        if not_last {
            return;
        }
        let list = self.sb_lock.lock(ctx);
        let now = sync::oracle_atomic(|| {
            let now = sb.s_active.fetch_sub(1, Ordering::SeqCst) - 1;
            self.ledger
                .put(ctx, sb.oid, Counter::SActive, holder, 1, now);
            now
        });
        if now != 0 {
            return;
        }
        // s->s_count -= S_BIAS - 1: the list's bias goes, kill_super keeps one pin.
        self.sb_get(ctx, sb, "kill_super", 1);
        self.sb_put_locked(ctx, sb, LIST_TAG, S_BIAS);
        drop(list);
        let locked = !self.mutant(Mutant::KillSuperNoUmountLock);
        if locked {
            self.down_write_umount(ctx, sb);
        }
        ctx.require(&rules::S_ROOT_CLEAR, Some(sb.oid));
        sb.s_root.store(false, Ordering::SeqCst);
        self.dput(
            ctx,
            sb,
            &Dentry::root(),
            &format!("s_root of sb#{}", sb.oid.0),
        );
        let busy = sb.dentries.load(Ordering::SeqCst);
        if busy != 0 {
            ctx.note(Note::BusyInodes {
                sb: sb.oid,
                count: busy,
            });
        }
        sb.life.set(ObjState::ShutDown);
        self.ledger.shut_down(ctx, sb.oid);
        {
            let mut list = self.sb_lock.lock(ctx);
            list.unlink(sb);
            sb.on_list.store(false, Ordering::SeqCst);
        }
        if locked {
            self.up_write_umount(ctx, sb);
        }
        self.put_super(ctx, sb, "kill_super");
    }

    /// `dget` on a dentry of `sb`'s filesystem, held by `tag`.
    pub fn dget(&self, ctx: &Ctx, sb: &SuperBlock, d: &Dentry, tag: &str) {
        sb.touch_fs_with(self, ctx, || format!("dget({})", d.path));
        sync::oracle_atomic(|| {
            let now = sb.dentries.fetch_add(1, Ordering::SeqCst) + 1;
            self.ledger.get(ctx, sb.oid, Counter::Dentries, tag, 1, now);
        });
    }

    /// `dput` of a dentry of `sb`'s filesystem held by `tag`.
    pub fn dput(&self, ctx: &Ctx, sb: &SuperBlock, d: &Dentry, tag: &str) {
        sb.touch_fs_with(self, ctx, || format!("dput({})", d.path));
        sync::oracle_atomic(|| {
            let now = sb.dentries.fetch_sub(1, Ordering::SeqCst) - 1;
            self.ledger.put(ctx, sb.oid, Counter::Dentries, tag, 1, now);
        });
    }

    /// `->statfs` on a super_block the caller holds (`ustat`, `statfs` on a `get_super` handle).
    pub fn statfs(&self, ctx: &Ctx, sb: &SuperBlock) {
        // ->statfs reads the filesystem's own state: a shared read the checkers can interleave.
        let _ = sb.dentries.load(Ordering::SeqCst);
        ctx.require(&rules::STATFS, Some(sb.oid));
        sb.touch_fs(self, ctx, "statfs");
        ctx.note(Note::Statfs(sb.oid));
    }
}

// Below the rest of the file so that the lines of the functions above (which `#[track_caller]`
// lock sites and panics report) do not move.
impl SuperBlock {
    /// [`SuperBlock::touch_fs`] with the description made only if the check fails: `dget`, `dput`
    /// and the lookups of a path walk format nothing when it passes.
    pub fn touch_fs_with(&self, k: &Kernel, ctx: &Ctx, what: impl FnOnce() -> String) {
        self.life.probe();
        k.ledger.access_fs_with(ctx, self.oid, what);
    }

    /// [`SuperBlock::contents`] with the description made only if the access check fails.
    pub fn contents_with(
        &self,
        k: &Kernel,
        ctx: &Ctx,
        what: impl FnOnce() -> String,
    ) -> std::sync::MutexGuard<'_, FsTree> {
        self.touch_fs_with(k, ctx, what);
        self.fs.lock().unwrap_or_else(|p| p.into_inner())
    }
}
