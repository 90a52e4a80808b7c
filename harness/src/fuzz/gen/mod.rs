//! Generation of concurrent scenarios from the model's operation table, with proptest.
//!
//! What it generates: Lincheck's shape (Koval et al., "Lincheck", CAV 2023): a setup run by init, 2
//! to `--threads` threads of 1 to `--ops` calls, and the end `exit-all`. Nothing here names an
//! operation of the threads: a call is an index into the scenario's swarm (a random subset of
//! [`OPERATIONS`], as in swarm testing, Groce et al. ISSTA 2012) and one argument byte per
//! [`Piece`](mountcheck_model::program::syntax::Piece) of that operation's syntax, which
//! [`realize`] turns into text the model's own parser reads. A new row of `operations!` is
//! generated with no change here. Half the swarms have at most [`SMALL_SWARM`] operations, so that
//! a few meet often. Half the scenarios keep the linearizability check on ([`Case::checked`]: a
//! call that would turn it off is dropped), since a wrong result is seen by that check alone. Sizes
//! are a swarm too: each scenario keeps at most [`Case::thread_len`] (1 to `--ops`) of each
//! thread's calls, so that a third of the scenarios are small enough for loom to search whole. The
//! layout mounts a device on three in four of its directories ([`LAYOUT_MOUNT_ODDS`]), so that
//! mounts often nest. One setup in eight ([`CONTEXT_ODDS`]) ends in a context: init's root moved
//! into a mount nested in another (`chroot /a/b`, the cwd left outside it), where the mounts above
//! the root are reached only from the cwd (`pivot_root a a`: CVE-2014-7970's loop) and `..` stops
//! at the root; paths are then written as the tasks name them. Arguments are drawn so that most
//! calls mean something and calls of different threads meet on one object (syzkaller's choice table
//! relates calls through the resources they share): a path is, one time in four, the path of the
//! thread's previous call (a task works on one object: opens it, then looks at it); one time in
//! four a path related to one an earlier task drew (that path, a mountpoint its walk crosses, or a
//! layout path below it: a walk and the umount of the mount it crosses); else mostly one of the
//! directories the setup's layout created or a file in one (the scenario's `focus` keeps a random
//! subset of them: a swarm over paths), else any of [`PATHS`] (`.` and `..` among them); a device
//! is one the layout mounted (else any of [`DEVICES`]). A thread call that fails run alone after
//! the setup and its task's earlier calls (the model's own answer: `umount` of a directory nothing
//! is mounted on, `rmdir` of a mountpoint) has its path and device drawn again, up to
//! [`meaningful::MEANINGFUL_TRIES`] times, three calls in four ([`meaningful_text`]): the others keep a first
//! draw that fails alone, which another thread's call may make meaningful. Half the threads end
//! with `exit`. Handles follow the calling rules of the table's `handle` column ([`HandleUse`]): a
//! call that needs a held handle uses one its own task bound (or first binds one with the table's
//! binding call of that class), a task takes one lock of a class at a time (a second could name the
//! object it locked: its own deadlock) and gives it back, a task that holds a `get_super` works on
//! that handle only until it drops it (any other call may put the last reference of a lazily
//! unmounted mount, whose kill waits for the `s_umount` it holds), and what a task holds at its end
//! (a `get_super` not dropped, a `lock_super` not unlocked) is given back before its `exit`, so
//! that no generated program breaks a rule whose breach is the caller's bug; whatever such a
//! program's serial runs report is a finding. The layout (directories, and devices mounted on some)
//! is the only place naming operations (`mkdir` and `mount`, the scenario language's way to make a
//! path exist).
//!
//! Invariant: every program [`realize`] returns passes what a scenario file must pass
//! (`scenario::check_program`: it round-trips through the parser, [`Program::validate`] holds,
//! the setup returns 0 in the fixed protocol): a call that would break it is dropped where it is,
//! so every value of a proptest value tree, shrunk or not, realizes to a valid program (or to
//! none, when fewer than one thread is left).

