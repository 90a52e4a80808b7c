//! Tests of the generator: every operation is generated and every realized program is a valid
//! scenario; the calling rules of handles; the path pool's draws (previous, related, context
//! views); the redraw of calls that fail alone; the per-case thread length.

use super::meaningful::{succeeds_alone, MEANINGFUL_BITS};
use super::pool::{is_below, LAYOUT_SHARE, RELATED_SHARE, REUSE_SHARE};
use super::*;
use crate::scenario::check_program;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

#[test]
fn every_operation_fits_in_the_argument_bytes() {
    for s in OPERATIONS {
        assert!(
            s.syntax.len() <= ARGS,
            "{} has {} pieces",
            s.name,
            s.syntax.len()
        );
    }
}

#[test]
fn every_realized_program_is_a_valid_scenario_and_every_operation_is_generated() {
    let cfg = GenConfig {
        max_threads: 3,
        max_ops: 3,
    };
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strat = case_strategy(cfg);
    let mut seen = std::collections::BTreeSet::new();
    let mut realized = 0;
    for _ in 0..300 {
        let tree = strat.new_tree(&mut runner).unwrap();
        let Some(p) = realize(&tree.current(), LockDesign::Global) else {
            continue;
        };
        realized += 1;
        check_program(&p, LockDesign::Global).unwrap_or_else(|e| panic!("{e:?}: {p:?}"));
        assert!(p.threads.len() <= cfg.max_threads);
        assert!(p
            .threads
            .iter()
            .all(|t| !t.is_empty() && t.len() <= 4 * cfg.max_ops));
        seen.extend(p.threads.iter().flatten().map(|c| c.op.kind()));
    }
    assert!(realized > 250, "only {realized} of 300 cases realized");
    for s in OPERATIONS {
        assert!(seen.contains(&s.kind), "{} was never generated", s.name);
    }
}

fn realize_threads(calls: Vec<Vec<(OpKind, [u8; ARGS])>>) -> Program {
    realize_threads_ending(calls, false)
}

fn realize_threads_ending(calls: Vec<Vec<(OpKind, [u8; ARGS])>>, exits: bool) -> Program {
    realize_case(calls, exits, false)
}

fn realize_case(calls: Vec<Vec<(OpKind, [u8; ARGS])>>, exits: bool, checked: bool) -> Program {
    let layout = vec![(0, Some(0))];
    realize_with(layout, calls, exits, checked, usize::MAX)
}

/// The program of a case with this `layout` (indices into [`LAYOUT_DIRS`] and
/// [`DEVICES`]), these threads' calls (each ending with `exit` when `exits`), `checked` and
/// `thread_len`, under the global design, over the whole table.
fn realize_with(
    layout: Vec<(u8, Option<u8>)>,
    calls: Vec<Vec<(OpKind, [u8; ARGS])>>,
    exits: bool,
    checked: bool,
    thread_len: usize,
) -> Program {
    let case = case_with(layout, None, calls, exits, checked, thread_len);
    realize(&case, LockDesign::Global).expect("a thread")
}

/// The case [`realize_with`] realizes, with a setup `context` besides.
fn case_with(
    layout: Vec<(u8, Option<u8>)>,
    context: Option<u8>,
    calls: Vec<Vec<(OpKind, [u8; ARGS])>>,
    exits: bool,
    checked: bool,
    thread_len: usize,
) -> Case {
    let swarm: Vec<OpKind> = OPERATIONS.iter().map(|s| s.kind).collect();
    let index = |k: OpKind| {
        // An `Index` picks `k` out of the whole table: proptest maps its value onto the length.
        // Bounded: each draw hits `k` with probability 1 / |table|.
        const DRAWS: usize = 100_000;
        let mut runner = TestRunner::deterministic();
        (0..DRAWS)
            .map(|_| any::<Index>().new_tree(&mut runner).unwrap().current())
            .find(|i| *i.get(&swarm) == k)
            .unwrap_or_else(|| panic!("no Index picking {k:?} in {DRAWS} draws"))
    };
    Case {
        swarm: swarm.clone(),
        layout,
        focus: 0,
        context,
        setup: Vec::new(),
        checked,
        thread_len,
        threads: calls
            .into_iter()
            .map(|t| {
                let calls = t
                    .into_iter()
                    .map(|(k, args)| AbstractCall { op: index(k), args })
                    .collect();
                (calls, exits)
            })
            .collect(),
    }
}

