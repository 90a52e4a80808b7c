//! Generation of concurrent scenarios from the model's operation table, with proptest.
//!
//! What it generates: Lincheck's shape (Koval et al., "Lincheck", CAV 2023): a setup run by init,
//! 2 to `--threads` threads of 1 to `--ops` calls, and the end `exit-all`. Nothing here names an
//! operation of the threads: a call is an index into the scenario's swarm (a random subset of
//! [`OPERATIONS`], as in swarm testing, Groce et al. ISSTA 2012) and one argument byte per
//! [`Piece`] of that operation's syntax, which [`realize`] turns into text the model's own
//! parser reads. A new row of `operations!` is generated with no change here. Arguments are
//! drawn so that most calls mean something: a path is first one of the directories the setup's
//! layout created (then the rest of [`PATHS`]), a handle used is one bound earlier by the same
//! thread (a call that would use a handle none of its thread's calls bound is dropped), flags are
//! a bit set of the operation's letters. The layout (directories, and devices mounted on some)
//! is the only place naming operations (`mkdir` and `mount`, the scenario language's way to make
//! a path exist).
//!
//! Invariant: every program [`realize`] returns passes what a scenario file must pass
//! (`scenario::check_program`: it round-trips through the parser, [`Program::validate`] holds,
//! the setup returns 0 in the fixed protocol): a call that would break it is dropped where it is,
//! so every value of a proptest value tree, shrunk or not, realizes to a valid program (or to
//! none, when fewer than one thread is left).

use mountcheck_model::program::linearizable::run_setup;
use mountcheck_model::program::syntax::Piece;
use mountcheck_model::program::{OpKind, OPERATIONS};
use mountcheck_model::{parse_call, Call, EndState, LockDesign, Program};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{subsequence, Index};
use proptest::strategy::BoxedStrategy;

/// The paths calls draw from after the layout's, simplest first (shrinking moves toward the
/// front): top-level directories, nested ones, a file, the root, a path relative to the cwd.
pub const PATHS: &[&str] = &["/a", "/b", "/a/b", "/a/f", "/", "a", "/a/b/c", "/c"];

/// The devices calls draw from, simplest first.
pub const DEVICES: &[&str] = &["ram0", "ram1", "ram2"];

/// Argument bytes per call: at least the most [`Piece`]s an operation has (tested).
pub const ARGS: usize = 4;

/// The most layout entries (directories, each perhaps with a mount) a setup starts with.
pub const MAX_LAYOUT: usize = 4;

/// The most extra setup calls (any operation of the swarm) after the layout.
pub const MAX_SETUP_EXTRA: usize = 2;

/// The fewest operations in a scenario's swarm (when the table has that many).
pub const MIN_SWARM: usize = 3;

/// Bounds of generation, from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// The most threads (2..=4).
    pub max_threads: usize,
    /// The most calls per thread (1..).
    pub max_ops: usize,
}

/// One generated call, before it is given a meaning by [`realize`].
#[derive(Clone, Debug)]
pub struct AbstractCall {
    /// Which operation of the swarm.
    pub op: Index,
    /// One byte per piece of the operation's syntax (path, device, handle, flags, option).
    pub args: [u8; ARGS],
}

/// A generated scenario, as the value proptest generates and shrinks.
#[derive(Clone, Debug)]
pub struct Case {
    /// The operations this scenario's calls are drawn from (swarm testing; never shrunk, so that
    /// a call's index keeps naming the same operation while shrinking).
    pub swarm: Vec<OpKind>,
    /// The setup's layout: a directory (index into [`PATHS`]) and perhaps a device mounted on it.
    pub layout: Vec<(u8, Option<u8>)>,
    /// Extra setup calls, run by init after the layout.
    pub setup: Vec<AbstractCall>,
    /// The threads' calls.
    pub threads: Vec<Vec<AbstractCall>>,
}

fn call() -> impl Strategy<Value = AbstractCall> {
    (any::<Index>(), any::<[u8; ARGS]>()).prop_map(|(op, args)| AbstractCall { op, args })
}

/// The strategy of [`Case`]s under `cfg`, drawing from every operation of [`OPERATIONS`].
pub fn case_strategy(cfg: GenConfig) -> BoxedStrategy<Case> {
    let all: Vec<OpKind> = OPERATIONS.iter().map(|s| s.kind).collect();
    let n = all.len();
    (
        subsequence(all, MIN_SWARM.min(n)..=n).no_shrink(),
        vec((any::<u8>(), option::of(any::<u8>())), 0..=MAX_LAYOUT),
        vec(call(), 0..=MAX_SETUP_EXTRA),
        vec(vec(call(), 1..=cfg.max_ops), 2..=cfg.max_threads),
    )
        .prop_map(|(swarm, layout, setup, threads)| Case {
            swarm,
            layout,
            setup,
            threads,
        })
        .boxed()
}

