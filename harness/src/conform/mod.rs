//! `mountcheck conform`: the model's sequential behaviour checked against the running kernel.
//!
//! Each trace (a bundled scenario run one thread after another, or a random trace) runs twice:
//! in the model (std backend) and in the real kernel inside a private mount namespace (see
//! [`kernel`]). After every operation the results (success or errno) and the mount table each
//! live task sees are compared: the model's [`Task::mount_table`] against the kernel's
//! `/proc/<pid>/mountinfo`, both relative to the task's root. Differences that come from the
//! era gap (the model follows 2.4 after the fix, the machine runs a current kernel) are listed in
//! [`ERA_DIFFERENCES`] with their reason and count as explained; any other is reported in full.
//!
//! Invariant: nothing outside the private namespace changes (no mount in this process; every
//! mount under a fresh temporary directory; the namespace ends with its task processes); without
//! the privilege to make the namespace, the command says so and exits 2.

pub mod gen;
pub mod kernel;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use mountcheck_model::program::apply;
use mountcheck_model::task::{MountEntry, Task};
use mountcheck_model::{Config, Ledger, Op};

use gen::Trace;
use kernel::{Privilege, TaskProc};

/// Options of `mountcheck conform`.
#[derive(Args, Clone, Debug)]
pub struct ConformArgs {
    /// Random traces to generate.
    #[arg(long, default_value_t = 2000)]
    pub traces: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Most operations in a random trace.
    #[arg(long, default_value_t = 20)]
    pub max_ops: usize,
    /// Where the bundled scenarios live (their sequential traces are checked too).
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Print every trace as it runs.
    #[arg(long)]
    pub verbose: bool,
}

/// An era difference: the model (2.4 after the fix) and a current kernel disagree by design.
pub struct EraDifference {
    /// Short id.
    pub id: &'static str,
    /// What differs.
    pub what: &'static str,
    /// Why.
    pub reason: &'static str,
    matches: fn(&Op, &str, &str) -> bool,
}

/// The era differences that count as explained. Keep this short and honest.
pub const ERA_DIFFERENCES: &[EraDifference] = &[
    EraDifference {
        id: "umount-own-root",
        what: "plain umount of the caller's root mount: the model returns 0, the kernel EINVAL or EBUSY",
        reason: "2.4's do_umount remounts the caller's root read-only and returns its result instead of \
                 unmounting; current kernels refuse (EINVAL when it is the namespace root, EBUSY when busy)",
        matches: |op, model, kernel| {
            matches!(op, Op::Umount { flags, .. } if !flags.detach) && model == "ok" && (kernel == "EINVAL" || kernel == "EBUSY")
        },
    },
    EraDifference {
        id: "umount-lazy-own-root",
        what: "lazy umount of the caller's root, which is the namespace root: the model detaches it, the kernel returns EINVAL",
        reason: "2.4 detaches any mount with MNT_DETACH; current kernels refuse to unmount a namespace's \
                 root mount (do_umount: `if (&mnt->mnt == current->fs->root.mnt && !(flags & MNT_DETACH))` \
                 and `!mnt_has_parent(mnt)` → EINVAL)",
        matches: |op, model, kernel| matches!(op, Op::Umount { flags, .. } if flags.detach) && model == "ok" && kernel == "EINVAL",
    },
    EraDifference {
        id: "rmdir-mountpoint-elsewhere",
        what: "rmdir of a directory that is a mountpoint only in another namespace: the model returns EBUSY, the kernel removes it (or finds it not empty)",
        reason: "2.4's vfs_rmdir refuses any dentry with d_mountpoint set, whatever namespace the mount is in; since \
                 Linux 3.18 (\"vfs: Lazily remove mounts on unlinked files and directories\") only a mount in the \
                 caller's namespace makes it EBUSY, and mounts elsewhere are detached",
        matches: |op, model, kernel| matches!(op, Op::Rmdir { .. }) && model == "EBUSY" && kernel != "EBUSY",
    },
];

