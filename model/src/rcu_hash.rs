//! A hash table that readers search with no lock: the read-mostly design's mount hash and
//! `super_blocks` index.
//!
//! What it models: the kernel's `mount_hashtable` of `struct hlist_head` chains walked under
//! `rcu_read_lock()` (fs/namespace.c `__lookup_mnt` with `hlist_for_each_entry_rcu`,
//! include/linux/rculist.h `hlist_add_tail_rcu` / `hlist_del_rcu`), plus the one thing the
//! kernel's fixed-size table does not need: growth, done the way `rhashtable` publishes a new
//! table (lib/rhashtable.c): a whole new bucket array, published with one release store.
//!
//! Shape: a table of buckets, each a singly linked chain of nodes; a node holds one (key, value)
//! and a `next` pointer. Writers are serialised by the caller (the [`RcuHashWriter`] is the only
//! writer and its methods take `&mut self`; the model keeps it under the tree lock or `sb_lock`).
//! A writer builds a node completely, then links it with a release store of the predecessor's
//! `next` (or of the bucket head): `rcu_assign_pointer`. It unlinks a node by storing the node's
//! successor into its predecessor, and retires the node through [`crate::sync::rcu`]
//! (`kfree_rcu`); growing copies every entry into a new table, publishes it, and retires the old
//! one whole. Readers ([`RcuHash::find_map`]) load the table, the bucket head and each `next`
//! with acquire loads inside a read section (`rcu_dereference`).
//!
//! Invariants: a node is fully written before any pointer to it is published; a node reachable
//! from a published pointer is never freed before every read section that could have loaded that
//! pointer has ended; chain order is insertion order, so a key's entries are found oldest first
//! (the list order `get_super`'s rescan depends on). Every pointer operation is a facade atomic and
//! every node's contents sit in the facade's `UnsafeCell`, so loom checks the publication order;
//! what loom cannot see unless built with `--cfg crossbeam_loom` is said in [`crate::sync::rcu`].

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::ptr;
use std::sync::Arc as StdArc;

use rustc_hash::FxBuildHasher;

use crate::sync::rcu::{self, ReadGuard, Reclaim};
use crate::sync::{AtomicPtr, Ordering, UnsafeCell};

/// Buckets of a new table (grown by doubling when the entries outnumber the buckets).
const INITIAL_BUCKETS: usize = 8;

struct Node<K, V> {
    /// The entry. Written once, before the node is published; read only after.
    entry: UnsafeCell<(K, V)>,
    /// The next node of the chain (null at the end). Stored by the writer with release.
    next: AtomicPtr<Node<K, V>>,
}

struct Table<K, V> {
    /// log2 of the number of buckets.
    bits: u32,
    /// The chain heads. Invariant: `buckets.len() == 1 << bits`.
    buckets: Box<[AtomicPtr<Node<K, V>>]>,
}

impl<K, V> Table<K, V> {
    fn new(bits: u32) -> Self {
        Table {
            bits,
            buckets: (0..1usize << bits)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
        }
    }

    #[inline]
    fn bucket(&self, hash: u64) -> &AtomicPtr<Node<K, V>> {
        // The high bits: FxHash mixes them best.
        &self.buckets[(hash >> (64 - self.bits)) as usize]
    }
}

impl<K, V> Drop for Table<K, V> {
    /// Frees the nodes still linked in this table. Runs when the table is retired (after a grace
    /// period, so no reader is inside) or when the whole hash is dropped.
    fn drop(&mut self) {
        for b in self.buckets.iter() {
            let mut p = b.load(Ordering::Acquire);
            while !p.is_null() {
                // SAFETY: nodes linked in a table belong to it alone (removal unlinks before it
                // retires a node; growth copies entries into new nodes), and a retired table is
                // dropped only after its grace period.
                let node = unsafe { Box::from_raw(p) };
                p = node.next.load(Ordering::Acquire);
            }
        }
    }
}

