//! The calls of fs/super.c a task makes on a super_block: `get_super` / `drop_super` (a
//! handle holding `s_count` and `s_umount` for read), `->statfs`, `lock_super` /
//! `unlock_super`, `ustat` (fs/statfs.c) and `sync` (`sync_supers()`, fs/sync.c).
//!
//! Invariant: a handle's `s_count` pin and read hold of `s_umount` last from its
//! `get_super` to its `drop_super` (or the task's exit).

use super::{SbHandle, Task};
use crate::error::{MResult, MountError, OpResult};
use crate::super_block::SuperBlock;
use crate::sync::Arc;
use crate::variant::Mutant;

impl Task {
    /// `get_super(dev)` as handle `h`: 0, or NULL when the device has no live filesystem (as
    /// fs/super.c `get_super()` returns NULL; the handle then names nothing).
    pub fn get_super(&mut self, dev: &str, h: &str) -> OpResult {
        let tag = format!("get_super {h} of {}", self.name);
        match self.k.get_super(&self.ctx, dev, &tag) {
            Some(sb) => {
                self.sbs.insert(h.to_string(), SbHandle { sb, tag });
                OpResult::Ok
            }
            None => {
                // `h = get_super(dev)` is NULL now: whatever it named before is no longer named.
                self.sbs.remove(h);
                OpResult::Null
            }
        }
    }

    /// `drop_super(h)`.
    pub fn drop_super(&mut self, h: &str) -> MResult<()> {
        let hd = self.sbs.remove(h).ok_or(MountError::BadHandle)?;
        self.k.drop_super(&self.ctx, &hd.sb, &hd.tag);
        Ok(())
    }

    fn sb_handle(&self, h: &str) -> MResult<Arc<SuperBlock>> {
        self.sbs
            .get(h)
            .map(|hd| hd.sb.clone())
            .ok_or(MountError::BadHandle)
    }

    /// `->statfs` on a held super_block.
    pub fn statfs(&mut self, h: &str) -> MResult<()> {
        let sb = self.sb_handle(h)?;
        self.k.statfs(&self.ctx, &sb);
        Ok(())
    }

    /// `lock_super(h)`.
    pub fn lock_super(&mut self, h: &str) -> MResult<()> {
        let sb = self.sb_handle(h)?;
        self.k.lock_super(&self.ctx, &sb);
        Ok(())
    }

    /// `unlock_super(h)`.
    pub fn unlock_super(&mut self, h: &str) -> MResult<()> {
        let sb = self.sb_handle(h)?;
        self.k.unlock_super(&self.ctx, &sb);
        Ok(())
    }

    /// `ustat(dev)`: `get_super`, `->statfs`, `drop_super`.
    pub fn ustat(&mut self, dev: &str) -> MResult<()> {
        let tag = format!("ustat by {}", self.name);
        let sb = self
            .k
            .get_super(&self.ctx, dev, &tag)
            .ok_or(MountError::Invalid)?;
        self.k.statfs(&self.ctx, &sb);
        if !self.k.mutant(Mutant::MissingDropSuper) {
            self.k.drop_super(&self.ctx, &sb, &tag);
        }
        Ok(())
    }

    /// `sync()`: the `super_blocks` walk.
    pub fn sync(&mut self) -> MResult<()> {
        self.k.sync_filesystems(&self.ctx);
        Ok(())
    }
}
