//! The model side of `mountcheck conform`: one trace run sequentially on the std backend, one
//! model task per trace task, and the facts the era table needs about an operation before it runs.
//!
//! Follows the model's own entry points: [`Task::boot`] (init with `rootfs` as the root of the
//! initial namespace), [`Task::fork`] (a task sharing the namespace with its own root and cwd
//! references and no files), [`apply`] for every operation (the same function scenarios run), and
//! [`Task::mount_table`] for what a task sees (`/proc/<pid>/mountinfo`'s view). The facts come from
//! read-only looks at the model's tree: a path walk that is released at once, the mount hash and
//! the super_block list.
//!
//! Invariant: looking at the model changes nothing it can observe: every reference a probe takes is
//! put before the next operation, and the tree is only read.

use std::panic::AssertUnwindSafe;

use mountcheck_model::fs::Kind;
use mountcheck_model::program::apply;
use mountcheck_model::sync::{Arc, Ordering};
use mountcheck_model::task::{MountEntry, Task};
use mountcheck_model::{Call, Config, Ledger, Op, OpResult};

/// What the era table may ask about an operation, computed on the model before it runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    /// The operation's path resolves to the root of the namespace's root mount (whose kernel
    /// counterpart has no parent).
    pub target_is_ns_root: bool,
    /// `umount`: the path resolves to the root of the caller's root mount (a plain umount of it
    /// is 2.4's "remount read-only" special case).
    pub target_is_own_root_mount: bool,
    /// `umount`: a removed directory of the target's filesystem is still some task's cwd or root.
    pub removed_dir_in_use: bool,
    /// `umount`: a removed directory of the target's filesystem is still open as a file.
    pub removed_dir_open: bool,
    /// `umount`: a mount sits on the very dentry the path resolves to (the walk did not cross it:
    /// the path ends in `.` or is `/`).
    pub target_overmounted: bool,
    /// `mount`, `mount --bind`: the target directory is in a mount that was detached (lazily
    /// unmounted), so in no namespace.
    pub target_detached: bool,
    /// `rmdir`: the directory is a mountpoint of mounts that are all in other namespaces.
    pub mountpoint_only_elsewhere: bool,
    /// `pivot_root`: the caller's root is in its namespace's root mount (which has no parent in
    /// the model, and a hidden one in the kernel).
    pub caller_root_is_ns_root: bool,
}

/// The model's half of one trace.
pub struct ModelTrace {
    ledger: Ledger,
    tasks: Vec<Option<Task>>,
}

impl ModelTrace {
    /// Boot: init is task 0; the other `tasks - 1` slots wait for [`ModelTrace::fork`].
    pub fn boot(tasks: usize) -> ModelTrace {
        let ledger = Ledger::new();
        let mut v: Vec<Option<Task>> = (0..tasks.max(1)).map(|_| None).collect();
        v[0] = Some(Task::boot(Config::default(), ledger.clone()));
        ModelTrace { ledger, tasks: v }
    }

    /// Task `k` forked from init.
    pub fn fork(&mut self, k: usize) -> Result<(), String> {
        let init = self.tasks[0].as_ref().ok_or("init is gone")?;
        let t = init.fork(k).map_err(|e| format!("fork of task {k}: {e}"))?;
        self.tasks[k] = Some(t);
        Ok(())
    }

    /// Whether task `k` exists and has not exited.
    pub fn alive(&self, k: usize) -> bool {
        self.tasks
            .get(k)
            .and_then(Option::as_ref)
            .is_some_and(|t| !t.exited())
    }

    /// The mounts task `k` sees (None when it does not run).
    pub fn table(&self, k: usize) -> Option<Vec<MountEntry>> {
        self.tasks
            .get(k)?
            .as_ref()
            .filter(|t| !t.exited())
            .map(Task::mount_table)
    }

    /// Whether `dev` has a live super_block (a mount of it would share it: `grab_super`).
    pub fn dev_is_live(&self, dev: &str) -> bool {
        let Some(t) = self.tasks.iter().flatten().next() else {
            return false;
        };
        t.k.sb_lock.peek(|list| {
            list.iter()
                .any(|s| s.dev == dev && s.s_root.load(Ordering::SeqCst))
        })
    }

