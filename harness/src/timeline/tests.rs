//! Tests of the timeline over the fixtures' traces.

use super::*;

/// Every step is in exactly one full row.
fn covers_every_step_once(t: &Timeline) {
    let mut seen = vec![0; t.phases.len()];
    for r in t.rows(false) {
        match r {
            Row::Step(i) => seen[i] += 1,
            Row::Group(g) => {
                for k in &mut seen[t.groups[g].first..=t.groups[g].last] {
                    *k += 1;
                }
            }
            Row::Hidden(_) => panic!("the full view hides nothing"),
            Row::Preemption(_) => {}
        }
    }
    assert!(seen.iter().all(|&k| k == 1), "{seen:?}");
}

#[test]
fn phases_and_groups_fold_boot_setup_and_init() {
    let r = fixtures::get_super_race();
    let t = Timeline::from_report(&r);
    assert_eq!(t.threads, 2);
    let g: Vec<(Phase, &str, usize, bool)> = t
        .groups
        .iter()
        .map(|g| (g.phase, g.op.as_str(), g.steps(), g.folded))
        .collect();
    assert_eq!(
        g,
        vec![
            (Phase::Boot, "boot", 3, true),
            (Phase::Setup, "mkdir /mnt", 3, true),
            (Phase::Setup, "mount ram0 /mnt", 5, true),
            (Phase::Init, "fork", 2, true),
            (Phase::Init, "wait for the threads", 1, false),
        ]
    );
    assert_eq!(t.groups[1].result.as_deref(), Some("0"));
    assert_eq!(t.phases[14], Phase::Threads);
    assert_eq!(t.failing, Some(30));
    covers_every_step_once(&t);
}

#[test]
fn preemptions_joins_and_finished_threads_are_told_apart() {
    let t = Timeline::from_report(&fixtures::get_super_race());
    let kinds: Vec<(usize, usize, usize, SwitchKind)> = t
        .switches
        .iter()
        .map(|s| (s.after, s.from, s.to, s.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (13, 0, 1, SwitchKind::Joining),
            (15, 1, 2, SwitchKind::Preemption),
            (29, 2, 1, SwitchKind::Finished),
        ]
    );
    assert_eq!(t.preemption_count(), 1);
    assert_eq!(t.preemptions().next().unwrap().number, 1);
}

#[test]
fn a_thread_waiting_for_a_held_lock_is_blocked_not_preempted() {
    let steps = vec![
        fixtures::step(0, "wait for the threads", "join every thread", &[], ""),
        fixtures::step(
            1,
            "ustat ram0",
            "down_write(sb#4.s_umount)",
            &["sb#4.s_umount(w)"],
            "",
        ),
        fixtures::step(2, "umount /mnt", "spin_lock(sb_lock)", &["sb_lock"], ""),
        fixtures::step(2, "umount /mnt", "spin_unlock(sb_lock)", &[], ""),
        fixtures::step(1, "ustat ram0", "up_write(sb#4.s_umount)", &[], ""),
        fixtures::step(1, "ustat ram0", "ustat ram0 = 0", &[], ""),
        fixtures::step(
            2,
            "umount /mnt",
            "down_read(sb#4.s_umount)",
            &["sb#4.s_umount(r)"],
            "",
        ),
        fixtures::step(2, "umount /mnt", "umount /mnt = 0", &[], ""),
    ];
    let r = fixtures::report(
        "blocked",
        &[],
        &[&["ustat ram0"], &["umount /mnt"]],
        steps,
        None,
    );
    let t = Timeline::from_report(&r);
    let kinds: Vec<SwitchKind> = t.switches.iter().map(|s| s.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            SwitchKind::Joining,
            SwitchKind::Preemption,
            SwitchKind::Blocked {
                lock: Some("sb#4.s_umount".into()),
                holder: Some(1)
            },
            SwitchKind::Finished,
        ]
    );
    assert_eq!(t.preemption_count(), 1);
}

#[test]
fn the_summary_has_results_the_failing_operation_and_what_never_ran() {
    let t = Timeline::from_report(&fixtures::get_super_race());
    let outcomes = |c: usize| -> Vec<(String, Outcome, bool)> {
        t.summary[c]
            .ops
            .iter()
            .map(|o| (o.op.clone(), o.outcome.clone(), o.failing))
            .collect()
    };
    assert_eq!(
        outcomes(0),
        vec![
            ("mkdir /mnt".into(), Outcome::Returned("0".into()), false),
            (
                "mount ram0 /mnt".into(),
                Outcome::Returned("0".into()),
                false
            ),
            ("quiescence".into(), Outcome::NotStarted, false),
        ]
    );
    assert_eq!(
        outcomes(1),
        vec![
            (
                "get_super ram0 as sb".into(),
                Outcome::Failed("use-after-free".into()),
                true
            ),
            ("drop_super sb".into(), Outcome::NotStarted, false),
        ]
    );
    assert_eq!(
        outcomes(2),
        vec![("umount /mnt".into(), Outcome::Returned("0".into()), false)]
    );
}

