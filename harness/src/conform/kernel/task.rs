//! The task processes of `mountcheck conform` (run inside the private namespace): task 0 makes
//! and checks its own private mount namespace, mounts the tmpfs standing for `rootfs` and
//! `pivot_root`s into it, then serves the harness's commands, each the real system call of one
//! model operation; the other tasks are its `fork(2)` children, each serving commands on its own
//! pair of pipes.
//!
//! Invariant: no mount system call runs before `unshare(CLONE_NEWNS)` succeeded and
//! `/proc/self/ns/mnt` was checked to differ; every task process dies with its parent
//! (`PR_SET_PDEATHSIG` = SIGKILL).

use rustix::fs::{AtFlags, FileType, Mode, OFlags, StatxAttributes, StatxFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use super::{errno_name, NO_PRIVILEGE, PARENT_ENV};
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
