//! The real-kernel side of `mountcheck conform`: one process per trace task, all inside a fresh
//! private mount namespace whose only filesystem is a tmpfs standing for the model's `rootfs`.
//!
//! What it checks: nothing by itself; it runs each operation of a trace as the real system call
//! (`mkdir(2)`, `rmdir(2)`, `mount(2)` of a tmpfs or `MS_BIND`, `umount2(2)` with or without
//! `MNT_DETACH`, `open(2)`/`close(2)`, `stat(2)`, `chdir(2)`, `chroot(2)`, `pivot_root(2)`, `unshare(CLONE_NEWNS)`,
//! `fork(2)`, `_exit(2)`) and reports the result, and it reads each task's
//! `/proc/<pid>/mountinfo`, which the kernel prints relative to that task's root
//! (`show_mountinfo` → `seq_path_root`, skipping mounts the root cannot reach).
//!
//! How: the harness re-executes `mountcheck` as a hidden subcommand ([`task_main`]): a new,
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
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use mountcheck_model::task::MountEntry;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, StatxAttributes, StatxFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

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

// ------------------------------------------------------------------------------------------------
// The task processes (run inside the private namespace).
// ------------------------------------------------------------------------------------------------

/// What one task process holds for the trace: its open files by handle.
#[derive(Default)]
struct TaskState {
    files: BTreeMap<String, OwnedFd>,
}

/// A request/response channel: one command line in, one reply line out.
struct Chan {
    input: BufReader<File>,
    output: File,
}

impl Chan {
    fn recv(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches('\n').to_string()),
        }
    }

    fn send(&mut self, line: &str) -> bool {
        self.output
            .write_all(format!("{line}\n").as_bytes())
            .is_ok()
    }
}

fn result_line(r: rustix::io::Result<()>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("err {}", errno_name(e)),
    }
}

fn is_dir(s: &rustix::fs::Statx) -> bool {
    FileType::from_raw_mode(u32::from(s.stx_mode)) == FileType::Directory
}

fn mount_root(s: &rustix::fs::Statx) -> bool {
    s.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
}

fn statx_of(path: &str) -> rustix::io::Result<rustix::fs::Statx> {
    rustix::fs::statx(
        CWD,
        path,
        AtFlags::empty(),
        StatxFlags::BASIC_STATS | StatxFlags::MNT_ID,
    )
}

/// `grab DST CANDIDATES`: the kernel half of a second mount of a device whose super_block is alive
/// (`grab_super`): a bind mount of the root of a mount of that device. `CANDIDATES` are `id=path`
/// pairs of the device's mounts with root `/`, as the caller's mountinfo lists them; the first one
/// whose path still leads to that very mount root (not covered by another mount) is the source.
/// The target is looked up first, as `do_mount` does. The harness checks the same-filesystem-on-
/// the-same-root rule of `do_add_mount` afterwards, on the mountinfo (see `conform::run_trace`).
fn grab(dst: &str, cands: &str) -> String {
    let d = match statx_of(dst) {
        Ok(d) => d,
        Err(e) => return format!("err {}", errno_name(e)),
    };
    let src = cands.split(',').find_map(|c| {
        let (id, path) = c.split_once('=')?;
        let id: u64 = id.parse().ok()?;
        let s = statx_of(path).ok()?;
        (s.stx_mnt_id == id && mount_root(&s)).then(|| path.to_string())
    });
    let Some(src) = src else {
        return "skip a second mount of a device none of whose mounts is reachable from the caller"
            .into();
    };
    if !is_dir(&d) {
        return "err ENOTDIR".into();
    }
    result_line(rustix::mount::mount_bind(src.as_str(), dst))
}

