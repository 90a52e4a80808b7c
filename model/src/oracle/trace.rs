//! The steps of one execution, recorded compactly and rendered only when someone reads them.
//!
//! What it models: nothing of the kernel; it is the oracle's tape. Every event the ledger
//! records (an allocation, a reference taken or dropped, a lock taken or released, a model note,
//! an operation's result, the failing access) is pushed as a small typed [`Ev`]: object ids,
//! counter kinds, values, and interned strings for the few texts that vary (reference holders'
//! tags, operation texts), with no formatting. Most executions never fail, so the text a report
//! shows (a [`Step`] per event, with the locks the thread held and the counts it changed) is
//! made by [`render`] from the tape, and an object's history is derived from it too.
//!
//! Invariant: rendering is a pure function of the tape, so two tapes that are equal render
//! byte-identical traces; the locks shown on a step are exactly those the thread's own acquire
//! and release events leave it holding at that point.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::lockdep::{label as lock_label, LockId, LockMode};
use super::{Counter, FindingClass, Oid, S_BIAS};

/// A note the model makes in the trace: a kernel step that takes no reference and no lock but
/// that a reader of the interleaving needs to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// `follow_down`: the walk moves from one mount onto the one mounted on it.
    FollowDown {
        /// The mount the walk leaves.
        from: Oid,
        /// The mount it enters.
        to: Oid,
    },
    /// `legitimize_mnt` kept the pin it took on the mount.
    LegitimizeKept(Oid),
    /// `legitimize_mnt` found the mount being unmounted: the pin is dropped and the lookup retried.
    LegitimizeRetry(Oid),
    /// `umount_tree` detached the mount.
    UmountTreeDetach(Oid),
    /// `do_umount` read the busy count of the mount.
    UmountBusyCount {
        /// The mount.
        mnt: Oid,
        /// The `mnt_count` it read.
        count: isize,
    },
    /// An expiry unmounts the mount, which only the expiry's own reference holds besides its
    /// attachment.
    Expire(Oid),
    /// `->umount_begin` (`MNT_FORCE`).
    UmountBegin(Oid),
    /// `do_remount_sb(sb, MS_RDONLY)`: a plain umount of the caller's root.
    RemountReadOnly(Oid),
    /// `->statfs` of a super_block.
    Statfs(Oid),
    /// `->write_super` of a super_block (the `sync` walk).
    WriteSuper(Oid),
    /// "VFS: Busy inodes after unmount": dentry references left when `kill_super` finished.
    BusyInodes {
        /// The super_block.
        sb: Oid,
        /// Dentry references left.
        count: isize,
    },
    /// A fixed text (rare steps: an injected failure, the main thread joining the threads).
    Text(&'static str),
}

impl Note {
    fn action(&self) -> (String, String) {
        match self {
            Note::FollowDown { from, to } => (
                format!("follow_down mnt#{} -> mnt#{}", from.0, to.0),
                String::new(),
            ),
            Note::LegitimizeKept(m) => {
                (format!("legitimize_mnt(mnt#{}): kept", m.0), String::new())
            }
            Note::LegitimizeRetry(m) => (
                format!("legitimize_mnt(mnt#{}): being unmounted, retry", m.0),
                String::new(),
            ),
            Note::UmountTreeDetach(m) => {
                (format!("umount_tree: detach mnt#{}", m.0), String::new())
            }
            Note::UmountBusyCount { mnt, count } => (
                format!("do_umount: read mnt#{}.mnt_count", mnt.0),
                format!("mnt_count {count}"),
            ),
            Note::Expire(m) => (
                format!("expire mnt#{} (held only by the expiry)", m.0),
                "mnt_count 2".into(),
            ),
            Note::UmountBegin(sb) => (format!("sb#{}->s_op->umount_begin", sb.0), String::new()),
            Note::RemountReadOnly(sb) => (
                format!("do_remount_sb(sb#{}, MS_RDONLY)", sb.0),
                String::new(),
            ),
            Note::Statfs(sb) => (format!("sb#{}->s_op->statfs", sb.0), String::new()),
            Note::WriteSuper(sb) => (format!("sb#{}->s_op->write_super", sb.0), String::new()),
            Note::BusyInodes { sb, count } => (
                format!("VFS: Busy inodes after unmount of sb#{}", sb.0),
                format!("dentry refs {count}"),
            ),
            Note::Text(t) => ((*t).to_string(), String::new()),
        }
    }
}