/// How a kernel command is made from a model operation.
enum Cmd {
    Run(String),
    ModelOnly,
    Unsupported(&'static str),
}

fn command(op: &Op, dev_is_live: bool, table: &[MountEntry]) -> Cmd {
    match op {
        Op::Mkdir { path } => Cmd::Run(format!("mkdir {path}")),
        Op::Rmdir { path } => Cmd::Run(format!("rmdir {path}")),
        Op::Mount { dev, path } if dev_is_live => match table.iter().find(|e| &e.dev == dev && e.root == "/") {
            // A second mount of a mounted device shares its super_block: a bind of its root.
            Some(e) => Cmd::Run(format!("bind {} {path}", e.mountpoint)),
            None => Cmd::Unsupported("second mount of a device with no reachable mount"),
        },
        Op::Mount { dev, path } => Cmd::Run(format!("tmpfs {dev} {path}")),
        Op::Bind { src, dst } => Cmd::Run(format!("bind {src} {dst}")),
        Op::Umount { path, flags } => {
            let f = format!("{}{}-", if flags.detach { "l" } else { "" }, if flags.force { "f" } else { "" });
            Cmd::Run(format!("umount {f} {path}"))
        }
        Op::Open { path, handle } => Cmd::Run(format!("open {path} {handle}")),
        Op::Close { handle } => Cmd::Run(format!("close {handle}")),
        Op::Stat { path } => Cmd::Run(format!("stat {path}")),
        Op::Chdir { path } => Cmd::Run(format!("chdir {path}")),
        Op::Chroot { path } => Cmd::Run(format!("chroot {path}")),
        Op::CloneNewns { fail: false } => Cmd::Run("unshare".into()),
        Op::Exit => Cmd::Run("exit".into()),
        Op::GetSuper { .. } | Op::DropSuper { .. } | Op::Statfs { .. } | Op::LockSuper { .. } | Op::UnlockSuper { .. } | Op::Ustat { .. } | Op::Sync => {
            Cmd::ModelOnly
        }
        Op::CloneNewns { fail: true } => Cmd::Unsupported("fault injection has no kernel equivalent"),
        Op::Expire { .. } => Cmd::Unsupported("mount expiry has no system call"),
        Op::Fsmount { .. } => Cmd::Unsupported("fsmount is not in the model's 2.4 protocol"),
        Op::DropCap => Cmd::Unsupported("dropping CAP_SYS_ADMIN would end the kernel side's privilege"),
    }
}

/// The result of one trace.
#[derive(Default)]
struct Outcome {
    ops: usize,
    agreements: usize,
    explained: Vec<(String, &'static str)>,
    differences: Vec<String>,
    skipped: Option<&'static str>,
}

fn show_table(t: &Option<Vec<MountEntry>>) -> String {
    match t {
        None => "(no task)".into(),
        Some(v) => v.iter().map(|e| format!("{} {} (root {})", e.mountpoint, e.dev, e.root)).collect::<Vec<_>>().join("; "),
    }
}

fn model_result(r: &Result<(), mountcheck_model::MountError>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => e.errno_name().into(),
    }
}

fn dev_is_live(ledger: &Ledger, dev: &str) -> bool {
    let suffix = format!("({dev})");
    ledger.objects().iter().any(|o| o.kind == mountcheck_model::oracle::ObjKind::SuperBlock && o.label.ends_with(&suffix) && o.state == mountcheck_model::oracle::ObjState::Alive)
}

fn run_trace(t: &Trace) -> Result<Outcome> {
    let mut out = Outcome::default();
    if let Some(reason) = t.steps.iter().find_map(|(_, op)| match command(op, false, &[]) {
        Cmd::Unsupported(r) => Some(r),
        _ => None,
    }) {
        out.skipped = Some(reason);
        return Ok(out);
    }
    let ledger = Ledger::new();
    let mut model: Vec<Option<Task>> = (0..t.tasks).map(|_| None).collect();
    model[0] = Some(Task::boot(Config::default(), ledger.clone()));
    let tmp = tempfile::Builder::new().prefix("mountcheck-conform-").tempdir()?;
    let mut procs: Vec<Option<TaskProc>> = (0..t.tasks).map(|_| None).collect();
    procs[0] = Some(TaskProc::start(tmp.path(), None)?);
    let leader = procs[0].as_ref().map(TaskProc::pid).unwrap_or_default();
    let mut forked = false;
    for (i, (task, op)) in t.steps.iter().enumerate() {
        if i == t.fork_after && !forked {
            forked = true;
            for k in 1..t.tasks {
                model[k] = Some(model[0].as_ref().expect("init is alive").fork(k).map_err(|e| anyhow::anyhow!("fork: {e}"))?);
                procs[k] = Some(TaskProc::start(tmp.path(), Some(leader))?);
            }
        }
        let (Some(mt), Some(kp)) = (model[*task].as_mut(), procs[*task].as_mut()) else { continue };
        let table = kp.mount_table().unwrap_or_default();
        let cmd = command(op, matches!(op, Op::Mount { dev, .. } if dev_is_live(&ledger, dev)), &table);
        let m = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(mt, op)));
        let m = match m {
            Ok(o) => model_result(&o.result),
            Err(_) => {
                let f = ledger.finding().map_or("a panic".to_string(), |f| f.to_string());
                out.differences.push(format!("{}: step {i} T{task} `{op}`: the model raised a finding: {f}", t.name));
                return Ok(out);
            }
        };
        let k = match cmd {
            Cmd::Run(c) => kp.call(&c)?,
            Cmd::ModelOnly => continue,
            Cmd::Unsupported(r) => {
                out.skipped = Some(r);
                return Ok(out);
            }
        };
        if *op == Op::Exit {
            model[*task] = None;
            procs[*task] = None;
        }
        out.ops += 1;
        if m != k {
            if let Some(era) = ERA_DIFFERENCES.iter().find(|e| (e.matches)(op, &m, &k)) {
                // The two sides now hold different states: stop comparing this trace.
                out.explained.push((format!("{}: step {i} T{task} `{op}`: model {m}, kernel {k}", t.name), era.id));
                return Ok(out);
            }
            out.differences.push(format!("{}: step {i} T{task} `{op}`: model {m}, kernel {k}\n{}", t.name, tables_text(&model, &procs)));
            return Ok(out);
        }
        let mtabs: Vec<Option<Vec<MountEntry>>> = model.iter().map(|x| x.as_ref().map(Task::mount_table)).collect();
        let ktabs: Vec<Option<Vec<MountEntry>>> = procs.iter().map(|p| p.as_ref().map(|p| p.mount_table().unwrap_or_default())).collect();
        if mtabs != ktabs {
            out.differences.push(format!("{}: step {i} T{task} `{op}` (both {m}): the mount tables differ\n{}", t.name, tables_text(&model, &procs)));
            return Ok(out);
        }
        out.agreements += 1;
    }
    Ok(out)
}

