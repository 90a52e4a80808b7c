//! The real-kernel side of `mountcheck conform`: one process per trace task, all inside a fresh
//! private mount namespace whose only filesystem is a tmpfs standing for the model's `rootfs`.
//!
//! What it checks: nothing by itself; it runs each operation of a trace as the real system call
//! (`mkdir(2)`, `rmdir(2)`, `mount(2)` of a tmpfs or `MS_BIND`, `umount2(2)` with or without
//! `MNT_DETACH`, `open(2)`/`close(2)`, `stat(2)`, `chdir(2)`, `chroot(2)`, `pivot_root(2)`,
//! `unshare(CLONE_NEWNS)`, `fork(2)`, `_exit(2)`) and reports the result, and it reads each task's
//! `/proc/<pid>/mountinfo`, which the kernel prints relative to that task's root (`show_mountinfo`
//! → `seq_path_root`, skipping mounts the root cannot reach).
//!
//! How (the task processes in `task.rs`, the harness's handle on them, [`KernelTrace`], here): the
//! harness re-executes `mountcheck` as a hidden subcommand ([`task_main`]): a new,
//! single-threaded process, the trace's task 0 (init). Before anything else it calls
//! `unshare(CLONE_NEWNS)`, checks that `/proc/self/ns/mnt` changed, and makes `/` recursively
//! private (`mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)`), so no mount event propagates out.
//! Only then does it mount a tmpfs named `rootfs` on the harness's temporary directory and
//! `pivot_root` into it (`pivot_root(".", ".")` + `umount2(".", MNT_DETACH)`): the tmpfs becomes
//! the namespace's root mount, exactly the model's `rootfs`, and no host path is reachable any
//! more. The other tasks are real `fork(2)` children of task 0 (same root, cwd and namespace,
//! inherited descriptors closed: the model's `fork` copies no files), each serving commands on
//! its own pair of pipes; task 0 relays the harness's commands to them. A model device (`ram0`,
//! `ram1`, ...) is a tmpfs whose source is the device's name; a second mount of a device whose
//! super_block the model still holds (`grab_super`) is a bind mount of the root of a reachable
//! mount of that tmpfs (same super_block, same contents).
//!
//! Invariant: no mount system call runs before `unshare` succeeded and the namespace was checked
//! to differ from the one the process started in; every mount is made inside that namespace,
//! under the temporary directory, and the namespace dies with its processes (every task process
//! has `PR_SET_PDEATHSIG` = SIGKILL). Without the privilege, task 0 prints `fatal ...` and exits
//! with [`NO_PRIVILEGE`] before touching anything.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use mountcheck_model::task::MountEntry;
use rustix::io::Errno;

mod task;

pub use task::task_main;

/// Exit status of a task process that could not get a private mount namespace.
pub const NO_PRIVILEGE: i32 = 3;

/// Environment variable carrying the harness's pid, so task 0 can check that its death signal is
/// armed for the right parent.
const PARENT_ENV: &str = "MOUNTCHECK_CONFORM_PARENT";

/// The errno name of a kernel error (the model's vocabulary, plus the others a trace can meet).
pub fn errno_name(e: Errno) -> String {
    let name = match e {
        Errno::BUSY => "EBUSY",
        Errno::INVAL => "EINVAL",
        Errno::NOENT => "ENOENT",
        Errno::PERM => "EPERM",
        Errno::NOTDIR => "ENOTDIR",
        Errno::EXIST => "EEXIST",
        Errno::NOTEMPTY => "ENOTEMPTY",
        Errno::NOMEM => "ENOMEM",
        Errno::BADF => "EBADF",
        Errno::ROFS => "EROFS",
        Errno::ISDIR => "EISDIR",
        Errno::ACCESS => "EACCES",
        Errno::LOOP => "ELOOP",
        Errno::NAMETOOLONG => "ENAMETOOLONG",
        Errno::NOSPC => "ENOSPC",
        Errno::XDEV => "EXDEV",
        Errno::NODEV => "ENODEV",
        Errno::NOSYS => "ENOSYS",
        other => return format!("E{}", other.raw_os_error()),
    };
    name.to_string()
}

/// Lacking the privilege to make a private mount namespace.
#[derive(Debug)]
pub struct Privilege(pub String);

impl std::fmt::Display for Privilege {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Privilege {}

/// What the kernel said to one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Success.
    Ok,
    /// Failure with this errno name.
    Err(String),
    /// The operation has no faithful kernel equivalent in this state (the trace is skipped).
    Skip(String),
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Ok => f.write_str("ok"),
            Reply::Err(e) => f.write_str(e),
            Reply::Skip(r) => write!(f, "skipped ({r})"),
        }
    }
}

/// One line of a task's `/proc/<pid>/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KMount {
    /// Mountpoint relative to the task's root.
    pub mountpoint: String,
    /// The source: the model device's name.
    pub dev: String,
    /// Root of the mount within its filesystem (`//deleted` stripped).
    pub root: String,
    /// Mount id (field 1).
    pub id: u64,
    /// Parent's mount id (field 2).
    pub parent: u64,
}

impl KMount {
    /// The model's view of it.
    pub fn entry(&self) -> MountEntry {
        MountEntry {
            mountpoint: self.mountpoint.clone(),
            dev: self.dev.clone(),
            root: self.root.clone(),
        }
    }
}

/// One trace's task processes: task 0 (a child of the harness) and its forks.
pub struct KernelTrace {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
    pids: BTreeMap<usize, u32>,
    done: bool,
}

