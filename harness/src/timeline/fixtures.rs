//! Small reports with hand-written traces, for the timeline's and the renderers' tests.

use std::collections::BTreeMap;

use mountcheck_engine::{ReplayToken, Stop};
use mountcheck_model::oracle::{
    Finding, FindingClass, HistoryEntry, ObjKind, ObjState, ObjectReport, Oid, Step,
};
use mountcheck_model::{parse_call, Config, Program};

use crate::report::{Bounds, Exploration, FindingInfo, Replay, Report, ScenarioInfo, Timing, Tool};
use crate::verdict::Verdict;

/// One step (`seq` is set by [`report`]).
pub fn step(thread: usize, op: &str, action: &str, locks: &[&str], counts: &str) -> Step {
    Step {
        seq: 0,
        thread,
        op: op.into(),
        action: action.into(),
        locks: locks.iter().map(|s| s.to_string()).collect(),
        counts: counts.into(),
        failing: action.starts_with("FAILS ("),
    }
}

/// A report of `name` over the program `setup` + `threads` with this trace and finding.
pub fn report(
    name: &str,
    setup: &[&str],
    threads: &[&[&str]],
    mut trace: Vec<Step>,
    finding: Option<Finding>,
) -> Report {
    for (i, s) in trace.iter_mut().enumerate() {
        s.seq = i;
    }
    let program = Program {
        setup: setup.iter().map(|o| parse_call(o).unwrap()).collect(),
        threads: threads
            .iter()
            .map(|ops| ops.iter().map(|o| parse_call(o).unwrap()).collect())
            .collect(),
        end: Default::default(),
        spec: None,
    };
    let verdict = match &finding {
        Some(f) => Verdict::Finding(f.class),
        None => Verdict::Clean,
    };
    Report {
        linearizability: None,
        schema: crate::report::SCHEMA.into(),
        tool: Tool {
            name: "mountcheck".into(),
            version: "0.1.0".into(),
        },
        scenario: ScenarioInfo {
            name: name.into(),
            file: format!("scenarios/{name}.toml"),
            description: "A <test> scenario & its race.".into(),
            see: Some("fs/super.c".into()),
            variant: name.into(),
            expect: verdict.to_string(),
        },
        program,
        config: Config::default(),
        exploration: Exploration {
            strategy: "loom".into(),
            backend: "loom".into(),
            bounds: Bounds {
                seed: 1,
                max_executions: 1000,
                time_limit_secs: 20.0,
                preemption_bound: Some(2),
                max_branches: Some(20_000),
                depth: None,
            },
            executions: 7,
            stop: Stop::Finding,
        },
        verdict,
        checker_error: None,
        as_expected: true,
        finding: finding.map(|finding| FindingInfo {
            finding,
            execution: 7,
            panic_message: "mountcheck finding: <panic>".into(),
        }),
        trace,
        replay: Some(Replay {
            token: ReplayToken::Shuttle {
                schedule: "abc".into(),
            },
            command: Some(format!("mountcheck replay reports/{name}--loom.json")),
            unavailable: None,
            prior_order: None,
        }),
        witness: None,
        timing: Timing {
            elapsed_secs: 0.5,
            witness_secs: 0.0,
            spec_secs: None,
        },
    }
}

/// A finding about `sb#4`.
pub fn finding(
    class: FindingClass,
    message: &str,
    thread: Option<usize>,
    op: &str,
    with_object: bool,
) -> Finding {
    Finding {
        class,
        message: message.into(),
        thread,
        op: op.into(),
        object: with_object.then(|| ObjectReport {
            oid: Oid(4),
            kind: ObjKind::SuperBlock,
            label: "sb#4 (ram0)".into(),
            state: ObjState::Freed,
            counts: BTreeMap::from([("s_count".to_string(), 0)]),
            holders: Vec::new(),
            history: vec![HistoryEntry {
                step: 4,
                thread: 0,
                op: "mount ram0 /mnt".into(),
                what: "allocated".into(),
            }],
        }),
        unmatched: Vec::new(),
        comparison: None,
    }
}

