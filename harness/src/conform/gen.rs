//! Sequential traces for `mountcheck conform`: the bundled scenarios run one thread after another
//! and each thread alone after the setup (with their result assertions), and random traces from a seeded generator over mount (a fresh tmpfs, or a device already
//! mounted), bind mount, umount (plain and lazy, now and then of the caller's root), mkdir, rmdir,
//! open/close, stat, chdir, chroot, pivot_root, clone with a new namespace (`clone -n`) and exit;
//! paths include `..` components (absolute and relative).
//!
//! Follows the scenario format's semantics (model/src/program.rs): the setup runs as init, then
//! each thread is a task forked from init, here run to its end before the next one starts. Random
//! traces fork their tasks from init after a random prefix of init's own operations, so what a
//! fork inherits (root, cwd, namespace) varies.
//!
//! Invariant: a trace only closes handles its task opened, never runs a task before its fork or
//! after its `exit`, and never exits init (task 0); the same (seed, index) always gives the same
//! trace (xorshift64*, no global state).

use mountcheck_model::task::UmountFlags;
use mountcheck_model::{Call, Op, Program};

/// A sequential trace: operations, each run by one task.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Where it came from (`scenario NAME` or `random #N (seed S)`).
    pub name: String,
    /// Number of tasks, init included.
    pub tasks: usize,
    /// Tasks 1.. are forked from init after this many steps (all run by init).
    pub fork_after: usize,
    /// (task, call): the operation and, from a scenario, the result it asserts.
    pub steps: Vec<(usize, Call)>,
}

impl Trace {
    /// The trace as text, one `T<k> op` per step, with the fork point marked.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        for (i, (t, op)) in self.steps.iter().enumerate() {
            if i == self.fork_after && self.tasks > 1 {
                parts.push(format!("fork T1..T{}", self.tasks - 1));
            }
            parts.push(format!("T{t} {}", op.op));
        }
        if self.fork_after >= self.steps.len() && self.tasks > 1 {
            parts.push(format!("fork T1..T{}", self.tasks - 1));
        }
        parts.join("; ")
    }
}

/// The sequential trace of a scenario: setup as init, then each thread's operations in order.
pub fn from_program(name: &str, p: &Program) -> Trace {
    let mut steps: Vec<(usize, Call)> = p.setup.iter().map(|o| (0, o.clone())).collect();
    let fork_after = steps.len();
    for (i, ops) in p.threads.iter().enumerate() {
        steps.extend(ops.iter().map(|o| (i + 1, o.clone())));
    }
    Trace {
        name: format!("scenario {name}"),
        tasks: p.threads.len() + 1,
        fork_after,
        steps,
    }
}

