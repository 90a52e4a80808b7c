//! `mountcheck conform`: the model's sequential behaviour checked against the running kernel.
//!
//! What it checks: each trace (a bundled scenario run one thread after another, each of its
//! threads run alone after the setup, or a random trace from [`gen`]) runs twice, in the model
//! (std backend, [`model`]) and in the real kernel inside a private mount namespace on tmpfs
//! mounts ([`kernel`]). After every operation the result (success or errno) and the mount table
//! each running task sees must agree, and a scenario call's result assertion (`= EBUSY`,
//! `in {0, ENOENT}`) must hold for the kernel's result (a sequential run is one of the
//! interleavings the assertion speaks for): the model's
//! [`Task::mount_table`](mountcheck_model::task::Task::mount_table) against the kernel's
//! `/proc/<pid>/mountinfo` (mountpoint, device, and root within the filesystem, all relative to
//! the task's root). It follows the system calls the model reproduces: `sys_mount` (`do_add_mount`,
//! `do_loopback`), `sys_umount` (`do_umount`, `umount_tree`), `sys_mkdir`, `sys_rmdir`, `sys_open`,
//! `sys_chdir`, `sys_chroot`, `copy_namespace` (`unshare(CLONE_NEWNS)`), `fork` and `exit`.
//! Differences that come from the era gap (the model follows 2.4 after the fix, the machine runs a
//! current kernel) are listed in [`ERA_DIFFERENCES`] with their reason and count as explained; a
//! trace stops comparing at its first difference, since the two sides then hold different states.
//!
//! Invariant: nothing outside the private namespaces changes. This process never mounts anything;
//! every mount happens in a task process that first made and checked its own private namespace,
//! under a fresh temporary directory, and the namespace ends with the trace's processes. Without
//! the privilege to make the namespace the command says so and exits 2.

mod era;
pub mod gen;
pub mod kernel;
pub mod model;
mod translate;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use mountcheck_model::task::MountEntry;
use mountcheck_model::{MountError, Op, OpResult};

pub use era::ERA_DIFFERENCES;
use gen::Trace;
use kernel::{KernelTrace, Privilege, Reply};
use model::{Facts, ModelTrace};
use translate::{command, grab, trace_skip_reason, Cmd};

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
    /// Print every trace and every explained difference.
    #[arg(long)]
    pub verbose: bool,
}

/// One difference, with everything needed to read it.
struct Difference {
    trace: String,
    text: String,
    step: String,
    model: String,
    kernel: String,
    tables: String,
    era: Option<&'static str>,
    hint: Option<&'static str>,
}

/// A pointer for an unexplained difference whose cause is known.
fn hint(f: &Facts, m: &str, k: &str) -> Option<&'static str> {
    if k == "EROFS" && m != "EROFS" {
        return Some(
            "the kernel remounted this filesystem read-only at an earlier plain umount of the caller's root \
             (do_umount → do_remount_sb(sb, MS_RDONLY), in 2.4 as today); a model without read-only \
             superblocks lets the write through",
        );
    }
    (f.target_is_own_root_mount && f.removed_dir_open && m == "ok" && k == "EBUSY").then_some(
        "a removed directory of this filesystem is open: the read-only remount is refused in 2.4 \
         (fs_may_remount_ro: pending delete) as today",
    )
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {}: model {}, kernel {}",
            self.trace, self.step, self.model, self.kernel
        )?;
        writeln!(f, "  trace: {}", self.text)?;
        if let Some(h) = self.hint {
            writeln!(f, "  hint: {h}")?;
        }
        f.write_str(&self.tables)
    }
}

/// The result of one trace.
#[derive(Default)]
struct Outcome {
    ops: usize,
    agreements: usize,
    /// Result assertions that held on the kernel's result.
    assertions: usize,
    /// Result assertions on operations skipped on both sides (no kernel system call).
    assertions_skipped: usize,
    skipped_ops: BTreeMap<&'static str, usize>,
    skipped: Option<String>,
    difference: Option<Difference>,
}