use super::check_of;
use crate::scenario::Check;
use mountcheck_model::program::linearizable::run_setup;
use mountcheck_model::program::{HandleClass, HandleUse, OpKind, OpSpec, OPERATIONS};
use mountcheck_model::{parse_call, Call, EndState, LockDesign, Program};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{subsequence, Index};
use proptest::strategy::BoxedStrategy;

mod handles;
mod meaningful;
mod pool;

use handles::{op_doing, Handles, Held};
use meaningful::meaningful_text;
use pool::{text_of, Pool, View};

/// The paths calls draw from after the layout's, simplest first (shrinking moves toward the
/// front): top-level directories, nested ones, a file, the root, a path relative to the cwd;
/// `.` and `..` last: the walk's parent and dot-dot paths (a mount's root, the namespace's root).
pub const PATHS: &[&str] = &[
    "/a", "/b", "/a/b", "/a/f", "/", "a", "/a/b/c", "/c", ".", "..", "/a/..", "/a/.",
];

/// The directories a setup's layout draws from, parents before children once sorted by depth,
/// so that a layout nests mounts (`/a` with a device, then `/a/b` made inside it and mounted
/// on) as often as it puts them side by side.
pub const LAYOUT_DIRS: &[&str] = &["/a", "/a/b", "/b", "/a/b/c"];

/// The devices calls draw from, simplest first.
pub const DEVICES: &[&str] = &["ram0", "ram1", "ram2"];

/// Argument bytes per call: at least the most [`Piece`](mountcheck_model::program::syntax::Piece)s
/// an operation has (tested).
pub const ARGS: usize = 4;

/// The most layout entries (directories, each perhaps with a mount) a setup starts with.
pub const MAX_LAYOUT: usize = 4;

/// The odds that a layout entry's directory gets a device mounted on it: three in four, so that
/// mounts nest (`/a` and `/a/b` both mounted) in a good share of the layouts, as the trees a
/// lazy umount detaches and a walk crosses do.
pub const LAYOUT_MOUNT_ODDS: f64 = 0.75;

/// The odds that a scenario's setup has a context ([`Case::context`]): one in eight, so that a
/// root inside a nested mount (where `pivot_root` can make a loop, CVE-2014-7970, and `..` stops
/// at the root) is tried often while most scenarios keep init's first root.
pub const CONTEXT_ODDS: f64 = 0.125;

/// The outer and the inner directory of the nested mounts a context adds to the layout (indices
/// into [`LAYOUT_DIRS`]: `/a`, and `/a/b` below it).
const CONTEXT_DIRS: (u8, u8) = (0, 1);

/// The most extra setup calls (any operation of the swarm) after the layout.
pub const MAX_SETUP_EXTRA: usize = 2;

/// The fewest operations in a scenario's swarm (when the table has that many).
pub const MIN_SWARM: usize = 3;

