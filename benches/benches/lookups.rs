//! The model's hot lookup paths under each lock design, against a plain `HashMap` anchor.
//!
//! What it measures: `lookup_mnt`'s hash probe (fs/namespace.c) with 10, 1 000 and 100 000
//! mounts; the mount crossings of a path walk (fs/namei.c `follow_down`, one read section per
//! crossing) over 1, 4 and 16 stacked mountpoints; `get_super`'s search and `s_count` pin
//! (fs/super.c) with 10, 1 000 and 10 000 super_blocks. Each under the global lock, the
//! reader-writer lock and the read-mostly design, without and with a second thread doing
//! mount/umount in a loop on the same kernel through the model's API, beside the same keys looked
//! up in a plain unsynchronized `HashMap` in the same group (and, for `get_super`, a plain `Vec`
//! scan: the list's own algorithm). The writer runs in a tight loop (`+writer`) and paced at about
//! 1 000 cycles a second (`+writer-1k`). The `model_*` groups time the same operations through the
//! model's entry points with the lifetime oracle recording every step.
//!
//! Invariant: every iteration puts back what it takes (Arc clones are dropped, pins unpinned,
//! model references put), so a kernel is in the same state after any number of iterations.
//! Settings: sample size 20, 2 s of measurement, 0.5 s of warm-up (model groups: 10 samples,
//! 1 s, 0.3 s); the writers' cycle counts go to `$MOUNTCHECK_BENCH_OUT/writers.jsonl`.

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Bencher, BenchmarkId, Criterion};
use mountcheck_benches::{
    lookup_plain, lookup_quiet, mount_chain, mount_farm, sb_writer, super_farm, tree_writer,
    walk_plain, walk_quiet, with_fxhash, Writer, DEPTHS, MOUNTS, PACED, SUPERS,
};
use mountcheck_model::LockDesign;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn fast<'a>(c: &'a mut Criterion, name: &str) -> Group<'a> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g
}

fn model_group<'a>(c: &'a mut Criterion, name: &str) -> Group<'a> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(300));
    g
}

/// The writers run beside the readers: in a tight loop, and paced at about 1 000 cycles/s.
const WRITERS: [(&str, Option<Duration>); 2] = [("+writer", None), ("+writer-1k", Some(PACED))];

/// Record a writer's rate for the report.
fn log_writer(group: &str, kind: &str, design: LockDesign, size: usize, w: Writer) {
    let s = w.stop();
    let Ok(dir) = std::env::var("MOUNTCHECK_BENCH_OUT") else {
        return;
    };
    let line = serde_json::json!({
        "group": group,
        "kind": kind,
        "design": design.name(),
        "size": size,
        "cycles": s.cycles,
        "secs": s.secs,
    });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::path::Path::new(&dir).join("writers.jsonl"))
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Time `op` on the items in turn, round robin (the next item first, as every group here does).
fn round_robin<T, R>(b: &mut Bencher<'_>, items: &[T], mut op: impl FnMut(&T) -> R) {
    let mut i = 0;
    b.iter(|| {
        i += 1;
        black_box(op(&items[i % items.len()]))
    })
}

