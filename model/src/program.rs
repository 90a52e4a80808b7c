//! Programs: the operations a scenario's setup and threads run, their text syntax, and one
//! execution of a program (boot, setup, concurrent threads, quiescence checks).
//!
//! What it models: user space. Each scenario thread is a task forked from init after the setup;
//! its operations are system calls on the model kernel ([`crate::task::Task`]). Quiescence
//! follows what the kernel guarantees once every task is gone (kernel/exit.c: the last
//! `exit_namespace` lazily unmounts the whole tree): with [`EndState::ExitAll`] every remaining
//! task exits and then every object must be freed.
//!
//! Invariant: [`parse_op`] and [`Op`]'s `Display` round-trip; [`Program::validate`] rejects a handle
//! used before it is bound and an operation after `exit`, so a valid program never asks the model
//! for something it cannot name.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{MResult, MountError};
use crate::fs::Kind;
use crate::kernel::Config;
use crate::oracle::{Counter, Ctx, FindingClass, Ledger, ObjState};
use crate::sync;
use crate::task::{Task, UmountFlags};

/// One operation of a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `mkdir PATH`
    Mkdir { path: String },
    /// `rmdir PATH`
    Rmdir { path: String },
    /// `mount DEV PATH`
    Mount { dev: String, path: String },
    /// `mount --bind SRC DST`
    Bind { src: String, dst: String },
    /// `umount [-l] [-f] PATH`
    Umount { path: String, flags: UmountFlags },
    /// `get_super DEV as H`
    GetSuper { dev: String, handle: String },
    /// `drop_super H`
    DropSuper { handle: String },
    /// `statfs H`
    Statfs { handle: String },
    /// `lock_super H`
    LockSuper { handle: String },
    /// `unlock_super H`
    UnlockSuper { handle: String },
    /// `ustat DEV`
    Ustat { dev: String },
    /// `sync`
    Sync,
    /// `open PATH as H`
    Open { path: String, handle: String },
    /// `close H`
    Close { handle: String },
    /// `stat PATH`
    Stat { path: String },
    /// `chdir PATH`
    Chdir { path: String },
    /// `chroot PATH`
    Chroot { path: String },
    /// `clone -n [--fail]`
    CloneNewns { fail: bool },
    /// `expire DEV`
    Expire { dev: String },
    /// `fsmount DEV as H`
    Fsmount { dev: String, handle: String },
    /// `drop_cap`
    DropCap,
    /// `exit`
    Exit,
}

/// The operation names the syntax knows, for error messages.
pub const OP_NAMES: &[&str] = &[
    "mkdir",
    "rmdir",
    "mount",
    "umount",
    "get_super",
    "drop_super",
    "statfs",
    "lock_super",
    "unlock_super",
    "ustat",
    "sync",
    "open",
    "close",
    "stat",
    "chdir",
    "chroot",
    "clone",
    "expire",
    "fsmount",
    "drop_cap",
    "exit",
];

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Mkdir { path } => write!(f, "mkdir {path}"),
            Op::Rmdir { path } => write!(f, "rmdir {path}"),
            Op::Mount { dev, path } => write!(f, "mount {dev} {path}"),
            Op::Bind { src, dst } => write!(f, "mount --bind {src} {dst}"),
            Op::Umount { path, flags } => {
                f.write_str("umount")?;
                if flags.detach {
                    f.write_str(" -l")?;
                }
                if flags.force {
                    f.write_str(" -f")?;
                }
                write!(f, " {path}")
            }
            Op::GetSuper { dev, handle } => write!(f, "get_super {dev} as {handle}"),
            Op::DropSuper { handle } => write!(f, "drop_super {handle}"),
            Op::Statfs { handle } => write!(f, "statfs {handle}"),
            Op::LockSuper { handle } => write!(f, "lock_super {handle}"),
            Op::UnlockSuper { handle } => write!(f, "unlock_super {handle}"),
            Op::Ustat { dev } => write!(f, "ustat {dev}"),
            Op::Sync => f.write_str("sync"),
            Op::Open { path, handle } => write!(f, "open {path} as {handle}"),
            Op::Close { handle } => write!(f, "close {handle}"),
            Op::Stat { path } => write!(f, "stat {path}"),
            Op::Chdir { path } => write!(f, "chdir {path}"),
            Op::Chroot { path } => write!(f, "chroot {path}"),
            Op::CloneNewns { fail } => {
                f.write_str(if *fail { "clone -n --fail" } else { "clone -n" })
            }
            Op::Expire { dev } => write!(f, "expire {dev}"),
            Op::Fsmount { dev, handle } => write!(f, "fsmount {dev} as {handle}"),
            Op::DropCap => f.write_str("drop_cap"),
            Op::Exit => f.write_str("exit"),
        }
    }
}

