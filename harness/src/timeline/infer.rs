//! What the trace's text says, read back: lock operations, operation results, object mentions,
//! lock hold intervals, count values, and why the scheduler switched threads.
//!
//! What it models: nothing of the kernel; it reads the text the oracle renders
//! (`mountcheck_model::oracle::trace::render`, `mountcheck_model::program::apply`) the way a
//! reader of the interleaving does. Every parser here accepts text it does not recognise and
//! answers "not that kind of step", so a trace written by a newer model still renders.
//!
//! Invariant: every function is a pure function of the steps it is given.

use std::collections::BTreeMap;

use mountcheck_model::oracle::{Counter, Step, S_BIAS};

/// The verbs that take a lock, with whether they may share it with other holders.
/// `spin_lock` is exclusive whatever mode the step's label shows: in the designs where the
/// shared side of a lock is a mutex the label records the caller's intent, not the sharing.
const ACQUIRE: [(&str, Share); 8] = [
    ("down_read(", Share::Shared),
    ("down_write(", Share::Exclusive),
    ("spin_lock(", Share::Exclusive),
    ("read_lock(", Share::Shared),
    ("write_lock(", Share::Exclusive),
    ("lock_super(", Share::Exclusive),
    ("down(", Share::Exclusive),
    ("rcu_read_lock(", Share::Never),
];

/// The verbs that release a lock.
const RELEASE: [&str; 8] = [
    "up_read(",
    "up_write(",
    "spin_unlock(",
    "read_unlock(",
    "write_unlock(",
    "unlock_super(",
    "up(",
    "rcu_read_unlock(",
];

/// How an acquisition shares its lock with other holders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    /// Readers share the lock with readers.
    Shared,
    /// Nobody else may hold the lock.
    Exclusive,
    /// Never waits (an RCU read section).
    Never,
}

/// A lock operation read from a step's action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockOp {
    /// Acquisition (`true`) or release.
    pub acquire: bool,
    /// The lock, as the `locks` field names it without its mode (`sb#4.s_umount`, `sb_lock`).
    pub lock: String,
    /// How an acquisition shares the lock.
    pub share: Share,
}

/// The lock operation a step's action text is, if any.
pub fn lock_op(action: &str) -> Option<LockOp> {
    let arg = |prefix: &str| -> Option<String> {
        let rest = action.strip_prefix(prefix)?.strip_suffix(')')?;
        Some(match prefix {
            "lock_super(" | "unlock_super(" => format!("{rest}.s_lock"),
            "rcu_read_lock(" | "rcu_read_unlock(" => "rcu_read_lock".to_string(),
            _ => rest.to_string(),
        })
    };
    for (prefix, share) in ACQUIRE {
        if let Some(lock) = arg(prefix) {
            return Some(LockOp {
                acquire: true,
                lock,
                share,
            });
        }
    }
    for prefix in RELEASE {
        if let Some(lock) = arg(prefix) {
            return Some(LockOp {
                acquire: false,
                lock,
                share: Share::Never,
            });
        }
    }
    None
}

/// A held-lock label without its mode: `sb#4.s_umount(r)` is `sb#4.s_umount`.
pub fn lock_base(label: &str) -> &str {
    label
        .strip_suffix("(r)")
        .or_else(|| label.strip_suffix("(w)"))
        .unwrap_or(label)
}

/// Whether a held-lock label is held shared (`(r)`).
fn held_shared(label: &str) -> bool {
    label.ends_with("(r)")
}

/// The result an operation's return step shows (`mkdir /mnt = 0` is `0`): everything after the
/// last ` = `, when the action is the step's operation text followed by ` = `.
pub fn result_of(step: &Step) -> Option<&str> {
    if step.op.is_empty() {
        return None;
    }
    let rest = step.action.strip_prefix(step.op.as_str())?;
    if !rest.starts_with(" = ") {
        return None;
    }
    step.action.rsplit_once(" = ").map(|(_, r)| r)
}

