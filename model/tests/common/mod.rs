//! Helpers shared by the model's integration tests: programs from text, the concurrent scenarios
//! of issue 2 with a classifier for each, the planted bug, and a one-execution std runner.
//!
//! A scenario's classifier checks what every execution of it must satisfy (results that cannot
//! depend on the interleaving) and names the interleaving class the execution fell into (which
//! order the racing operations took, read from the results and from the ledger's object
//! histories). A checker test collects the classes and requires every one in
//! [`Scenario::classes`]: an exploration that never reached the race would miss some of them.
//! [`Recorder`] is what every checker test keeps beside an exploration: the last execution's
//! ledger, the classes reached and the executions counted.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use mountcheck_model::oracle::{Finding, ObjKind};
use mountcheck_model::program::RunOutcome;
use mountcheck_model::OpResult;
use mountcheck_model::{
    execute, parse_call, parse_op, Call, Config, EndState, Ledger, Op, Program,
};

/// Parse a list of operations.
pub fn ops(list: &[&str]) -> Vec<Op> {
    list.iter()
        .map(|s| parse_op(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect()
}

/// Parse a list of calls (operations, each with an optional result assertion).
pub fn calls(list: &[&str]) -> Vec<Call> {
    list.iter()
        .map(|s| parse_call(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect()
}

/// A program from text, with the default quiescence ([`EndState::ExitAll`]).
pub fn program(setup: &[&str], threads: &[&[&str]]) -> Program {
    let p = Program {
        setup: calls(setup),
        threads: threads.iter().map(|t| calls(t)).collect(),
        end: EndState::ExitAll,
        spec: None,
    };
    p.validate()
        .unwrap_or_else(|e| panic!("invalid program: {e:?}"));
    p
}

/// A concurrent scenario that the fixed protocol must pass clean.
pub struct Scenario {
    /// Name (for the four of issue 2, as the issue lists them).
    pub name: &'static str,
    /// The program.
    pub program: Program,
    /// Checks one clean execution (panics on a result no interleaving may give) and names its
    /// interleaving class.
    pub classify: fn(&RunOutcome, &Ledger) -> String,
    /// The classes an exhaustive exploration must reach.
    pub classes: &'static [&'static str],
}

/// The results of thread `t` (0-based), as errno names (`ok` for success, `NULL`).
pub fn results(out: &RunOutcome, t: usize) -> Vec<&'static str> {
    out.threads[t]
        .iter()
        .map(|o| match o.result {
            OpResult::Ok => "ok",
            OpResult::Err(e) => e.errno_name(),
            OpResult::Null => "NULL",
        })
        .collect()
}

/// Where an event of the history of `dev`'s super_block happened: `T<n> <op>`, or `-` if it did
/// not happen. `what` is the ledger's history text (`filesystem shut down`, `freed`).
pub fn sb_event(ledger: &Ledger, dev: &str, what: &str) -> String {
    let sbs: Vec<_> = ledger
        .objects()
        .into_iter()
        .filter(|o| o.kind == ObjKind::SuperBlock && o.label.ends_with(&format!("({dev})")))
        .collect();
    assert_eq!(sbs.len(), 1, "one super_block of {dev}: {sbs:?}");
    sbs[0]
        .history
        .iter()
        .find(|h| h.what == what)
        .map_or("-".into(), |h| format!("T{} {}", h.thread, h.op))
}

/// The number of vfsmounts of `dev` the execution allocated.
pub fn mounts_of(ledger: &Ledger, dev: &str) -> usize {
    ledger
        .objects()
        .into_iter()
        .filter(|o| o.kind == ObjKind::Mount && o.label.contains(&format!("({dev}")))
        .count()
}

/// The life events of `dev`'s super_block in order: `filesystem shut down`, `freed`.
pub fn sb_life(ledger: &Ledger, dev: &str) -> Vec<String> {
    ledger
        .objects()
        .into_iter()
        .filter(|o| o.kind == ObjKind::SuperBlock && o.label.ends_with(&format!("({dev})")))
        .flat_map(|o| o.history)
        .filter(|h| h.what == "filesystem shut down" || h.what == "freed")
        .map(|h| h.what)
        .collect()
}

fn get_super_vs_umount(out: &RunOutcome, l: &Ledger) -> String {
    // umount never sees a get_super holder as busy: the holder pins s_count, not the mount.
    assert_eq!(results(out, 1), ["ok"], "umount /mnt");
    let t1 = results(out, 0);
    assert!(
        t1 == ["ok", "ok", "ok"] || t1 == ["NULL", "EBADF", "EBADF"],
        "get_super thread: {t1:?}"
    );
    // kill_super (in the umount) shuts the filesystem down first; whoever drops the last
    // s_count frees the struct, then or later.
    assert_eq!(
        sb_event(l, "ram0", "filesystem shut down"),
        "T2 umount /mnt"
    );
    assert_eq!(sb_life(l, "ram0"), ["filesystem shut down", "freed"]);
    format!(
        "get_super {}, sb freed by {}",
        t1[0],
        sb_event(l, "ram0", "freed")
    )
}

fn open_vs_lazy_umount(out: &RunOutcome, l: &Ledger) -> String {
    assert_eq!(results(out, 1), ["ok"], "umount -l /mnt");
    let t1 = results(out, 0);
    assert!(
        t1 == ["ok", "ok"] || t1 == ["ENOENT", "EBADF"],
        "open thread: {t1:?}"
    );
    // Shut down and freed in one step: no get_super holder keeps the struct.
    let down = sb_event(l, "ram0", "filesystem shut down");
    assert_eq!(down, sb_event(l, "ram0", "freed"));
    format!("open {}, ram0 shut down by {down}", t1[0])
}

fn exit_vs_umount(out: &RunOutcome, l: &Ledger) -> String {
    assert_eq!(results(out, 0), ["ok", "ok", "ok"], "clone, chdir, exit");
    assert_eq!(results(out, 1), ["ok"], "umount /mnt");
    format!(
        "ram0 shut down by {}",
        sb_event(l, "ram0", "filesystem shut down")
    )
}

fn clone_vs_mount(out: &RunOutcome, l: &Ledger) -> String {
    assert_eq!(results(out, 0), ["ok", "ok"], "clone, exit");
    assert_eq!(results(out, 1), ["ok"], "mount ram1 /mnt/b");
    // The copy is the clone's, freed by its exit; the original lives until init exits.
    assert_eq!(
        sb_event(l, "ram1", "filesystem shut down"),
        "T0 exit (quiescence)"
    );
    match mounts_of(l, "ram1") {
        1 => "mount after the copy".into(),
        2 => "mount copied into the new namespace".into(),
        n => panic!("{n} mounts of ram1"),
    }
}

/// The concurrent scenarios of issue 2, with their classifiers.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "get_super vs umount",
            program: program(
                &["mkdir /mnt", "mount ram0 /mnt"],
                &[
                    &["get_super ram0 as sb", "statfs sb", "drop_super sb"],
                    &["umount /mnt"],
                ],
            ),
            classify: get_super_vs_umount,
            classes: &[
                // umount ran first: nothing left to find.
                "get_super NULL, sb freed by T2 umount /mnt",
                // get_super pinned a dying super_block, saw s_root clear, dropped it (freeing
                // it) and found nothing on the rescan.
                "get_super NULL, sb freed by T1 get_super ram0 as sb",
                // get_super won: kill_super waited for drop_super.
                "get_super ok, sb freed by T2 umount /mnt",
                // kill_super shut the filesystem down while the pin kept the struct, and
                // drop_super's put was the last.
                "get_super ok, sb freed by T1 drop_super sb",
            ],
        },
        Scenario {
            name: "open vs lazy umount",
            program: program(
                &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/a"],
                &[&["open /mnt/a/f as f", "close f"], &["umount -l /mnt"]],
            ),
            classify: open_vs_lazy_umount,
            classes: &[
                "open ENOENT, ram0 shut down by T2 umount -l /mnt",
                // The open's walk crossed into ram0 before the detach and found no f; its
                // reference was the last, and the create's walk then found no /mnt/a.
                "open ENOENT, ram0 shut down by T1 open /mnt/a/f as f",
                "open ok, ram0 shut down by T2 umount -l /mnt",
                // The lazily detached mount lives on through the open file.
                "open ok, ram0 shut down by T1 close f",
            ],
        },
        Scenario {
            name: "exit vs umount",
            program: program(
                &["mkdir /mnt", "mount ram0 /mnt"],
                &[&["clone -n", "chdir /mnt", "exit"], &["umount /mnt"]],
            ),
            classify: exit_vs_umount,
            classes: &[
                "ram0 shut down by T1 exit",
                "ram0 shut down by T2 umount /mnt",
            ],
        },
        Scenario {
            name: "clone vs mount",
            program: program(
                &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/b"],
                &[&["clone -n", "exit"], &["mount ram1 /mnt/b"]],
            ),
            classify: clone_vs_mount,
            classes: &[
                "mount after the copy",
                "mount copied into the new namespace",
            ],
        },
    ]
}

