//! Where a generated call's arguments come from, and its text: the [`Pool`] of paths and
//! devices a scenario's calls draw from (the task's previous path, a path related to one an
//! earlier task drew, the layout's paths and devices, then every one of [`super::PATHS`] and
//! [`super::DEVICES`]), and [`text_of`], which writes an operation's words from its syntax
//! pieces and argument bytes.
//!
//! Paths are drawn as places of the setup's tree (absolute paths from init's first root) and
//! written as the tasks name them: when the setup's context moved the root and cwd
//! ([`super::Case::context`]), [`View::name`] writes a path inside the root from that root and a
//! path outside it from the cwd (`a` for `/a` with the root at `/a/b` and the cwd at `/`), the
//! only way a task reaches it.
//!
//! Invariant: a draw is a function of its byte and of the draws before it in the scenario (the
//! pool's memory of each task's paths), so one case always realizes to one program.

use super::{ARGS, DEVICES, PATHS};
use mountcheck_model::fs::relative;
use mountcheck_model::program::syntax::Piece;
use mountcheck_model::program::OpSpec;
use std::cell::RefCell;

/// Where a call's arguments come from: the path the task drew last (one draw in four), a path
/// related to one an earlier task drew (one in four: the same path, a mountpoint above it that
/// its walk crosses, or a layout path below it: a second thread's call on the object of the
/// first's, as syzkaller's choice table relates calls through the resources they share), the
/// paths (its directories and a file in each) and devices of the scenario's layout, so that calls
/// meet on the same objects, then every one of [`PATHS`] and [`DEVICES`].
pub(super) struct Pool<'a> {
    /// The directories the layout made, then a file name in each (`/a/f`), narrowed by `focus`.
    near: Vec<String>,
    /// Every directory the layout made and a file in each (`near` before `focus`).
    all: Vec<String>,
    /// The layout's directories a device was mounted on.
    mountpoints: &'a [&'static str],
    /// The devices the layout mounted.
    mounted: &'a [&'static str],
    /// The paths the current task drew, in order (its last is the one a reuse draw picks).
    mine: RefCell<Vec<String>>,
    /// The paths earlier tasks (init's setup, earlier threads) drew.
    others: RefCell<Vec<String>>,
    /// Where the tasks stand when they name a path: init's after the setup's context, which
    /// every thread inherits (a task's own `chdir` or `chroot` is not followed).
    view: RefCell<View>,
}

/// A task's root and cwd, as places of the setup's tree (absolute paths from init's first root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct View {
    /// The task's root.
    pub root: String,
    /// The task's cwd (outside the root when a `chroot` left it there, as `chroot(2)` does).
    pub cwd: String,
}

impl Default for View {
    fn default() -> Self {
        View {
            root: "/".into(),
            cwd: "/".into(),
        }
    }
}

impl View {
    /// How a task with this view names place `p` of the setup's tree (an absolute path; any
    /// other path is returned as it is): from its root when `p` is at or below the root (`/c`
    /// for `/a/b/c` with the root at `/a/b`), else from its cwd (`a`, `../b`, `.`) when the cwd
    /// is outside the root (a walk up from the cwd never meets the root then), else as it is
    /// (a place the task cannot reach).
    pub fn name(&self, p: &str) -> String {
        if !p.starts_with('/') {
            return p.to_string();
        }
        if let Some(r) = relative(p, &self.root) {
            return r;
        }
        if relative(&self.cwd, &self.root).is_some() {
            return p.to_string();
        }
        let parts = |q: &str| -> Vec<String> {
            q.split('/')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        };
        let (to, from) = (parts(p), parts(&self.cwd));
        let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
        let mut rel = vec!["..".to_string(); from.len() - common];
        rel.extend(to[common..].iter().cloned());
        if rel.is_empty() {
            ".".into()
        } else {
            rel.join("/")
        }
    }
}

/// Draws below this byte pick the task's previous path, when it has one (one in four).
pub(super) const REUSE_SHARE: u8 = 64;

/// Draws below this byte (and not reusing) pick a path related to one an earlier task drew, when
/// there is one (one in four).
pub(super) const RELATED_SHARE: u8 = 128;

/// Path draws below this byte (and not picked above) pick from the layout's own paths.
pub(super) const LAYOUT_SHARE: u8 = 208;

/// Device draws below this byte pick a device the layout mounted (three in four).
pub(super) const DEV_LAYOUT_SHARE: u8 = 192;

