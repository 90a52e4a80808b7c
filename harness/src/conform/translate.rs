//! How a model operation becomes a command of the task-process protocol ([`super::kernel`]):
//! `sys_mount` as a tmpfs mount or, for a device the trace already mounted, `grab_super`'s
//! sharing of the live super_block (a bind of a reachable mount of it, then `do_add_mount`'s
//! same-filesystem-on-the-same-root rule, fs/namespace.c); `sys_umount` with its flags;
//! `copy_namespace` as `unshare(CLONE_NEWNS)`; and which operations have no kernel equivalent
//! (the trace is skipped) or change nothing a sequential trace compares (skipped on both sides).
//!
//! Invariant: every path sent is one word of the protocol ([`word`]), so a task process never
//! reads an argument as two.

use anyhow::{bail, Result};
use mountcheck_model::Op;

use super::kernel::{KernelTrace, Reply};
use super::model::ModelTrace;

/// How one model operation is run in the kernel.
pub(super) enum Cmd {
    /// This task-process command.
    Run(String),
    /// A second mount of a live device: this `grab` command, then `do_add_mount`'s
    /// same-filesystem-on-the-same-root rule checked on the mountinfo.
    Grab {
        cmd: String,
        dev: String,
        dst: String,
    },
    /// The task exits.
    Exit,
    /// Skipped on both sides: it changes no result or mount table of a sequential trace.
    SkipOp(&'static str),
}

/// Operations that make a whole trace skipped: they have no kernel equivalent here.
pub(super) fn trace_skip_reason(op: &Op) -> Option<&'static str> {
    match op {
        Op::CloneNewns { fail: true } => Some("clone -n --fail: fault injection has no kernel equivalent"),
        Op::Expire { .. } => Some("expire: mount expiry has no system call of its own (MNT_EXPIRE needs two calls and marks)"),
        Op::Fsmount { .. } => Some("fsmount: the new mount API is outside the model's 2.4 protocol"),
        Op::DropCap => Some("drop_cap: chroot needs CAP_SYS_CHROOT, not CAP_SYS_ADMIN, so dropping one capability is not the model's EPERM"),
        _ => None,
    }
}

/// A path as one word of the task-process protocol.
pub(super) fn word(p: &str) -> Result<&str> {
    if p.is_empty() || p.contains([' ', ',', '=', '\n']) {
        bail!("path `{p}` cannot be sent to a task process");
    }
    Ok(p)
}

/// The kernel command that runs `op` for `task`, given both sides' states so far.
pub(super) fn command(
    op: &Op,
    task: usize,
    model: &ModelTrace,
    kernel: &KernelTrace,
) -> Result<Cmd> {
    Ok(match op {
        Op::Mkdir { path } => Cmd::Run(format!("mkdir {}", word(path)?)),
        Op::Rmdir { path } => Cmd::Run(format!("rmdir {}", word(path)?)),
        Op::Mount { dev, path } if model.dev_is_live(dev) => {
            // `grab_super`: the new mount shares the live super_block, so the kernel binds the
            // root of a reachable mount of the same tmpfs.
            let table = kernel.table(task)?.unwrap_or_default();
            let mut cands: Vec<String> = Vec::new();
            for e in table.iter().filter(|e| &e.dev == dev && e.root == "/") {
                cands.push(format!("{}={}", e.id, word(&e.mountpoint)?));
            }
            let cands = if cands.is_empty() {
                "-".to_string()
            } else {
                cands.join(",")
            };
            Cmd::Grab {
                cmd: format!("grab {} {cands}", word(path)?),
                dev: dev.clone(),
                dst: path.clone(),
            }
        }
        Op::Mount { dev, path } => Cmd::Run(format!("tmpfs {} {}", word(dev)?, word(path)?)),
        Op::Bind { src, dst } => Cmd::Run(format!("bind {} {}", word(src)?, word(dst)?)),
        Op::Umount { path, flags } => {
            let f = format!(
                "{}{}-",
                if flags.detach { "l" } else { "" },
                if flags.force { "f" } else { "" }
            );
            Cmd::Run(format!("umount {f} {}", word(path)?))
        }
        Op::Open { path, handle } => Cmd::Run(format!("open {} {}", word(path)?, word(handle)?)),
        Op::Close { handle } => Cmd::Run(format!("close {}", word(handle)?)),
        Op::Stat { path } => Cmd::Run(format!("stat {}", word(path)?)),
        Op::Chdir { path } => Cmd::Run(format!("chdir {}", word(path)?)),
        Op::Chroot { path } => Cmd::Run(format!("chroot {}", word(path)?)),
        Op::PivotRoot { new_root, put_old } => {
            Cmd::Run(format!("pivot {} {}", word(new_root)?, word(put_old)?))
        }
        Op::CloneNewns { .. } => Cmd::Run("unshare".into()),
        Op::Exit => Cmd::Exit,
        Op::GetSuper { .. } => Cmd::SkipOp("get_super"),
        Op::DropSuper { .. } => Cmd::SkipOp("drop_super"),
        Op::Statfs { .. } => Cmd::SkipOp("statfs"),
        Op::LockSuper { .. } => Cmd::SkipOp("lock_super"),
        Op::UnlockSuper { .. } => Cmd::SkipOp("unlock_super"),
        Op::Ustat { .. } => Cmd::SkipOp("ustat"),
        Op::Sync => Cmd::SkipOp("sync"),
        Op::Expire { .. } | Op::Fsmount { .. } | Op::DropCap => {
            bail!("`{op}` reached the kernel side")
        }
    })
}

/// The kernel half of a second mount of a live device: bind the root of a reachable mount of it,
/// then apply `do_add_mount`'s "Refuse the same filesystem on the same mount point" rule (EBUSY),
/// which a bind does not have: if the new mount landed on the root of a mount of the same device
/// (its mountpoint path is its parent's), it is taken off again and the answer is EBUSY.
pub(super) fn grab(
    kernel: &mut KernelTrace,
    task: usize,
    cmd: &str,
    dev: &str,
    dst: &str,
) -> Result<Reply> {
    let before: Vec<u64> = kernel
        .table(task)?
        .unwrap_or_default()
        .iter()
        .map(|e| e.id)
        .collect();
    let r = kernel.run(task, cmd)?;
    if r != Reply::Ok {
        return Ok(r);
    }
    let after = kernel.table(task)?.unwrap_or_default();
    let Some(new) = after.iter().find(|e| !before.contains(&e.id)) else {
        return Ok(r);
    };
    let same_root = after
        .iter()
        .any(|p| p.id == new.parent && p.dev == dev && p.mountpoint == new.mountpoint);
    if !same_root {
        return Ok(r);
    }
    match kernel.run(task, &format!("umount - {dst}"))? {
        Reply::Ok => Ok(Reply::Err("EBUSY".into())),
        other => bail!("taking back the bind of {dev} on {dst} failed: {other}"),
    }
}