/// A syntax error in one operation: the 0-based character column in the operation's text and
/// what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    /// 0-based character offset in the operation text.
    pub col: usize,
    /// What is wrong and what was expected.
    pub msg: String,
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.col + 1, self.msg)
    }
}

struct Tokens<'a> {
    toks: Vec<(usize, &'a str)>,
    pos: usize,
    end: usize,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        let mut toks = Vec::new();
        let mut start = None;
        for (i, c) in s.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(b)) => {
                    toks.push((b, &s[b..i]));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(b) = start {
            toks.push((b, &s[b..]));
        }
        let end = s.chars().count();
        let toks = toks
            .into_iter()
            .map(|(b, t)| (s[..b].chars().count(), t))
            .collect();
        Tokens { toks, pos: 0, end }
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.0)
    }

    fn peek(&self) -> Option<&'a str> {
        self.toks.get(self.pos).map(|t| t.1)
    }

    fn next(&mut self, what: &str) -> Result<(usize, &'a str), OpError> {
        match self.toks.get(self.pos) {
            Some(&t) => {
                self.pos += 1;
                Ok(t)
            }
            None => Err(OpError {
                col: self.end,
                msg: format!("expected {what}, found end of operation"),
            }),
        }
    }

    fn path(&mut self) -> Result<String, OpError> {
        let (col, t) = self.next("a path")?;
        check_path(t).map_err(|msg| OpError { col, msg })?;
        Ok(t.to_string())
    }

    fn name(&mut self, what: &str) -> Result<String, OpError> {
        let (col, t) = self.next(what)?;
        if !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || t.starts_with('-')
        {
            return Err(OpError {
                col,
                msg: format!("expected {what} (letters, digits, '_' or '-'), found `{t}`"),
            });
        }
        Ok(t.to_string())
    }

    fn handle(&mut self) -> Result<String, OpError> {
        self.name("a handle name")
    }

    fn as_handle(&mut self) -> Result<String, OpError> {
        let (col, t) = self.next("`as HANDLE`")?;
        if t != "as" {
            return Err(OpError {
                col,
                msg: format!("expected `as HANDLE`, found `{t}`"),
            });
        }
        self.handle()
    }

    fn done(&self) -> Result<(), OpError> {
        match self.toks.get(self.pos) {
            None => Ok(()),
            Some(&(col, t)) => Err(OpError {
                col,
                msg: format!("unexpected `{t}` after the operation"),
            }),
        }
    }
}

fn check_path(p: &str) -> Result<(), String> {
    if p.starts_with('-') {
        return Err(format!("expected a path, found option `{p}`"));
    }
    Ok(())
}

