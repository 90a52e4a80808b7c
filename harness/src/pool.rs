//! Work spread over `--jobs` threads: each thread takes the next item until none is left, and
//! the results come back in the items' order, whatever order the threads finished in.
//!
//! Used by `run` (one worker process per exploration) and `fuzz` (the sequential
//! specifications of a batch). Invariant: every item is mapped exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `f(index, item)` of every item, `jobs` threads at a time (at least one), in the items' order.
pub fn par_map<T: Send, R: Send>(
    items: Vec<T>,
    jobs: usize,
    f: impl Fn(usize, T) -> R + Sync,
) -> Vec<R> {
    let n = items.len();
    let todo: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let done: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let item = todo[i]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .expect("each item taken once");
                let r = f(i, item);
                *done[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    done.into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item mapped")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_mapped_once_in_order_whatever_the_jobs() {
        for jobs in [0, 1, 2, 7] {
            let out = par_map((0..50).collect(), jobs, |i, x: u32| (i, x * 2));
            assert_eq!(
                out,
                (0..50).map(|x| (x as usize, x * 2)).collect::<Vec<_>>()
            );
        }
        assert!(par_map(Vec::<u8>::new(), 2, |_, x| x).is_empty());
    }
}