fn two_opens_of_one_new_file(out: &RunOutcome, l: &Ledger) -> String {
    // open(O_CREAT) without O_EXCL: whoever creates the file, both opens succeed.
    assert_eq!(results(out, 0), ["ok"], "open by T1");
    assert_eq!(results(out, 1), ["ok"], "open by T2");
    // A task whose walk found no file walked to the parent to create it (tag `open by Tn`).
    let history: Vec<String> = l
        .objects()
        .into_iter()
        .filter(|o| o.kind == ObjKind::SuperBlock && o.label.ends_with("(rootfs)"))
        .flat_map(|o| o.history)
        .map(|h| h.what)
        .collect();
    let creators: Vec<&str> = ["T1", "T2"]
        .into_iter()
        .filter(|t| {
            history
                .iter()
                .any(|w| w.ends_with(&format!("(+ open by {t})")))
        })
        .collect();
    format!("create path taken by {}", creators.join(" and "))
}

/// Races beyond issue 2's list, each guarding a fix of the model.
pub fn extra_scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "two opens of one new file",
        program: program(&[], &[&["open /f as f"], &["open /f as g"]]),
        classify: two_opens_of_one_new_file,
        classes: &[
            "create path taken by T1",
            "create path taken by T2",
            // Both walks missed the file; the second create finds it made and opens it (the
            // model used to fail that open with EEXIST).
            "create path taken by T1 and T2",
        ],
    }]
}

