//! The contents of one filesystem: its directories and files, as the dcache sees them.
//!
//! What it models: the part of fs/dcache.c and fs/namei.c that mount lifecycles touch:
//! lookup of a name in a directory, `mkdir`, `rmdir`, file creation, and the identity of a dentry
//! (an inode number that a removed and re-created directory does not get back, which is what
//! `d_unhashed` tells `graft_tree`). A ramfs/tmpfs-like store: a new super_block starts empty.
//!
//! Invariant: every entry's parent directory exists; `/` (inode 1) always exists. The contents
//! sit behind a std mutex on purpose: directory operations are atomic steps of the model, below
//! the mount protocol it checks, so they add no interleavings.

use std::collections::BTreeMap;

use crate::error::MountError;

/// A dentry: a path inside one filesystem and the inode it named when it was looked up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dentry {
    /// Path from the filesystem's root, `/` for the root itself.
    pub path: String,
    /// Inode number; never reused within one filesystem.
    pub ino: u64,
}

impl Dentry {
    /// The root dentry of every filesystem.
    pub fn root() -> Self {
        Dentry {
            path: "/".into(),
            ino: 1,
        }
    }

    /// The path of a child named `name`.
    pub fn child_path(&self, name: &str) -> String {
        if self.path == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.path)
        }
    }
}

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
}

/// The entries of one filesystem.
#[derive(Debug)]
pub struct FsTree {
    /// path -> (inode, kind). Invariant: the parent of every path is a `Dir` entry.
    entries: BTreeMap<String, (u64, Kind)>,
    next_ino: u64,
    /// `MS_RDONLY`: set by `do_remount_sb(sb, MS_RDONLY)` (a plain umount of the caller's root).
    pub read_only: bool,
}

impl Default for FsTree {
    fn default() -> Self {
        Self::new()
    }
}

/// The path of the parent directory of `path` (`/` for `/` and for top-level entries).
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `path` (absolute within a filesystem) as seen from the root `base` of a mount of that
/// filesystem: `/` for `base` itself, the rest below it, `None` when `path` is not at or below
/// `base`.
pub fn relative(path: &str, base: &str) -> Option<String> {
    if base == "/" {
        return Some(path.to_string());
    }
    if path == base {
        return Some("/".into());
    }
    path.strip_prefix(base)
        .filter(|r| r.starts_with('/'))
        .map(str::to_string)
}

/// Absolute path `b` appended to absolute path `a` (a mountpoint's path inside the mount it sits
/// on, after that mount's own mountpoint): `/` on either side adds nothing.
pub fn join(a: &str, b: &str) -> String {
    match (a, b) {
        ("/", b) => b.to_string(),
        (a, "/") => a.to_string(),
        (a, b) => format!("{a}{b}"),
    }
}

impl FsTree {
    /// An empty filesystem: just `/`.
    pub fn new() -> Self {
        let mut entries = BTreeMap::new();
        entries.insert("/".to_string(), (1, Kind::Dir));
        FsTree {
            entries,
            next_ino: 2,
            read_only: false,
        }
    }

    /// Look `path` up.
    pub fn lookup(&self, path: &str) -> Option<(Dentry, Kind)> {
        self.entries.get(path).map(|&(ino, kind)| {
            (
                Dentry {
                    path: path.to_string(),
                    ino,
                },
                kind,
            )
        })
    }

    /// Whether `d` is still the live entry at its path (not removed, not re-created).
    pub fn is_live(&self, d: &Dentry) -> bool {
        self.entries
            .get(&d.path)
            .is_some_and(|&(ino, _)| ino == d.ino)
    }

    /// Create `path` in the directory `parent` (whose child it must be). ENOENT when `parent` was
    /// removed (`IS_DEADDIR`), EEXIST when `path` exists, then EROFS on a read-only filesystem.
    pub fn create(&mut self, parent: &Dentry, path: &str, kind: Kind) -> Result<(), MountError> {
        if !self.is_live(parent) {
            return Err(MountError::NoEntry);
        }
        if self.entries.contains_key(path) {
            return Err(MountError::Exists);
        }
        if self.read_only {
            return Err(MountError::ReadOnly);
        }
        debug_assert_eq!(parent_of(path), parent.path);
        debug_assert!(matches!(
            self.entries.get(parent_of(path)),
            Some((_, Kind::Dir))
        ));
        let ino = self.next_ino;
        self.next_ino += 1;
        self.entries.insert(path.to_string(), (ino, kind));
        Ok(())
    }

    /// Whether directory `path` has entries.
    pub fn has_children(&self, path: &str) -> bool {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.entries
            .keys()
            .any(|k| k != path && k.starts_with(&prefix))
    }

    /// The entries strictly below directory `base`, relative to it (`b/f` for `/a/b/f` below
    /// `/a`), each directory with a `/` after its name, in path order.
    pub fn listing(&self, base: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(p, _)| p.as_str() != base)
            .filter_map(|(p, &(_, kind))| {
                let r = relative(p, base)?;
                let r = r.trim_start_matches('/');
                Some(match kind {
                    Kind::Dir => format!("{r}/"),
                    Kind::File => r.to_string(),
                })
            })
            .collect()
    }

    /// Remove `path`.
    pub fn remove(&mut self, path: &str) {
        self.entries.remove(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(t: &FsTree, path: &str) -> Dentry {
        t.lookup(path).expect(path).0
    }

    #[test]
    fn a_listing_is_relative_to_its_base_and_marks_directories() {
        let mut t = FsTree::new();
        t.create(&Dentry::root(), "/a", Kind::Dir).unwrap();
        t.create(&dir(&t, "/a"), "/a/b", Kind::Dir).unwrap();
        t.create(&dir(&t, "/a/b"), "/a/b/f", Kind::File).unwrap();
        t.create(&Dentry::root(), "/g", Kind::File).unwrap();
        assert_eq!(t.listing("/"), ["a/", "a/b/", "a/b/f", "g"]);
        assert_eq!(t.listing("/a"), ["b/", "b/f"]);
        assert_eq!(t.listing("/a/b/f"), Vec::<String>::new());
        t.remove("/a/b/f");
        assert_eq!(t.listing("/a"), ["b/"]);
    }
}
