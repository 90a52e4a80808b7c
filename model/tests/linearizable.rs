//! The sequential specification (`mountcheck_model::program::linearizable`) on small programs
//! whose orders and outcomes are counted by hand, the suspension of blocking operations, and
//! the linearizability oracle on real threads.
//!
//! Run: `cargo test -p mountcheck-model --test linearizable` (std build: the specification runs
//! the model itself, one task thread at a time).
#![cfg(not(any(loom, feature = "shuttle")))]

mod common;

use common::program;
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::program::linearizable::{
    count_orders, count_runs, run_setup, sequential_spec, SpecError, MAX_ORDERS,
};
use mountcheck_model::program::outcome::{MountRow, Outcome};
use mountcheck_model::{
    execute, Config, Ledger, LockDesign, MountError, Mutant, OpResult, Program, Variant,
};

const OK: OpResult = OpResult::Ok;
const NULL: OpResult = OpResult::Null;

fn err(e: MountError) -> OpResult {
    OpResult::Err(e)
}

fn row(mountpoint: &str, dev: &str, parent: &str) -> MountRow {
    MountRow {
        mountpoint: mountpoint.into(),
        dev: dev.into(),
        root: "/".into(),
        parent: parent.into(),
        files: Vec::new(),
    }
}

/// An outcome with T0's table `rows`; `NONE` marks a call that failed without effect.
fn outcome(results: Vec<Vec<OpResult>>, rows: Vec<MountRow>) -> Outcome {
    let mut rows = rows;
    rows.sort();
    Outcome {
        results: results
            .into_iter()
            .map(|t| t.into_iter().map(|r| (r != NONE).then_some(r)).collect())
            .collect(),
        tables: [(0, rows)].into_iter().collect(),
    }
}

/// Stands for "failed without effect" in [`outcome`]'s lists (an errno no call here returns).
const NONE: OpResult = OpResult::Err(MountError::NoMem);

fn outcomes(p: &Program, d: LockDesign) -> (u64, u64, Vec<Outcome>) {
    let spec = sequential_spec(p, d).unwrap_or_else(|e| panic!("{e}"));
    // The hand counts below are of results and mount rows; the files each row lists are
    // checked by `a_file_created_in_a_detached_mount_is_seen_in_the_files_of_the_table`.
    let mut v: Vec<Outcome> = spec
        .outcomes()
        .iter()
        .map(|o| {
            let mut o = o.outcome.clone();
            o.tables
                .values_mut()
                .flatten()
                .for_each(|r| r.files.clear());
            o
        })
        .collect();
    v.sort();
    v.dedup();
    (spec.orders(), spec.feasible(), v)
}

/// Setup `mkdir /mnt`; T1 makes and removes /mnt/a (k, r), T2 looks it up and makes it (s, m).
/// No call can fail out of order, so the specification runs the 4!/(2!·2!) = 6 merges:
///
/// | order | k | r | s | m |
/// |---|---|---|---|---|
/// | k r s m | 0 | 0 | ENOENT | 0 |
/// | k s r m | 0 | 0 | 0 | 0 |
/// | k s m r | 0 | 0 | 0 | EEXIST |
/// | s k r m | 0 | 0 | ENOENT | 0 | (as `k r s m`)
/// | s k m r | 0 | 0 | ENOENT | EEXIST |
/// | s m k r | EEXIST | 0 | ENOENT | 0 |
///
/// The table is always `/ rootfs`. 6 orders, all feasible, 5 distinct outcomes.
#[test]
fn six_orders_five_outcomes_counted_by_hand() {
    let p = program(
        &["mkdir /mnt"],
        &[
            &["mkdir /mnt/a", "rmdir /mnt/a"],
            &["stat /mnt/a", "mkdir /mnt/a"],
        ],
    );
    assert_eq!(count_orders(&[2, 2]), 6);
    assert_eq!(count_runs(&p), 6);
    let root = || vec![row("/", "rootfs", "")];
    let (noent, exist) = (err(MountError::NoEntry), err(MountError::Exists));
    let want = {
        let mut v = vec![
            outcome(vec![vec![OK, OK], vec![noent, OK]], root()),
            outcome(vec![vec![OK, OK], vec![OK, OK]], root()),
            outcome(vec![vec![OK, OK], vec![OK, exist]], root()),
            outcome(vec![vec![OK, OK], vec![noent, exist]], root()),
            outcome(vec![vec![exist, OK], vec![noent, OK]], root()),
        ];
        v.sort();
        v
    };
    for d in LockDesign::ALL {
        assert_eq!(outcomes(&p, d), (6, 6, want.clone()), "{}", d.name());
    }
}

