//! The real-kernel side of the conformance check: one process per trace task, inside a private
//! mount namespace, on tmpfs mounts under a temporary directory.
//!
//! Task 0 is a re-executed `mountcheck` (hidden subcommand `__conform-task`) that calls
//! `unshare(CLONE_NEWNS)` and makes `/` recursively private before anything else, checks that its
//! mount namespace is no longer the parent's, mounts a tmpfs named `rootfs` on the temporary
//! directory and `chroot`s into it: model `/` is that tmpfs. Every other task joins task 0's
//! namespace with `setns` (checked the same way) and `chroot`s there too. `clone -n` is
//! `unshare(CLONE_NEWNS)` in the task's process. The parent never mounts anything: it reads each
//! task's `/proc/<pid>/mountinfo`, which the kernel prints relative to that task's root.
//!
//! Invariant: no mount system call runs in a process whose mount namespace is the host's; when
//! `unshare` or `setns` fails, the task process exits with status 3 before touching anything.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use mountcheck_model::task::MountEntry;
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

/// Exit status of a task process that could not get a private namespace.
pub const NO_PRIVILEGE: i32 = 3;

/// The errno name of a kernel error, in the model's vocabulary where it has one.
pub fn errno_name(e: rustix::io::Errno) -> String {
    let n = e.raw_os_error();
    match n {
        16 => "EBUSY".into(),
        22 => "EINVAL".into(),
        2 => "ENOENT".into(),
        1 => "EPERM".into(),
        20 => "ENOTDIR".into(),
        17 => "EEXIST".into(),
        39 => "ENOTEMPTY".into(),
        12 => "ENOMEM".into(),
        9 => "EBADF".into(),
        21 => "EISDIR".into(),
        13 => "EACCES".into(),
        _ => format!("E{n}"),
    }
}

fn mnt_ns_id(pid: &str) -> std::io::Result<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
}

/// Body of `mountcheck __conform-task ROOT [--join PID]`: set up, then serve commands on stdin.
pub fn task_main(root: &Path, join: Option<u32>) -> i32 {
    let before = match mnt_ns_id("self") {
        Ok(v) => v,
        Err(e) => {
            println!("fatal cannot read /proc/self/ns/mnt: {e}");
            return NO_PRIVILEGE;
        }
    };
    let entered = match join {
        Some(pid) => std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
            .map_err(|e| format!("open /proc/{pid}/ns/mnt: {e}"))
            .and_then(|f| {
                let fd: OwnedFd = f.into();
                rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(&fd), Some(rustix::thread::LinkNameSpaceType::Mount))
                    .map_err(|e| format!("setns(CLONE_NEWNS): {e}"))
            }),
        // SAFETY: this process is single-threaded at this point; only NEWNS is unshared.
        None => unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }.map_err(|e| format!("unshare(CLONE_NEWNS): {e}")),
    };
    if let Err(e) = entered {
        println!("fatal {e}");
        return NO_PRIVILEGE;
    }
    // Safety net: the namespace must now differ from the one we started in.
    match mnt_ns_id("self") {
        Ok(after) if after != before => {}
        _ => {
            println!("fatal the mount namespace did not change; refusing to mount anything");
            return NO_PRIVILEGE;
        }
    }
    if join.is_none() {
        if let Err(e) = rustix::mount::mount_change("/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE) {
            println!("fatal making / private: {e}");
            return NO_PRIVILEGE;
        }
        if let Err(e) = rustix::mount::mount("rootfs", root, "tmpfs", MountFlags::empty(), None) {
            println!("fatal mount tmpfs on {}: {e}", root.display());
            return NO_PRIVILEGE;
        }
    }
    if let Err(e) = rustix::process::chroot(root).and_then(|_| rustix::process::chdir("/")) {
        println!("fatal chroot {}: {e}", root.display());
        return NO_PRIVILEGE;
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut files: BTreeMap<String, OwnedFd> = BTreeMap::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split(' ').collect();
        let res: rustix::io::Result<()> = match words.as_slice() {
            ["mkdir", p] => rustix::fs::mkdir(*p, Mode::from_raw_mode(0o755)),
            ["rmdir", p] => rustix::fs::rmdir(*p),
            ["tmpfs", dev, p] => rustix::mount::mount(*dev, *p, "tmpfs", MountFlags::empty(), None),
            ["bind", s, p] => rustix::mount::mount_bind(*s, *p),
            ["umount", flags, p] => {
                let mut f = UnmountFlags::empty();
                if flags.contains('l') {
                    f |= UnmountFlags::DETACH;
                }
                if flags.contains('f') {
                    f |= UnmountFlags::FORCE;
                }
                rustix::mount::unmount(*p, f)
            }
            ["open", p, h] => {
                let r = match rustix::fs::stat(*p) {
                    Ok(_) => rustix::fs::open(*p, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()),
                    Err(rustix::io::Errno::NOENT) => rustix::fs::open(*p, OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o644)),
                    Err(e) => Err(e),
                };
                r.map(|fd| {
                    files.insert(h.to_string(), fd);
                })
            }
            ["close", h] => files.remove(*h).map(drop).ok_or(rustix::io::Errno::BADF),
            ["stat", p] => rustix::fs::stat(*p).map(drop),
            ["chdir", p] => rustix::process::chdir(*p),
            ["chroot", p] => rustix::process::chroot(*p),
            // SAFETY: single-threaded process; only NEWNS is unshared.
            ["unshare"] => unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) },
            ["exit"] => {
                println!("ok");
                let _ = std::io::stdout().flush();
                return 0;
            }
            _ => {
                println!("bad command {line}");
                let _ = std::io::stdout().flush();
                continue;
            }
        };
        match res {
            Ok(()) => println!("ok"),
            Err(e) => println!("err {}", errno_name(e)),
        }
        let _ = std::io::stdout().flush();
    }
    0
}