/// The text of `c` as an operation of `swarm`, with `paths` to draw from and `bound` the
/// handles its list bound so far; `None` when it would use a handle and none is bound.
fn text_of(c: &AbstractCall, swarm: &[OpKind], paths: &[&str], bound: &[String]) -> Option<String> {
    let spec = c.op.get(swarm).spec();
    let mut words = vec![spec.name.to_string()];
    for (piece, &b) in spec.syntax.iter().zip(c.args.iter().cycle()) {
        let b = usize::from(b);
        match piece {
            Piece::Path(_) => words.push(paths[b % paths.len()].to_string()),
            Piece::Dev(_) => words.push(DEVICES[b % DEVICES.len()].to_string()),
            Piece::Binds(_) => {
                words.push("as".into());
                words.push(format!("h{}", bound.len()));
            }
            Piece::Uses(_) => {
                if bound.is_empty() {
                    return None;
                }
                // The most recent handle first.
                words.push(bound[bound.len() - 1 - b % bound.len()].clone());
            }
            Piece::Lit(w) => words.push(w.to_string()),
            Piece::Opt(w) => {
                if b & 1 == 1 {
                    words.push(w.to_string());
                }
            }
            Piece::Flags(letters) => {
                for (i, (l, _)) in letters.iter().enumerate() {
                    if b & (1 << i) != 0 {
                        words.push(format!("-{l}"));
                    }
                }
            }
        }
    }
    Some(words.join(" "))
}

/// Append `call` to `list` (the setup when `setup`, else the last thread of `p`) if the program
/// stays valid; return whether it was kept.
fn push_valid(p: &mut Program, setup: bool, call: Call, design: LockDesign) -> bool {
    let list = if setup {
        &mut p.setup
    } else {
        p.threads.last_mut().expect("a thread to append to")
    };
    list.push(call);
    let ok = p.validate().is_ok() && (!setup || run_setup(p, design).is_ok());
    if !ok {
        let list = if setup {
            &mut p.setup
        } else {
            p.threads.last_mut().expect("a thread to append to")
        };
        list.pop();
    }
    ok
}

/// Give `case` its meaning: the program, every call of which is valid where it stands (calls
/// that are not are dropped, and threads left empty), or `None` when no thread has a call left.
pub fn realize(case: &Case, design: LockDesign) -> Option<Program> {
    let mut p = Program {
        setup: Vec::new(),
        threads: Vec::new(),
        end: EndState::ExitAll,
        spec: None,
    };
    let mut dirs: Vec<&str> = Vec::new();
    for &(path, dev) in &case.layout {
        let dir = PATHS[usize::from(path) % PATHS.len()];
        if let Ok(c) = parse_call(&format!("mkdir {dir}")) {
            if push_valid(&mut p, true, c, design) && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        if let Some(d) = dev {
            let dev = DEVICES[usize::from(d) % DEVICES.len()];
            if let Ok(c) = parse_call(&format!("mount {dev} {dir}")) {
                push_valid(&mut p, true, c, design);
            }
        }
    }
    let paths: Vec<&str> = dirs
        .iter()
        .copied()
        .chain(PATHS.iter().copied().filter(|q| !dirs.contains(q)))
        .collect();
    let add = |p: &mut Program, calls: &[AbstractCall], setup: bool| {
        let mut bound: Vec<String> = Vec::new();
        for c in calls {
            let Some(text) = text_of(c, &case.swarm, &paths, &bound) else {
                continue;
            };
            let Ok(call) = parse_call(&text) else {
                continue;
            };
            let binds = call.op.binds().map(str::to_string);
            if push_valid(p, setup, call, design) {
                bound.extend(binds);
            }
        }
    };
    add(&mut p, &case.setup, true);
    for t in &case.threads {
        p.threads.push(Vec::new());
        add(&mut p, t, false);
        if p.threads.last().is_some_and(Vec::is_empty) {
            p.threads.pop();
        }
    }
    (!p.threads.is_empty()).then_some(p)
}

/// The number of calls of a program (setup and threads), the size the shrinker minimizes.
pub fn calls(p: &Program) -> usize {
    p.setup.len() + p.threads.iter().map(Vec::len).sum::<usize>()
}

#[cfg(test)]
mod tests {
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
                .all(|t| !t.is_empty() && t.len() <= cfg.max_ops));
            seen.extend(p.threads.iter().flatten().map(|c| c.op.kind()));
        }
        assert!(realized > 250, "only {realized} of 300 cases realized");
        for s in OPERATIONS {
            assert!(seen.contains(&s.kind), "{} was never generated", s.name);
        }
    }

    #[test]
    fn a_use_without_a_binding_is_dropped() {
        let swarm: Vec<OpKind> = OPERATIONS
            .iter()
            .filter(|s| s.syntax.iter().any(|p| matches!(p, Piece::Uses(_))))
            .map(|s| s.kind)
            .collect();
        let c = AbstractCall {
            op: any::<Index>()
                .new_tree(&mut TestRunner::deterministic())
                .unwrap()
                .current(),
            args: [0; ARGS],
        };
        assert_eq!(text_of(&c, &swarm, PATHS, &[]), None);
        let t = text_of(&c, &swarm, PATHS, &["h0".into()]).unwrap();
        assert!(t.ends_with(" h0"), "{t}");
    }
}