/// Parse one operation from its text, e.g. `umount -l /mnt` or `get_super ram0 as sb`.
pub fn parse_op(s: &str) -> Result<Op, OpError> {
    let mut t = Tokens::new(s);
    let (col, name) = t.next("an operation")?;
    let op = match name {
        "mkdir" => Op::Mkdir { path: t.path()? },
        "rmdir" => Op::Rmdir { path: t.path()? },
        "mount" => {
            if t.peek() == Some("--bind") {
                t.pos += 1;
                Op::Bind {
                    src: t.path()?,
                    dst: t.path()?,
                }
            } else {
                Op::Mount {
                    dev: t.name("a device name")?,
                    path: t.path()?,
                }
            }
        }
        "umount" => {
            let mut flags = UmountFlags::default();
            while let Some(f) = t.peek().filter(|f| f.starts_with('-')) {
                let col = t.col();
                for c in f[1..].chars() {
                    match c {
                        'l' => flags.detach = true,
                        'f' => flags.force = true,
                        _ => {
                            return Err(OpError {
                                col,
                                msg: format!("unknown umount flag `{f}` (expected -l, -f)"),
                            })
                        }
                    }
                }
                if f.len() < 2 {
                    return Err(OpError {
                        col,
                        msg: "empty umount flag (expected -l, -f)".into(),
                    });
                }
                t.pos += 1;
            }
            Op::Umount {
                flags,
                path: t.path()?,
            }
        }
        "get_super" => Op::GetSuper {
            dev: t.name("a device name")?,
            handle: t.as_handle()?,
        },
        "drop_super" => Op::DropSuper {
            handle: t.handle()?,
        },
        "statfs" => Op::Statfs {
            handle: t.handle()?,
        },
        "lock_super" => Op::LockSuper {
            handle: t.handle()?,
        },
        "unlock_super" => Op::UnlockSuper {
            handle: t.handle()?,
        },
        "ustat" => Op::Ustat {
            dev: t.name("a device name")?,
        },
        "sync" => Op::Sync,
        "open" => Op::Open {
            path: t.path()?,
            handle: t.as_handle()?,
        },
        "close" => Op::Close {
            handle: t.handle()?,
        },
        "stat" => Op::Stat { path: t.path()? },
        "chdir" => Op::Chdir { path: t.path()? },
        "chroot" => Op::Chroot { path: t.path()? },
        "clone" => {
            let (c, f) = t.next("`-n`")?;
            if f != "-n" {
                return Err(OpError {
                    col: c,
                    msg: format!("expected `-n` (CLONE_NEWNS), found `{f}`"),
                });
            }
            let fail = t.peek() == Some("--fail");
            if fail {
                t.pos += 1;
            }
            Op::CloneNewns { fail }
        }
        "expire" => Op::Expire {
            dev: t.name("a device name")?,
        },
        "fsmount" => Op::Fsmount {
            dev: t.name("a device name")?,
            handle: t.as_handle()?,
        },
        "drop_cap" => Op::DropCap,
        "exit" => Op::Exit,
        other => {
            return Err(OpError {
                col,
                msg: format!(
                    "unknown operation `{other}` (expected one of: {})",
                    OP_NAMES.join(", ")
                ),
            });
        }
    };
    t.done()?;
    Ok(op)
}

impl Op {
    /// The handle this operation binds, if any.
    pub fn binds(&self) -> Option<&str> {
        match self {
            Op::GetSuper { handle, .. } | Op::Open { handle, .. } | Op::Fsmount { handle, .. } => {
                Some(handle)
            }
            _ => None,
        }
    }

    /// The handle this operation uses, if any.
    pub fn uses(&self) -> Option<&str> {
        match self {
            Op::DropSuper { handle }
            | Op::Statfs { handle }
            | Op::LockSuper { handle }
            | Op::UnlockSuper { handle }
            | Op::Close { handle } => Some(handle),
            _ => None,
        }
    }
}

/// What quiescence means for a program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndState {
    /// Every task that has not exited exits (threads' tasks, then init); then every object must be
    /// freed. The default.
    #[default]
    ExitAll,
    /// Nothing more runs: counts must match their holders and no `s_umount` may be held.
    AsIs,
}

/// A program error found by [`Program::validate`]: which list (`None` = setup, `Some(i)` =
/// thread i), which operation, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramError {
    /// `None` for the setup, `Some(i)` for thread `i` (0-based).
    pub thread: Option<usize>,
    /// Index of the operation in its list.
    pub index: usize,
    /// 0-based column in the operation text.
    pub col: usize,
    /// The message.
    pub msg: String,
}

/// A scenario's operations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// Run by init, sequentially, before the threads start.
    pub setup: Vec<Op>,
    /// One list per thread; each thread is a task forked from init after the setup.
    pub threads: Vec<Vec<Op>>,
    /// What quiescence means.
    pub end: EndState,
}

