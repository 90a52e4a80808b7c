//! Sequential-specification mode of the sleeping locks (std build only): tasks on their own
//! OS threads, run one at a time by a coordinator, and a wait that reports instead of sleeping.
//!
//! What it models: nothing of the kernel; it is how the model itself serves as its own
//! sequential specification (`crate::program::linearizable`). Whole operations run one after
//! another, but some operations hold a kernel lock across operation boundaries (`get_super`
//! holds `s_umount` for read until `drop_super`, `lock_super` holds `s_lock` until
//! `unlock_super`), so an operation of another task can block half-way, as it does in the kernel
//! (a `umount` detaches, then sleeps in `kill_super`'s `down_write(s_umount)`). Following
//! Lincheck's treatment of blocking operations, such an operation is suspended where it blocks,
//! with its effects so far visible, and resumed once a later operation makes its wait
//! satisfiable. To suspend an operation in the middle of model code, each task runs on its own
//! OS thread; a baton (the coordinator's command channel to each thread, answered on one event
//! channel) lets exactly one thread run at a time.
//!
//! How: a task thread runs the closures the coordinator sends ([`Group::run`]) and reports
//! [`Event::Done`] with the closure's value. Inside, the facade's [`super::RwSem`] and
//! [`super::Semaphore`] do not sleep on their condition variable in this mode: a wait that can
//! be satisfied at once is taken at once; otherwise the thread reports [`Event::Blocked`] naming
//! the wait and parks until the coordinator polls it ([`Group::poll`]): it then tries again and
//! either goes on (reporting, later, whatever stops it next) or answers
//! [`Event::StillBlocked`]. `sync::yield_now` reports [`Event::Yielded`] so that a retry loop
//! lets the coordinator run the others first. A parked task that the coordinator gives up on
//! ([`Group::abandon`], or the group dropped) unwinds its stack and is ready for new work.
//!
//! Inline runs: handing the baton to a thread costs two wake-ups per operation, which on a
//! virtual machine's cross-CPU wake-ups was most of a specification's time. Most operations of
//! a sequential order never wait (nothing is held across operations), so [`Group::run_inline`]
//! runs the closure on the coordinator's own thread; a wait that cannot be taken at once, or a
//! yield, unwinds it ([`Event::WouldWait`]) with its effects half done, and the caller starts
//! the whole run again on task threads, which can suspend it. Task threads are started only when
//! first needed.
//!
//! Invariant: at most one task thread runs model code at any time (the others are parked on
//! their command channel), and an inline run is never suspended (it finishes, fails or unwinds);
//! every wait of the coordinator is bounded by [`REPORT_BOUND`] and fails with a message naming
//! the task and what it was last doing.

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// How long the coordinator waits for a task thread to report (finished, blocked, yielded)
/// before it gives up on the whole run.
pub const REPORT_BOUND: Duration = Duration::from_secs(60);

type Work = Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>;

enum Cmd {
    Run(Work),
    Poll,
    Abandon,
}

/// What a task thread reported.
pub enum Event {
    /// The closure returned this value.
    Done(Box<dyn Any + Send>),
    /// It blocked in this wait (a sleeping lock held by another task).
    Blocked(String),
    /// Polled, it is still blocked in the same wait.
    StillBlocked,
    /// It yielded (`sync::yield_now`): a retry loop waits for another task's progress.
    Yielded,
    /// It unwound after [`Group::abandon`].
    Abandoned,
    /// It panicked with this message (a finding of the model, or a bug).
    Failed(String),
    /// Run inline ([`Group::run_inline`]), it met a wait it could not take at once or a yield:
    /// it unwound half done, and the run must start again on task threads.
    WouldWait,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Done(_) => f.write_str("Done"),
            Event::Blocked(w) => write!(f, "Blocked({w})"),
            Event::StillBlocked => f.write_str("StillBlocked"),
            Event::Yielded => f.write_str("Yielded"),
            Event::Abandoned => f.write_str("Abandoned"),
            Event::Failed(m) => write!(f, "Failed({m})"),
            Event::WouldWait => f.write_str("WouldWait"),
        }
    }
}