/// get_super without a pin: T1 looks the super_block up, is preempted, T2 unmounts and
/// frees it, T1 touches it.
pub fn get_super_race() -> Report {
    let trace = vec![
        step(0, "boot", "spin_lock(sb_lock)", &["sb_lock"], ""),
        step(0, "boot", "alloc sb#1 (rootfs)", &["sb_lock"], ""),
        step(0, "boot", "spin_unlock(sb_lock)", &[], ""),
        step(0, "mkdir /mnt", "down_write(sb#1.i_sem)", &["sb#1.i_sem"], ""),
        step(0, "mkdir /mnt", "up_write(sb#1.i_sem)", &[], ""),
        step(0, "mkdir /mnt", "mkdir /mnt = 0", &[], ""),
        step(0, "mount ram0 /mnt", "alloc sb#4 (ram0)", &[], ""),
        step(
            0,
            "mount ram0 /mnt",
            "get sb#4 (ram0).s_count",
            &[],
            "s_count 0 -> 1 (+ alloc_super)",
        ),
        step(
            0,
            "mount ram0 /mnt",
            "get sb#4 (ram0).s_count",
            &[],
            "s_count 1 -> S_BIAS + 1 (+ S_BIAS super_blocks list)",
        ),
        step(
            0,
            "mount ram0 /mnt",
            "put sb#4 (ram0).s_count",
            &[],
            "s_count S_BIAS + 1 -> S_BIAS (- alloc_super)",
        ),
        step(0, "mount ram0 /mnt", "mount ram0 /mnt = 0", &[], ""),
        step(0, "fork", "get ns#3.count", &[], "count 1 -> 2 (+ task T1)"),
        step(0, "fork", "get ns#3.count", &[], "count 2 -> 3 (+ task T2)"),
        step(0, "wait for the threads", "join every thread", &[], ""),
        step(1, "get_super ram0 as sb", "spin_lock(sb_lock)", &["sb_lock(r)"], ""),
        step(1, "get_super ram0 as sb", "spin_unlock(sb_lock)", &[], ""),
        step(2, "umount /mnt", "spin_lock(vfsmount_lock)", &["vfsmount_lock"], ""),
        step(2, "umount /mnt", "spin_unlock(vfsmount_lock)", &[], ""),
        step(2, "umount /mnt", "spin_lock(sb_lock)", &["sb_lock"], ""),
        step(
            2,
            "umount /mnt",
            "get sb#4 (ram0).s_count",
            &["sb_lock"],
            "s_count S_BIAS -> S_BIAS + 1 (+ kill_super)",
        ),
        step(
            2,
            "umount /mnt",
            "put sb#4 (ram0).s_count",
            &["sb_lock"],
            "s_count S_BIAS + 1 -> 1 (- S_BIAS super_blocks list)",
        ),
        step(2, "umount /mnt", "spin_unlock(sb_lock)", &[], ""),
        step(
            2,
            "umount /mnt",
            "down_write(sb#4.s_umount)",
            &["sb#4.s_umount(w)"],
            "",
        ),
        step(2, "umount /mnt", "shut down sb#4 (ram0)", &["sb#4.s_umount(w)"], ""),
        step(2, "umount /mnt", "up_write(sb#4.s_umount)", &[], ""),
        step(2, "umount /mnt", "spin_lock(vfsmount_lock)", &["vfsmount_lock"], ""),
        step(2, "umount /mnt", "spin_unlock(vfsmount_lock)", &[], ""),
        step(
            2,
            "umount /mnt",
            "put sb#4 (ram0).s_count",
            &[],
            "s_count 1 -> 0 (- kill_super)",
        ),
        step(2, "umount /mnt", "free sb#4 (ram0)", &[], ""),
        step(2, "umount /mnt", "umount /mnt = 0", &[], ""),
        step(
            1,
            "get_super ram0 as sb",
            "FAILS (use-after-free): down_read(s_umount) woke up and touches sb#4 (ram0) after it was freed",
            &[],
            "",
        ),
    ];
    report(
        "get-super-race",
        // Asserted results, as the bundled scenarios write them: the trace names each step's
        // operation without them, and the summary must still match them up.
        &["mkdir /mnt = 0", "mount ram0 /mnt = 0"],
        &[
            &["get_super ram0 as sb in {0, NULL}", "drop_super sb"],
            &["umount /mnt in {0, EBUSY}"],
        ],
        trace,
        Some(finding(
            FindingClass::UseAfterFree,
            "down_read(s_umount) woke up and touches sb#4 (ram0) after it was freed",
            Some(1),
            "get_super ram0 as sb",
            true,
        )),
    )
}