/// Whether `text` names the object `token` (`sb#4`), not a longer id (`sb#41`, `xsb#4`).
pub fn mentions(text: &str, token: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(token) {
        let start = from + pos;
        let end = start + token.len();
        let before_ok = start == 0 || !is_id_char(bytes[start - 1]);
        let after_ok = end >= bytes.len() || !bytes[end].is_ascii_digit();
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'#'
}

/// The object ids (`sb#4`, `mnt#5`, `ns#2`) a text names, in order of first mention.
pub fn object_tokens(text: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for kind in ["sb#", "mnt#", "ns#"] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(kind) {
            let start = from + pos;
            let digits: String = text[start + kind.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let before_ok = start == 0 || !is_id_char(text.as_bytes()[start - 1]);
            if before_ok && !digits.is_empty() {
                found.push((start, format!("{kind}{digits}")));
            }
            from = start + kind.len();
        }
    }
    found.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, t) in found {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// One interval during which a thread held a lock: from the step that shows it held to the step
/// that shows it gone (`None`: still held when the trace ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHold {
    /// Thread.
    pub thread: usize,
    /// The lock with its mode, as the `locks` field shows it (`sb#4.s_umount(w)`).
    pub lock: String,
    /// Index of the step from which it is held (the acquisition).
    pub from: usize,
    /// Index of the step that released it.
    pub to: Option<usize>,
}

/// Every lock hold interval of the trace, per thread, read from the `locks` field of each step
/// (what the thread holds after the step): a label that appears opens an interval, one that
/// disappears closes it. Ordered by thread, then by start.
pub fn lock_holds(trace: &[Step]) -> Vec<LockHold> {
    let mut open: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    let mut prev: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, s) in trace.iter().enumerate() {
        let before = prev.remove(&s.thread).unwrap_or_default();
        let mut gone = before.clone();
        for l in &s.locks {
            if let Some(p) = gone.iter().position(|g| g == l) {
                gone.remove(p);
            } else {
                open.entry((s.thread, l.clone())).or_default().push(i);
            }
        }
        for l in gone {
            if let Some(from) = open.get_mut(&(s.thread, l.clone())).and_then(|v| v.pop()) {
                out.push(LockHold {
                    thread: s.thread,
                    lock: l,
                    from,
                    to: Some(i),
                });
            }
        }
        prev.insert(s.thread, s.locks.clone());
    }
    for ((thread, lock), froms) in open {
        for from in froms {
            out.push(LockHold {
                thread,
                lock: lock.clone(),
                from,
                to: None,
            });
        }
    }
    out.sort_by(|a, b| (a.thread, a.from, &a.lock).cmp(&(b.thread, b.from, &b.lock)));
    out
}

/// The locks each thread holds after step `i` (the `locks` of its latest step at or before `i`).
pub fn held_at(trace: &[Step], i: usize) -> BTreeMap<usize, &[String]> {
    let mut held: BTreeMap<usize, &[String]> = BTreeMap::new();
    for s in &trace[..=i.min(trace.len().saturating_sub(1))] {
        held.insert(s.thread, &s.locks);
    }
    held
}

/// Whether a thread whose next step is the acquisition `op` had to wait, after step `i`, for a
/// lock another thread held then: the holder, if so.
pub fn blocked_by(trace: &[Step], i: usize, thread: usize, op: &LockOp) -> Option<usize> {
    if !op.acquire || op.share == Share::Never {
        return None;
    }
    // A lock that anyone takes with `spin_lock` is a mutex whatever its label says.
    let spin = trace.iter().any(|s| {
        s.action.starts_with("spin_lock(") && lock_op(&s.action).is_some_and(|o| o.lock == op.lock)
    });
    held_at(trace, i)
        .into_iter()
        .filter(|(t, _)| *t != thread)
        .find_map(|(t, locks)| {
            let conflict = locks.iter().any(|l| {
                lock_base(l) == op.lock && (spin || op.share == Share::Exclusive || !held_shared(l))
            });
            conflict.then_some(t)
        })
}

