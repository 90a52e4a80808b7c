//! Simpler paths for a failing program: one directory level taken out of its paths.
//!
//! What it does: the "simpler paths" step of shrinking. A generated scenario names its places
//! by the generator's layout (`/a/b/c`), and a race found there often needs only part of that
//! depth: `mkdir /a` may be kept only because `/a/b` is made below it. [`collapsed`] offers, for
//! each directory `D` that the program's absolute paths go below, the program whose paths
//! `D/rest` are all written `parent(D)/rest` (`/a/b/f` becomes `/b/f` for `D` = `/a`), first
//! without the calls then left naming `D` alone (the `mkdir /a` kept only as `/a/b`'s parent),
//! then with them. A candidate is only a proposal: the shrinker keeps it when it still fails with
//! the same finding class, as it does every other.
//!
//! Invariant: a candidate names distinct places by distinct paths exactly when the program does
//! (a directory whose collapsed paths would land on a path the program already uses otherwise,
//! `/a/b` onto a used `/b`, is not collapsed), and every candidate's path text is strictly
//! shorter, so repeated collapsing ends. Relative paths (a task's view after a `chroot`) are
//! left as they are.

use std::collections::BTreeSet;

use mountcheck_model::{parse_call, Call, Program};

/// The programs one directory level simpler than `p`: for each directory `D` (its last
/// component neither `.` nor `..`) with an absolute path of `p` strictly below it, every such
/// path's `D/` prefix replaced by `parent(D)/`, first without the calls that then name `D` alone
/// ([`without_calls_on`]), then with them; in the order of the directories (shallowest and first
/// in name order first), skipping a `D` whose collapsed paths would merge with a path `p` uses
/// elsewhere.
pub fn collapsed(p: &Program) -> Vec<Program> {
    let used: BTreeSet<String> = calls(p)
        .flat_map(absolute_paths)
        .flat_map(|q| prefixes(&q))
        .collect();
    let mut dirs: Vec<&String> = used
        .iter()
        .filter(|d| {
            d.as_str() != "/"
                && !d.ends_with("/.")
                && !d.ends_with("/..")
                && used.iter().any(|q| is_below(q, d))
        })
        .collect();
    dirs.sort_by_key(|d| (d.matches('/').count(), d.to_string()));
    dirs.into_iter()
        .filter(|d| {
            used.iter()
                .filter(|q| is_below(q, d))
                .all(|q| !used.contains(&collapse(q, d)))
        })
        .filter_map(|d| rewrite(p, d).map(|q| (d, q)))
        .flat_map(|(d, q)| without_calls_on(&q, d).into_iter().chain([q]))
        .collect()
}

/// `q` without its calls that name directory `d` alone (every absolute path of theirs is `d`:
/// the `mkdir /a` left once nothing lies below `/a`) and use or bind no handle; `None` when it
/// has none or they are all it has in a thread.
fn without_calls_on(q: &Program, d: &str) -> Option<Program> {
    let on_d = |c: &Call| {
        let paths = absolute_paths(c);
        !paths.is_empty()
            && paths.iter().all(|x| x == d)
            && c.op.binds().is_none()
            && c.op.uses().is_none()
    };
    if !calls(q).any(on_d) {
        return None;
    }
    let mut r = q.clone();
    r.setup.retain(|c| !on_d(c));
    for t in &mut r.threads {
        t.retain(|c| !on_d(c));
    }
    r.threads.retain(|t| !t.is_empty());
    (!r.threads.is_empty()).then_some(r)
}

/// Every call of `p`: the setup's, then each thread's.
fn calls(p: &Program) -> impl Iterator<Item = &Call> {
    p.setup.iter().chain(p.threads.iter().flatten())
}

/// The absolute paths among a call's words.
fn absolute_paths(c: &Call) -> Vec<String> {
    c.op.to_string()
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(str::to_string)
        .collect()
}

/// `q` and each of its directories but `/` (`/a/b/c`: `/a`, `/a/b`, `/a/b/c`).
fn prefixes(q: &str) -> Vec<String> {
    q.char_indices()
        .filter(|&(i, ch)| ch == '/' && i > 0)
        .map(|(i, _)| q[..i].to_string())
        .chain((q != "/").then(|| q.to_string()))
        .collect()
}

/// Whether absolute path `q` lies strictly below directory `d` (not `/`).
fn is_below(q: &str, d: &str) -> bool {
    q.len() > d.len() && q.starts_with(d) && q.as_bytes()[d.len()] == b'/'
}