/// The most operations of a small swarm: half the scenarios draw their swarm this small, so that
/// a few operations meet often (a race of three given calls is rare among all of them), the
/// other half from the whole table.
pub const SMALL_SWARM: usize = 6;

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
    /// The setup's layout: a directory (index into [`LAYOUT_DIRS`]) and perhaps a device mounted
    /// on it.
    pub layout: Vec<(u8, Option<u8>)>,
    /// Which of the layout's paths (a bit per entry of the pool's near paths: each directory,
    /// then a file in each) the calls draw from: a swarm over paths, so that calls of different
    /// threads meet on one path more often (no bit of an existing entry set: all of them).
    pub focus: u8,
    /// The setup's context: when set, the layout mounts a device on `/a` and another on `/a/b`
    /// below it, and init ends the layout with `chroot /a/b` (after `chdir /a` when the byte's
    /// low bit is set, else its cwd stays `/`, outside its root), so every thread starts with its
    /// root inside a nested mount and reaches the mounts above it only from its cwd, as a
    /// container's or an initramfs's task does; the byte's next bits pick the two devices. Paths
    /// are then written as the tasks name them ([`pool::View::name`]).
    pub context: Option<u8>,
    /// Extra setup calls, run by init after the layout (and the context).
    pub setup: Vec<AbstractCall>,
    /// The threads' calls, and whether the thread ends with `exit` (a task's last act, the
    /// moment its namespace and files are given back, races the others' calls).
    pub threads: Vec<(Vec<AbstractCall>, bool)>,
    /// The most of its drawn calls each thread keeps (1 to `--ops`): a swarm over sizes, so that
    /// many scenarios are small enough for loom to search whole ([`super::LOOM_SMALL_CALLS`])
    /// while others keep long threads. Shrinks toward 1.
    pub thread_len: usize,
    /// The threads keep the linearizability check on: a call that would turn it off (an
    /// operation the kernel does not make atomic, or one whose intermediate steps a call of
    /// another thread can see) is dropped, so that a wrong result, which only that check sees,
    /// can be seen (half the scenarios; drawn, not shrunk).
    pub checked: bool,
}

fn call() -> impl Strategy<Value = AbstractCall> {
    (any::<Index>(), any::<[u8; ARGS]>()).prop_map(|(op, args)| AbstractCall { op, args })
}

/// The strategy of [`Case`]s under `cfg`, drawing from every operation of [`OPERATIONS`].
pub fn case_strategy(cfg: GenConfig) -> BoxedStrategy<Case> {
    let all: Vec<OpKind> = OPERATIONS.iter().map(|s| s.kind).collect();
    let n = all.len();
    let least = MIN_SWARM.min(n);
    (
        prop_oneof![
            subsequence(all.clone(), least..=SMALL_SWARM.clamp(least, n)),
            subsequence(all, least..=n),
        ]
        .no_shrink(),
        vec(
            (
                any::<u8>(),
                option::weighted(LAYOUT_MOUNT_ODDS, any::<u8>()),
            ),
            0..=MAX_LAYOUT,
        ),
        any::<u8>(),
        option::weighted(CONTEXT_ODDS, any::<u8>()),
        vec(call(), 0..=MAX_SETUP_EXTRA),
        vec(
            (vec(call(), 1..=cfg.max_ops), any::<bool>()),
            2..=cfg.max_threads,
        ),
        any::<bool>().no_shrink(),
        1..=cfg.max_ops,
    )
        .prop_map(
            |(swarm, layout, focus, context, setup, threads, checked, thread_len)| Case {
                swarm,
                layout,
                focus,
                context,
                setup,
                threads,
                checked,
                thread_len,
            },
        )
        .boxed()
}

/// What every call appended to a program must keep, besides the program's validity.
#[derive(Clone, Copy, Debug)]
struct Rules {
    /// The lock design the setup runs under (each setup call must return 0 in it).
    design: LockDesign,
    /// The threads keep the linearizability check on ([`Case::checked`]).
    keep_check: bool,
}

/// Append `call` to `list` (the setup when `setup`, else the last thread of `p`) if the program
/// stays valid (and, under `rules.keep_check`, checked for linearizability); return whether it
/// was kept.
fn push_valid(p: &mut Program, setup: bool, call: Call, rules: Rules) -> bool {
    list(p, setup).push(call);
    let ok = p.validate().is_ok()
        && if setup {
            run_setup(p, rules.design).is_ok()
        } else {
            !rules.keep_check || check_of(p) == Check::Linearizable
        };
    if !ok {
        list(p, setup).pop();
    }
    ok
}

/// The calls of init's setup when `setup`, else of the last thread of `p`.
fn list(p: &mut Program, setup: bool) -> &mut Vec<Call> {
    if setup {
        &mut p.setup
    } else {
        p.threads.last_mut().expect("a thread to append to")
    }
}