fn texts(p: &Program) -> Vec<Vec<String>> {
    p.threads
        .iter()
        .map(|t| t.iter().map(|c| c.op.to_string()).collect())
        .collect()
}

#[test]
fn a_use_without_a_handle_first_binds_one_and_what_is_held_is_given_back() {
    let p = realize_threads(vec![
        vec![(OpKind::LockSuper, [0; ARGS]), (OpKind::Statfs, [0; ARGS])],
        vec![(OpKind::Close, [0; ARGS]), (OpKind::Exit, [0; ARGS])],
    ]);
    assert_eq!(
        texts(&p),
        vec![
            vec![
                "get_super ram0 as h0",
                "lock_super h0",
                "statfs h0",
                "unlock_super h0",
                "drop_super h0"
            ],
            vec!["open /a as h0", "close h0", "exit"],
        ]
    );
}

#[test]
fn an_unlock_with_nothing_locked_is_dropped_and_a_held_super_block_is_dropped_before_exit() {
    let p = realize_threads(vec![
        vec![(OpKind::UnlockSuper, [0; ARGS]), (OpKind::Stat, [0; ARGS])],
        vec![(OpKind::GetSuper, [0; ARGS]), (OpKind::Exit, [0; ARGS])],
    ]);
    assert_eq!(
        texts(&p),
        vec![
            vec!["stat /a"],
            vec!["get_super ram0 as h0", "drop_super h0", "exit"],
        ]
    );
}

#[test]
fn a_second_lock_while_one_is_held_is_dropped_and_exit_ends_a_thread_that_asks_for_it() {
    let other = [0, 0, 0, 0x80];
    let p = realize_threads_ending(
        vec![
            vec![
                (OpKind::LockSuper, [0; ARGS]),
                (OpKind::LockSuper, other),
                (OpKind::Statfs, [0; ARGS]),
            ],
            vec![(OpKind::Stat, [0; ARGS])],
        ],
        true,
    );
    assert_eq!(
        texts(&p),
        vec![
            vec![
                "get_super ram0 as h0",
                "lock_super h0",
                "statfs h0",
                "unlock_super h0",
                "drop_super h0",
                "exit"
            ],
            vec!["stat /a", "exit"],
        ]
    );
}

#[test]
fn a_low_path_byte_reuses_the_task_s_previous_path_and_a_new_task_starts_afresh() {
    let far = [REUSE_SHARE, 0, 0, 0];
    let near_file = [1, 0, 0, 0];
    let p = realize_threads(vec![
        vec![(OpKind::Open, near_file), (OpKind::Stat, [0; ARGS])],
        vec![(OpKind::Stat, [0; ARGS])],
    ]);
    assert_eq!(
        texts(&p),
        vec![vec!["open /a/f as h0", "stat /a/f"], vec!["stat /a"],]
    );
    // Above the reuse share, the draw is the layout's again.
    let q = realize_threads(vec![
        vec![(OpKind::Open, near_file), (OpKind::Stat, far)],
        vec![(OpKind::Stat, [0; ARGS])],
    ]);
    assert_eq!(texts(&q)[0], vec!["open /a/f as h0", "stat /a"]);
}

#[test]
fn a_task_holding_a_super_block_works_on_it_only_until_it_drops_it() {
    let p = realize_threads(vec![
        vec![
            (OpKind::GetSuper, [0; ARGS]),
            (OpKind::Stat, [0; ARGS]),
            (OpKind::Statfs, [0; ARGS]),
            (OpKind::Open, [0; ARGS]),
            (OpKind::DropSuper, [0; ARGS]),
            (OpKind::Stat, [0; ARGS]),
        ],
        vec![(OpKind::Umount, [0; ARGS])],
    ]);
    assert_eq!(
        texts(&p),
        vec![
            vec![
                "get_super ram0 as h0",
                "statfs h0",
                "drop_super h0",
                "stat /a"
            ],
            vec!["umount /a"],
        ]
    );
}