/// Why the coordinator could not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqError(pub String);

impl fmt::Display for SeqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeqError {}

struct Link {
    events: Sender<Event>,
    cmds: Receiver<Cmd>,
}

thread_local! {
    static LINK: RefCell<Option<Rc<Link>>> = const { RefCell::new(None) };
    /// This thread runs a closure inline ([`Group::run_inline`]).
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// The payload an abandoned task unwinds with.
struct Abandoned;

/// The payload an inline run unwinds with when it would have to wait.
struct WouldWait;

fn link() -> Option<Rc<Link>> {
    LINK.with(|l| l.borrow().clone())
}

/// Whether this thread is a task of a [`Group`] (the sleeping locks then report their waits).
pub fn active() -> bool {
    INLINE.get() || LINK.with(|l| l.borrow().is_some())
}

/// Wait until `acquire` succeeds: at once if it can, else report [`Event::Blocked`] with
/// `what()` and try again each time the coordinator polls. Called by the sleeping locks in this
/// mode only.
pub(crate) fn block_until(mut acquire: impl FnMut() -> bool, what: impl Fn() -> String) {
    if acquire() {
        return;
    }
    if INLINE.get() {
        resume_unwind(Box::new(WouldWait));
    }
    let Some(link) = link() else {
        unreachable!("block_until outside a sequential task");
    };
    let _ = link.events.send(Event::Blocked(what()));
    loop {
        match link.cmds.recv() {
            Ok(Cmd::Poll) => {
                if acquire() {
                    return;
                }
                let _ = link.events.send(Event::StillBlocked);
            }
            Ok(Cmd::Abandon) | Err(_) => resume_unwind(Box::new(Abandoned)),
            Ok(Cmd::Run(_)) => panic!("sequential runner: work sent to a blocked task"),
        }
    }
}

/// `yield_now` in this mode: report [`Event::Yielded`] and wait for the coordinator's poll.
pub(crate) fn yield_now() {
    if INLINE.get() {
        resume_unwind(Box::new(WouldWait));
    }
    let Some(link) = link() else {
        return;
    };
    let _ = link.events.send(Event::Yielded);
    match link.cmds.recv() {
        Ok(Cmd::Poll) => {}
        Ok(Cmd::Abandon) | Err(_) => resume_unwind(Box::new(Abandoned)),
        Ok(Cmd::Run(_)) => panic!("sequential runner: work sent to a yielding task"),
    }
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic with a non-string payload".into())
}

fn task_main(events: Sender<Event>, cmds: Receiver<Cmd>) {
    let link = Rc::new(Link { events, cmds });
    LINK.with(|l| *l.borrow_mut() = Some(link.clone()));
    while let Ok(cmd) = link.cmds.recv() {
        let ev = match cmd {
            Cmd::Run(work) => match catch_unwind(AssertUnwindSafe(work)) {
                Ok(v) => Event::Done(v),
                Err(p) if p.is::<Abandoned>() => Event::Abandoned,
                Err(p) => Event::Failed(panic_text(&*p)),
            },
            Cmd::Abandon => Event::Abandoned,
            Cmd::Poll => Event::Failed("sequential runner: an idle task was polled".into()),
        };
        if link.events.send(ev).is_err() {
            break;
        }
    }
    LINK.with(|l| *l.borrow_mut() = None);
}

struct Handle {
    cmds: Sender<Cmd>,
    events: Receiver<Event>,
}

/// A group of task threads run one at a time by the calling thread (the coordinator).
pub struct Group {
    /// How many task threads.
    n: usize,
    /// The task threads, started at the first [`Group::run`] (none while every run is inline).
    tasks: OnceCell<Vec<Handle>>,
}

impl Group {
    /// A group of `n` tasks; their threads start when first needed.
    pub fn new(n: usize) -> Result<Group, SeqError> {
        Ok(Group {
            n,
            tasks: OnceCell::new(),
        })
    }

    /// The task threads, started now if they were not.
    fn tasks(&self) -> Result<&[Handle], SeqError> {
        if let Some(t) = self.tasks.get() {
            return Ok(t);
        }
        let started = Self::start(self.n)?;
        Ok(self.tasks.get_or_init(|| started))
    }

    /// Start `n` idle task threads.
    fn start(n: usize) -> Result<Vec<Handle>, SeqError> {
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let (cmd_tx, cmd_rx) = mpsc::channel();
            let (ev_tx, ev_rx) = mpsc::channel();
            std::thread::Builder::new()
                .name(format!("mountcheck-seq-T{i}"))
                .spawn(move || task_main(ev_tx, cmd_rx))
                .map_err(|e| SeqError(format!("cannot start a sequential task thread: {e}")))?;
            tasks.push(Handle {
                cmds: cmd_tx,
                events: ev_rx,
            });
        }
        Ok(tasks)
    }

    fn send(&self, task: usize, cmd: Cmd) -> Result<(), SeqError> {
        self.tasks()?[task]
            .cmds
            .send(cmd)
            .map_err(|_| SeqError(format!("sequential task T{task} is gone")))
    }

    fn wait(&self, task: usize, doing: &str) -> Result<Event, SeqError> {
        match self.tasks()?[task].events.recv_timeout(REPORT_BOUND) {
            Ok(ev) => Ok(ev),
            Err(RecvTimeoutError::Timeout) => Err(SeqError(format!(
                "sequential task T{task} did not report within {} s while {doing} (it neither finished, blocked on a sleeping lock nor yielded)",
                REPORT_BOUND.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(SeqError(format!("sequential task T{task} is gone while {doing}")))
            }
        }
    }

    /// Give task `task` the baton to run `f`; return what stopped it.
    pub fn run<R: Send + 'static>(
        &self,
        task: usize,
        doing: &str,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<Event, SeqError> {
        self.send(
            task,
            Cmd::Run(Box::new(move || Box::new(f()) as Box<dyn Any + Send>)),
        )?;
        self.wait(task, doing)
    }

    /// Run `f` on this thread, as a task that may not be suspended: [`Event::Done`] with its
    /// value, [`Event::Failed`] when it panicked, or [`Event::WouldWait`] when it met a wait it
    /// could not take at once or a yield (it unwound half done: its run's state is no longer
    /// one of the model's, and the run must start again on task threads, [`Group::run`]).
    pub fn run_inline<R: Send + 'static>(&self, f: impl FnOnce() -> R) -> Event {
        /// Clears [`INLINE`] however the closure ends.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                INLINE.set(false);
            }
        }
        debug_assert!(!active(), "an inline run inside a sequential task");
        INLINE.set(true);
        let _reset = Reset;
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Event::Done(Box::new(v)),
            Err(p) if p.is::<WouldWait>() => Event::WouldWait,
            Err(p) => Event::Failed(panic_text(&*p)),
        }
    }

    /// Let a blocked or yielding task try again; return what stopped it.
    pub fn poll(&self, task: usize, doing: &str) -> Result<Event, SeqError> {
        self.send(task, Cmd::Poll)?;
        self.wait(task, doing)
    }

    /// Unwind a blocked or yielding task, so that its thread is idle again.
    pub fn abandon(&self, task: usize) -> Result<(), SeqError> {
        self.send(task, Cmd::Abandon)?;
        match self.wait(task, "abandoning it")? {
            Event::Abandoned => Ok(()),
            other => Err(SeqError(format!(
                "sequential task T{task} answered {other:?} when abandoned"
            ))),
        }
    }
}