#[test]
fn a_deadlock_marks_blocked_operations() {
    let r = fixtures::deadlock();
    let t = Timeline::from_report(&r);
    // T2 took and gave back sb_lock; T1's s_umount was never given back.
    assert_eq!(
        t.held_at_stop(&r.trace),
        vec![format!(
            "T1 holds sb#4.s_umount(r) (since step {})",
            r.trace[5].seq
        )]
    );
    let t2 = &t.summary[2].ops;
    assert_eq!(t2[0].outcome, Outcome::Blocked);
    assert!(t2[0].failing, "the finding names T2's umount");
    assert_eq!(t2[1].outcome, Outcome::NotStarted);
    assert_eq!(t.summary[1].ops[0].outcome, Outcome::Returned("0".into()));
    // T2 never ran again: blocked, not preempted.
    let last = t.switches.last().unwrap();
    assert_eq!((last.from, last.to), (2, 1));
    assert_eq!(
        last.kind,
        SwitchKind::Blocked {
            lock: None,
            holder: None
        }
    );
    // With no object, every lock operation of the threads is in focus.
    assert!(t.focus.is_empty());
    assert!(t.kept.iter().skip(5).all(|&k| k));
    covers_every_step_once(&t);
}

#[test]
fn the_focused_view_keeps_the_object_its_locks_starts_returns_and_preemptions() {
    let r = fixtures::get_super_race();
    let t = Timeline::from_report(&r);
    assert_eq!(t.focus, vec!["sb#4".to_string()]);
    assert_eq!(t.involved, BTreeSet::from([1, 2]));
    let kept: Vec<usize> = (0..r.trace.len()).filter(|&i| t.kept[i]).collect();
    // Not kept: vfsmount_lock taken and dropped with nothing of sb#4 in between (17, 25,
    // 26; 16 starts the operation), nor the steps of folded groups (0-12), which their group
    // rows stand for.
    assert_eq!(
        kept,
        vec![13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 27, 28, 29, 30]
    );
    let rows = t.rows(true);
    assert_eq!(
        rows,
        vec![
            Row::Group(0),
            Row::Group(1),
            Row::Group(2),
            Row::Group(3),
            Row::Step(13),
            Row::Step(14),
            Row::Step(15),
            Row::Preemption(1),
            Row::Step(16),
            Row::Step(17),
            Row::Step(18),
            Row::Step(19),
            Row::Step(20),
            Row::Step(21),
            Row::Step(22),
            Row::Step(23),
            Row::Step(24),
            Row::Hidden(2),
            Row::Step(27),
            Row::Step(28),
            Row::Step(29),
            Row::Step(30),
        ]
    );
    assert_eq!(t.hidden_steps(), 2);
    covers_every_step_once(&t);
}

#[test]
fn quiescence_is_folded_per_operation_except_where_it_failed() {
    let t = Timeline::from_report(&fixtures::quiescence_leak());
    let q: Vec<(usize, &str, bool)> = t
        .groups
        .iter()
        .filter(|g| g.phase == Phase::Quiescence)
        .map(|g| (g.thread, g.op.as_str(), g.folded))
        .collect();
    assert_eq!(
        q,
        vec![
            (0, "quiescence", true),
            (1, "exit (quiescence)", true),
            (0, "exit (quiescence)", false),
        ]
    );
    // No preemption in quiescence: the main thread runs each exit.
    assert!(t
        .switches
        .iter()
        .filter(|s| s.after >= 7)
        .all(|s| s.kind == SwitchKind::Sequential));
    let last = t.summary[0].ops.last().unwrap();
    assert_eq!(
        (last.op.as_str(), &last.outcome, last.failing),
        ("quiescence", &Outcome::Failed("leak".into()), true)
    );
    // In the failing group the focused view keeps its start and the failing step, not the
    // unrelated sb_lock.
    assert!(t.kept[12] && t.kept[15]);
    assert!(!t.kept[13] && !t.kept[14]);
    covers_every_step_once(&t);
}

#[test]
fn counts_of_the_focus_objects_are_series_with_symbolic_values() {
    let t = Timeline::from_report(&fixtures::get_super_race());
    assert_eq!(t.counts.len(), 1);
    let c = &t.counts[0];
    assert_eq!((c.object.as_str(), c.counter), ("sb#4", "s_count"));
    let after: Vec<&str> = c.points.iter().map(|(_, p)| p.after.as_str()).collect();
    assert_eq!(
        after,
        vec!["1", "S_BIAS + 1", "S_BIAS", "S_BIAS + 1", "1", "0"]
    );
    let ev: Vec<(usize, &str)> = t.object_events.iter().map(|e| (e.index, e.what)).collect();
    assert_eq!(ev, vec![(6, "alloc"), (23, "shut down"), (28, "free")]);
    assert!(t.holds.iter().any(|h| h.thread == 2
        && h.lock == "sb#4.s_umount(w)"
        && h.from == 22
        && h.to == Some(24)));
}