/// A count value as the trace shows it (`3`, `S_BIAS`, `S_BIAS + 1`), as a number.
pub fn count_value(text: &str) -> Option<i64> {
    let t = text.trim();
    let bias = S_BIAS as i64;
    if t == "S_BIAS" {
        return Some(bias);
    }
    if let Some(n) = t.strip_prefix("S_BIAS + ") {
        return n.trim().parse::<i64>().ok().map(|n| bias + n);
    }
    if let Some(n) = t.strip_prefix("S_BIAS - ") {
        return n.trim().parse::<i64>().ok().map(|n| bias - n);
    }
    t.parse().ok()
}

/// One change of a count read from a get/put step: `s_count S_BIAS -> S_BIAS + 1 (+ kill_super)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountChange {
    /// The kernel's field name (`s_count`).
    pub counter: &'static str,
    /// Value before, as shown.
    pub before: String,
    /// Value after, as shown.
    pub after: String,
    /// Value after, as a number (for ordering; `S_BIAS` is 2^30).
    pub value: i64,
    /// Value before, as a number.
    pub value_before: i64,
    /// Who took or dropped it (`(+ kill_super)`), possibly empty.
    pub what: String,
}

/// The count change a step's `counts` text shows, if it shows one.
pub fn count_change(counts: &str) -> Option<CountChange> {
    let mut names: Vec<&'static str> = Counter::ALL.iter().map(|c| c.name()).collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let counter = names
        .into_iter()
        .find(|n| counts.starts_with(n) && counts[n.len()..].starts_with(' '))?;
    let rest = &counts[counter.len() + 1..];
    let (before, rest) = rest.split_once(" -> ")?;
    let (after, what) = match rest.find(" (") {
        Some(p) => (&rest[..p], rest[p + 1..].to_string()),
        None => (rest, String::new()),
    };
    Some(CountChange {
        counter,
        before: before.to_string(),
        after: after.to_string(),
        value: count_value(after)?,
        value_before: count_value(before)?,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(thread: usize, op: &str, action: &str, locks: &[&str]) -> Step {
        Step {
            seq: 0,
            thread,
            op: op.into(),
            action: action.into(),
            locks: locks.iter().map(|s| s.to_string()).collect(),
            counts: String::new(),
            failing: false,
        }
    }

    #[test]
    fn lock_operations_are_read_from_the_action() {
        let op = lock_op("down_read(sb#4.s_umount)").unwrap();
        assert!(op.acquire);
        assert_eq!(op.lock, "sb#4.s_umount");
        assert_eq!(op.share, Share::Shared);
        assert_eq!(lock_op("lock_super(sb#4)").unwrap().lock, "sb#4.s_lock");
        assert!(!lock_op("unlock_super(sb#4)").unwrap().acquire);
        assert_eq!(lock_op("rcu_read_lock()").unwrap().share, Share::Never);
        assert_eq!(lock_op("spin_unlock(sb_lock)").unwrap().lock, "sb_lock");
        assert_eq!(lock_op("down(sb#1.i_sem)").unwrap().share, Share::Exclusive);
        assert!(lock_op("FAILS (use-after-free): down_read(s_umount) woke up").is_none());
        assert!(lock_op("get sb#4 (ram0).s_count").is_none());
    }

    #[test]
    fn results_are_what_follows_the_last_equals_sign() {
        let s = step(1, "umount /mnt", "umount /mnt = 0", &[]);
        assert_eq!(result_of(&s), Some("0"));
        let s = step(1, "umount /mnt", "umount /mnt = -EBUSY", &[]);
        assert_eq!(result_of(&s), Some("-EBUSY"));
        let s = step(
            1,
            "get_super ram0 as sb",
            "get_super ram0 as sb = NULL",
            &[],
        );
        assert_eq!(result_of(&s), Some("NULL"));
        let s = step(1, "umount /mnt", "umount /mnt = EBUSY", &[]);
        assert_eq!(result_of(&s), Some("EBUSY"));
        let s = step(1, "umount /mnt", "spin_lock(sb_lock)", &[]);
        assert_eq!(result_of(&s), None);
        let s = step(0, "", " = 0", &[]);
        assert_eq!(result_of(&s), None);
    }

    #[test]
    fn object_mentions_respect_id_boundaries() {
        assert!(mentions("get sb#4 (ram0).s_count", "sb#4"));
        assert!(!mentions("get sb#41 (ram0).s_count", "sb#4"));
        assert!(!mentions("get xsb#4", "sb#4"));
        assert!(mentions("sb#4.s_umount(r)", "sb#4"));
        assert!(mentions("follow_down mnt#2 -> mnt#5", "mnt#5"));
        assert_eq!(
            object_tokens("mnt_count of mnt#5 (ram0) held by sb#4 and mnt#5, ns#12"),
            vec!["mnt#5", "sb#4", "ns#12"]
        );
        assert!(object_tokens("nothing here #4").is_empty());
    }

    #[test]
    fn holds_open_and_close_with_the_locks_field() {
        let t = vec![
            step(1, "a", "spin_lock(sb_lock)", &["sb_lock"]),
            step(2, "b", "down_write(sb#4.s_umount)", &["sb#4.s_umount(w)"]),
            step(1, "a", "spin_unlock(sb_lock)", &[]),
            step(
                2,
                "b",
                "spin_lock(sb_lock)",
                &["sb#4.s_umount(w)", "sb_lock"],
            ),
        ];
        let h = lock_holds(&t);
        assert_eq!(
            h,
            vec![
                LockHold {
                    thread: 1,
                    lock: "sb_lock".into(),
                    from: 0,
                    to: Some(2)
                },
                LockHold {
                    thread: 2,
                    lock: "sb#4.s_umount(w)".into(),
                    from: 1,
                    to: None
                },
                LockHold {
                    thread: 2,
                    lock: "sb_lock".into(),
                    from: 3,
                    to: None
                },
            ]
        );
    }

    #[test]
    fn a_waiter_is_blocked_only_by_a_conflicting_holder() {
        let t = vec![
            step(2, "b", "down_read(sb#4.s_umount)", &["sb#4.s_umount(r)"]),
            step(1, "a", "down_read(sb#4.s_umount)", &["sb#4.s_umount(r)"]),
        ];
        let read = lock_op("down_read(sb#4.s_umount)").unwrap();
        let write = lock_op("down_write(sb#4.s_umount)").unwrap();
        assert_eq!(blocked_by(&t, 0, 1, &read), None, "readers share");
        assert_eq!(blocked_by(&t, 0, 1, &write), Some(2), "a writer waits");
        // A spin lock is a mutex whatever mode its label shows.
        let t = vec![
            step(2, "b", "spin_lock(sb_lock)", &["sb_lock(r)"]),
            step(1, "a", "spin_lock(sb_lock)", &["sb_lock(r)"]),
        ];
        let spin = lock_op("spin_lock(sb_lock)").unwrap();
        assert_eq!(blocked_by(&t, 0, 1, &spin), Some(2));
        let rcu = lock_op("rcu_read_lock()").unwrap();
        assert_eq!(blocked_by(&t, 0, 1, &rcu), None);
    }

    #[test]
    fn count_changes_keep_their_symbolic_labels() {
        let c = count_change("s_count S_BIAS -> S_BIAS + 1 (+ kill_super)").unwrap();
        assert_eq!(c.counter, "s_count");
        assert_eq!(c.before, "S_BIAS");
        assert_eq!(c.after, "S_BIAS + 1");
        assert_eq!(c.value, S_BIAS as i64 + 1);
        assert_eq!(c.what, "(+ kill_super)");
        let c = count_change("dentry refs 2 -> 1 (- mnt_root of mnt#5)").unwrap();
        assert_eq!((c.counter, c.value_before, c.value), ("dentry refs", 2, 1));
        let c = count_change("count 1 -> 0 (- task T1)").unwrap();
        assert_eq!(c.counter, "count");
        let c = count_change("mnt_count 0 -> -1").unwrap();
        assert_eq!((c.value, c.what.as_str()), (-1, ""));
        assert!(count_change("mnt_count 2").is_none());
        assert!(count_change("alloc -> attachment of mnt#2").is_none());
        assert_eq!(count_value("S_BIAS - 2"), Some(S_BIAS as i64 - 2));
    }
}