#[test]
fn a_checked_case_drops_the_calls_that_would_turn_the_linearizability_check_off() {
    let calls = || {
        vec![
            vec![(OpKind::Umount, [0; ARGS]), (OpKind::Sync, [0; ARGS])],
            vec![(OpKind::Stat, [0; ARGS]), (OpKind::Umount, [0; ARGS])],
        ]
    };
    let unchecked = realize_case(calls(), false, false);
    assert_eq!(
        texts(&unchecked),
        vec![vec!["umount /a", "sync"], vec!["stat /a", "umount /a"]]
    );
    assert_eq!(check_of(&unchecked), Check::None);
    // `sync` is not atomic; a second thread's `umount` meets the first's.
    let checked = realize_case(calls(), false, true);
    assert_eq!(texts(&checked), vec![vec!["umount /a"], vec!["stat /a"]]);
    assert_eq!(check_of(&checked), Check::Linearizable);
}

#[test]
fn a_related_path_draw_picks_an_earlier_task_s_path_or_the_mountpoint_its_walk_crosses() {
    // /a (ram0) and /a/b (ram1) nested; near paths /a, /a/b, /a/f, /a/b/f.
    let nested = vec![(0, Some(0)), (1, Some(1))];
    let related = RELATED_SHARE - 1;
    let lazy = 1; // the first of umount's flags, `-l`
    let p = realize_with(
        nested,
        vec![
            vec![(OpKind::Stat, [related, 0, 0, 0])],
            vec![(OpKind::Umount, [lazy, REUSE_SHARE + 1, 0, 0])],
            vec![(OpKind::Stat, [REUSE_SHARE, 0, 0, 0])],
        ],
        false,
        false,
        usize::MAX,
    );
    assert_eq!(
        texts(&p),
        vec![
            // The first task has no earlier task's path: the draw is the layout's (127 % 4).
            vec!["stat /a/b/f"],
            // Related to /a/b/f (the one earlier path): /a/b/f, then the mountpoints its
            // walk crosses, /a and /a/b; draw 1 of them is /a.
            vec!["umount -l /a"],
            // Draw 0: the first earlier path itself.
            vec!["stat /a/b/f"],
        ]
    );
    assert!(is_below("/a/b/f", "/a") && is_below("/a", "/") && !is_below("/ab", "/a"));
    assert!(!is_below("/a", "/a") && !is_below("a/b", "a"));
}

#[test]
fn a_call_that_fails_alone_is_drawn_again_unless_its_last_byte_says_keep() {
    // /a with ram0 on it, /b without: a plain umount means something on /a only (or /a/.).
    let layout = vec![(0, Some(0)), (2, None)];
    let mounted_share = |last: u8| {
        let hits = (0..=u8::MAX)
            .filter(|&b| {
                let p = realize_with(
                    layout.clone(),
                    vec![vec![(OpKind::Umount, [0, b, 0, last])]],
                    false,
                    false,
                    usize::MAX,
                );
                let umount = p.threads[0][0].to_string();
                succeeds_alone(&p, &[], &umount, LockDesign::Global)
            })
            .count();
        hits as f64 / 256.0
    };
    let (kept, drawn_again) = (mounted_share(0), mounted_share(MEANINGFUL_BITS));
    assert!(
        kept < 0.4 && drawn_again > 0.85,
        "a umount that unmounts: {kept} of the draws kept, {drawn_again} drawn again"
    );
    // What a call is run alone after: the setup and its task's earlier calls that succeeded.
    let p = realize_with(
        vec![(0, None)],
        vec![vec![
            (OpKind::Mkdir, [LAYOUT_SHARE - 1, 0, 0, MEANINGFUL_BITS]),
            (OpKind::Rmdir, [REUSE_SHARE - 1, 0, 0, MEANINGFUL_BITS]),
        ]],
        false,
        false,
        usize::MAX,
    );
    // The layout's near paths are /a and /a/f: draw 207 is /a/f; the rmdir reuses it, and
    // succeeds alone after the mkdir only (alone after the setup it is drawn again).
    assert_eq!(texts(&p), vec![vec!["mkdir /a/f", "rmdir /a/f"]]);
}