struct Shared<K, V> {
    /// The published table. Never null.
    table: AtomicPtr<Table<K, V>>,
    reclaim: Reclaim,
    hasher: FxBuildHasher,
}

impl<K, V> Drop for Shared<K, V> {
    fn drop(&mut self) {
        let t = self.table.load(Ordering::Acquire);
        // SAFETY: the last handle is gone, so no reader or writer remains; the table was made
        // by `Box::into_raw` and is owned by this pointer.
        drop(unsafe { Box::from_raw(t) });
    }
}

// SAFETY: the nodes and tables are reached only through the atomics above, following the
// publication protocol of the module documentation: entries are written before they are
// published and never written again, and freed only after a grace period.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for Shared<K, V> {}
// SAFETY: as for `Send`; readers only read entries through shared references.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for Shared<K, V> {}

/// A reader's handle of an RCU hash table (cheap to clone).
pub struct RcuHash<K, V> {
    shared: StdArc<Shared<K, V>>,
}

impl<K, V> Clone for RcuHash<K, V> {
    fn clone(&self) -> Self {
        RcuHash {
            shared: self.shared.clone(),
        }
    }
}

/// The one writer of an RCU hash table.
pub struct RcuHashWriter<K, V> {
    shared: StdArc<Shared<K, V>>,
    /// Entries linked in the published table.
    len: usize,
}

impl<K, V> std::fmt::Debug for RcuHashWriter<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RcuHashWriter")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A new, empty table: its writer and a reader handle.
pub fn rcu_hash<K, V>() -> (RcuHashWriter<K, V>, RcuHash<K, V>)
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let bits = INITIAL_BUCKETS.trailing_zeros();
    let shared = StdArc::new(Shared {
        table: AtomicPtr::new(Box::into_raw(Box::new(Table::new(bits)))),
        reclaim: Reclaim::new(),
        hasher: FxBuildHasher,
    });
    (
        RcuHashWriter {
            shared: shared.clone(),
            len: 0,
        },
        RcuHash { shared },
    )
}

impl<K, V> RcuHash<K, V>
where
    K: Hash + Eq,
{
    /// Walk the chain of `key` inside the read section `g`, oldest entry first, and return the
    /// first `Some` that `f` gives for an entry of `key` (`hlist_for_each_entry_rcu`).
    #[inline]
    pub fn find_map<Q, R>(
        &self,
        _g: &ReadGuard,
        key: &Q,
        mut f: impl FnMut(&V) -> Option<R>,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let s = &*self.shared;
        let hash = s.hasher.hash_one(key);
        // SAFETY: the table pointer is never null, and a table loaded inside a read section is
        // retired only after it ends (`_g` lives across every use below).
        let t = unsafe { &*s.table.load(Ordering::Acquire) };
        let mut p = t.bucket(hash).load(Ordering::Acquire);
        // SAFETY: as for the table: every node reachable from it stays allocated while `_g`
        // lives, and its entry was written before the release store that published it.
        while let Some(n) = unsafe { p.as_ref() } {
            let hit = n.entry.with(|e| {
                let (k, v) = unsafe { &*e };
                if k.borrow() == key {
                    f(v)
                } else {
                    None
                }
            });
            if hit.is_some() {
                return hit;
            }
            p = n.next.load(Ordering::Acquire);
        }
        None
    }
}