/// Run one operation in this process. Returns `ok`, `err ERRNO` or `skip REASON`.
fn exec_op(line: &str, st: &mut TaskState) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let r: rustix::io::Result<()> = match words.as_slice() {
        ["mkdir", p] => rustix::fs::mkdir(*p, Mode::from_raw_mode(0o755)),
        ["rmdir", p] => rustix::fs::rmdir(*p),
        ["tmpfs", dev, p] => rustix::mount::mount(*dev, *p, "tmpfs", MountFlags::empty(), None),
        ["grab", dst, cands] => return grab(dst, cands),
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
        // The model's `open` creates a missing file and opens anything else, directories
        // included. Read-only either way: a writer would make a later read-only remount EBUSY.
        ["open", p, h] => {
            let flags = match rustix::fs::stat(*p) {
                Ok(_) => Ok(OFlags::RDONLY | OFlags::CLOEXEC),
                Err(Errno::NOENT) => Ok(OFlags::CREATE | OFlags::RDONLY | OFlags::CLOEXEC),
                Err(e) => Err(e),
            };
            flags
                .and_then(|f| rustix::fs::open(*p, f, Mode::from_raw_mode(0o644)))
                .map(|fd| {
                    st.files.insert(h.to_string(), fd);
                })
        }
        ["close", h] => st.files.remove(*h).map(drop).ok_or(Errno::BADF),
        ["stat", p] => rustix::fs::stat(*p).map(drop),
        ["chdir", p] => rustix::process::chdir(*p),
        ["chroot", p] => rustix::process::chroot(*p),
        ["pivot", n, o] => rustix::process::pivot_root(*n, *o),
        // SAFETY: task processes are single-threaded; only the mount namespace is unshared.
        ["unshare"] => unsafe {
            rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)
        },
        _ => return format!("bad command `{line}`"),
    };
    result_line(r)
}

/// A forked task, seen from task 0.
struct ForkedTask {
    pid: rustix::process::Pid,
    chan: Chan,
}

fn arm_death_signal(parent: Option<rustix::process::Pid>) -> bool {
    if rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .is_err()
    {
        return false;
    }
    // The parent may have died before the signal was armed.
    match parent {
        Some(p) => rustix::process::getppid() == Some(p),
        None => true,
    }
}

fn mnt_ns_link() -> std::io::Result<std::path::PathBuf> {
    std::fs::read_link("/proc/self/ns/mnt")
}

/// Make the private namespace and enter the trace's root; an error says what failed. Nothing is
/// mounted unless `unshare` succeeded and the namespace is new.
fn enter_private_root(root: &Path) -> std::result::Result<(), String> {
    let before = mnt_ns_link().map_err(|e| format!("cannot read /proc/self/ns/mnt: {e}"))?;
    // SAFETY: this process is single-threaded here (a fresh exec, no thread started); only the
    // mount namespace is unshared.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
        .map_err(|e| format!("unshare(CLONE_NEWNS) was refused: {e}"))?;
    match mnt_ns_link() {
        Ok(after) if after != before => {}
        _ => {
            return Err(
                "the mount namespace did not change after unshare; refusing to mount anything"
                    .into(),
            )
        }
    }
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|e| format!("cannot make / private in the new namespace: {e}"))?;
    rustix::mount::mount("rootfs", root, "tmpfs", MountFlags::empty(), None)
        .map_err(|e| format!("cannot mount a tmpfs on {}: {e}", root.display()))?;
    rustix::process::chdir(root).map_err(|e| format!("chdir {}: {e}", root.display()))?;
    rustix::process::pivot_root(".", ".")
        .map_err(|e| format!("pivot_root into {}: {e}", root.display()))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|e| format!("detaching the old root: {e}"))?;
    rustix::process::chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    Ok(())
}