/// Setup `mkdir /mnt`; T1 mounts ram0 on /mnt and makes /mnt/a (m, k); T2 looks /mnt/a up and
/// unmounts /mnt (s, u). m and u can fail out of order without effect (EINVAL, EBUSY: their
/// paths are looked up before the namespace semaphore), so the specification runs, for each
/// set of them failed (marked —), the orders of the rest: 6 + 3 + 3 + 2 = 14 orders.
///
/// | failed | order | m | k | s | u | table |
/// |---|---|---|---|---|---|---|
/// | none | m k s u | 0 | 0 (a in ram0) | 0 | 0 | / |
/// | none | m s k u, m s u k, s m k u, s m u k | 0 | 0 | ENOENT | 0 | / |
/// | none | s u m k | 0 | 0 | ENOENT | EINVAL (no mount yet) | /, /mnt ram0 |
/// | m | k s u | — | 0 (a in rootfs) | 0 | EINVAL | / |
/// | m | s k u, s u k | — | 0 | ENOENT | EINVAL | / |
/// | u | m k s | 0 | 0 | 0 | — | /, /mnt ram0 |
/// | u | m s k, s m k | 0 | 0 | ENOENT | — | /, /mnt ram0 |
/// | m, u | k s | — | 0 | 0 | — | / |
/// | m, u | s k | — | 0 | ENOENT | — | / |
///
/// Every order runs to its end: 14 feasible orders, 9 distinct outcomes.
#[test]
fn calls_that_can_fail_without_effect_add_orders_counted_by_hand() {
    let p = program(
        &["mkdir /mnt"],
        &[
            &["mount ram0 /mnt", "mkdir /mnt/a"],
            &["stat /mnt/a", "umount /mnt"],
        ],
    );
    assert_eq!(count_runs(&p), 14);
    let root = row("/", "rootfs", "");
    let mnt = row("/mnt", "ram0", "/");
    let (noent, inval) = (err(MountError::NoEntry), err(MountError::Invalid));
    let want = {
        let mut v = vec![
            outcome(vec![vec![OK, OK], vec![OK, OK]], vec![root.clone()]),
            outcome(vec![vec![OK, OK], vec![noent, OK]], vec![root.clone()]),
            outcome(
                vec![vec![OK, OK], vec![noent, inval]],
                vec![root.clone(), mnt.clone()],
            ),
            outcome(vec![vec![NONE, OK], vec![OK, inval]], vec![root.clone()]),
            outcome(vec![vec![NONE, OK], vec![noent, inval]], vec![root.clone()]),
            outcome(
                vec![vec![OK, OK], vec![OK, NONE]],
                vec![root.clone(), mnt.clone()],
            ),
            outcome(
                vec![vec![OK, OK], vec![noent, NONE]],
                vec![root.clone(), mnt.clone()],
            ),
            outcome(vec![vec![NONE, OK], vec![OK, NONE]], vec![root.clone()]),
            outcome(vec![vec![NONE, OK], vec![noent, NONE]], vec![root.clone()]),
        ];
        v.sort();
        v
    };
    for d in LockDesign::ALL {
        assert_eq!(outcomes(&p, d), (14, 14, want.clone()), "{}", d.name());
    }
}

