//! A hand-written minimal model of the seed's race: `get_super` against `umount`, in thirty lines
//! over the same sync facade (so it runs under loom, shuttle or std like the model), with no
//! ledger, no trace and no task machinery. The checker-throughput benchmark runs it beside the
//! model's `get-super-vs-umount` program to show what the model costs per execution.
//!
//! Follows fs/super.c of 2.4.17 (`get_super`, `drop_super`, `kill_super`, `put_super`): `s_count`
//! under `sb_lock` with the list's `S_BIAS`, `s_umount` held for read by `get_super` and for write
//! by `kill_super`, `s_root` re-checked after `down_read`. Invariant (asserted): the reader never
//! uses a freed or shut-down super_block, and the super_block is freed exactly once, by the last
//! `put_super`.

use mountcheck_model::sync::{self, Arc, AtomicBool, AtomicIsize, Mutex, Ordering, RwSem};

const S_BIAS: isize = 1 << 30;

struct Sb {
    s_count: AtomicIsize,
    s_root: AtomicBool,
    s_umount: RwSem,
    freed: AtomicBool,
}

struct Toy {
    list: Mutex<Vec<Arc<Sb>>>,
}

fn put_super(t: &Toy, sb: &Sb) {
    let _g = sync::lock(&t.list);
    if sb.s_count.fetch_sub(1, Ordering::SeqCst) == 1 {
        assert!(!sb.freed.swap(true, Ordering::SeqCst), "double free");
    }
}

fn get_super(t: &Toy) -> Option<Arc<Sb>> {
    loop {
        let g = sync::lock(&t.list);
        let sb = g.first().cloned()?;
        sb.s_count.fetch_add(1, Ordering::SeqCst);
        drop(g);
        sb.s_umount
            .down_read()
            .expect("kill_super releases s_umount: the toy never deadlocks");
        if sb.s_root.load(Ordering::SeqCst) {
            return Some(sb);
        }
        sb.s_umount.up_read();
        put_super(t, &sb);
        sync::yield_now();
    }
}

fn kill_super(t: &Toy, sb: &Sb) {
    {
        let _g = sync::lock(&t.list);
        sb.s_count.fetch_sub(S_BIAS - 1, Ordering::SeqCst);
    }
    sb.s_umount
        .down_write()
        .expect("readers release s_umount: the toy never deadlocks");
    sb.s_root.store(false, Ordering::SeqCst);
    sync::lock(&t.list).clear();
    sb.s_umount.up_write();
    put_super(t, sb);
}

/// One execution: a reader does `get_super`, uses it and drops it while the main thread unmounts.
pub fn execution() {
    let sb = Arc::new(Sb {
        s_count: AtomicIsize::new(S_BIAS),
        s_root: AtomicBool::new(true),
        s_umount: RwSem::new(),
        freed: AtomicBool::new(false),
    });
    let t = Arc::new(Toy {
        list: Mutex::new(vec![sb.clone()]),
    });
    let t2 = t.clone();
    let reader = sync::spawn(move || {
        if let Some(sb) = get_super(&t2) {
            assert!(!sb.freed.load(Ordering::SeqCst), "use after free");
            assert!(sb.s_root.load(Ordering::SeqCst), "use of a dead filesystem");
            sb.s_umount.up_read();
            put_super(&t2, &sb);
        }
    });
    kill_super(&t, &sb);
    reader.join().expect("reader");
    assert!(sb.freed.load(Ordering::SeqCst), "leak");
}