impl<K, V> RcuHashWriter<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The oldest value of `key`, searched by the writer itself (no read section needed: only
    /// this writer changes or frees entries, and `&self` keeps it from doing so meanwhile).
    pub fn first<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.shared.hasher.hash_one(key);
        let mut p = self.table().bucket(hash).load(Ordering::Relaxed);
        // SAFETY: linked nodes; only this writer unlinks or frees them, and it is borrowed here.
        while let Some(n) = unsafe { p.as_ref() } {
            let v = n.entry.with(|e| {
                let (k, v) = unsafe { &*e };
                (k.borrow() == key).then_some(v)
            });
            if v.is_some() {
                return v;
            }
            p = n.next.load(Ordering::Relaxed);
        }
        None
    }

    fn table(&self) -> &Table<K, V> {
        // SAFETY: only this writer replaces the table, and it is borrowed here.
        unsafe { &*self.shared.table.load(Ordering::Relaxed) }
    }

    /// Link `(key, value)` at the tail of its chain (`hlist_add_tail_rcu`), growing the table
    /// first if the entries would outnumber the buckets.
    pub fn insert(&mut self, key: K, value: V) {
        if self.len + 1 > self.table().buckets.len() {
            self.rehash(self.table().bits + 1);
        }
        let hash = self.shared.hasher.hash_one(&key);
        let node = Box::into_raw(Box::new(Node {
            entry: UnsafeCell::new((key, value)),
            next: AtomicPtr::new(ptr::null_mut()),
        }));
        let mut link = self.table().bucket(hash);
        loop {
            let p = link.load(Ordering::Relaxed);
            if p.is_null() {
                break;
            }
            // SAFETY: a linked node; only this writer unlinks or frees nodes.
            link = unsafe { &(*p).next };
        }
        // rcu_assign_pointer: the node is complete before it is reachable.
        link.store(node, Ordering::Release);
        self.len += 1;
    }

    /// Unlink the oldest entry of `key` whose value satisfies `pred` (`hlist_del_rcu`) and retire
    /// it; returns whether one was found.
    pub fn remove<Q>(&mut self, key: &Q, mut pred: impl FnMut(&V) -> bool) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.shared.hasher.hash_one(key);
        let mut link = self.table().bucket(hash);
        loop {
            let p = link.load(Ordering::Relaxed);
            // SAFETY: a linked node; only this writer unlinks or frees nodes.
            let Some(n) = (unsafe { p.as_ref() }) else {
                return false;
            };
            let hit = n.entry.with(|e| {
                let (k, v) = unsafe { &*e };
                k.borrow() == key && pred(v)
            });
            if hit {
                let next = n.next.load(Ordering::Relaxed);
                link.store(next, Ordering::Release);
                self.len -= 1;
                let g = rcu::read_lock();
                // SAFETY: unlinked just now, so no new reader can reach it; it was made by
                // `Box::into_raw`, and readers already on it finish before the grace period ends.
                self.shared
                    .reclaim
                    .defer_drop(&g, unsafe { Box::from_raw(p) });
                return true;
            }
            link = &n.next;
        }
    }

    /// Copy every entry into a new table of the same size, publish it and retire the old one:
    /// the nodes are then allocated together (for the benchmarks' farms).
    pub fn rebuild(&mut self) {
        self.rehash(self.table().bits);
    }

    /// Copy every entry, in chain order, into a new table of `1 << bits` buckets, publish it, and
    /// retire the old one with its nodes (growth doubles the buckets).
    fn rehash(&mut self, bits: u32) {
        let old = self.table();
        let new = Table::new(bits);
        // Tails of the new chains, to keep insertion order.
        let mut tails: Vec<*mut Node<K, V>> = vec![ptr::null_mut(); new.buckets.len()];
        for b in old.buckets.iter() {
            let mut p = b.load(Ordering::Relaxed);
            // SAFETY: linked nodes of the published table; only this writer changes them.
            while let Some(n) = unsafe { p.as_ref() } {
                let (k, v) = n.entry.with(|e| unsafe { (*e).clone() });
                let hash = self.shared.hasher.hash_one(&k);
                let i = (hash >> (64 - new.bits)) as usize;
                let node = Box::into_raw(Box::new(Node {
                    entry: UnsafeCell::new((k, v)),
                    next: AtomicPtr::new(ptr::null_mut()),
                }));
                // SAFETY: `tails` holds nodes of the new, unpublished table, owned here.
                match unsafe { tails[i].as_ref() } {
                    Some(t) => t.next.store(node, Ordering::Relaxed),
                    None => new.buckets[i].store(node, Ordering::Relaxed),
                }
                tails[i] = node;
                p = n.next.load(Ordering::Relaxed);
            }
        }
        let new = Box::into_raw(Box::new(new));
        // The new table and its nodes are complete before the release store publishes them.
        let old = self.shared.table.swap(new, Ordering::AcqRel);
        let g = rcu::read_lock();
        // SAFETY: unpublished just now; made by `Box::into_raw`; readers still on it finish before
        // the grace period ends, and its `Drop` frees the nodes only it links.
        self.shared
            .reclaim
            .defer_drop(&g, unsafe { Box::from_raw(old) });
    }
}