/// The blocking example: T1 holds ram0's super_block (`get_super`, so `s_umount` for read),
/// opens /mnt/f and drops the super_block; T2 unmounts /mnt. 4!/(3!·1!) = 4 orders, and one
/// more with the umount failed without effect (T1 alone: `0, 0, 0 | —`, table /, /mnt ram0):
///
/// | order | get_super | open | drop_super | umount | table |
/// |---|---|---|---|---|---|
/// | u g o d | NULL | 0 (f in rootfs /mnt) | EBADF | 0 | / |
/// | g u o d | 0 | 0 (f in rootfs /mnt) | 0 | 0 | / |
/// | g o u d | 0 | 0 (f in ram0) | 0 | EBUSY (f is open) | /, /mnt ram0 |
/// | g o d u | 0 | 0 | 0 | EBUSY | /, /mnt ram0 |
///
/// In `g u o d` the umount detaches /mnt, then sleeps in kill_super's `down_write(s_umount)`
/// while T1 holds it for read: suspended, it lets T1's open run (and find rootfs's /mnt) and
/// resumes after the drop_super. No all-or-nothing order gives `0, 0, 0 | 0`: without
/// suspension semantics the kernel's outcome would be called not linearizable. 5 feasible
/// orders, 4 distinct outcomes.
#[test]
fn a_blocked_umount_is_suspended_not_dropped() {
    let p = blocking_example();
    let root = row("/", "rootfs", "");
    let want = {
        let mut v = vec![
            outcome(
                vec![vec![NULL, OK, err(MountError::BadHandle)], vec![OK]],
                vec![root.clone()],
            ),
            outcome(vec![vec![OK, OK, OK], vec![OK]], vec![root.clone()]),
            outcome(
                vec![vec![OK, OK, OK], vec![err(MountError::Busy)]],
                vec![root.clone(), row("/mnt", "ram0", "/")],
            ),
            outcome(
                vec![vec![OK, OK, OK], vec![NONE]],
                vec![root.clone(), row("/mnt", "ram0", "/")],
            ),
        ];
        v.sort();
        v
    };
    for d in LockDesign::ALL {
        assert_eq!(outcomes(&p, d), (5, 5, want.clone()), "{}", d.name());
    }
}

fn blocking_example() -> Program {
    program(
        &["mkdir /mnt", "mount ram0 /mnt"],
        &[
            &["get_super ram0 as sb", "open /mnt/f as f", "drop_super sb"],
            &["umount /mnt"],
        ],
    )
}

/// An operation that waits for ever makes its order infeasible: here T1's own umount waits for
/// the `s_umount` its get_super holds; only the order where the umount fails without effect
/// runs to its end.
#[test]
fn an_order_that_blocks_for_ever_is_infeasible() {
    let p = program(
        &["mkdir /mnt", "mount ram0 /mnt"],
        &[&["get_super ram0 as sb", "umount /mnt"]],
    );
    let (orders, feasible, outs) = outcomes(&p, LockDesign::Global);
    assert_eq!((orders, feasible), (2, 1));
    assert_eq!(
        outs,
        vec![outcome(
            vec![vec![OK, NONE]],
            vec![row("/", "rootfs", ""), row("/mnt", "ram0", "/")]
        )]
    );
}

/// A second mount of ram0 finds the super_block that a suspended umount is killing: its
/// grab_super waits for `s_umount` too, fails once the kill went through, yields, and the
/// retry builds a fresh super_block. Every one of the 4!/(2!·1!·1!) = 12 orders ends.
#[test]
fn a_retry_loop_yields_to_the_suspended_kill() {
    let p = program(
        &["mkdir /mnt", "mount ram0 /mnt", "mkdir /b"],
        &[
            &["get_super ram0 as sb", "drop_super sb"],
            &["umount /mnt"],
            &["mount ram0 /b"],
        ],
    );
    let spec = sequential_spec(&p, LockDesign::Global).unwrap();
    // 12 orders with every call, 3 with the umount failed without effect, 3 with the mount,
    // 1 with both.
    assert_eq!(count_orders(&[2, 1, 1]), 12);
    assert_eq!(spec.orders(), 12 + 3 + 3 + 1);
    // T3's `mount ram0 /b` needs T1's drop_super when it follows T2's suspended umount; the
    // order `g u m d` then runs m to its block, d, u's end, and m's retry.
    assert_eq!(spec.feasible(), 19);
    let full: Vec<_> = spec
        .outcomes()
        .iter()
        .filter(|o| o.outcome.results.iter().flatten().all(Option::is_some))
        .collect();
    assert!(!full.is_empty());
    for o in full {
        assert_eq!(o.outcome.results[1], vec![Some(OK)], "umount /mnt");
        assert_eq!(o.outcome.results[2], vec![Some(OK)], "mount ram0 /b");
        let rows: Vec<String> = o.outcome.tables[&0].iter().map(|r| r.to_string()).collect();
        assert_eq!(
            rows,
            ["/ rootfs [b/ mnt/]", "/b ram0 (on /)"],
            "{:?}",
            o.order
        );
    }
}

