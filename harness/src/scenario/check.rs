//! The checks every program makes before it is explored, whatever its source (a scenario file,
//! a report given to `replay`, a generated program of `mountcheck fuzz`): it is one the text
//! syntax can write, has 1 to [`MAX_SCENARIO_THREADS`] threads, satisfies
//! [`Program::validate`], and its setup runs in the fixed protocol as it asserts (the model's own
//! sequential runner, `run_setup`, after `fs/namespace.c` and `fs/super.c` as the model follows
//! them).
//!
//! Invariant: a program that passes [`check_program`] can be handed to every backend: nothing in
//! it makes an exploration fail for a reason that is the scenario's, not the protocol's. (How many
//! sequential orders its specification may take is bounded where the specification is computed,
//! `crate::specs` and `fuzz`, not here.)

use mountcheck_model::program::linearizable::{run_setup, SpecError};
use mountcheck_model::program::ProgramError;
use mountcheck_model::{parse_call, LockDesign, Program};

use super::MAX_SCENARIO_THREADS;

/// Where in a program a problem of [`check_program`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spot {
    /// The program as a whole.
    Program,
    /// Thread `i` (0-based) as a whole.
    Thread(usize),
    /// Operation `index` of the setup (`thread` None) or of thread `thread`, at character `col`
    /// of its text.
    Op {
        /// `None` for the setup.
        thread: Option<usize>,
        /// Index in its list.
        index: usize,
        /// 0-based column in the operation's text.
        col: usize,
    },
}

/// A problem [`check_program`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramProblem {
    /// Where.
    pub spot: Spot,
    /// What is wrong.
    pub msg: String,
}

/// Every check `run` makes of a scenario's program once its text has parsed: each call is one
/// the text syntax can write (it round-trips through [`parse_call`], so an empty name or an
/// assertion the operation cannot return cannot sneak in through JSON), the program has 1 to
/// [`MAX_SCENARIO_THREADS`] threads (the most loom explores, `loom::MAX_THREADS` being 5 with the
/// main thread, and what every backend promises), [`Program::validate`] holds, and the setup
/// returns what it asserts (0 when it asserts nothing) in the fixed protocol under `design`,
/// without blocking: a property of the program, whatever variant it explores.
pub fn check_program(program: &Program, design: LockDesign) -> Result<(), ProgramProblem> {
    let lists = std::iter::once((None, &program.setup)).chain(
        program
            .threads
            .iter()
            .enumerate()
            .map(|(i, l)| (Some(i), l)),
    );
    for (thread, calls) in lists {
        for (index, call) in calls.iter().enumerate() {
            let text = call.to_string();
            let again = parse_call(&text).map_err(|e| ProgramProblem {
                spot: Spot::Op {
                    thread,
                    index,
                    col: e.col,
                },
                msg: format!("`{text}` is not a valid operation: {}", e.msg),
            })?;
            if &again != call {
                return Err(ProgramProblem {
                    spot: Spot::Op {
                        thread,
                        index,
                        col: 0,
                    },
                    msg: format!("`{text}` does not read back as the same operation"),
                });
            }
        }
    }
    let n = program.threads.len();
    if n == 0 {
        return Err(ProgramProblem {
            spot: Spot::Program,
            msg: "a scenario needs at least one [[thread]] with `ops`".into(),
        });
    }
    if n > MAX_SCENARIO_THREADS {
        return Err(ProgramProblem {
            spot: Spot::Thread(MAX_SCENARIO_THREADS),
            msg: format!(
                "a scenario has at most {MAX_SCENARIO_THREADS} threads, on every backend (loom explores at most {MAX_SCENARIO_THREADS}: loom::MAX_THREADS is 5 with the main thread); this one has {n}"
            ),
        });
    }
    if let Some(i) = program.threads.iter().position(Vec::is_empty) {
        return Err(ProgramProblem {
            spot: Spot::Thread(i),
            msg: "a thread needs at least one operation in `ops`".into(),
        });
    }
    program.validate().map_err(
        |ProgramError {
             thread,
             index,
             col,
             msg,
         }| ProgramProblem {
            spot: Spot::Op { thread, index, col },
            msg,
        },
    )?;
    match run_setup(program, design) {
        Ok(_) => Ok(()),
        Err(SpecError::Setup { index, msg }) => Err(ProgramProblem {
            spot: Spot::Op {
                thread: None,
                index,
                col: 0,
            },
            msg,
        }),
        Err(e) => Err(ProgramProblem {
            spot: Spot::Program,
            msg: format!("the setup alone already fails: {e}"),
        }),
    }
}