/// The concurrent scenarios of issue 2 as (name, program).
pub fn clean_scenarios() -> Vec<(&'static str, Program)> {
    scenarios()
        .into_iter()
        .map(|s| (s.name, s.program))
        .collect()
}

/// The planted bug's program: get_super (without the s_count pin under the mutant) vs umount.
pub fn planted() -> Program {
    program(
        &["mkdir /mnt", "mount ram0 /mnt"],
        &[
            &["get_super ram0 as sb", "statfs sb", "drop_super sb"],
            &["umount /mnt"],
        ],
    )
}

/// Check the classes an exploration reached against the scenario's.
pub fn check_classes(s: &Scenario, seen: &BTreeSet<String>) {
    let want: BTreeSet<String> = s.classes.iter().map(|c| c.to_string()).collect();
    let missing: Vec<_> = want.difference(seen).collect();
    let extra: Vec<_> = seen.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{}: interleaving classes missing {missing:?}, unexpected {extra:?}",
        s.name
    );
}

/// The message of a panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Run one execution on the std backend; return the outcome or the finding.
pub fn run(p: &Program, cfg: Config) -> (Result<RunOutcome, Finding>, Ledger) {
    let ledger = Ledger::new();
    let l2 = ledger.clone();
    let r = std::panic::catch_unwind(|| execute(p, cfg, l2));
    let r = match r {
        Ok(o) => Ok(o),
        Err(p) => Err(ledger.finding().unwrap_or_else(|| {
            panic!(
                "a panic of the model without a finding: {}",
                panic_message(&*p)
            )
        })),
    };
    (r, ledger)
}