/// ustat forgets drop_super: T1 keeps s_umount for read, T2's umount blocks on it, and so
/// does init's join: a deadlock with no failing step.
pub fn deadlock() -> Report {
    let trace = vec![
        step(0, "boot", "alloc sb#1 (rootfs)", &[], ""),
        step(0, "boot", "alloc mnt#2 (rootfs)", &[], ""),
        step(0, "mount ram0 /mnt", "alloc sb#4 (ram0)", &[], ""),
        step(0, "mount ram0 /mnt", "mount ram0 /mnt = 0", &[], ""),
        step(0, "wait for the threads", "join every thread", &[], ""),
        step(
            1,
            "ustat ram0",
            "down_read(sb#4.s_umount)",
            &["sb#4.s_umount(r)"],
            "",
        ),
        step(2, "umount /mnt", "spin_lock(sb_lock)", &["sb_lock"], ""),
        step(2, "umount /mnt", "spin_unlock(sb_lock)", &[], ""),
        step(1, "ustat ram0", "ustat ram0 = 0", &["sb#4.s_umount(r)"], ""),
    ];
    report(
        "deadlock",
        &["mount ram0 /mnt"],
        &[&["ustat ram0"], &["umount /mnt", "mkdir /x"]],
        trace,
        Some(finding(
            FindingClass::Deadlock,
            "every thread is blocked; T2 in `umount /mnt` after spin_unlock(sb_lock)",
            Some(2),
            "umount /mnt",
            false,
        )),
    )
}

/// A leak found at quiescence: the failing step is in init's last exit.
pub fn quiescence_leak() -> Report {
    let trace = vec![
        step(0, "boot", "alloc sb#1 (rootfs)", &[], ""),
        step(0, "boot", "alloc mnt#2 (rootfs)", &[], ""),
        step(0, "mount ram0 /mnt", "alloc sb#4 (ram0)", &[], ""),
        step(0, "mount ram0 /mnt", "mount ram0 /mnt = 0", &[], ""),
        step(0, "wait for the threads", "join every thread", &[], ""),
        step(
            1,
            "umount -l /mnt",
            "spin_lock(vfsmount_lock)",
            &["vfsmount_lock"],
            "",
        ),
        step(1, "umount -l /mnt", "spin_unlock(vfsmount_lock)", &[], ""),
        step(1, "umount -l /mnt", "umount -l /mnt = 0", &[], ""),
        step(
            0,
            "quiescence",
            "spin_lock(vfsmount_lock)",
            &["vfsmount_lock(r)"],
            "",
        ),
        step(0, "quiescence", "spin_unlock(vfsmount_lock)", &[], ""),
        step(
            1,
            "exit (quiescence)",
            "put ns#3.count",
            &[],
            "count 2 -> 1 (- task T1)",
        ),
        step(
            1,
            "exit (quiescence)",
            "put mnt#2 (rootfs on /).mnt_count",
            &[],
            "mnt_count 3 -> 2 (- root of T1)",
        ),
        step(0, "exit (quiescence)", "free mnt#2 (rootfs on /)", &[], ""),
        step(
            0,
            "exit (quiescence)",
            "spin_lock(sb_lock)",
            &["sb_lock"],
            "",
        ),
        step(0, "exit (quiescence)", "spin_unlock(sb_lock)", &[], ""),
        step(
            0,
            "exit (quiescence)",
            "FAILS (leak): sb#4 (ram0) never freed after every task exited",
            &[],
            "",
        ),
    ];
    report(
        "quiescence-leak",
        &["mount ram0 /mnt"],
        &[&["umount -l /mnt"]],
        trace,
        Some(finding(
            FindingClass::Leak,
            "sb#4 (ram0) never freed after every task exited",
            Some(0),
            "exit (quiescence)",
            true,
        )),
    )
}