/// A running task process.
pub struct TaskProc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Whether it has exited (by `exit`).
    pub exited: bool,
}

impl TaskProc {
    /// Start a task process: the leader (`join = None`) or one joining the leader's namespace.
    pub fn start(root: &Path, join: Option<u32>) -> Result<TaskProc> {
        let exe = std::env::current_exe().context("cannot find the mountcheck executable")?;
        let mut cmd = Command::new(exe);
        cmd.arg("__conform-task").arg(root);
        if let Some(pid) = join {
            cmd.arg("--join").arg(pid.to_string());
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().context("cannot start a task process")?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = child.wait();
            bail!(Privilege(format!("the task process could not get a private mount namespace: {}", line.trim().trim_start_matches("fatal "))));
        }
        Ok(TaskProc { child, stdin, stdout, exited: false })
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send one command; return `ok` or `err ERRNO` as ("ok" | "ERRNO").
    pub fn call(&mut self, cmd: &str) -> Result<String> {
        writeln!(self.stdin, "{cmd}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let line = line.trim();
        if cmd == "exit" {
            self.exited = true;
            let _ = self.child.wait();
        }
        match line {
            "ok" => Ok("ok".into()),
            l if l.starts_with("err ") => Ok(l[4..].to_string()),
            l => bail!("task process answered `{l}` to `{cmd}`"),
        }
    }

    /// The mounts this task sees, from `/proc/<pid>/mountinfo` (paths relative to its root).
    pub fn mount_table(&self) -> Result<Vec<MountEntry>> {
        let text = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.pid()))?;
        Ok(parse_mountinfo(&text))
    }
}

impl Drop for TaskProc {
    fn drop(&mut self) {
        if !self.exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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

fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

/// Parse mountinfo into (mountpoint, source, root) entries, sorted.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 2 {
            continue;
        }
        // A bind mount of a removed directory shows its root as `PATH//deleted`: the same dentry.
        let root = unescape(l[3]);
        let root = root.strip_suffix("//deleted").map(str::to_string).unwrap_or(root);
        out.push(MountEntry { mountpoint: unescape(l[4]), dev: unescape(r[1]), root });
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo() {
        let t = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n37 36 0:40 / /a\\040b rw - tmpfs ram1 rw\n";
        let e = parse_mountinfo(t);
        assert_eq!(e[0], MountEntry { mountpoint: "/a b".into(), dev: "ram1".into(), root: "/".into() });
        assert_eq!(e[1], MountEntry { mountpoint: "/mnt2".into(), dev: "/dev/root".into(), root: "/mnt1".into() });
    }
}