#[test]
fn a_view_names_a_place_from_its_root_inside_it_and_from_its_cwd_outside_it() {
    let view = |root: &str, cwd: &str| View {
        root: root.into(),
        cwd: cwd.into(),
    };
    let first = View::default();
    for p in ["/", "/a", "/a/b/f", "a", ".."] {
        assert_eq!(first.name(p), p);
    }
    // chroot /a/b with the cwd left at /.
    let moved = view("/a/b", "/");
    for (p, named) in [
        ("/a/b", "/"),
        ("/a/b/c", "/c"),
        ("/a/b/f", "/f"),
        ("/a", "a"),
        ("/a/f", "a/f"),
        ("/b", "b"),
        ("/", "."),
        ("a", "a"),
        ("..", ".."),
    ] {
        assert_eq!(moved.name(p), named, "{p}");
    }
    // chdir /a first: the hand-written pivot-root-loop scenario's view.
    let beside = view("/a/b", "/a");
    for (p, named) in [
        ("/a", "."),
        ("/a/f", "f"),
        ("/b", "../b"),
        ("/", ".."),
        ("/a/b/c", "/c"),
    ] {
        assert_eq!(beside.name(p), named, "{p}");
    }
    // A cwd inside the root: a place outside the root cannot be reached.
    assert_eq!(view("/a", "/a/b").name("/b"), "/b");
}

#[test]
fn a_context_roots_the_threads_in_a_nested_mount_and_reaches_pivot_root_s_loop() {
    use mountcheck_model::{execute, Config, FindingClass, Ledger, Mutant, Variant};
    let case = |context| {
        let pivot = vec![vec![(OpKind::PivotRoot, [0; ARGS])]];
        case_with(Vec::new(), context, pivot, false, false, usize::MAX)
    };
    // Without a context there is no layout: the draws are the fixed paths.
    let none = realize(&case(None), LockDesign::Global).unwrap();
    assert!(none.setup.is_empty());
    assert_eq!(texts(&none), vec![vec!["pivot_root /a /a"]]);
    // Context 0b10: ram1 on /a, ram2 on /a/b, init's cwd left at /.
    let p = realize(&case(Some(0b10)), LockDesign::Global).unwrap();
    let setup: Vec<String> = p.setup.iter().map(|c| c.op.to_string()).collect();
    assert_eq!(
        setup,
        [
            "mkdir /a",
            "mount ram1 /a",
            "mkdir /a/b",
            "mount ram2 /a/b",
            "chroot /a/b"
        ]
    );
    // The layout's /a, twice (the second draw reuses the first), from the cwd.
    assert_eq!(texts(&p), vec![vec!["pivot_root a a"]]);
    // Under the mutant that pivot_root makes ram1 its own parent.
    let cfg = Config {
        variant: Variant::Mutant(Mutant::PivotRootLoop),
        ..Config::default()
    };
    let ledger = Ledger::new();
    let l2 = ledger.clone();
    let r = std::panic::catch_unwind(|| execute(&p, cfg, l2));
    assert!(r.is_err(), "the loop was not made");
    let finding = ledger.finding().expect("a finding");
    assert_eq!(finding.class, FindingClass::Invariant, "{finding}");
    // Its low bit set: chdir /a first, and /a is `.`.
    let q = realize(&case(Some(0b11)), LockDesign::Global).unwrap();
    assert_eq!(q.setup[4].op.to_string(), "chdir /a");
    assert_eq!(texts(&q), vec![vec!["pivot_root . ."]]);
}

#[test]
fn a_case_s_thread_length_keeps_that_many_drawn_calls_of_each_thread() {
    let calls = || {
        vec![
            vec![(OpKind::Stat, [0; ARGS]), (OpKind::Mkdir, [0; ARGS])],
            vec![(OpKind::Sync, [0; ARGS]), (OpKind::Stat, [0; ARGS])],
        ]
    };
    let one = realize_with(vec![(0, Some(0))], calls(), true, false, 1);
    assert_eq!(
        texts(&one),
        vec![vec!["stat /a", "exit"], vec!["sync", "exit"]]
    );
    let all = realize_with(vec![(0, Some(0))], calls(), false, false, 2);
    assert_eq!(texts(&all)[1], vec!["sync", "stat /a"]);
}