/// How a lock is taken, for the verb a step shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `spin_lock` / `spin_unlock`.
    Spin,
    /// `read_lock` / `write_lock` of a reader-writer spinlock.
    RwLock,
    /// `down_read` / `down_write` / `down`.
    Semaphore,
    /// `lock_super` / `unlock_super`.
    LockSuper,
    /// `rcu_read_lock()` / `rcu_read_unlock()`.
    Rcu,
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// An object was allocated.
    Alloc(Oid),
    /// A reference was taken: `counter` of `oid` is now `now`, held by `tag` with `weight`.
    Get {
        /// Object.
        oid: Oid,
        /// Count.
        counter: Counter,
        /// Holder.
        tag: Arc<str>,
        /// Weight.
        weight: isize,
        /// Value after.
        now: isize,
    },
    /// A reference was dropped.
    Put {
        /// Object.
        oid: Oid,
        /// Count.
        counter: Counter,
        /// Holder.
        tag: Arc<str>,
        /// Weight.
        weight: isize,
        /// Value after.
        now: isize,
    },
    /// A reference changed holder without changing the count.
    Transfer {
        /// Object.
        oid: Oid,
        /// Count.
        counter: Counter,
        /// Old holder.
        from: Arc<str>,
        /// New holder.
        to: Arc<str>,
    },
    /// A super_block's filesystem was shut down.
    ShutDown(Oid),
    /// An object was freed.
    Free(Oid),
    /// A lock was taken.
    Acquire(LockId, LockMode, Verb),
    /// A lock was released.
    Release(LockId, LockMode, Verb),
    /// A model note.
    Note(Note),
    /// An operation returned (its text is the step's operation).
    Return(Arc<str>),
    /// A free-form step (`Ctx::step`).
    Text(Arc<str>, Arc<str>),
    /// The access that made the finding: what it did and what was wrong.
    Fail {
        /// The finding's class.
        class: FindingClass,
        /// What the failing access did, and to which object in which state.
        what: Arc<str>,
    },
}

impl Ev {
    /// The object the event is about, if any (for an object's history).
    pub fn object(&self) -> Option<Oid> {
        match self {
            Ev::Alloc(o) | Ev::ShutDown(o) | Ev::Free(o) => Some(*o),
            Ev::Get { oid, .. } | Ev::Put { oid, .. } | Ev::Transfer { oid, .. } => Some(*oid),
            _ => None,
        }
    }
}

/// One recorded step: which thread, during which operation, did what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Thread (0 = main).
    pub thread: usize,
    /// Index of the operation text in the ledger's table.
    pub op: u32,
    /// The event.
    pub ev: Ev,
}

/// One step of an execution as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Sequence number in the execution.
    pub seq: usize,
    /// Thread (0 is the main thread: setup and quiescence).
    pub thread: usize,
    /// Scenario operation being executed.
    pub op: String,
    /// What the step did, in kernel terms (`mntget mnt#3`, `down_write(sb#1.s_umount)`).
    pub action: String,
    /// Locks the thread held when the step ran (after it, for an acquisition).
    pub locks: Vec<String>,
    /// Counts read or changed.
    pub counts: String,
    /// The step that made the finding (always the last step of a failing execution's trace).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failing: bool,
}

/// A count as a reader thinks of it: `s_count` values near the list's bias as `S_BIAS + n`.
pub fn show_count(counter: Counter, v: isize) -> String {
    if counter == Counter::SCount && v >= S_BIAS / 2 {
        let d = v - S_BIAS;
        match d {
            0 => "S_BIAS".into(),
            d if d > 0 => format!("S_BIAS + {d}"),
            d => format!("S_BIAS - {}", -d),
        }
    } else {
        v.to_string()
    }
}