#[cfg(all(test, not(any(loom, feature = "shuttle"))))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize as StdAtomicUsize, Ordering as O};

    fn get(h: &RcuHash<u64, u64>, k: u64) -> Vec<u64> {
        let g = rcu::read_lock();
        let mut out = Vec::new();
        h.find_map(&g, &k, |v| {
            out.push(*v);
            None::<()>
        });
        out
    }

    #[test]
    fn entries_of_a_key_come_back_oldest_first_and_go_one_at_a_time() {
        let (mut w, r) = rcu_hash::<u64, u64>();
        w.insert(7, 1);
        w.insert(9, 5);
        w.insert(7, 2);
        w.insert(7, 3);
        assert_eq!(get(&r, 7), [1, 2, 3]);
        assert_eq!(w.first(&7), Some(&1));
        assert_eq!(w.first(&8), None);
        assert!(w.remove(&7, |v| *v == 2));
        assert!(!w.remove(&7, |v| *v == 2));
        assert_eq!(get(&r, 7), [1, 3]);
        assert_eq!(get(&r, 9), [5]);
        assert!(get(&r, 8).is_empty());
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn growth_keeps_every_entry_and_its_order() {
        let (mut w, r) = rcu_hash::<u64, u64>();
        for i in 0..10_000u64 {
            w.insert(i % 1000, i);
        }
        assert_eq!(w.len(), 10_000);
        for k in [0u64, 1, 999, 500] {
            let want: Vec<u64> = (0..10).map(|j| k + 1000 * j).collect();
            assert_eq!(get(&r, k), want);
        }
        w.rebuild();
        assert_eq!(get(&r, 999).len(), 10);
        for i in 0..10_000u64 {
            assert!(w.remove(&(i % 1000), |v| *v == i));
        }
        assert!(w.is_empty());
        assert!(get(&r, 0).is_empty());
    }

    /// A value that counts its live copies: a use after free or a double free shows as a
    /// wrong count or a poisoned read.
    struct Tracked {
        alive: std::sync::Arc<StdAtomicUsize>,
        poison: u64,
    }

    impl Clone for Tracked {
        fn clone(&self) -> Self {
            assert_eq!(self.poison, 0xfeed, "cloned a freed value");
            self.alive.fetch_add(1, O::SeqCst);
            Tracked {
                alive: self.alive.clone(),
                poison: 0xfeed,
            }
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            assert_eq!(self.poison, 0xfeed, "double free");
            self.poison = 0xdead;
            self.alive.fetch_sub(1, O::SeqCst);
        }
    }

    #[test]
    fn readers_never_see_freed_entries_while_a_writer_churns_and_grows() {
        let alive = std::sync::Arc::new(StdAtomicUsize::new(0));
        let (mut w, r) = rcu_hash::<u64, Tracked>();
        let mk = |alive: &std::sync::Arc<StdAtomicUsize>| {
            alive.fetch_add(1, O::SeqCst);
            Tracked {
                alive: alive.clone(),
                poison: 0xfeed,
            }
        };
        w.insert(0, mk(&alive));
        let stop = AtomicBool::new(false);
        /// Sets the flag when the writer ends, however it ends (a failed assertion included).
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, O::Relaxed);
            }
        }
        /// The writer's rounds take about a second: a writer not done after a minute is stuck.
        const WRITER_BOUND: std::time::Duration = std::time::Duration::from_secs(60);
        std::thread::scope(|s| {
            for _ in 0..2 {
                let (r, stop) = (r.clone(), &stop);
                s.spawn(move || {
                    let mut n = 0u64;
                    let start = std::time::Instant::now();
                    while !stop.load(O::Relaxed) || n < 100_000 {
                        assert!(
                            stop.load(O::Relaxed) || start.elapsed() < WRITER_BOUND,
                            "the readers waited {WRITER_BOUND:?} for the writer (after {n} reads)"
                        );
                        let g = rcu::read_lock();
                        let v = r.find_map(&g, &0, |v| Some(v.poison));
                        assert_eq!(v, Some(0xfeed), "key 0 is never removed");
                        r.find_map(&g, &(n % 64), |v| {
                            assert_eq!(v.poison, 0xfeed, "read a freed entry");
                            None::<()>
                        });
                        n += 1;
                    }
                });
            }
            let _writer_done = StopOnDrop(&stop);
            for round in 0..2_000u64 {
                for k in 1..64 {
                    w.insert(k, mk(&alive));
                }
                if round % 100 == 0 {
                    w.rebuild();
                }
                for k in 1..64 {
                    assert!(w.remove(&k, |_| true));
                }
            }
        });
        drop(w);
        drop(r);
        // Retired entries go when crossbeam-epoch collects; push it along.
        for _ in 0..1_000 {
            crossbeam_epoch::pin().flush();
            if alive.load(O::SeqCst) == 0 {
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(
            alive.load(O::SeqCst),
            0,
            "an entry was leaked or freed twice"
        );
    }
}