fn tables_text(model: &[Option<Task>], procs: &[Option<TaskProc>]) -> String {
    let mut s = String::new();
    for (i, (m, p)) in model.iter().zip(procs).enumerate() {
        let mt = m.as_ref().map(Task::mount_table);
        let kt = p.as_ref().map(|p| p.mount_table().unwrap_or_default());
        let _ = writeln!(s, "    T{i} model : {}\n    T{i} kernel: {}", show_table(&mt), show_table(&kt));
    }
    s
}

/// `mountcheck conform`.
pub fn run(a: &ConformArgs) -> Result<ExitCode> {
    if !rustix::process::geteuid().is_root() {
        eprintln!("mountcheck conform: needs root (CAP_SYS_ADMIN) to make a private mount namespace; this process is not root. Nothing was run.");
        return Ok(ExitCode::from(2));
    }
    // Probe: can a private namespace be made here at all?
    let probe = tempfile::Builder::new().prefix("mountcheck-conform-").tempdir()?;
    match TaskProc::start(probe.path(), None) {
        Ok(mut p) => {
            let _ = p.call("exit");
        }
        Err(e) if e.downcast_ref::<Privilege>().is_some() => {
            eprintln!("mountcheck conform: {e}. Nothing was run.");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e),
    }
    drop(probe);
    let start = Instant::now();
    let mut traces: Vec<Trace> = Vec::new();
    if let Ok(files) = crate::scenario::bundled(&a.scenarios) {
        for f in files {
            let s = crate::scenario::load(&f).map_err(|e| crate::run::BadInput(e.to_string()))?;
            traces.push(gen::from_program(&s.name, &s.program));
        }
    }
    let scenario_traces = traces.len();
    traces.extend((0..a.traces).map(|n| gen::random(a.seed, n, a.max_ops)));
    let (mut ops, mut agreements, mut skipped) = (0, 0, Vec::new());
    let mut explained: Vec<(String, &'static str)> = Vec::new();
    let mut differences = Vec::new();
    let bar = indicatif::ProgressBar::new(traces.len() as u64);
    for t in &traces {
        if a.verbose {
            println!("{}: {}", t.name, t.steps.iter().map(|(k, o)| format!("T{k} {o}")).collect::<Vec<_>>().join("; "));
        }
        let o = run_trace(t)?;
        ops += o.ops;
        agreements += o.agreements;
        if let Some(r) = o.skipped {
            skipped.push((t.name.clone(), r));
        }
        explained.extend(o.explained);
        differences.extend(o.differences);
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{} traces ({} from scenarios, {} random, seed {}, up to {} operations), {} skipped; {} operations compared, {} agreements, {} explained differences, {} unexplained differences; {:.1} s",
        traces.len(),
        scenario_traces,
        a.traces,
        a.seed,
        a.max_ops,
        skipped.len(),
        ops,
        agreements,
        explained.len(),
        differences.len(),
        start.elapsed().as_secs_f64()
    );
    println!("\nEra differences (model: 2.4 after the fix; kernel: {}):", kernel_release());
    for e in ERA_DIFFERENCES {
        let n = explained.iter().filter(|(_, id)| *id == e.id).count();
        println!("  {:<22} {:>5} seen  {}\n  {:<22}        why: {}", e.id, n, e.what, "", e.reason);
    }
    if !skipped.is_empty() {
        println!("\nSkipped traces:");
        for (name, why) in &skipped {
            println!("  {name}: {why}");
        }
    }
    if a.verbose {
        for (d, id) in &explained {
            println!("explained ({id}): {d}");
        }
    }
    for d in &differences {
        println!("\nDIFFERENCE {d}");
    }
    Ok(if differences.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| format!("Linux {}", s.trim())).unwrap_or_else(|_| "Linux".into())
}