/// The single-thread run of thread `i` (0-based) of a scenario: the setup as init, then that
/// thread's operations alone (the others not started: every assertion must hold there too).
pub fn thread_alone(name: &str, p: &Program, i: usize) -> Trace {
    let mut steps: Vec<(usize, Call)> = p.setup.iter().map(|o| (0, o.clone())).collect();
    let fork_after = steps.len();
    steps.extend(p.threads[i].iter().map(|o| (1, o.clone())));
    Trace {
        name: format!("scenario {name}, T{} alone", i + 1),
        tasks: 2,
        fork_after,
        steps,
    }
}

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, n: usize) -> Self {
        // splitmix64 of (seed, n), so neighbouring seeds and indices give unrelated streams.
        let mut z = seed ^ (n as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Absolute paths the random traces use (a small tree, so operations meet each other).
const PATHS: &[&str] = &[
    "/a",
    "/b",
    "/a/c",
    "/b/d",
    "/a/c/e",
    "/b/d/f",
    "/a/c/..",
    "/b/d/../d",
    "/a/c/e/../..",
];
/// Relative paths (from the task's cwd), `..` among them (follow_dotdot climbs out of mounts).
const RELATIVE: &[&str] = &[".", "c", "d", "e", "..", "../c", "c/.."];

fn path(r: &mut Rng) -> String {
    if r.below(10) == 0 {
        r.pick(RELATIVE).to_string()
    } else {
        r.pick(PATHS).to_string()
    }
}

/// Mostly `p`; now and then the caller's root (which a plain umount remounts read-only).
fn umount_path(r: &mut Rng, p: String) -> String {
    if r.below(20) == 0 {
        "/".into()
    } else {
        p
    }
}

/// Random trace number `n` of the run seeded `seed`, with 1 to `max_ops` operations over three
/// tasks (init and two forks).
pub fn random(seed: u64, n: usize, max_ops: usize) -> Trace {
    let mut r = Rng::new(seed, n);
    let tasks = 3;
    let len = 1 + r.below(max_ops.max(1));
    let fork_after = r.below(len.min(4) + 1);
    let mut alive = [true; 3];
    let mut handles: Vec<Vec<String>> = vec![Vec::new(); tasks];
    let mut devs: Vec<String> = Vec::new();
    let mut next_handle = 0;
    let mut steps: Vec<(usize, Call)> = Vec::new();
    // Most traces start by making the top directories, so later operations have something to use.
    for p in ["/a", "/b"] {
        if steps.len() < len && r.below(4) != 0 {
            steps.push((0, Op::Mkdir { path: p.into() }.into()));
        }
    }
    while steps.len() < len {
        let t = if steps.len() < fork_after {
            0
        } else {
            let live: Vec<usize> = (0..tasks).filter(|t| alive[*t]).collect();
            *r.pick(&live)
        };
        let p = path(&mut r);
        let op = match r.below(26) {
            0..=4 => Op::Mkdir { path: p },
            5..=8 => {
                // Mostly a fresh device; now and then one mounted before (which, if its
                // super_block is still alive, the model shares: `grab_super`).
                let dev = if !devs.is_empty() && r.below(4) == 0 {
                    r.pick(&devs).clone()
                } else {
                    devs.push(format!("ram{}", devs.len()));
                    devs[devs.len() - 1].clone()
                };
                Op::Mount { dev, path: p }
            }
            9 => Op::Bind {
                src: path(&mut r),
                dst: p,
            },
            10..=11 => Op::Umount {
                path: umount_path(&mut r, p),
                flags: UmountFlags::default(),
            },
            12..=13 => Op::Umount {
                path: umount_path(&mut r, p),
                flags: UmountFlags {
                    detach: true,
                    force: false,
                },
            },
            14 => Op::Rmdir { path: p },
            15 => {
                next_handle += 1;
                let h = format!("f{next_handle}");
                handles[t].push(h.clone());
                Op::Open {
                    path: if p == "." {
                        "x".into()
                    } else {
                        format!("{p}/x")
                    },
                    handle: h,
                }
            }
            16 => match handles[t].pop() {
                Some(handle) => Op::Close { handle },
                None => Op::Stat { path: p },
            },
            17 => Op::Stat { path: p },
            18 => Op::Chdir { path: p },
            19 => Op::Chdir { path: "/".into() },
            20 => Op::Chroot { path: p },
            21 => Op::CloneNewns { fail: false },
            22 => {
                // put_old mostly at or under new_root, as pivot_root needs.
                let under: Vec<&str> = PATHS
                    .iter()
                    .copied()
                    .filter(|q| {
                        q.len() > p.len() && q.starts_with(&p) && q[p.len()..].starts_with('/')
                    })
                    .collect();
                let put_old = if !under.is_empty() && r.below(4) != 0 {
                    r.pick(&under).to_string()
                } else {
                    path(&mut r)
                };
                Op::PivotRoot {
                    new_root: p,
                    put_old,
                }
            }
            23 => Op::Chdir { path: "..".into() },
            _ => {
                if t == 0 {
                    Op::Stat { path: p }
                } else {
                    alive[t] = false;
                    Op::Exit
                }
            }
        };
        steps.push((t, op.into()));
    }
    Trace {
        name: format!("random #{n} (seed {seed})"),
        tasks,
        fork_after: fork_after.min(steps.len()),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_traces_are_reproducible_and_well_formed() {
        for n in 0..500 {
            let a = random(5, n, 20);
            let b = random(5, n, 20);
            assert_eq!(a.steps, b.steps);
            assert!(!a.steps.is_empty() && a.steps.len() <= 20, "{}", a.name);
            let mut exited = [false; 3];
            let mut open: Vec<Vec<String>> = vec![Vec::new(); 3];
            for (i, (t, call)) in a.steps.iter().enumerate() {
                let op = &call.op;
                assert!(!exited[*t], "operation after exit in {}", a.name);
                assert!(
                    *t == 0 || i >= a.fork_after,
                    "task {t} runs before its fork in {}",
                    a.name
                );
                match op {
                    Op::Exit => {
                        assert_ne!(*t, 0);
                        exited[*t] = true;
                    }
                    Op::Open { handle, .. } => open[*t].push(handle.clone()),
                    Op::Close { handle } => assert!(open[*t].contains(handle), "{}", a.name),
                    _ => {}
                }
            }
        }
        assert_ne!(random(5, 1, 20).steps, random(6, 1, 20).steps);
        assert_ne!(random(5, 1, 20).steps, random(5, 2, 20).steps);
    }

    #[test]
    fn scenario_traces_run_setup_then_threads() {
        let p = Program::from_ops(
            vec![Op::Mkdir {
                path: "/mnt".into(),
            }],
            vec![
                vec![Op::CloneNewns { fail: false }, Op::Exit],
                vec![Op::Stat {
                    path: "/mnt".into(),
                }],
            ],
            Default::default(),
        );
        let t = from_program("s", &p);
        assert_eq!(t.tasks, 3);
        assert_eq!(t.fork_after, 1);
        assert_eq!(
            t.steps.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0, 1, 1, 2]
        );
        assert_eq!(
            t.text(),
            "T0 mkdir /mnt; fork T1..T2; T1 clone -n; T1 exit; T2 stat /mnt"
        );
        let alone = thread_alone("s", &p, 1);
        assert_eq!(alone.text(), "T0 mkdir /mnt; fork T1..T1; T1 stat /mnt");
    }
}