/// Under `--cfg loom --cfg crossbeam_loom`, crossbeam-epoch is built on loom's primitives, so
/// loom explores the grace period too: a reader inside a read section must never see an entry
/// that the writer unlinked as dropped. Run:
/// `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" cargo test -p mountcheck-model --release --lib rcu_hash`.
#[cfg(all(test, loom, crossbeam_loom))]
mod loom_grace_period {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;

    /// An entry that records its own drop in a flag that outlives it.
    #[derive(Clone)]
    struct Entry(Arc<AtomicBool>);

    impl Drop for Entry {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_reader_never_sees_an_unlinked_entry_dropped() {
        use std::sync::atomic::AtomicUsize as StdAtomicUsize;
        // Executions in which the entry was really freed before the end: the check is not vacuous.
        static RECLAIMED: StdAtomicUsize = StdAtomicUsize::new(0);
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(|| {
            let dropped = Arc::new(AtomicBool::new(false));
            let (mut w, r) = rcu_hash::<u64, Entry>();
            w.insert(1, Entry(dropped.clone()));
            let t = loom::thread::spawn(move || {
                let g = rcu::read_lock();
                r.find_map(&g, &1, |e| {
                    // Still inside the read section: the entry must not be dropped yet.
                    assert!(!e.0.load(Ordering::SeqCst), "entry dropped under a reader");
                    Some(())
                });
            });
            assert!(w.remove(&1, |_| true));
            // Let crossbeam-epoch advance and collect while the reader may still be inside.
            for _ in 0..3 {
                rcu::read_lock().flush();
            }
            t.join().unwrap();
            for _ in 0..3 {
                rcu::read_lock().flush();
            }
            if dropped.load(Ordering::SeqCst) {
                RECLAIMED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            drop(w);
        });
        let n = RECLAIMED.load(std::sync::atomic::Ordering::SeqCst);
        println!("entry reclaimed during the execution in {n} executions");
        assert!(
            n > 0,
            "crossbeam-epoch never reclaimed: the check is vacuous"
        );
    }
}
