//! Programs: the calls a scenario's setup and threads make, and how they are checked.
//!
//! What it models: user space. Each scenario thread is a task forked from init after the setup;
//! its calls are system calls on the model kernel ([`crate::task::Task`]), each optionally with
//! the result it must return. The seams, kept apart: [`ops`] describes every operation once
//! (syntax, handles, result kinds, atomicity), [`syntax`] parses calls, [`exec`] runs one
//! execution (boot, setup, concurrent threads, quiescence), [`outcome`] observes what an
//! execution produced (results and mount tables) and compares it with the sequential outcomes,
//! and `linearizable` (std build only) computes those outcomes by running the model itself one
//! whole operation at a time, in every order the threads allow.
//!
//! Invariant: [`Program::validate`] rejects a handle used before its own task bound it and an
//! operation after `exit`, so a valid program never asks the model for something it cannot name.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub mod exec;
#[cfg(not(any(loom, feature = "shuttle")))]
pub mod linearizable;
pub mod ops;
pub mod outcome;
pub mod syntax;

pub use exec::{apply, execute, is_dir, quiesce, OpOutcome, RunOutcome};
pub use ops::{Atomicity, HandleClass, HandleUse, Op, OpKind, OpSpec, Results, Steps, OPERATIONS};
pub use outcome::Spec;
pub use syntax::{parse_call, parse_op, Expected, OpError};

/// One call of a program: an operation and, optionally, the results it must return.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Call {
    /// The operation.
    #[serde(flatten)]
    pub op: Op,
    /// The asserted results (`= EBUSY`, `in {0, ENOENT}`); none when not stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expected>,
}

impl From<Op> for Call {
    fn from(op: Op) -> Self {
        Call { op, expect: None }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expect {
            Some(e) => write!(f, "{} {e}", self.op),
            None => write!(f, "{}", self.op),
        }
    }
}

/// What quiescence means for a program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
/// thread i), which call, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramError {
    /// `None` for the setup, `Some(i)` for thread `i` (0-based).
    pub thread: Option<usize>,
    /// Index of the call in its list.
    pub index: usize,
    /// 0-based column in the call text.
    pub col: usize,
    /// The message.
    pub msg: String,
}

/// A scenario's calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// Run by init, sequentially, before the threads start. A setup call with no assertion must
    /// return 0.
    pub setup: Vec<Call>,
    /// One list per thread; each thread is a task forked from init after the setup.
    pub threads: Vec<Vec<Call>>,
    /// What quiescence means.
    pub end: EndState,
    /// The sequential specification the linearizability oracle compares each execution with
    /// (`check = "linearizable"`); none when the check is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Spec>,
}

/// Who a list of calls belongs to, in messages: `the setup (init)` or `T<n>`.
fn owner(thread: Option<usize>) -> String {
    match thread {
        None => "the setup (init)".into(),
        Some(i) => format!("T{}", i + 1),
    }
}

impl Program {
    /// A program from operations with no result assertions.
    pub fn from_ops(setup: Vec<Op>, threads: Vec<Vec<Op>>, end: EndState) -> Program {
        Program {
            setup: setup.into_iter().map(Call::from).collect(),
            threads: threads
                .into_iter()
                .map(|t| t.into_iter().map(Call::from).collect())
                .collect(),
            end,
            spec: None,
        }
    }

    /// Every list of calls: `(None, setup)`, then `(Some(i), thread i)`.
    pub fn lists(&self) -> impl Iterator<Item = (Option<usize>, &Vec<Call>)> {
        std::iter::once((None, &self.setup))
            .chain(self.threads.iter().enumerate().map(|(i, l)| (Some(i), l)))
    }

    /// Check handles and `exit` placement. A handle belongs to the task whose operation bound
    /// it: another thread (or the setup's init) cannot use it.
    pub fn validate(&self) -> Result<(), ProgramError> {
        for (thread, calls) in self.lists() {
            let mut bound: BTreeSet<&str> = BTreeSet::new();
            for (index, call) in calls.iter().enumerate() {
                let op = &call.op;
                if let Some(h) = op.uses() {
                    if !bound.contains(h) {
                        let text = op.to_string();
                        let col = text.rfind(h).unwrap_or(0);
                        let elsewhere = self.lists().find_map(|(t, l)| {
                            (t != thread)
                                .then(|| l.iter().find(|c| c.op.binds() == Some(h)))
                                .flatten()
                                .map(|c| (t, c))
                        });
                        let msg = match elsewhere {
                            Some((t, c)) => format!(
                                "handle `{h}` is bound by {} (`{}`), and handles belong to the task that bound them: {} cannot use it (bind it in this thread with `as {h}`)",
                                owner(t),
                                c.op,
                                owner(thread)
                            ),
                            None => format!(
                                "handle `{h}` is used before an operation of this thread binds it with `as {h}`"
                            ),
                        };
                        return Err(ProgramError {
                            thread,
                            index,
                            col,
                            msg,
                        });
                    }
                }
                if let Some(h) = op.binds() {
                    bound.insert(h);
                }
                if *op == Op::Exit && index + 1 != calls.len() {
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