/// `q` with directory `d`'s level taken out, when `q` lies below `d` (`/a/b/f` with `d` = `/a`
/// is `/b/f`); any other path as it is.
fn collapse(q: &str, d: &str) -> String {
    if !is_below(q, d) {
        return q.to_string();
    }
    let parent = &d[..d.rfind('/').unwrap_or(0)];
    format!("{parent}{}", &q[d.len()..])
}

/// `p` with every absolute path below `d` collapsed, each call re-read from its text (keeping
/// its asserted results); `None` if a call's new text does not parse.
fn rewrite(p: &Program, d: &str) -> Option<Program> {
    let one = |c: &Call| -> Option<Call> {
        let text: Vec<String> =
            c.op.to_string()
                .split_whitespace()
                .map(|w| {
                    if w.starts_with('/') {
                        collapse(w, d)
                    } else {
                        w.to_string()
                    }
                })
                .collect();
        let mut n = parse_call(&text.join(" ")).ok()?;
        n.expect.clone_from(&c.expect);
        Some(n)
    };
    let mut q = p.clone();
    q.setup = p.setup.iter().map(one).collect::<Option<_>>()?;
    q.threads = p
        .threads
        .iter()
        .map(|t| t.iter().map(one).collect::<Option<Vec<_>>>())
        .collect::<Option<_>>()?;
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::super::tests::texts;
    use super::*;

    fn program(setup: &[&str], threads: &[&[&str]]) -> Program {
        let parse = |c: &&str| parse_call(c).unwrap();
        Program {
            setup: setup.iter().map(parse).collect(),
            threads: threads
                .iter()
                .map(|t| t.iter().map(parse).collect())
                .collect(),
            ..Program::default()
        }
    }

    #[test]
    fn each_directory_with_paths_below_it_is_collapsed_into_its_parent() {
        let p = program(
            &["mkdir /a", "mkdir /a/b", "mount ram0 /a/b", "mkdir /a/b/c"],
            &[&["stat /a/b/c/f = 0"], &["umount -l /a/b"]],
        );
        let got: Vec<Vec<String>> = collapsed(&p).iter().map(texts).collect();
        let want: &[&[&str]] = &[
            // /a collapsed, without `mkdir /a`, then with it.
            &[
                "mkdir /b; mount ram0 /b; mkdir /b/c",
                "stat /b/c/f = 0",
                "umount -l /b",
            ],
            &[
                "mkdir /a; mkdir /b; mount ram0 /b; mkdir /b/c",
                "stat /b/c/f = 0",
                "umount -l /b",
            ],
            // /a/b collapsed: the calls naming /a/b alone go (the thread left empty with them).
            &["mkdir /a; mkdir /a/c", "stat /a/c/f = 0"],
            &[
                "mkdir /a; mkdir /a/b; mount ram0 /a/b; mkdir /a/c",
                "stat /a/c/f = 0",
                "umount -l /a/b",
            ],
            // /a/b/c collapsed.
            &[
                "mkdir /a; mkdir /a/b; mount ram0 /a/b",
                "stat /a/b/f = 0",
                "umount -l /a/b",
            ],
            &[
                "mkdir /a; mkdir /a/b; mount ram0 /a/b; mkdir /a/b/c",
                "stat /a/b/f = 0",
                "umount -l /a/b",
            ],
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_directory_whose_paths_would_merge_with_used_ones_is_not_collapsed() {
        // `/a/b` would become the `/b` the second thread names, `/a/a` the `/a` itself.
        let p = program(
            &["mkdir /a", "mkdir /a/b", "mkdir /a/a"],
            &[&["stat /a/b"], &["rmdir /b"]],
        );
        assert!(
            collapsed(&p).is_empty(),
            "{:?}",
            collapsed(&p).iter().map(texts).collect::<Vec<_>>()
        );
        // Relative paths are left as they are; the root has no parent.
        let p = program(&["mkdir /a"], &[&["chdir a/b"], &["stat /"]]);
        assert!(collapsed(&p).is_empty());
    }

    #[test]
    fn every_candidate_is_strictly_shorter_so_collapsing_ends() {
        let mut p = program(
            &["mkdir /a", "mkdir /a/b", "mkdir /a/b/c"],
            &[&["stat /a/b/c/f"]],
        );
        let mut rounds = 0;
        // Each time the candidate that keeps the calls naming the collapsed directory.
        while let Some(q) = collapsed(&p)
            .into_iter()
            .find(|q| q.setup.len() == p.setup.len())
        {
            let len = |p: &Program| texts(p).concat().len();
            assert!(len(&q) < len(&p));
            p = q;
            rounds += 1;
            assert!(rounds < 10, "collapsing did not end: {:?}", texts(&p));
        }
        assert_eq!(texts(&p), vec!["mkdir /a; mkdir /b; mkdir /c", "stat /f"]);
    }
}