impl<'a> Pool<'a> {
    /// The pool of a layout's `dirs`, `mountpoints` and `mounted` devices, its near paths
    /// narrowed to those whose bit is set in `focus` (all of them when none is).
    pub(super) fn new(
        dirs: &[&str],
        mountpoints: &'a [&'static str],
        mounted: &'a [&'static str],
        focus: u8,
    ) -> Self {
        let all: Vec<String> = dirs
            .iter()
            .map(|d| d.to_string())
            .chain(dirs.iter().map(|d| format!("{d}/f")))
            .collect();
        let kept: Vec<String> = all
            .iter()
            .enumerate()
            .take(u8::BITS as usize) // one bit of `focus` per entry
            .filter(|&(i, _)| focus & (1 << i) != 0)
            .map(|(_, p)| p.clone())
            .collect();
        let near = if kept.is_empty() { all.clone() } else { kept };
        Pool {
            near,
            all,
            mountpoints,
            mounted,
            mine: RefCell::new(Vec::new()),
            others: RefCell::new(Vec::new()),
            view: RefCell::new(View::default()),
        }
    }

    /// From now on paths are named as a task with `view` names them.
    pub(super) fn set_view(&self, view: View) {
        self.view.replace(view);
    }

    /// A new task starts: it has drawn no path yet; what the last task drew is an earlier
    /// task's.
    pub(super) fn start_task(&self) {
        let mine = self.mine.take();
        self.others.borrow_mut().extend(mine);
    }

    /// How many paths the current task has drawn: a mark to [`Pool::forget_since`].
    pub(super) fn mark(&self) -> usize {
        self.mine.borrow().len()
    }

    /// Forget the paths the current task drew after `mark` (a draw tried and not kept).
    pub(super) fn forget_since(&self, mark: usize) {
        self.mine.borrow_mut().truncate(mark);
    }

    /// The paths related to `p`: `p`, the mountpoints its walk crosses (proper ancestors), and
    /// the layout's paths below it.
    pub(super) fn related(&self, p: &str) -> Vec<String> {
        let mut r = vec![p.to_string()];
        r.extend(
            self.mountpoints
                .iter()
                .filter(|m| is_below(p, m))
                .map(|m| m.to_string()),
        );
        r.extend(self.all.iter().filter(|q| is_below(q, p)).cloned());
        r
    }

    /// The path draw of byte `b`, named as the tasks' view names it.
    pub(super) fn path(&self, b: u8) -> String {
        let last = self.mine.borrow().last().cloned();
        let others = self.others.borrow();
        let p = match last {
            Some(l) if b < REUSE_SHARE => l,
            _ if !others.is_empty() && (REUSE_SHARE..RELATED_SHARE).contains(&b) => {
                let i = usize::from(b - REUSE_SHARE);
                let related = self.related(&others[i % others.len()]);
                related[(i / others.len()) % related.len()].clone()
            }
            _ if !self.near.is_empty() && b < LAYOUT_SHARE => {
                self.near[usize::from(b) % self.near.len()].clone()
            }
            _ => PATHS[usize::from(b) % PATHS.len()].to_string(),
        };
        let named = self.view.borrow().name(&p);
        self.mine.borrow_mut().push(p);
        named
    }

    pub(super) fn dev(&self, b: u8) -> &'static str {
        if !self.mounted.is_empty() && b < DEV_LAYOUT_SHARE {
            self.mounted[usize::from(b) % self.mounted.len()]
        } else {
            DEVICES[usize::from(b) % DEVICES.len()]
        }
    }
}

/// Whether absolute path `p` lies strictly below absolute path `dir` (`/a/b` below `/a` and
/// `/`; `/ab` below neither `/a` nor itself).
pub(super) fn is_below(p: &str, dir: &str) -> bool {
    dir.starts_with('/')
        && p.len() > dir.len()
        && p.starts_with(dir)
        && (dir == "/" || p.as_bytes()[dir.len()] == b'/')
}

/// The text of operation `spec` with argument bytes `args`, `handle` for a handle it uses and
/// `binds` for one it binds.
pub(super) fn text_of(
    spec: &OpSpec,
    args: &[u8; ARGS],
    pool: &Pool<'_>,
    handle: &str,
    binds: &str,
) -> String {
    let mut words = vec![spec.name.to_string()];
    for (piece, &b) in spec.syntax.iter().zip(args.iter().cycle()) {
        match piece {
            Piece::Path(_) => words.push(pool.path(b)),
            Piece::Dev(_) => words.push(pool.dev(b).to_string()),
            Piece::Binds(_) => {
                words.push("as".into());
                words.push(binds.to_string());
            }
            Piece::Uses(_) => words.push(handle.to_string()),
            Piece::Lit(w) => words.push(w.to_string()),
            Piece::Opt(w) => {
                if b & 1 == 1 {
                    words.push(w.to_string());
                }
            }
            Piece::Flags(letters) => {
                for (i, (l, _)) in letters.iter().enumerate() {
                    if b & (1 << i) != 0 {
                        words.push(format!("-{l}"));
                    }
                }
            }
        }
    }
    words.join(" ")
}
