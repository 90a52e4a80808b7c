//! Helpers shared by the model's integration tests.
#![allow(dead_code)]

use mountcheck_model::oracle::Finding;
use mountcheck_model::program::RunOutcome;
use mountcheck_model::{execute, parse_op, Config, EndState, Ledger, Op, Program};

/// Parse a list of operations.
pub fn ops(list: &[&str]) -> Vec<Op> {
    list.iter()
        .map(|s| parse_op(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect()
}

/// A program from text.
pub fn program(setup: &[&str], threads: &[&[&str]]) -> Program {
    Program {
        setup: ops(setup),
        threads: threads.iter().map(|t| ops(t)).collect(),
        end: EndState::ExitAll,
    }
}

/// The concurrent scenarios of issue 2 that the fixed protocol must pass clean.
pub fn clean_scenarios() -> Vec<(&'static str, Program)> {
    vec![
        (
            "get_super vs umount",
            program(
                &["mkdir /mnt", "mount ram0 /mnt"],
                &[
                    &["get_super ram0 as sb", "statfs sb", "drop_super sb"],
                    &["umount /mnt"],
                ],
            ),
        ),
        (
            "open vs lazy umount",
            program(
                &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/a"],
                &[&["open /mnt/a/f as f", "close f"], &["umount -l /mnt"]],
            ),
        ),
        (
            "exit vs umount",
            program(
                &["mkdir /mnt", "mount ram0 /mnt"],
                &[&["clone -n", "chdir /mnt", "exit"], &["umount /mnt"]],
            ),
        ),
        (
            "clone vs mount",
            program(
                &["mkdir /mnt", "mount ram0 /mnt", "mkdir /mnt/b"],
                &[&["clone -n", "exit"], &["mount ram1 /mnt/b"]],
            ),
        ),
    ]
}

/// The planted bug: get_super without the s_count pin, against umount.
pub fn planted() -> Program {
    program(
        &["mkdir /mnt", "mount ram0 /mnt"],
        &[
            &["get_super ram0 as sb", "statfs sb", "drop_super sb"],
            &["umount /mnt"],
        ],
    )
}

/// Run one execution on the std backend; return the outcome or the finding.
pub fn run(p: &Program, cfg: Config) -> (Result<RunOutcome, Finding>, Ledger) {
    let ledger = Ledger::new();
    let l2 = ledger.clone();
    let r = std::panic::catch_unwind(|| execute(p, cfg, l2));
    let r = match r {
        Ok(o) => Ok(o),
        Err(_) => Err(ledger
            .finding()
            .expect("a panic of the model without a finding")),
    };
    (r, ledger)
}