    /// Run `op` as task `k`: `Ok(errno name or "ok")`, or `Err(finding)` when the model's oracle
    /// raised one (a bug of the model's fixed protocol: always a difference).
    pub fn apply(&mut self, k: usize, op: &Op) -> Result<String, String> {
        let Some(t) = self.tasks.get_mut(k).and_then(Option::as_mut) else {
            return Err(format!("task {k} does not run"));
        };
        // The operation alone: a scenario's assertion is checked against both sides by the caller.
        let call = Call::from(op.clone());
        match std::panic::catch_unwind(AssertUnwindSafe(|| apply(t, &call))) {
            Ok(o) => Ok(match o.result {
                OpResult::Ok => "ok".to_string(),
                OpResult::Err(e) => e.errno_name().to_string(),
                OpResult::Null => "NULL".to_string(),
            }),
            Err(p) => Err(self
                .ledger
                .finding()
                .map(|f| f.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into())),
        }
    }

    /// The facts about `op` run by task `k`, before it runs.
    pub fn facts(&mut self, k: usize, op: &Op) -> Facts {
        let mut f = Facts::default();
        // What another task's pivot_root changed in this task's root and cwd.
        if let Some(t) = self.tasks.get_mut(k).and_then(Option::as_mut) {
            t.refresh_fs();
        }
        let Some(t) = self.tasks.get(k).and_then(Option::as_ref) else {
            return f;
        };
        let (Some(fs), Some(ns)) = (&t.fs, &t.ns) else {
            return f;
        };
        let tag = "conform probe";
        match op {
            Op::Umount { path, .. } => {
                if let Ok((nd, _)) = t.k.path_walk(&t.ctx, &fs.root, &fs.pwd, path, tag) {
                    let at_root = nd.dentry == nd.mnt.root;
                    f.target_is_ns_root =
                        at_root && ns.root().is_some_and(|r| Arc::ptr_eq(&r, &nd.mnt));
                    f.target_is_own_root_mount = at_root && Arc::ptr_eq(&fs.root.mnt, &nd.mnt);
                    let tree = t.k.tree.read(&t.ctx);
                    f.target_overmounted = tree
                        .hash
                        .get(&(nd.mnt.oid, nd.dentry.ino))
                        .is_some_and(|v| !v.is_empty());
                    drop(tree);
                    // What would stop a read-only remount of the target's filesystem: removed
                    // directories still in use, as a cwd or root, or as an open file.
                    let sb = &nd.mnt.sb;
                    let removed = |p: &mountcheck_model::namei::PathRef| {
                        Arc::ptr_eq(&p.mnt.sb, sb) && !sb.dentry_is_live(&p.dentry)
                    };
                    for task in self.tasks.iter().flatten() {
                        if let Some(tfs) = &task.fs {
                            f.removed_dir_in_use |= removed(&tfs.root) || removed(&tfs.pwd);
                        }
                        f.removed_dir_open |= task.files.values().any(|o| removed(&o.path));
                    }
                    t.k.path_release(&t.ctx, nd);
                }
            }
            Op::Mount { path, .. } | Op::Bind { dst: path, .. } => {
                if let Ok((nd, _)) = t.k.path_walk(&t.ctx, &fs.root, &fs.pwd, path, tag) {
                    let tree = t.k.tree.read(&t.ctx);
                    f.target_detached = tree.links.get(&nd.mnt.oid).is_some_and(|l| l.ns.is_none());
                    drop(tree);
                    t.k.path_release(&t.ctx, nd);
                }
            }
            Op::Rmdir { path } => {
                if let Ok((parent, name)) =
                    t.k.path_walk_parent(&t.ctx, &fs.root, &fs.pwd, path, tag)
                {
                    let sb = parent.mnt.sb.clone();
                    let found = sb
                        .fs
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .lookup(&parent.dentry.child_path(&name));
                    if let Some((d, Kind::Dir)) = found {
                        let tree = t.k.tree.read(&t.ctx);
                        let (mut here, mut elsewhere) = (false, false);
                        for ((p, ino), mounts) in tree.hash.iter() {
                            if *ino != d.ino
                                || !tree
                                    .links
                                    .get(p)
                                    .is_some_and(|l| Arc::ptr_eq(&l.mnt.sb, &sb))
                            {
                                continue;
                            }
                            for m in mounts {
                                match tree.links.get(&m.oid).and_then(|l| l.ns.as_ref()) {
                                    Some(n) if Arc::ptr_eq(n, ns) => here = true,
                                    _ => elsewhere = true,
                                }
                            }
                        }
                        drop(tree);
                        f.mountpoint_only_elsewhere = elsewhere && !here;
                    }
                    t.k.path_release(&t.ctx, parent);
                }
            }
            Op::PivotRoot { .. } => {
                f.caller_root_is_ns_root = ns.root().is_some_and(|r| Arc::ptr_eq(&r, &fs.root.mnt));
            }
            _ => {}
        }
        f
    }
}