/// Names the interleaving class of one execution (and checks what every execution must satisfy).
pub type Classifier = fn(&RunOutcome, &Ledger) -> String;

/// What stopped an exploration that did not run clean.
#[derive(Debug)]
pub enum Failure {
    /// The oracle's finding.
    Finding(Finding),
    /// A panic with no finding (a classifier's check, the model, or the checker itself: a
    /// deadlock, a bound), which a clean test must not mistake for clean.
    Panic(String),
}

impl Failure {
    /// The finding, if that is what stopped the exploration.
    pub fn finding(self) -> Option<Finding> {
        match self {
            Failure::Finding(f) => Some(f),
            Failure::Panic(_) => None,
        }
    }
}

/// One exploration's result.
pub struct Explored {
    /// Executions run.
    pub executions: usize,
    /// Wall-clock seconds.
    pub secs: f64,
    /// `None` when every execution ran clean.
    pub failure: Option<Failure>,
    /// The interleaving classes reached.
    pub classes: BTreeSet<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What an exploration shares with its executions, which the checker runs on threads of its own:
/// kept in a `static`, one exploration at a time ([`Recorder::begin`]).
pub struct Recorder {
    serial: Mutex<()>,
    last: Mutex<Option<Ledger>>,
    classes: Mutex<BTreeSet<String>>,
    executions: AtomicUsize,
}

impl Recorder {
    /// An idle recorder.
    pub const fn new() -> Self {
        Recorder {
            serial: Mutex::new(()),
            last: Mutex::new(None),
            classes: Mutex::new(BTreeSet::new()),
            executions: AtomicUsize::new(0),
        }
    }

    /// Start an exploration: wait for the one under way, then reset. Hold the guard until the
    /// exploration's result is read.
    pub fn begin(&self) -> MutexGuard<'_, ()> {
        let g = lock(&self.serial);
        self.executions.store(0, Ordering::SeqCst);
        lock(&self.classes).clear();
        *lock(&self.last) = None;
        g
    }

    /// One execution of `p` under `cfg`, as the checker's closure runs it: counted, its ledger
    /// kept for a finding, classified if `classify` is given.
    pub fn execution(&self, p: &Program, cfg: Config, classify: Option<Classifier>) {
        self.executions.fetch_add(1, Ordering::SeqCst);
        let ledger = Ledger::new();
        *lock(&self.last) = Some(ledger.clone());
        let out = execute(p, cfg, ledger.clone());
        if let Some(classify) = classify {
            let class = classify(&out, &ledger);
            lock(&self.classes).insert(class);
        }
    }

    /// Executions run so far.
    pub fn executions(&self) -> usize {
        self.executions.load(Ordering::SeqCst)
    }

    /// The classes reached so far.
    pub fn classes(&self) -> BTreeSet<String> {
        lock(&self.classes).clone()
    }

    /// How the exploration ended, from the checker's caught result: `None` if it returned, else
    /// the last execution's finding, or the panic's message when there was none.
    pub fn failure<T>(&self, r: &std::thread::Result<T>) -> Option<Failure> {
        let payload = r.as_ref().err()?;
        Some(match lock(&self.last).as_ref().and_then(Ledger::finding) {
            Some(f) => Failure::Finding(f),
            None => Failure::Panic(panic_message(&**payload)),
        })
    }
}