/// Body of the hidden subcommand `mountcheck __conform-task ROOT`: task 0 of one trace. Sets up
/// the private namespace and the root, prints `ready`, then serves `TASK COMMAND` lines on stdin
/// until `quit` or end of input. `join` is a leftover of an earlier design and must be `None`.
pub fn task_main(root: &Path, join: Option<u32>) -> i32 {
    // SAFETY: fds 0 and 1 are this process's stdin and stdout, used only through these handles.
    let (input, output) = unsafe { (File::from_raw_fd(0), File::from_raw_fd(1)) };
    let mut chan = Chan {
        input: BufReader::new(input),
        output,
    };
    if join.is_some() {
        chan.send("fatal --join is not supported: task 0 forks the other tasks itself");
        return 4;
    }
    let parent = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    if !arm_death_signal(parent) {
        chan.send("fatal the harness is gone");
        return 4;
    }
    if let Err(e) = enter_private_root(root) {
        chan.send(&format!("fatal {e}"));
        return NO_PRIVILEGE;
    }
    chan.send("ready");
    let mut st = TaskState::default();
    let mut tasks: BTreeMap<usize, ForkedTask> = BTreeMap::new();
    let me = rustix::process::getpid();
    while let Some(line) = chan.recv() {
        if line == "quit" {
            break;
        }
        let Some((task, cmd)) = line
            .split_once(' ')
            .and_then(|(t, c)| Some((t.parse::<usize>().ok()?, c)))
        else {
            chan.send(&format!("bad command `{line}`"));
            continue;
        };
        let reply = if task == 0 {
            match cmd.strip_prefix("fork ").map(str::parse::<usize>) {
                Some(Ok(k)) if !tasks.contains_key(&k) && k != 0 => {
                    let (cr, cw) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
                        Ok(p) => p,
                        Err(e) => {
                            chan.send(&format!("err {}", errno_name(e)));
                            continue;
                        }
                    };
                    let (rr, rw) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
                        Ok(p) => p,
                        Err(e) => {
                            chan.send(&format!("err {}", errno_name(e)));
                            continue;
                        }
                    };
                    // SAFETY: this process is single-threaded, so the child may do anything.
                    let pid = unsafe { libc::fork() };
                    if pid == 0 {
                        // The child: task k. Close what belongs to others: the harness's pipes,
                        // the other tasks' channels, init's files (the model's fork copies none).
                        drop(chan);
                        drop(tasks);
                        drop(st);
                        drop(cw);
                        drop(rr);
                        if !arm_death_signal(Some(me)) {
                            // SAFETY: ending the forked child without running the parent's exit path.
                            unsafe { libc::_exit(4) };
                        }
                        let mut own = Chan {
                            input: BufReader::new(File::from(cr)),
                            output: File::from(rw),
                        };
                        let mut mine = TaskState::default();
                        while let Some(c) = own.recv() {
                            if c == "exit" {
                                break;
                            }
                            let r = exec_op(&c, &mut mine);
                            if !own.send(&r) {
                                break;
                            }
                        }
                        // SAFETY: as above.
                        unsafe { libc::_exit(0) };
                    }
                    if pid < 0 {
                        format!(
                            "err {}",
                            errno_name(Errno::from_raw_os_error(
                                std::io::Error::last_os_error().raw_os_error().unwrap_or(12)
                            ))
                        )
                    } else {
                        drop(cr);
                        drop(rw);
                        let pid = rustix::process::Pid::from_raw(pid)
                            .expect("fork returned a positive pid");
                        tasks.insert(
                            k,
                            ForkedTask {
                                pid,
                                chan: Chan {
                                    input: BufReader::new(File::from(rr)),
                                    output: File::from(cw),
                                },
                            },
                        );
                        format!("ok {}", pid.as_raw_nonzero())
                    }
                }
                Some(_) => format!("bad command `{line}`"),
                None if cmd == "exit" => "bad command: init does not exit".to_string(),
                None => exec_op(cmd, &mut st),
            }
        } else {
            match tasks.get_mut(&task) {
                None => format!("bad command `{line}`: no task {task}"),
                Some(t) if cmd == "exit" => {
                    t.chan.send("exit");
                    let pid = t.pid;
                    tasks.remove(&task);
                    // Reaped only once it is gone: its files, cwd, root and namespace are released.
                    match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                    {
                        Ok(_) => "ok".into(),
                        Err(e) => format!("bad waitpid: {e}"),
                    }
                }
                Some(t) => {
                    if t.chan.send(cmd) {
                        t.chan
                            .recv()
                            .unwrap_or_else(|| format!("bad task {task} is gone"))
                    } else {
                        format!("bad task {task} is gone")
                    }
                }
            }
        };
        if !chan.send(&reply) {
            break;
        }
    }
    // End of the trace: the forked tasks see their channel close, exit, and are reaped; then this
    // process exits and the namespace goes with it.
    let pids: Vec<_> = tasks.values().map(|t| t.pid).collect();
    drop(tasks);
    for pid in pids {
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    }
    0
}

// ------------------------------------------------------------------------------------------------
// The harness's handle on one trace's task processes.
// ------------------------------------------------------------------------------------------------

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

    /// Run `cmd` (one of the commands of [`exec_op`]) as task `task`.
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
