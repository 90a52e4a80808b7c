//! Sequential traces for the conformance check: the bundled scenarios run one thread after
//! another, and random traces from a seeded generator over mount (tmpfs), bind mount, umount
//! (plain and lazy), mkdir, rmdir, open/close, stat, chdir, clone with a new namespace, and exit.
//!
//! Invariant: a trace only names handles its task bound earlier, never operates a task after its
//! `exit`, never exits init (task 0), and always mounts a device that was never mounted before in
//! the trace (the kernel side makes a fresh tmpfs for it), so every trace is meaningful on both
//! sides.

use mountcheck_model::{Op, Program};
use mountcheck_model::task::UmountFlags;

/// A sequential trace: operations, each run by one task.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Where it came from (`scenario NAME` or `random #N (seed S)`).
    pub name: String,
    /// Number of tasks, init included.
    pub tasks: usize,
    /// Tasks 1.. are forked from init after this many steps.
    pub fork_after: usize,
    /// (task, operation).
    pub steps: Vec<(usize, Op)>,
}

/// The sequential trace of a scenario: setup as init, then each thread's operations in order.
pub fn from_program(name: &str, p: &Program) -> Trace {
    let mut steps: Vec<(usize, Op)> = p.setup.iter().map(|o| (0, o.clone())).collect();
    let fork_after = steps.len();
    for (i, ops) in p.threads.iter().enumerate() {
        steps.extend(ops.iter().map(|o| (i + 1, o.clone())));
    }
    Trace { name: format!("scenario {name}"), tasks: p.threads.len() + 1, fork_after, steps }
}

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
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
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const PATHS: &[&str] = &["/a", "/b", "/a/c", "/b/d", "/a/c/e", "/b/d/f"];

/// Mostly `path`; now and then the task's own root.
fn umount_path(r: &mut Rng, path: String) -> String {
    if r.below(12) == 0 {
        "/".into()
    } else {
        path
    }
}

/// Random trace number `n` of the run seeded `seed`, with up to `max_ops` operations over three
/// tasks (init and two forks).
pub fn random(seed: u64, n: usize, max_ops: usize) -> Trace {
    let mut r = Rng::new(seed ^ ((n as u64 + 1) << 20));
    let tasks = 3;
    let len = 1 + r.below(max_ops.max(1));
    let mut alive = [true; 3];
    let mut handles: Vec<Vec<String>> = vec![Vec::new(); tasks];
    let mut next_dev = 0;
    let mut next_handle = 0;
    let mut steps = Vec::new();
    // Most traces start by making the directories, so later operations have something to use.
    for p in ["/a", "/b"] {
        if r.below(4) != 0 {
            steps.push((0, Op::Mkdir { path: p.into() }));
        }
    }
    while steps.len() < len {
        let live: Vec<usize> = (0..tasks).filter(|t| alive[*t]).collect();
        let t = *r.pick(&live);
        let path = r.pick(PATHS).to_string();
        let op = match r.below(20) {
            0..=3 => Op::Mkdir { path },
            4..=6 => {
                next_dev += 1;
                Op::Mount { dev: format!("ram{next_dev}"), path }
            }
            7 => Op::Bind { src: r.pick(PATHS).to_string(), dst: path },
            8..=9 => Op::Umount { path: umount_path(&mut r, path), flags: UmountFlags::default() },
            10..=11 => Op::Umount { path: umount_path(&mut r, path), flags: UmountFlags { detach: true, force: false } },
            12 => Op::Rmdir { path },
            13 => {
                next_handle += 1;
                let h = format!("f{next_handle}");
                handles[t].push(h.clone());
                Op::Open { path: format!("{path}/x"), handle: h }
            }
            14 => match handles[t].pop() {
                Some(handle) => Op::Close { handle },
                None => Op::Stat { path },
            },
            15 => Op::Stat { path },
            16 => Op::Chdir { path },
            17 => {
                if r.below(3) == 0 {
                    Op::Chroot { path }
                } else {
                    Op::Chdir { path: "/".into() }
                }
            }
            18 => Op::CloneNewns { fail: false },
            _ => {
                if t == 0 {
                    Op::Stat { path }
                } else {
                    alive[t] = false;
                    Op::Exit
                }
            }
        };
        steps.push((t, op));
    }
    Trace { name: format!("random #{n} (seed {seed})"), tasks, fork_after: 0, steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_traces_are_reproducible_and_well_formed() {
        for n in 0..200 {
            let a = random(5, n, 20);
            let b = random(5, n, 20);
            assert_eq!(format!("{:?}", a.steps), format!("{:?}", b.steps));
            assert!(a.steps.len() <= 21);
            let mut exited = [false; 3];
            for (t, op) in &a.steps {
                assert!(!exited[*t], "operation after exit in {}", a.name);
                if *op == Op::Exit {
                    assert_ne!(*t, 0);
                    exited[*t] = true;
                }
            }
        }
        assert_ne!(format!("{:?}", random(5, 1, 20).steps), format!("{:?}", random(6, 1, 20).steps));
    }
}