impl Program {
    /// Check handles and `exit` placement.
    pub fn validate(&self) -> Result<(), ProgramError> {
        let lists = std::iter::once((None, &self.setup))
            .chain(self.threads.iter().enumerate().map(|(i, l)| (Some(i), l)));
        for (thread, ops) in lists {
            let mut bound: BTreeSet<&str> = BTreeSet::new();
            for (index, op) in ops.iter().enumerate() {
                if let Some(h) = op.uses() {
                    if !bound.contains(h) {
                        let text = op.to_string();
                        let col = text.rfind(h).unwrap_or(0);
                        return Err(ProgramError {
                            thread,
                            index,
                            col,
                            msg: format!(
                                "handle `{h}` is used before an operation binds it with `as {h}`"
                            ),
                        });
                    }
                }
                if let Some(h) = op.binds() {
                    bound.insert(h);
                }
                if *op == Op::Exit && index + 1 != ops.len() {
                    return Err(ProgramError {
                        thread,
                        index: index + 1,
                        col: 0,
                        msg: "operation after `exit`".into(),
                    });
                }
                if *op == Op::Exit && thread.is_none() {
                    return Err(ProgramError {
                        thread,
                        index,
                        col: 0,
                        msg: "the setup runs as init, which cannot exit".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The result of one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpOutcome {
    /// The operation's text.
    pub op: String,
    /// `Ok` or the errno.
    pub result: Result<(), MountError>,
}

/// The results of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// Setup results.
    pub setup: Vec<OpOutcome>,
    /// Results per thread.
    pub threads: Vec<Vec<OpOutcome>>,
}

/// Run one operation on `task`, recording it in the ledger.
pub fn apply(task: &mut Task, op: &Op) -> OpOutcome {
    let text = op.to_string();
    task.ctx.set_op(&text);
    let result: MResult<()> = match op {
        Op::Mkdir { path } => task.mkdir(path),
        Op::Rmdir { path } => task.rmdir(path),
        Op::Mount { dev, path } => task.mount(dev, path),
        Op::Bind { src, dst } => task.bind(src, dst),
        Op::Umount { path, flags } => task.umount(path, *flags),
        Op::GetSuper { dev, handle } => task.get_super(dev, handle),
        Op::DropSuper { handle } => task.drop_super(handle),
        Op::Statfs { handle } => task.statfs(handle),
        Op::LockSuper { handle } => task.lock_super(handle),
        Op::UnlockSuper { handle } => task.unlock_super(handle),
        Op::Ustat { dev } => task.ustat(dev),
        Op::Sync => task.sync(),
        Op::Open { path, handle } => task.open(path, handle),
        Op::Close { handle } => task.close(handle),
        Op::Stat { path } => task.stat(path),
        Op::Chdir { path } => task.chdir(path),
        Op::Chroot { path } => task.chroot(path),
        Op::CloneNewns { fail } => task.clone_newns(*fail),
        Op::Expire { dev } => task.expire(dev),
        Op::Fsmount { dev, handle } => task.fsmount(dev, handle),
        Op::DropCap => {
            task.drop_cap();
            Ok(())
        }
        Op::Exit => task.exit(),
    };
    let shown = match result {
        Ok(()) => "= 0".to_string(),
        Err(e) => format!("= -{}", e.errno_name()),
    };
    task.ctx.step(format!("{text} {shown}"), "");
    OpOutcome { op: text, result }
}

/// One execution of `program` under `cfg`, recording into `ledger`: boot, setup as init, one
/// task per thread forked from init and run concurrently through the sync facade, then the
/// quiescence checks. A finding panics (the checker stops the execution); the engine reads it
/// from the ledger.
pub fn execute(program: &Program, cfg: Config, ledger: Ledger) -> RunOutcome {
    let mut init = Task::boot(cfg, ledger);
    let setup: Vec<OpOutcome> = program
        .setup
        .iter()
        .map(|op| apply(&mut init, op))
        .collect();
    init.ctx.set_op("fork");
    // Fork every task before starting any thread, so the forks add no interleavings.
    let children: Vec<Task> = (0..program.threads.len())
        .map(|i| init.fork(i + 1).expect("init is alive while forking"))
        .collect();
    let mut handles = Vec::new();
    for (mut task, ops) in children.into_iter().zip(program.threads.iter()) {
        let ops = ops.clone();
        handles.push(sync::spawn(move || {
            let outs: Vec<OpOutcome> = ops.iter().map(|op| apply(&mut task, op)).collect();
            (task, outs)
        }));
    }
    init.ctx.set_op("wait for the threads");
    init.ctx.step("join every thread", "");
    let mut tasks = Vec::new();
    let mut threads = Vec::new();
    for h in handles {
        match h.join() {
            Ok((task, outs)) => {
                tasks.push(task);
                threads.push(outs);
            }
            Err(e) => std::panic::resume_unwind(e),
        }
    }
    init.ctx.set_op("quiescence");
    quiesce(&mut init, &mut tasks, program.end);
    RunOutcome { setup, threads }
}

/// The quiescence checks (see [`EndState`]).
pub fn quiesce(init: &mut Task, tasks: &mut [Task], end: EndState) {
    check_state(&init.ctx, init);
    if end == EndState::ExitAll {
        for t in tasks.iter_mut().filter(|t| !t.exited()) {
            t.ctx.set_op("exit (quiescence)");
            let _ = t.exit();
        }
        init.ctx.set_op("exit (quiescence)");
        let _ = init.exit();
        check_state(&init.ctx, init);
        init.k.ledger.check_all_freed(&init.ctx);
    }
}

/// Structural invariants, hung `s_umount`, and every count against its holders.
fn check_state(ctx: &Ctx, init: &Task) {
    let k = &init.k;
    let ledger = &k.ledger;
    let reg = k.registry();
    let (sbs, mounts, nss) = (reg.sbs.clone(), reg.mounts.clone(), reg.namespaces.clone());
    drop(reg);
    let problem = {
        let tree = k.tree.read(ctx);
        structural_problem(ledger, &tree)
    };
    if let Some((oid, msg)) = problem {
        ledger.invariant(ctx, Some(oid), msg);
    }
    for sb in &sbs {
        if ledger.state(sb.oid) == ObjState::Freed {
            continue;
        }
        let (readers, writer) = sb.s_umount.holders();
        if readers > 0 || writer {
            let pins: Vec<_> = ledger
                .report(sb.oid)
                .holders
                .into_iter()
                .filter(|h| h.counter == Counter::SCount && h.weight == 1)
                .collect();
            let who = pins
                .iter()
                .map(|h| format!("{} (taken by T{} in `{}`)", h.tag, h.thread, h.op))
                .collect::<Vec<_>>()
                .join("; ");
            let msg = format!(
                "s_umount of sb#{} ({}) is still held ({}) at quiescence: {}",
                sb.oid.0,
                sb.dev,
                if writer {
                    "for write".to_string()
                } else {
                    format!("{readers} reader(s)")
                },
                if who.is_empty() {
                    "no pin names the holder".to_string()
                } else {
                    who
                }
            );
            ledger.fail(ctx, FindingClass::Leak, msg, Some(sb.oid), pins);
        }
        ledger.check_count(
            ctx,
            sb.oid,
            Counter::SCount,
            sb.s_count.load(sync::Ordering::SeqCst),
        );
        ledger.check_count(
            ctx,
            sb.oid,
            Counter::SActive,
            sb.s_active.load(sync::Ordering::SeqCst),
        );
        ledger.check_count(
            ctx,
            sb.oid,
            Counter::Dentries,
            sb.dentries.load(sync::Ordering::SeqCst),
        );
    }
    for m in &mounts {
        if ledger.state(m.oid) != ObjState::Freed {
            ledger.check_count(
                ctx,
                m.oid,
                Counter::MntCount,
                m.mnt_count.load(sync::Ordering::SeqCst),
            );
        }
    }
    for ns in &nss {
        if ledger.state(ns.oid) != ObjState::Freed {
            ledger.check_count(
                ctx,
                ns.oid,
                Counter::NsCount,
                ns.count.load(sync::Ordering::SeqCst),
            );
        }
    }
}

/// Whether `kind` is a directory (re-exported for the harness's conformance check).
pub fn is_dir(kind: Kind) -> bool {
    kind == Kind::Dir
}

/// The first structural invariant the tree breaks: freed mounts still linked, freed or cyclic
/// parents, attached mounts whose mountpoint was removed, detached mounts left in the hash.
fn structural_problem(
    ledger: &Ledger,
    tree: &crate::kernel::Tree,
) -> Option<(crate::oracle::Oid, String)> {
    for (oid, l) in &tree.links {
        if ledger.state(*oid) == ObjState::Freed {
            return Some((
                *oid,
                format!("freed mnt#{} is still linked in the mount tree", oid.0),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut cur = l.parent.clone();
        while let Some(p) = cur {
            if !seen.insert(p.oid) || p.oid == *oid {
                return Some((
                    *oid,
                    format!("the mount tree has a cycle through mnt#{}", oid.0),
                ));
            }
            if ledger.state(p.oid) == ObjState::Freed {
                return Some((
                    *oid,
                    format!("mnt#{}'s parent mnt#{} is freed", oid.0, p.oid.0),
                ));
            }
            cur = tree.links.get(&p.oid).and_then(|pl| pl.parent.clone());
        }
        if let (Some(p), Some(mp)) = (&l.parent, &l.mountpoint) {
            if !p.sb.dentry_is_live(mp) {
                let msg = format!("mnt#{} is attached on {} of mnt#{}, which was removed: unreachable by any path", oid.0, mp.path, p.oid.0);
                return Some((*oid, msg));
            }
        }
    }
    for ((p, _), v) in &tree.hash {
        for m in v {
            if tree
                .links
                .get(&m.oid)
                .is_none_or(|l| l.parent.as_ref().is_none_or(|pp| pp.oid != *p))
            {
                return Some((
                    m.oid,
                    format!("mnt#{} is in the mount hash but detached", m.oid.0),
                ));
            }
        }
    }
    None
}
