//! The ledger's checks at quiescence, after every task exited (the leak checker's view, as
//! kmemleak's scan): each count equals the sum of the references the ledger knows, and every
//! object nobody refers to is freed.
//!
//! Invariant: the checks run only at quiescence, when every reference a live task could hold
//! has been put, so a count above its known holders is a leak and not a reference in flight;
//! like every check of the ledger, the first breach is the execution's finding.

use super::{lock, Counter, Ctx, FindingClass, Holder, Ledger, ObjState, Oid};

impl Ledger {
    /// The sum of the weights of `counter` references on `oid` whose tag does not end with
    /// `suffix`, read under one lock of the ledger: on real threads another thread may record
    /// or drop a reference between two reads, so a sum of all minus a sum of the excluded,
    /// taken as two reads, could count a reference in one and not the other.
    pub fn weight_except(&self, oid: Oid, counter: Counter, suffix: &str) -> isize {
        let g = lock(&self.inner);
        g.obj(oid)
            .holders
            .iter()
            .filter(|h| h.counter == counter && !h.tag.ends_with(suffix))
            .map(|h| h.weight)
            .sum()
    }

    /// Quiescence check of one count: the model's `actual` value must equal the sum of the holders
    /// the ledger knows.
    pub fn check_count(&self, ctx: &Ctx, oid: Oid, counter: Counter, actual: isize) {
        let g = lock(&self.inner);
        let o = g.obj(oid);
        let known: isize = o
            .holders
            .iter()
            .filter(|h| h.counter == counter)
            .map(|h| h.weight)
            .sum();
        if known != actual {
            let label = g.label(oid);
            let unmatched: Vec<Holder> = o
                .holders
                .iter()
                .filter(|h| h.counter == counter)
                .map(|h| g.holder(h))
                .collect();
            drop(g);
            let msg = format!(
                "{} of {label} is {actual} but the ledger knows holders worth {known}",
                counter.name()
            );
            let class = if actual < known {
                FindingClass::Underflow
            } else {
                FindingClass::Leak
            };
            self.fail(ctx, class, msg, Some(oid), unmatched);
        }
    }

    /// Quiescence check: after every task exited, every object must be freed. The first object
    /// that is not is reported as a leak naming each reference still held and who took it.
    pub fn check_all_freed(&self, ctx: &Ctx) {
        let g = lock(&self.inner);
        let leaked = g
            .objects
            .iter()
            .enumerate()
            .find(|(_, o)| o.state != ObjState::Freed);
        if let Some((i, o)) = leaked {
            let oid = Oid(i as u32 + 1);
            let holders: Vec<Holder> = o.holders.iter().map(|h| g.holder(h)).collect();
            let names: Vec<String> = holders
                .iter()
                .map(|h| {
                    format!(
                        "{} ({}, taken by T{} in `{}`)",
                        h.tag,
                        h.counter.name(),
                        h.thread,
                        h.op
                    )
                })
                .collect();
            let state = match o.state {
                ObjState::ShutDown => "shut down but not freed",
                _ => "never freed",
            };
            let msg = if names.is_empty() {
                format!(
                    "{} {state} after every task exited, though nobody holds it",
                    o.label()
                )
            } else {
                format!(
                    "{} {state} after every task exited; still held by: {}",
                    o.label(),
                    names.join("; ")
                )
            };
            drop(g);
            self.fail(ctx, FindingClass::Leak, msg, Some(oid), holders);
        }
    }

    /// Raise an invariant finding about `oid` (nothing happens when the invariant oracle is off).
    pub fn invariant(&self, ctx: &Ctx, oid: Option<Oid>, message: String) {
        self.fail(ctx, FindingClass::Invariant, message, oid, Vec::new())
    }
}