/// Parse `text` and append it as [`push_valid`] does.
fn push_text(p: &mut Program, setup: bool, text: &str, rules: Rules) -> bool {
    parse_call(text).is_ok_and(|c| push_valid(p, setup, c, rules))
}

/// Append the calls of one task (`setup`: init's, else the last thread of `p`), each given its
/// meaning under the calling rules of the operation table's `handle` column: a call that needs
/// a held handle and has none first gets one (the table's binding call of that class, with the
/// same argument bytes); an unlock with nothing locked is dropped; at the end (before an
/// `exit`) what the task still holds is given back: unlocks, then the releases a class requires
/// (and those the binding call asked for), the newest handle first.
fn add_calls(
    p: &mut Program,
    calls: &[AbstractCall],
    exits: bool,
    swarm: &[OpKind],
    pool: &Pool<'_>,
    setup: bool,
    rules: Rules,
) {
    let mut held = Handles::default();
    pool.start_task();
    // The task's calls that succeed run alone, in order: what a later call is run after when
    // its arguments are drawn ([`meaningful_text`]).
    let mut earlier: Vec<Call> = Vec::new();
    // A call's text, its path and device drawn to mean something in a thread (the setup's calls
    // must succeed anyway); appended when valid, and remembered when it succeeds alone.
    let add = |p: &mut Program,
               earlier: &mut Vec<Call>,
               spec: &OpSpec,
               args: &[u8; ARGS],
               handle: &str,
               binds: &str| {
        let (text, alone) = if setup {
            (text_of(spec, args, pool, handle, binds), false)
        } else {
            meaningful_text(spec, args, pool, handle, binds, p, earlier, rules.design)
        };
        let Ok(call) = parse_call(&text) else {
            return false;
        };
        let pushed = push_valid(p, setup, call.clone(), rules);
        if pushed && alone {
            earlier.push(call);
        }
        pushed
    };
    let bind = |p: &mut Program,
                earlier: &mut Vec<Call>,
                held: &mut Handles,
                spec: &OpSpec,
                args: &[u8; ARGS],
                class| {
        let name = format!("h{}", held.0.len());
        if add(p, earlier, spec, args, "", &name) {
            held.0.push(Held {
                name,
                class,
                locked: false,
                released: false,
                release_at_end: class.must_release() || args[ARGS - 1] & 0x80 != 0,
            });
            true
        } else {
            false
        }
    };
    let mut exited = false;
    for c in calls {
        let spec = c.op.get(swarm).spec();
        let b = c.args[0];
        // A use of a held handle (not a new one) of a class the task must give back.
        let on_held = !matches!(spec.handle, HandleUse::Binds(_))
            && spec.handle.class().is_some_and(HandleClass::must_release);
        if held.holds_must_release() && !on_held && spec.kind != OpKind::Exit {
            // While it holds a `get_super` (`s_umount` for read) a task works on that handle
            // only: any other call may put the last reference of a mount that another task
            // detached lazily, whose `kill_super` then waits for the `s_umount` this task
            // holds: its own deadlock, in the kernel too, where no holder of `s_umount` walks a
            // path or unmounts. (An `exit` ends the task: what it holds is given back first.)
            continue;
        }
        match spec.handle {
            HandleUse::None => {
                exited = add(p, &mut earlier, spec, &c.args, "", "") && spec.kind == OpKind::Exit;
            }
            HandleUse::Binds(class) => {
                bind(p, &mut earlier, &mut held, spec, &c.args, class);
            }
            HandleUse::Locks(class) if held.locks(class) => {
                // One lock of a class at a time: a second `lock_super` may name the super_block
                // the task already locked (two handles of one device), the caller's deadlock.
                continue;
            }
            what => {
                let i = match held.pick(what, b) {
                    Some(i) => i,
                    None if matches!(what, HandleUse::Unlocks(_)) => continue,
                    None => {
                        let class = what.class().expect("a handle operation has a class");
                        let binders: Vec<&OpSpec> = OPERATIONS
                            .iter()
                            .filter(|s| s.handle == HandleUse::Binds(class))
                            .collect();
                        let binder = binders[usize::from(c.args[ARGS - 1]) % binders.len()];
                        if !bind(p, &mut earlier, &mut held, binder, &c.args, class) {
                            continue;
                        }
                        held.0.len() - 1
                    }
                };
                let text = text_of(spec, &c.args, pool, &held.0[i].name, "");
                if push_text(p, setup, &text, rules) {
                    held.apply(i, what);
                }
            }
        }
        if exited {
            break;
        }
    }
    if exits && !exited && !setup {
        exited = push_text(p, setup, OpKind::Exit.spec().name, rules);
    }
    // What the task still holds is given back, before its exit.
    let exit = if exited { list(p, setup).pop() } else { None };
    for i in (0..held.0.len()).rev() {
        let h = held.0[i].clone();
        let mut give = |what: HandleUse| {
            if let Some(spec) = op_doing(what) {
                push_text(
                    p,
                    setup,
                    &text_of(spec, &[0; ARGS], pool, &h.name, ""),
                    rules,
                );
            }
        };
        if h.locked {
            give(HandleUse::Unlocks(h.class));
        }
        if !h.released && h.release_at_end {
            give(HandleUse::Releases(h.class));
        }
    }
    if let Some(e) = exit {
        list(p, setup).push(e);
    }
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
    let rules = Rules {
        design,
        keep_check: case.checked,
    };
    let mut dirs: Vec<&'static str> = Vec::new();
    let mut mounted: Vec<&'static str> = Vec::new();
    let mut mountpoints: Vec<&'static str> = Vec::new();
    let dir_of = |i: u8| LAYOUT_DIRS[usize::from(i) % LAYOUT_DIRS.len()];
    let mut layout: Vec<(&'static str, Option<u8>)> = case
        .layout
        .iter()
        .map(|&(path, dev)| (dir_of(path), dev))
        .collect();
    let (outer, inner) = (dir_of(CONTEXT_DIRS.0), dir_of(CONTEXT_DIRS.1));
    if let Some(c) = case.context {
        // The nested mounts the context's root sits in, instead of the layout's own entries
        // for those two directories.
        layout.retain(|(dir, _)| *dir != outer && *dir != inner);
        layout.push((outer, Some(c >> 1)));
        layout.push((inner, Some((c >> 1).wrapping_add(1))));
    }
    layout.sort_by_key(|(dir, _)| dir.matches('/').count());
    for (dir, dev) in layout {
        if push_text(&mut p, true, &format!("mkdir {dir}"), rules) && !dirs.contains(&dir) {
            dirs.push(dir);
        }
        if let Some(d) = dev {
            let dev = DEVICES[usize::from(d) % DEVICES.len()];
            if push_text(&mut p, true, &format!("mount {dev} {dir}"), rules) {
                if !mounted.contains(&dev) {
                    mounted.push(dev);
                }
                if !mountpoints.contains(&dir) {
                    mountpoints.push(dir);
                }
            }
        }
    }
    let pool = Pool::new(&dirs, &mountpoints, &mounted, case.focus);
    if let Some(c) = case.context {
        let cwd = if c & 1 == 1 && push_text(&mut p, true, &format!("chdir {outer}"), rules) {
            outer
        } else {
            "/"
        };
        if push_text(&mut p, true, &format!("chroot {inner}"), rules) {
            pool.set_view(View {
                root: inner.into(),
                cwd: cwd.into(),
            });
        }
    }
    add_calls(&mut p, &case.setup, false, &case.swarm, &pool, true, rules);
    for (t, exits) in &case.threads {
        p.threads.push(Vec::new());
        let t = &t[..t.len().min(case.thread_len.max(1))];
        add_calls(&mut p, t, *exits, &case.swarm, &pool, false, rules);
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
mod tests;