fn weight(counter: Counter, w: isize) -> String {
    if w == 1 {
        String::new()
    } else {
        format!(" {}", show_count(counter, w))
    }
}

/// The history text of an event on an object (`s_count 0 -> 1 (+ alloc_super)`), if it has one.
pub fn history_text(ev: &Ev) -> Option<String> {
    Some(match ev {
        Ev::Alloc(_) => "allocated".into(),
        Ev::Get {
            counter,
            tag,
            weight: w,
            now,
            ..
        } => format!(
            "{} {} -> {} (+{} {tag})",
            counter.name(),
            show_count(*counter, now - w),
            show_count(*counter, *now),
            weight(*counter, *w)
        ),
        Ev::Put {
            counter,
            tag,
            weight: w,
            now,
            ..
        } => format!(
            "{} {} -> {} (-{} {tag})",
            counter.name(),
            show_count(*counter, now + w),
            show_count(*counter, *now),
            weight(*counter, *w)
        ),
        Ev::Transfer {
            counter, from, to, ..
        } => format!("{} reference handed from {from} to {to}", counter.name()),
        Ev::ShutDown(_) => "filesystem shut down".into(),
        Ev::Free(_) => "freed".into(),
        _ => return None,
    })
}

fn verb(v: Verb, mode: LockMode, acquire: bool) -> &'static str {
    match (v, mode, acquire) {
        (Verb::Spin, _, true) => "spin_lock",
        (Verb::Spin, _, false) => "spin_unlock",
        (Verb::RwLock, LockMode::Shared, true) => "read_lock",
        (Verb::RwLock, LockMode::Shared, false) => "read_unlock",
        (Verb::RwLock, LockMode::Exclusive, true) => "write_lock",
        (Verb::RwLock, LockMode::Exclusive, false) => "write_unlock",
        (Verb::Semaphore, LockMode::Shared, true) => "down_read",
        (Verb::Semaphore, LockMode::Shared, false) => "up_read",
        (Verb::Semaphore, LockMode::Exclusive, true) => "down_write",
        (Verb::Semaphore, LockMode::Exclusive, false) => "up_write",
        (Verb::LockSuper, _, true) => "lock_super",
        (Verb::LockSuper, _, false) => "unlock_super",
        (Verb::Rcu, _, true) => "rcu_read_lock",
        (Verb::Rcu, _, false) => "rcu_read_unlock",
    }
}