impl KernelTrace {
    /// Start task 0 of a trace whose root is a tmpfs mounted on `root` (inside its namespace).
    pub fn start(root: &Path) -> Result<KernelTrace> {
        let exe = std::env::current_exe().context("cannot find the mountcheck executable")?;
        let mut child = Command::new(exe)
            .arg("__conform-task")
            .arg(root)
            .env(PARENT_ENV, std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start a task process")?;
        let to = child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("task process without stdin"))?;
        let mut from = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| anyhow!("task process without stdout"))?,
        );
        let mut line = String::new();
        from.read_line(&mut line)?;
        let line = line.trim();
        if line != "ready" {
            let status = child.wait()?;
            if status.code() == Some(NO_PRIVILEGE) {
                bail!(Privilege(format!(
                    "cannot make a private mount namespace: {}",
                    line.trim_start_matches("fatal ")
                )));
            }
            bail!(
                "the task process did not start: {} ({status})",
                if line.is_empty() { "no output" } else { line }
            );
        }
        let pid = child.id();
        Ok(KernelTrace {
            child,
            to,
            from,
            pids: BTreeMap::from([(0, pid)]),
            done: false,
        })
    }

    fn send(&mut self, line: &str) -> Result<String> {
        writeln!(self.to, "{line}")
            .and_then(|()| self.to.flush())
            .context("the task process is gone")?;
        let mut reply = String::new();
        if self.from.read_line(&mut reply)? == 0 {
            bail!("the task process ended while running `{line}`");
        }
        Ok(reply.trim_end().to_string())
    }

    /// Run `cmd` (one of the commands `task::exec_op` runs) as task `task`.
    pub fn run(&mut self, task: usize, cmd: &str) -> Result<Reply> {
        let r = self.send(&format!("{task} {cmd}"))?;
        if r == "ok" {
            Ok(Reply::Ok)
        } else if let Some(e) = r.strip_prefix("err ") {
            Ok(Reply::Err(e.to_string()))
        } else if let Some(s) = r.strip_prefix("skip ") {
            Ok(Reply::Skip(s.to_string()))
        } else {
            bail!("task {task} answered `{r}` to `{cmd}`")
        }
    }

    /// Fork task `k` from task 0.
    pub fn fork(&mut self, k: usize) -> Result<()> {
        let r = self.send(&format!("0 fork {k}"))?;
        let pid = r
            .strip_prefix("ok ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| anyhow!("fork of task {k}: `{r}`"))?;
        self.pids.insert(k, pid);
        Ok(())
    }

    /// Task `k` (not 0) exits; returns once it is reaped.
    pub fn exit(&mut self, k: usize) -> Result<Reply> {
        let r = self.run(k, "exit")?;
        self.pids.remove(&k);
        Ok(r)
    }

    /// Whether task `k` is running.
    pub fn alive(&self, k: usize) -> bool {
        self.pids.contains_key(&k)
    }

    /// The mounts task `k` sees, sorted (None once it exited).
    pub fn table(&self, k: usize) -> Result<Option<Vec<KMount>>> {
        let Some(pid) = self.pids.get(&k) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .with_context(|| format!("reading the mountinfo of task {k}"))?;
        Ok(Some(parse_mountinfo(&text)))
    }

    /// End the trace: every task process exits, then task 0; the namespace goes with them.
    pub fn finish(mut self) -> Result<()> {
        self.done = true;
        let _ = writeln!(self.to, "quit").and_then(|()| self.to.flush());
        let status = self.child.wait()?;
        if !status.success() {
            bail!("task 0 ended with {status}");
        }
        Ok(())
    }
}

impl Drop for KernelTrace {
    fn drop(&mut self) {
        if !self.done {
            // Its forks die with it (PR_SET_PDEATHSIG), and the namespace with them.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Parse mountinfo into entries, sorted.
pub fn parse_mountinfo(text: &str) -> Vec<KMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 2 {
            continue;
        }
        // A mount whose root dentry was removed shows it as `PATH//deleted`: the same dentry.
        let root = unescape(l[3]);
        let root = root
            .strip_suffix("//deleted")
            .map(str::to_string)
            .unwrap_or(root);
        out.push(KMount {
            mountpoint: unescape(l[4]),
            dev: unescape(r[1]),
            root,
            id: l[0].parse().unwrap_or(0),
            parent: l[1].parse().unwrap_or(0),
        });
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo() {
        let t = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                 37 36 0:40 / /a\\040b rw - tmpfs ram1 rw\n\
                 38 36 0:40 /x//deleted /c rw - tmpfs ram1 rw\n";
        let e = parse_mountinfo(t);
        assert_eq!(
            e[0].entry(),
            MountEntry {
                mountpoint: "/a b".into(),
                dev: "ram1".into(),
                root: "/".into()
            }
        );
        assert_eq!((e[0].id, e[0].parent), (37, 36));
        assert_eq!(
            e[1].entry(),
            MountEntry {
                mountpoint: "/c".into(),
                dev: "ram1".into(),
                root: "/x".into()
            }
        );
        assert_eq!(
            e[2].entry(),
            MountEntry {
                mountpoint: "/mnt2".into(),
                dev: "/dev/root".into(),
                root: "/mnt1".into()
            }
        );
    }

    #[test]
    fn names_errnos() {
        assert_eq!(errno_name(Errno::BUSY), "EBUSY");
        assert_eq!(errno_name(Errno::ROFS), "EROFS");
        assert_eq!(errno_name(Errno::from_raw_os_error(133)), "E133");
    }
}
