//! The calls of fs/open.c (and fs/stat.c) a task makes: `open` (`O_CREAT`), `close`, `stat`,
//! `chdir` and `chroot` (`set_fs_pwd()` / `set_fs_root()` in fs/fs_struct.c).
//!
//! Invariant: an open file, the root and the cwd each hold one mount and one dentry reference,
//! taken by the walk and put when the file is closed or the path replaced.

use super::{OpenFile, Task};
use crate::error::{MResult, MountError};
use crate::fs::Kind;
use crate::fs_struct::FsSlot;
use crate::kernel::Kernel;
use crate::namei::PathRef;

impl Task {
    /// `open(path, O_CREAT)` as handle `h`.
    pub fn open(&mut self, path: &str, h: &str) -> MResult<()> {
        let tag = format!("file {h} of {}", self.name);
        let nd = match self.walk(path, &tag) {
            Ok((nd, _)) => nd,
            // O_CREAT makes a name: a path ending in `.`, `..` or `/` names nothing to make, so
            // the walk's ENOENT stands (its parent may exist by now, which would otherwise turn
            // into rmdir's errnos for those components).
            Err(MountError::NoEntry) if !Kernel::last_is_name(path) => {
                return Err(MountError::NoEntry)
            }
            Err(MountError::NoEntry) => {
                let (parent, name) = self.walk_parent(path, &self.tag("open"))?;
                let full = parent.dentry.child_path(&name);
                let sb = parent.mnt.sb.clone();
                self.k.down_i_sem(&self.ctx, &sb);
                // open_namei: under the directory's i_sem, `lookup_hash` finds the name or
                // creates it; either way the dentry found there is the one opened (a file
                // another task made meanwhile, O_CREAT without O_EXCL, is opened as found, not
                // by a second walk from the root, which a concurrent rmdir or lazy umount could
                // make fail after the name was seen).
                let found = {
                    let mut fs = sb.contents(&self.k, &self.ctx, "open O_CREAT");
                    let existed = match fs.create(&parent.dentry, &full, Kind::File) {
                        Ok(()) => Ok(false),
                        Err(MountError::Exists) => Ok(true),
                        Err(e) => Err(e),
                    };
                    // Made or found under this i_sem: the name is there until it is released.
                    existed.map(|e| (fs.lookup(&full).expect("under i_sem").0, e))
                };
                self.k.up_i_sem(&self.ctx, &sb);
                let nd = found.map(|(dentry, existed)| {
                    let base = PathRef {
                        mnt: parent.mnt.clone(),
                        dentry,
                        tag: String::new(),
                    };
                    let mut nd = self.k.path_get(&self.ctx, &base, &tag);
                    if existed {
                        // `__follow_mount()`: what is mounted on an existing name is opened.
                        self.k.follow_down_all(&self.ctx, &mut nd);
                    }
                    nd
                });
                self.k.path_release(&self.ctx, parent);
                nd?
            }
            Err(e) => return Err(e),
        };
        if let Some(old) = self.files.insert(
            h.to_string(),
            OpenFile {
                path: nd,
                anon_ns: None,
            },
        ) {
            self.release_file(old);
        }
        Ok(())
    }

    pub(super) fn release_file(&self, f: OpenFile) {
        if let Some(ns) = f.anon_ns {
            // dissolve_on_fput: the anonymous namespace goes first.
            self.k.put_namespace(&self.ctx, &ns, &f.path.tag);
        }
        self.k.path_release(&self.ctx, f.path);
    }

    /// `close(h)`.
    pub fn close(&mut self, h: &str) -> MResult<()> {
        let f = self.files.remove(h).ok_or(MountError::BadHandle)?;
        self.release_file(f);
        Ok(())
    }

    /// `stat(path)`: a path walk and release.
    pub fn stat(&mut self, path: &str) -> MResult<()> {
        let (nd, _) = self.walk(path, &self.tag("stat"))?;
        self.k.path_release(&self.ctx, nd);
        Ok(())
    }

    fn set_fs(&mut self, path: &str, which: &str) -> MResult<()> {
        let tag = format!("{which} of {}", self.name);
        let (nd, kind) = self.walk(path, &tag)?;
        if kind != Kind::Dir {
            self.k.path_release(&self.ctx, nd);
            return Err(MountError::NotDir);
        }
        let slot = if which == "root" {
            FsSlot::Root
        } else {
            FsSlot::Pwd
        };
        let (Some(cell), Some(fs)) = (&self.fs_cell, self.fs.as_mut()) else {
            self.k.path_release(&self.ctx, nd);
            return Err(MountError::Invalid);
        };
        let copy = self.k.set_fs(&self.ctx, cell, slot, nd);
        match slot {
            FsSlot::Root => fs.root = copy,
            FsSlot::Pwd => fs.pwd = copy,
        }
        Ok(())
    }

    /// `chdir(path)`.
    pub fn chdir(&mut self, path: &str) -> MResult<()> {
        self.set_fs(path, "cwd")
    }

    /// `chroot(path)`.
    pub fn chroot(&mut self, path: &str) -> MResult<()> {
        self.check_cap()?;
        self.set_fs(path, "root")
    }
}