/// Render the tape as steps. `ops` are the interned operation texts; `labels[i]` are object
/// `i + 1`'s labels, each with the step from which it held, oldest first.
pub fn render(recs: &[Rec], ops: &[Arc<str>], labels: &[Vec<(usize, Arc<str>)>]) -> Vec<Step> {
    let mut held: Vec<Vec<(LockId, LockMode)>> = Vec::new();
    let mut out = Vec::with_capacity(recs.len());
    for (seq, r) in recs.iter().enumerate() {
        if held.len() <= r.thread {
            held.resize(r.thread + 1, Vec::new());
        }
        let lab = |o: &Oid| {
            labels
                .get((o.0 as usize).wrapping_sub(1))
                .and_then(|ls| ls.iter().rev().find(|(from, _)| *from <= seq))
                .map_or_else(|| format!("#{}", o.0), |(_, l)| l.to_string())
        };
        let mut failing = false;
        let (action, counts) = match &r.ev {
            Ev::Alloc(o) => (format!("alloc {}", lab(o)), String::new()),
            Ev::Get { oid, counter, .. } => (
                format!("get {}.{}", lab(oid), counter.name()),
                history_text(&r.ev).unwrap_or_default(),
            ),
            Ev::Put { oid, counter, .. } => (
                format!("put {}.{}", lab(oid), counter.name()),
                history_text(&r.ev).unwrap_or_default(),
            ),
            Ev::Transfer {
                oid,
                counter,
                from,
                to,
            } => (
                format!("hand over {}.{}", lab(oid), counter.name()),
                format!("{from} -> {to}"),
            ),
            Ev::ShutDown(o) => (format!("shut down {}", lab(o)), String::new()),
            Ev::Free(o) => (format!("free {}", lab(o)), String::new()),
            Ev::Acquire(id, mode, v) => {
                held[r.thread].push((*id, *mode));
                let a = match v {
                    Verb::Rcu => "rcu_read_lock()".to_string(),
                    Verb::LockSuper => format!("lock_super(sb#{})", id.obj.map_or(0, |o| o.0)),
                    _ => format!("{}({id})", verb(*v, *mode, true)),
                };
                (a, String::new())
            }
            Ev::Release(id, mode, v) => {
                let h = &mut held[r.thread];
                if let Some(i) = h.iter().rposition(|(l, m)| l == id && m == mode) {
                    h.remove(i);
                }
                let a = match v {
                    Verb::Rcu => "rcu_read_unlock()".to_string(),
                    Verb::LockSuper => {
                        format!("unlock_super(sb#{})", id.obj.map_or(0, |o| o.0))
                    }
                    _ => format!("{}({id})", verb(*v, *mode, false)),
                };
                (a, String::new())
            }
            Ev::Note(n) => n.action(),
            Ev::Return(text) => (text.to_string(), String::new()),
            Ev::Text(a, c) => (a.to_string(), c.to_string()),
            Ev::Fail { class, what } => {
                failing = true;
                let mut a = String::new();
                let _ = write!(a, "FAILS ({class}): {what}");
                (a, String::new())
            }
        };
        out.push(Step {
            seq,
            thread: r.thread,
            op: ops
                .get(r.op as usize)
                .map_or_else(String::new, |s| s.to_string()),
            action,
            locks: held[r.thread]
                .iter()
                .map(|(id, mode)| lock_label(*id, *mode))
                .collect(),
            counts,
            failing,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_near_the_bias_are_shown_symbolically() {
        assert_eq!(show_count(Counter::SCount, S_BIAS), "S_BIAS");
        assert_eq!(show_count(Counter::SCount, S_BIAS + 1), "S_BIAS + 1");
        assert_eq!(show_count(Counter::SCount, S_BIAS - 1), "S_BIAS - 1");
        assert_eq!(show_count(Counter::SCount, 1), "1");
        assert_eq!(show_count(Counter::MntCount, S_BIAS), S_BIAS.to_string());
    }

    #[test]
    fn history_texts() {
        let tag: Arc<str> = Arc::from("super_blocks list");
        let ev = Ev::Get {
            oid: Oid(1),
            counter: Counter::SCount,
            tag: tag.clone(),
            weight: S_BIAS,
            now: S_BIAS + 1,
        };
        assert_eq!(
            history_text(&ev).unwrap(),
            "s_count 1 -> S_BIAS + 1 (+ S_BIAS super_blocks list)"
        );
        let ev = Ev::Put {
            oid: Oid(1),
            counter: Counter::MntCount,
            tag,
            weight: 1,
            now: 0,
        };
        assert_eq!(
            history_text(&ev).unwrap(),
            "mnt_count 1 -> 0 (- super_blocks list)"
        );
    }

    #[test]
    fn locks_shown_are_those_the_thread_holds() {
        let id = LockId::global(super::super::lockdep::LockClass::SbLock);
        let recs = vec![
            Rec {
                thread: 1,
                op: 0,
                ev: Ev::Acquire(id, LockMode::Exclusive, Verb::Spin),
            },
            Rec {
                thread: 2,
                op: 0,
                ev: Ev::Note(Note::Text("other thread")),
            },
            Rec {
                thread: 1,
                op: 0,
                ev: Ev::Release(id, LockMode::Exclusive, Verb::Spin),
            },
        ];
        let steps = render(&recs, &[Arc::from("sync")], &[]);
        assert_eq!(steps[0].action, "spin_lock(sb_lock)");
        assert_eq!(steps[0].locks, vec!["sb_lock".to_string()]);
        assert!(steps[1].locks.is_empty());
        assert_eq!(steps[2].action, "spin_unlock(sb_lock)");
        assert!(steps[2].locks.is_empty());
        assert_eq!(steps[2].op, "sync");
    }
}
