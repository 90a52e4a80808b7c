//! The ledger's reference counting: every get, put and hand-over of a count of an object
//! (`sget`'s `s_count` / `s_active`, `mntget` / `mntput`'s `mnt_count`, `get_namespace` /
//! `put_namespace`'s `count`), and the end of an object's life (`kill_super` shutting the
//! filesystem down, the final free).
//!
//! Invariant: a count never goes below zero, a put names a reference someone holds, no
//! reference is taken on a freed object, and an object is freed once.

use super::trace::Ev;
use super::{lock, Counter, Ctx, FindingClass, HolderRec, Ledger, ObjState, Oid};
use std::sync::Arc;

impl Ledger {
    /// Record that `tag` took a reference of `weight` on `counter` of `oid`, whose value is now
    /// `now`. An access check comes first: taking a reference on a freed object is a use after
    /// free, and so is an addition on a `mnt_count` or namespace `count` that went back to zero.
    pub fn get(
        &self,
        ctx: &Ctx,
        oid: Oid,
        counter: Counter,
        tag: impl AsRef<str>,
        weight: isize,
        now: isize,
    ) {
        let tag = tag.as_ref();
        let mut g = self.checked(ctx, oid, || format!("get {} ({tag})", counter.name()));
        let o = g.obj(oid);
        let revived = now - weight == 0
            && matches!(counter, Counter::MntCount | Counter::NsCount)
            && o.counts[counter.index()].is_some();
        if revived {
            let msg = format!("{} of {} incremented from 0 by \"{tag}\" (refcount addition on 0: the object is being freed)", counter.name(), g.label(oid));
            drop(g);
            self.fail(ctx, FindingClass::UseAfterFree, msg, Some(oid), Vec::new());
            g = lock(&self.inner);
        }
        let tag = g.tag(tag);
        let step = g.push(
            ctx,
            Ev::Get {
                oid,
                counter,
                tag: tag.clone(),
                weight,
                now,
            },
        );
        let op = ctx.op.get();
        let o = g.obj_mut(oid);
        o.counts[counter.index()] = Some(now);
        o.holders.push(HolderRec {
            counter,
            tag,
            weight,
            thread: ctx.tid,
            op,
            step,
        });
    }

    /// Record that `tag` dropped its reference on `counter` of `oid`, whose value is now `now`.
    /// Flags an underflow when `now` is negative or when nobody held such a reference.
    pub fn put(&self, ctx: &Ctx, oid: Oid, counter: Counter, tag: &str, weight: isize, now: isize) {
        let mut g = self.checked(ctx, oid, || format!("put {} ({tag})", counter.name()));
        let t = g.tag(tag);
        g.push(
            ctx,
            Ev::Put {
                oid,
                counter,
                tag: t.clone(),
                weight,
                now,
            },
        );
        let o = g.obj_mut(oid);
        o.counts[counter.index()] = Some(now);
        let pos = o
            .holders
            .iter()
            .rposition(|h| h.counter == counter && (Arc::ptr_eq(&h.tag, &t) || h.tag == t));
        if let Some(i) = pos {
            o.holders.remove(i);
        }
        let Some(label) = (pos.is_none() || now < 0).then(|| g.label(oid)) else {
            return;
        };
        drop(g);
        if pos.is_none() {
            let msg = format!(
                "{} of {label} put by \"{tag}\", who holds no such reference",
                counter.name()
            );
            self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
        }
        if now < 0 {
            let msg = format!("{} of {label} went below zero ({now})", counter.name());
            self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
        }
    }

    /// Move a reference from one holder to another without changing the count (a creator's
    /// reference becomes an open file's, a task's root moves to the copy of a namespace...).
    pub fn transfer(&self, ctx: &Ctx, oid: Oid, counter: Counter, from: &str, to: impl AsRef<str>) {
        let mut g = lock(&self.inner);
        let (f, t) = (g.tag(from), g.tag(to.as_ref()));
        let step = g.push(
            ctx,
            Ev::Transfer {
                oid,
                counter,
                from: f.clone(),
                to: t.clone(),
            },
        );
        let op = ctx.op.get();
        let tid = ctx.tid;
        let o = g.obj_mut(oid);
        if let Some(h) = o
            .holders
            .iter_mut()
            .rev()
            .find(|h| h.counter == counter && (Arc::ptr_eq(&h.tag, &f) || h.tag == f))
        {
            h.tag = t;
            h.thread = tid;
            h.op = op;
            h.step = step;
        } else {
            let label = g.label(oid);
            drop(g);
            let msg = format!(
                "{} of {label}: \"{from}\" hands over a reference it does not hold",
                counter.name()
            );
            self.fail(ctx, FindingClass::Underflow, msg, Some(oid), Vec::new());
        }
    }

    /// The filesystem of super_block `oid` is shut down (`kill_super` cleared `s_root`).
    pub fn shut_down(&self, ctx: &Ctx, oid: Oid) {
        self.access_fs(ctx, oid, "kill_super");
        let mut g = lock(&self.inner);
        g.push(ctx, Ev::ShutDown(oid));
        g.obj_mut(oid).state = ObjState::ShutDown;
    }

    /// `oid` is freed. Flags a double free.
    pub fn free(&self, ctx: &Ctx, oid: Oid) {
        let mut g = lock(&self.inner);
        if g.obj(oid).state == ObjState::Freed {
            let label = g.label(oid);
            drop(g);
            self.fail(
                ctx,
                FindingClass::DoubleFree,
                format!("{label} freed twice"),
                Some(oid),
                Vec::new(),
            );
            return;
        }
        g.push(ctx, Ev::Free(oid));
        g.obj_mut(oid).state = ObjState::Freed;
    }
}