/// The rows of design `d` at `size` in `group`: `timed` alone, then beside each writer of
/// [`WRITERS`] (started by `writer`, its rate logged for the report).
fn design_rows(
    g: &mut Group<'_>,
    group: &str,
    d: LockDesign,
    size: usize,
    mut timed: impl FnMut(&mut Bencher<'_>),
    writer: impl Fn(Option<Duration>) -> Writer,
) {
    g.bench_with_input(BenchmarkId::new(d.name(), size), &size, |b, _| timed(b));
    for (kind, pause) in WRITERS {
        let w = writer(pause);
        g.bench_with_input(
            BenchmarkId::new(format!("{}{kind}", d.name()), size),
            &size,
            |b, _| timed(b),
        );
        log_writer(group, kind, d, size, w);
    }
}

fn lookup_mnt(c: &mut Criterion) {
    let mut g = fast(c, "lookup_mnt");
    for n in MOUNTS {
        for d in LockDesign::ALL {
            let farm = mount_farm(d, n);
            let keys = &farm.keys;
            if d == LockDesign::Global {
                g.bench_with_input(BenchmarkId::new("hashmap", n), &n, |b, _| {
                    round_robin(b, keys, |&key| lookup_plain(&farm.plain, key))
                });
                let fx = with_fxhash(&farm.plain);
                g.bench_with_input(BenchmarkId::new("hashmap-fx", n), &n, |b, _| {
                    round_robin(b, keys, |&key| lookup_plain(&fx, key))
                });
            }
            design_rows(
                &mut g,
                "lookup_mnt",
                d,
                n,
                |b| round_robin(b, keys, |&key| lookup_quiet(&farm.k, key)),
                |pause| tree_writer(&farm.k, &farm.spot, pause),
            );
        }
    }
    g.finish();
}

fn walk(c: &mut Criterion) {
    let mut g = fast(c, "walk");
    for depth in DEPTHS {
        for d in LockDesign::ALL {
            let chain = mount_chain(d, depth);
            if d == LockDesign::Global {
                g.bench_with_input(BenchmarkId::new("hashmap", depth), &depth, |b, _| {
                    b.iter(|| black_box(walk_plain(&chain, &chain.plain)))
                });
                let fx = with_fxhash(&chain.plain);
                g.bench_with_input(BenchmarkId::new("hashmap-fx", depth), &depth, |b, _| {
                    b.iter(|| black_box(walk_plain(&chain, &fx)))
                });
            }
            design_rows(
                &mut g,
                "walk",
                d,
                depth,
                |b| b.iter(|| black_box(walk_quiet(&chain.k, &chain))),
                |pause| tree_writer(&chain.k, &chain.spot, pause),
            );
        }
    }
    g.finish();
}

fn get_super(c: &mut Criterion) {
    let mut g = fast(c, "get_super");
    for n in SUPERS {
        for d in LockDesign::ALL {
            let farm = super_farm(d, n);
            let devs = &farm.devs;
            if d == LockDesign::Global {
                g.bench_with_input(BenchmarkId::new("hashmap", n), &n, |b, _| {
                    round_robin(b, devs, |dev| farm.plain.get(dev).cloned())
                });
                let fx = with_fxhash(&farm.plain);
                g.bench_with_input(BenchmarkId::new("hashmap-fx", n), &n, |b, _| {
                    round_robin(b, devs, |dev| fx.get(dev).cloned())
                });
                g.bench_with_input(BenchmarkId::new("vec-scan", n), &n, |b, _| {
                    round_robin(b, devs, |dev| {
                        farm.list.iter().find(|s| &s.dev == dev).cloned()
                    })
                });
            }
            // get_super's search and pin, and the put that drop_super makes.
            let one = |dev: &String| {
                let sb = farm.k.find_super_quiet(dev).expect("listed");
                farm.k.unpin_super_quiet(&sb);
                sb
            };
            design_rows(
                &mut g,
                "get_super",
                d,
                n,
                |b| round_robin(b, devs, one),
                |pause| sb_writer(&farm.k, pause),
            );
        }
    }
    g.finish();
}

fn model_paths(c: &mut Criterion) {
    let mut g = model_group(c, "model_lookup_mnt");
    for n in MOUNTS {
        for d in LockDesign::ALL {
            let farm = mount_farm(d, n);
            let (k, ctx) = (&farm.k, &farm.init.ctx);
            ctx.set_op("bench lookup_mnt");
            let ds = &farm.dentries;
            g.bench_with_input(BenchmarkId::new(d.name(), n), &n, |b, _| {
                let mut i = 0;
                b.iter(|| {
                    i += 1;
                    let m = k
                        .lookup_mnt(ctx, &farm.root, &ds[(i * 7919) % ds.len()], "bench")
                        .expect("mounted");
                    k.mntput(ctx, &m, "bench");
                })
            });
        }
    }
    g.finish();

    let mut g = model_group(c, "model_walk");
    for depth in DEPTHS {
        for d in LockDesign::ALL {
            let chain = mount_chain(d, depth);
            let (k, ctx) = (&chain.k, &chain.init.ctx);
            ctx.set_op("bench path_walk");
            let fs = chain.init.fs.as_ref().expect("init is alive");
            g.bench_with_input(BenchmarkId::new(d.name(), depth), &depth, |b, _| {
                b.iter(|| {
                    let (p, _) = k
                        .path_walk(ctx, &fs.root, &fs.pwd, &chain.path, "bench")
                        .expect("walk");
                    k.path_release(ctx, p);
                })
            });
        }
    }
    g.finish();

    let mut g = model_group(c, "model_get_super");
    for n in SUPERS {
        for d in LockDesign::ALL {
            let farm = super_farm(d, n);
            let (k, ctx) = (&farm.k, &farm.init.ctx);
            ctx.set_op("bench get_super");
            let devs = &farm.devs;
            g.bench_with_input(BenchmarkId::new(d.name(), n), &n, |b, _| {
                let mut i = 0;
                b.iter(|| {
                    i += 1;
                    let sb = k
                        .get_super(ctx, &devs[i % devs.len()], "bench")
                        .expect("live");
                    k.drop_super(ctx, &sb, "bench");
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, lookup_mnt, walk, get_super, model_paths);
criterion_main!(benches);