#[test]
fn too_many_orders_are_refused_before_anything_runs() {
    let long: Vec<&str> = vec!["stat /"; 9];
    let p = program(&[], &[&long, &long, &long]);
    match sequential_spec(&p, LockDesign::Global) {
        Err(SpecError::TooManyOrders { orders, bound }) => {
            assert_eq!(orders, count_orders(&[9, 9, 9]));
            assert_eq!(orders, count_runs(&p));
            assert_eq!(bound, MAX_ORDERS);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_setup_that_fails_or_blocks_is_bad_input() {
    let fails = program(&["mount ram0 /nope"], &[&["sync"]]);
    let e = run_setup(&fails, LockDesign::Global).unwrap_err();
    assert!(
        matches!(&e, SpecError::Setup { index: 0, msg } if msg.contains("ENOENT")),
        "{e}"
    );
    let blocks = program(
        &[
            "mkdir /mnt",
            "mount ram0 /mnt",
            "get_super ram0 as sb",
            "umount /mnt",
        ],
        &[&["sync"]],
    );
    let e = run_setup(&blocks, LockDesign::Global).unwrap_err();
    assert!(
        matches!(&e, SpecError::Setup { index: 3, msg } if msg.contains("blocks for ever")),
        "{e}"
    );
    // An asserted failure is fine.
    let ok = program(&["umount /nope = ENOENT"], &[&["sync"]]);
    assert_eq!(
        run_setup(&ok, LockDesign::Global).unwrap(),
        vec![err(MountError::NoEntry)]
    );
}

/// Real threads: the fixed protocol's executions of the blocking example are all linearizable,
/// under every lock design.
#[test]
fn real_thread_executions_of_the_blocking_example_are_linearizable() {
    for d in LockDesign::ALL {
        let mut p = blocking_example();
        p.spec = Some(sequential_spec(&p, d).unwrap());
        let cfg = Config {
            lock_design: d,
            ..Config::default()
        };
        for _ in 0..300 {
            let (r, _) = common::run(&p, cfg);
            if let Err(f) = r {
                panic!("{}: {f}", d.name());
            }
        }
    }
}

/// A planted wrong outcome: a specification that lacks one outcome makes the execution that
/// produces it a `not-linearizable` finding showing the observed outcome and the nearest ones.
#[test]
fn an_outcome_outside_the_specification_is_not_linearizable() {
    let p0 = program(&["mkdir /mnt"], &[&["mkdir /mnt/a"]]);
    // The real specification: one order, mkdir 0, table `/`.
    let spec = sequential_spec(&p0, LockDesign::Global).unwrap();
    assert_eq!(spec.outcomes().len(), 1);
    // A program whose only outcome differs from that specification: its mkdir finds /mnt/a.
    let mut p = program(&["mkdir /mnt", "mkdir /mnt/a"], &[&["mkdir /mnt/a"]]);
    p.spec = Some(spec);
    let ledger = Ledger::new();
    let l2 = ledger.clone();
    let r = std::panic::catch_unwind(move || execute(&p, Config::default(), l2));
    assert!(r.is_err());
    let f = ledger.finding().expect("a finding");
    assert_eq!(f.class, FindingClass::NotLinearizable, "{f}");
    let cmp = f.comparison.clone().expect("the comparison");
    assert_eq!(
        cmp.observed.results,
        vec![vec![Some(err(MountError::Exists))]]
    );
    assert_eq!(cmp.nearest.len(), 1);
    assert_eq!(cmp.nearest[0].outcome.results, vec![vec![Some(OK)]]);
    assert!(
        f.message
            .contains("returned EEXIST where the nearest order gives 0"),
        "{f}"
    );
}

/// Each new mutant against its specification, on real threads where the race is wide enough,
/// is seen by the result oracles; here the sequential part: `expire-busy-off-by-one` expires a
/// mount an open file uses even with one thread.
#[test]
fn expire_busy_off_by_one_is_a_wrong_result_on_one_thread() {
    let p = program(
        &["mkdir /mnt", "mount ram1 /mnt"],
        &[&["open /mnt/f as f", "expire ram1 = EBUSY"]],
    );
    let fixed = common::run(&p, Config::default()).0;
    assert!(fixed.is_ok(), "{:?}", fixed.err());
    let cfg = Config {
        variant: Variant::Mutant(Mutant::ExpireBusyOffByOne),
        ..Config::default()
    };
    let f = common::run(&p, cfg).0.expect_err("caught");
    assert_eq!(f.class, FindingClass::WrongResult, "{f}");
    assert!(f.message.contains("returned 0, expected EBUSY"), "{f}");
}

/// The inline runs are a saving, not a change: on programs whose orders suspend operations
/// (a umount waiting for a `drop_super`, a retry loop yielding to a suspended kill, an order
/// blocked for ever) and on one that never waits, both runners give the same specification,
/// order for order.
#[test]
fn inline_runs_give_the_specification_of_task_threads() {
    use mountcheck_model::program::linearizable::{sequential_spec_on, SpecRunner};
    let programs = [
        blocking_example(),
        program(
            &["mkdir /mnt", "mount ram0 /mnt"],
            &[&["get_super ram0 as sb", "umount /mnt"]],
        ),
        program(
            &["mkdir /mnt", "mount ram0 /mnt", "mkdir /b"],
            &[
                &["get_super ram0 as sb", "drop_super sb"],
                &["umount /mnt"],
                &["mount ram0 /b"],
            ],
        ),
        program(
            &["mkdir /mnt"],
            &[
                &["mkdir /mnt/a", "rmdir /mnt/a"],
                &["stat /mnt/a", "mkdir /mnt/a"],
            ],
        ),
    ];
    for p in &programs {
        for d in LockDesign::ALL {
            // `Spec`'s equality: orders, feasible orders, each outcome with its first order.
            let spec = |r| sequential_spec_on(p, d, r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
            assert_eq!(
                spec(SpecRunner::InlineFirst),
                spec(SpecRunner::Threads),
                "{p:?} under {}",
                d.name()
            );
        }
    }
}

/// Setup `mkdir /mnt; mount ram0 /mnt`; T1 `open /mnt/f as f`, T2 `umount /mnt`. Both succeed
/// only in the order umount, open: the file is then created in rootfs's `/mnt`, and the table
/// lists it there. An execution in which both succeed with `f` made in the unmounted ram0 (a
/// walk that kept a mount a umount detached) has the same results and mount rows but not the
/// same files, so the specification does not admit it.
#[test]
fn a_file_created_in_a_detached_mount_is_seen_in_the_files_of_the_table() {
    let p = program(
        &["mkdir /mnt", "mount ram0 /mnt"],
        &[&["open /mnt/f as f"], &["umount /mnt"]],
    );
    let spec = sequential_spec(&p, LockDesign::Global).unwrap_or_else(|e| panic!("{e}"));
    let both: Vec<Vec<String>> = spec
        .outcomes()
        .iter()
        .filter(|o| o.outcome.results == vec![vec![Some(OK)], vec![Some(OK)]])
        .map(|o| o.outcome.tables[&0].iter().map(|r| r.to_string()).collect())
        .collect();
    assert_eq!(both, vec![vec!["/ rootfs [mnt/ mnt/f]".to_string()]]);
    let busy: Vec<Vec<String>> = spec
        .outcomes()
        .iter()
        .filter(|o| o.outcome.results[1] == vec![Some(err(MountError::Busy))])
        .map(|o| o.outcome.tables[&0].iter().map(|r| r.to_string()).collect())
        .collect();
    assert_eq!(
        busy,
        vec![vec![
            "/ rootfs [mnt/]".to_string(),
            "/mnt ram0 (on /) [f]".to_string()
        ]]
    );
    let detached = Outcome {
        results: vec![vec![Some(OK)], vec![Some(OK)]],
        tables: [(
            0,
            vec![MountRow {
                files: vec!["mnt/".into()],
                ..row("/", "rootfs", "")
            }],
        )]
        .into_iter()
        .collect(),
    };
    assert!(!spec.outcomes().iter().any(|o| o.outcome == detached));
}