fn show(t: &Option<Vec<MountEntry>>) -> String {
    match t {
        None => "(not running)".into(),
        Some(v) if v.is_empty() => "(no mount reachable)".into(),
        Some(v) => v
            .iter()
            .map(|e| {
                if e.root == "/" {
                    format!("{} {}", e.mountpoint, e.dev)
                } else {
                    format!("{} {}:{}", e.mountpoint, e.dev, e.root)
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

type Tables = Vec<(Option<Vec<MountEntry>>, Option<Vec<MountEntry>>)>;

fn tables(tasks: usize, model: &ModelTrace, kernel: &KernelTrace) -> Result<Tables> {
    (0..tasks)
        .map(|k| {
            Ok((
                model.table(k),
                kernel
                    .table(k)?
                    .map(|v| v.iter().map(kernel::KMount::entry).collect()),
            ))
        })
        .collect()
}

fn tables_text(t: &Tables) -> String {
    let mut s = String::new();
    for (k, (m, kt)) in t.iter().enumerate() {
        if m.is_none() && kt.is_none() {
            continue;
        }
        let mark = if m == kt { " " } else { "*" };
        let _ = writeln!(
            s,
            "  {mark}T{k} model : {}\n  {mark}T{k} kernel: {}",
            show(m),
            show(kt)
        );
    }
    s
}

/// Run one trace on both sides, stopping at its first difference.
fn run_trace(t: &Trace, root: &Path) -> Result<Outcome> {
    if let Some(r) = t.steps.iter().find_map(|(_, c)| trace_skip_reason(&c.op)) {
        return Ok(Outcome {
            skipped: Some(r.to_string()),
            ..Outcome::default()
        });
    }
    let mut model = ModelTrace::boot(t.tasks);
    let mut kernel = KernelTrace::start(root)?;
    let out = run_steps(t, &mut model, &mut kernel)?;
    // Every task process exits and is reaped, whatever the outcome: the namespace goes with them.
    kernel.finish()?;
    Ok(out)
}

/// The steps of [`run_trace`], on a booted model and a started kernel side.
fn run_steps(t: &Trace, model: &mut ModelTrace, kernel: &mut KernelTrace) -> Result<Outcome> {
    let mut out = Outcome::default();
    let diff = |step: String, m: String, k: String, tabs: &Tables, facts: Option<(&Facts, &Op)>| {
        let era = facts
            .and_then(|(f, op)| ERA_DIFFERENCES.iter().find(|e| (e.matches)(f, op, &m, &k)))
            .map(|e| e.id);
        let hint = facts.and_then(|(f, _)| hint(f, &m, &k));
        Difference {
            trace: t.name.clone(),
            text: t.text(),
            step,
            model: m,
            kernel: k,
            tables: tables_text(tabs),
            era,
            hint,
        }
    };
    let tabs = tables(t.tasks, model, kernel)?;
    if tabs.iter().any(|(m, k)| m != k) {
        out.difference = Some(diff("at boot".into(), "-".into(), "-".into(), &tabs, None));
        return Ok(out);
    }
    for i in 0..=t.steps.len() {
        if i == t.fork_after && t.tasks > 1 {
            for k in 1..t.tasks {
                model.fork(k).map_err(anyhow::Error::msg)?;
                kernel.fork(k)?;
            }
            let tabs = tables(t.tasks, model, kernel)?;
            if tabs.iter().any(|(m, k)| m != k) {
                out.difference = Some(diff(
                    format!("after forking T1..T{}", t.tasks - 1),
                    "-".into(),
                    "-".into(),
                    &tabs,
                    None,
                ));
                return Ok(out);
            }
        }
        let Some((task, call)) = t.steps.get(i) else {
            break;
        };
        let op = &call.op;
        let step = format!("step {i} T{task} `{op}`");
        if !model.alive(*task) || !kernel.alive(*task) {
            bail!("{}: {step}: task {task} is not running", t.name);
        }
        let facts = model.facts(*task, op);
        let cmd = command(op, *task, model, kernel)?;
        if let Cmd::SkipOp(name) = cmd {
            *out.skipped_ops.entry(name).or_default() += 1;
            out.assertions_skipped += usize::from(call.expect.is_some());
            continue;
        }
        let m = match model.apply(*task, op) {
            Ok(m) => m,
            Err(finding) => {
                let tabs = tables(t.tasks, model, kernel)?;
                out.difference = Some(diff(
                    step,
                    format!("raised a finding: {finding}"),
                    "-".into(),
                    &tabs,
                    None,
                ));
                return Ok(out);
            }
        };
        let k = match cmd {
            Cmd::Run(c) => kernel.run(*task, &c)?,
            Cmd::Grab { cmd, dev, dst } => grab(kernel, *task, &cmd, &dev, &dst)?,
            Cmd::Exit => kernel.exit(*task)?,
            Cmd::SkipOp(_) => unreachable!("handled above"),
        };
        let k = match k {
            Reply::Skip(r) => {
                out.skipped = Some(format!("{r} (at {step})"));
                return Ok(out);
            }
            Reply::Ok => "ok".to_string(),
            Reply::Err(e) => e,
        };
        out.ops += 1;
        let tabs = tables(t.tasks, model, kernel)?;
        if m != k || tabs.iter().any(|(a, b)| a != b) {
            out.difference = Some(diff(step, m, k, &tabs, Some((&facts, op))));
            return Ok(out);
        }
        if let Some(want) = &call.expect {
            let got = if k == "ok" {
                Some(OpResult::Ok)
            } else {
                MountError::from_name(&k).map(OpResult::Err)
            };
            if !got.is_some_and(|r| want.admits(r)) {
                out.difference = Some(diff(
                    step,
                    format!("{m} (and the scenario asserts `{want}`)"),
                    k,
                    &tabs,
                    None,
                ));
                return Ok(out);
            }
            out.assertions += 1;
        }
        if let Some(e) = ERA_DIFFERENCES
            .iter()
            .find(|e| e.silent && (e.matches)(&facts, op, &m, &k))
        {
            let mut d = diff(step, m.clone(), k, &tabs, None);
            d.era = Some(e.id);
            d.model = format!(
                "{m} (equal results and tables, but the two sides now hold different states)"
            );
            out.difference = Some(d);
            return Ok(out);
        }
        out.agreements += 1;
    }
    Ok(out)
}

/// Every trace of the run: the scenarios' (sorted by file name), then the random ones.
fn traces(a: &ConformArgs) -> Result<(Vec<Trace>, usize)> {
    let mut out = Vec::new();
    match crate::scenario::bundled(&a.scenarios) {
        Ok(files) => {
            for f in files {
                let s =
                    crate::scenario::load(&f).map_err(|e| crate::run::BadInput(e.to_string()))?;
                out.push(gen::from_program(&s.name, &s.program));
                if s.program.threads.len() > 1 {
                    for i in 0..s.program.threads.len() {
                        out.push(gen::thread_alone(&s.name, &s.program, i));
                    }
                }
            }
        }
        Err(e) => eprintln!(
            "mountcheck conform: no scenarios from {}: {e}; checking random traces only",
            a.scenarios.display()
        ),
    }
    let scenarios = out.len();
    out.extend((0..a.traces).map(|n| gen::random(a.seed, n, a.max_ops)));
    Ok((out, scenarios))
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| "Linux".into())
}

/// `mountcheck conform`.
pub fn run(a: &ConformArgs) -> Result<ExitCode> {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "mountcheck conform: needs root (CAP_SYS_ADMIN) to make a private mount namespace, and this process \
             runs as uid {}. Nothing was run.",
            rustix::process::geteuid().as_raw()
        );
        return Ok(ExitCode::from(2));
    }
    let (all, scenario_traces) = traces(a)?;
    let dir = tempfile::Builder::new()
        .prefix("mountcheck-conform-")
        .tempdir()?;
    // Probe: can a private namespace be made here at all?
    match KernelTrace::start(dir.path()) {
        Ok(k) => k.finish()?,
        Err(e) if e.downcast_ref::<Privilege>().is_some() => {
            eprintln!("mountcheck conform: {e}. Nothing was run.");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e),
    }
    let start = Instant::now();
    let jobs = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 2);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Outcome>>>> =
        Mutex::new((0..all.len()).map(|_| None).collect());
    let bar = indicatif::ProgressBar::new(all.len() as u64);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(t) = all.get(i) else { break };
                if a.verbose {
                    // `println` of a hidden bar (stderr not a terminal) would drop the line.
                    bar.suspend(|| {
                        let _ = crate::out::println(&format!("{}: {}", t.name, t.text()));
                    });
                }
                let r = run_trace(t, dir.path());
                let failed = r.is_err();
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                bar.inc(1);
                if failed {
                    // Stop handing out work: an error ends the run.
                    next.store(all.len(), Ordering::SeqCst);
                    break;
                }
            });
        }
    });
    bar.finish_and_clear();
    let elapsed = start.elapsed();
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let (mut ops, mut agreements) = (0, 0);
    let (mut assertions, mut assertions_skipped) = (0, 0);
    let mut skipped_ops: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut explained: Vec<Difference> = Vec::new();
    let mut unexplained: Vec<Difference> = Vec::new();
    for (t, r) in all.iter().zip(results) {
        let Some(r) = r else { continue };
        let o = r.map_err(|e| e.context(format!("{} failed to run", t.name)))?;
        ops += o.ops;
        agreements += o.agreements;
        assertions += o.assertions;
        assertions_skipped += o.assertions_skipped;
        for (k, v) in o.skipped_ops {
            *skipped_ops.entry(k).or_default() += v;
        }
        if let Some(why) = o.skipped {
            skipped.push((t.name.clone(), why));
        }
        match o.difference {
            Some(d) if d.era.is_some() => explained.push(d),
            Some(d) => unexplained.push(d),
            None => {}
        }
    }
    crate::out::println(&format!("mountcheck conform: the model (2.4 after the fix, std backend) against {} in private mount namespaces", kernel_release()))?;
    crate::out::println(&format!(
        "{} traces ({} from scenarios, {} random: seed {}, up to {} operations), {} skipped; {} operations compared: \
         {} agreements, {} explained differences, {} unexplained differences; {} result assertions of the scenarios \
         held on the kernel ({} on operations with no system call); {:.1} s on {} worker{}",
        all.len(),
        scenario_traces,
        a.traces,
        a.seed,
        a.max_ops,
        skipped.len(),
        ops,
        agreements,
        explained.len(),
        unexplained.len(),
        assertions,
        assertions_skipped,
        elapsed.as_secs_f64(),
        jobs,
        if jobs == 1 { "" } else { "s" }
    ))?;
    if !skipped_ops.is_empty() {
        let list: Vec<String> = skipped_ops
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        crate::out::println(&format!(
            "Operations skipped on both sides (no kernel system call; they change no result or mount table of a \
             sequential trace): {}",
            list.join(", ")
        ))?;
    }
    if !skipped.is_empty() {
        crate::out::println("\nSkipped traces:")?;
        for (name, why) in &skipped {
            crate::out::println(&format!("  {name}: {why}"))?;
        }
    }
    crate::out::println(
        "\nEra differences (explained; a trace stops comparing at its first difference; \
         umount-namespace-root is the kernel side's one structural difference):",
    )?;
    for e in ERA_DIFFERENCES {
        let n = explained.iter().filter(|d| d.era == Some(e.id)).count();
        crate::out::println(&format!(
            "  {} ({n} seen): {}\n    why: {}",
            e.id, e.what, e.reason
        ))?;
    }
    crate::out::println(
        "  Emulated, not a difference: a second mount of a device whose super_block is alive shares it in the \
         model (grab_super); the kernel side binds the root of a reachable mount of that tmpfs (same super_block, \
         same mountinfo line); with no reachable mount the trace is skipped."
    )?;
    if a.verbose {
        for d in &explained {
            crate::out::println(&format!("\nEXPLAINED ({}) {d}", d.era.unwrap_or("-")))?;
        }
    }
    for d in &unexplained {
        crate::out::println(&format!("\nDIFFERENCE {d}"))?;
    }
    Ok(if unexplained.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::translate::word;
    use super::*;

    fn op(s: &str) -> Op {
        mountcheck_model::parse_op(s).unwrap()
    }

    #[test]
    fn era_entries_need_their_facts() {
        let ns_root = Facts {
            target_is_ns_root: true,
            target_is_own_root_mount: true,
            ..Facts::default()
        };
        let over = Facts {
            target_overmounted: true,
            ..Facts::default()
        };
        let follow = &ERA_DIFFERENCES[0];
        assert!((follow.matches)(&over, &op("umount ."), "EINVAL", "ok"));
        assert!(!(follow.matches)(&over, &op("umount /a"), "EINVAL", "ok"));
        assert!(!(follow.matches)(
            &Facts::default(),
            &op("umount ."),
            "EINVAL",
            "ok"
        ));
        let e = &ERA_DIFFERENCES[1];
        assert!((e.matches)(&ns_root, &op("umount -l /"), "ok", "ok"));
        assert!(!(e.matches)(&ns_root, &op("umount -l /"), "ok", "EBUSY"));
        assert!(
            !(e.matches)(&ns_root, &op("umount /"), "ok", "ok"),
            "a plain umount of the own root remounts read-only"
        );
        assert!(!(e.matches)(
            &Facts::default(),
            &op("umount -l /a"),
            "ok",
            "ok"
        ));
        let elsewhere = Facts {
            mountpoint_only_elsewhere: true,
            ..Facts::default()
        };
        let detached = Facts {
            target_detached: true,
            ..Facts::default()
        };
        let d = &ERA_DIFFERENCES[2];
        assert!((d.matches)(
            &detached,
            &op("mount ram0 /b"),
            "EINVAL",
            "ENOENT"
        ));
        assert!(!(d.matches)(
            &Facts::default(),
            &op("mount ram0 /b"),
            "EINVAL",
            "ENOENT"
        ));
        let removed = Facts {
            target_is_own_root_mount: true,
            removed_dir_in_use: true,
            ..Facts::default()
        };
        let ro = &ERA_DIFFERENCES[3];
        assert!((ro.matches)(&removed, &op("umount /"), "ok", "EBUSY"));
        assert!(!(ro.matches)(&removed, &op("umount -l /"), "ok", "EBUSY"));
        assert!(!(ro.matches)(
            &Facts {
                removed_dir_open: true,
                ..removed
            },
            &op("umount /"),
            "ok",
            "EBUSY"
        ));
        let rm = &ERA_DIFFERENCES[4];
        assert!((rm.matches)(
            &Facts::default(),
            &op("rmdir /a"),
            "ENOENT",
            "EROFS"
        ));
        assert!(!(rm.matches)(
            &Facts::default(),
            &op("rmdir /a"),
            "ok",
            "EROFS"
        ));
        let r = ERA_DIFFERENCES
            .iter()
            .find(|e| e.id == "rmdir-mountpoint-elsewhere")
            .expect("the rmdir-mountpoint-elsewhere entry");
        assert!((r.matches)(&elsewhere, &op("rmdir /a"), "EBUSY", "ok"));
        assert!(!(r.matches)(
            &Facts::default(),
            &op("rmdir /a"),
            "EBUSY",
            "ok"
        ));
    }

    #[test]
    fn skipped_operations_are_named() {
        assert!(trace_skip_reason(&op("expire ram0")).is_some());
        assert!(trace_skip_reason(&op("fsmount ram0 as f")).is_some());
        assert!(trace_skip_reason(&op("clone -n --fail")).is_some());
        assert!(trace_skip_reason(&op("clone -n")).is_none());
        assert!(word("/a b").is_err());
        assert_eq!(word("/a").unwrap(), "/a");
    }
}
