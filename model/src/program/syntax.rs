//! The text syntax of scenario calls: `umount -l /mnt`, `get_super ram0 as sb = NULL`,
//! `stat /mnt/a in {0, ENOENT}`.
//!
//! What it models: user space's view of a system call, written one per line. The syntax of each
//! operation is declared once in [`super::ops::OPERATIONS`] (a list of [`Piece`]s); this module
//! holds the tokenizer those pieces read from, the result assertion that may follow an
//! operation, and [`parse_call`] / [`parse_op`], which try every operation of the given name.
//!
//! Invariant: [`parse_call`] and `Call`'s `Display` round-trip, and every error carries the
//! 0-based character column of what is wrong, so the harness can point at it
//! (`file:line:column`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ops::{parse_kind, OpKind, OPERATIONS};
use super::{Call, Op};
use crate::error::{MountError, OpResult};
use crate::task::UmountFlags;

/// A syntax error in one call: the 0-based character column in the call's text and what was
/// expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    /// 0-based character offset in the call text.
    pub col: usize,
    /// What is wrong and what was expected.
    pub msg: String,
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.col + 1, self.msg)
    }
}

/// One piece of an operation's syntax after its name, as [`super::ops::OPERATIONS`] declares
/// it. The string is the argument's name (`path`, `dev`, `src`...), shown upper-case in usage
/// text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A path (absolute, or relative to the task's cwd; `.` and `..` allowed).
    Path(&'static str),
    /// A device name (`ram0`): letters, digits, `_` and `-`.
    Dev(&'static str),
    /// `as HANDLE`: the handle this operation binds.
    Binds(&'static str),
    /// `HANDLE`: a handle bound earlier by the same task.
    Uses(&'static str),
    /// A fixed word (`--bind`, `-n`).
    Lit(&'static str),
    /// An optional word (`--fail`).
    Opt(&'static str),
    /// Single-letter flags, each `-x` (`-l -f`, or together `-lf`): letter and meaning.
    Flags(&'static [(char, &'static str)]),
}

impl Piece {
    /// The usage text of this piece: `PATH`, `as HANDLE`, `[-l] [-f]`, `[--fail]`.
    pub fn usage(self) -> String {
        match self {
            Piece::Path(n) | Piece::Dev(n) | Piece::Uses(n) => n.to_uppercase(),
            Piece::Binds(n) => format!("as {}", n.to_uppercase()),
            Piece::Lit(w) => w.to_string(),
            Piece::Opt(w) => format!("[{w}]"),
            Piece::Flags(letters) => letters
                .iter()
                .map(|(c, _)| format!("[-{c}]"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Single-letter option flags of an operation (`umount -l -f`).
pub trait Flags: Default {
    /// Each flag's letter and what it sets.
    const LETTERS: &'static [(char, &'static str)];
    /// Set the flag of letter `c` (one of [`Flags::LETTERS`]).
    fn set(&mut self, c: char);
    /// Whether the flag of letter `c` is set.
    fn is_set(&self, c: char) -> bool;
    /// Write the set flags, each as ` -x`, in [`Flags::LETTERS`] order.
    fn show(&self, w: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (c, _) in Self::LETTERS {
            if self.is_set(*c) {
                write!(w, " -{c}")?;
            }
        }
        Ok(())
    }
}

impl Flags for UmountFlags {
    const LETTERS: &'static [(char, &'static str)] = &[('l', "MNT_DETACH"), ('f', "MNT_FORCE")];
    fn set(&mut self, c: char) {
        match c {
            'l' => self.detach = true,
            'f' => self.force = true,
            _ => unreachable!("not a umount flag: {c}"),
        }
    }
    fn is_set(&self, c: char) -> bool {
        match c {
            'l' => self.detach,
            'f' => self.force,
            _ => false,
        }
    }
}

/// The words of a call, with their character columns.
#[derive(Clone, Debug)]
pub struct Tokens<'a> {
    toks: Vec<(usize, &'a str)>,
    pos: usize,
    end: usize,
}

impl<'a> Tokens<'a> {
    /// Split `s` on white space.
    pub fn new(s: &'a str) -> Self {
        let mut toks = Vec::new();
        let mut start = None;
        for (i, c) in s.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(b)) => {
                    toks.push((b, &s[b..i]));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(b) = start {
            toks.push((b, &s[b..]));
        }
        let end = s.chars().count();
        let toks = toks
            .into_iter()
            .map(|(b, t)| (s[..b].chars().count(), t))
            .collect();
        Tokens { toks, pos: 0, end }
    }

    fn peek(&self) -> Option<&'a str> {
        self.toks.get(self.pos).map(|t| t.1)
    }

    fn next(&mut self, what: &str) -> Result<(usize, &'a str), OpError> {
        match self.toks.get(self.pos) {
            Some(&t) => {
                self.pos += 1;
                Ok(t)
            }
            None => Err(OpError {
                col: self.end,
                msg: format!("expected {what}, found end of operation"),
            }),
        }
    }

    /// A path argument.
    pub fn path(&mut self) -> Result<String, OpError> {
        let (col, t) = self.next("a path")?;
        check_path(t).map_err(|msg| OpError { col, msg })?;
        Ok(t.to_string())
    }

    /// A name (device or handle): letters, digits, `_` and `-`, not starting with `-`.
    pub fn name(&mut self, what: &str) -> Result<String, OpError> {
        let (col, t) = self.next(what)?;
        if !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || t.starts_with('-')
        {
            return Err(OpError {
                col,
                msg: format!("expected {what} (letters, digits, '_' or '-'), found `{t}`"),
            });
        }
        Ok(t.to_string())
    }

    /// A handle that an earlier operation bound.
    pub fn handle(&mut self) -> Result<String, OpError> {
        self.name("a handle name")
    }

    /// `as HANDLE`.
    pub fn as_handle(&mut self) -> Result<String, OpError> {
        let (col, t) = self.next("`as HANDLE`")?;
        if t != "as" {
            return Err(OpError {
                col,
                msg: format!("expected `as HANDLE`, found `{t}`"),
            });
        }
        self.handle()
    }

    /// The fixed word `w`.
    pub fn literal(&mut self, w: &str) -> Result<(), OpError> {
        let (col, t) = self.next(&format!("`{w}`"))?;
        if t != w {
            return Err(OpError {
                col,
                msg: format!("expected `{w}`, found `{t}`"),
            });
        }
        Ok(())
    }

    /// The optional word `w`: whether it is there.
    pub fn optional(&mut self, w: &str) -> bool {
        let here = self.peek() == Some(w);
        if here {
            self.pos += 1;
        }
        here
    }

    /// Flags of type `F`: words starting with `-` whose letters are all flags of `F`.
    pub fn flags<F: Flags>(&mut self) -> Result<F, OpError> {
        let mut flags = F::default();
        let expected = || {
            F::LETTERS
                .iter()
                .map(|(c, _)| format!("-{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        while let Some(&(col, f)) = self.toks.get(self.pos).filter(|t| t.1.starts_with('-')) {
            if f.len() < 2 {
                return Err(OpError {
                    col,
                    msg: format!("empty flag (expected {})", expected()),
                });
            }
            for c in f[1..].chars() {
                if !F::LETTERS.iter().any(|(l, _)| *l == c) {
                    return Err(OpError {
                        col,
                        msg: format!("unknown flag `{f}` (expected {})", expected()),
                    });
                }
                flags.set(c);
            }
            self.pos += 1;
        }
        Ok(flags)
    }

    /// Whether the operation's words are all read: at the end, or at its result assertion.
    fn at_call_end(&self) -> bool {
        matches!(self.peek(), None | Some("=") | Some("in"))
    }

    fn trailing(&self) -> OpError {
        match self.toks.get(self.pos) {
            Some(&(col, t)) => OpError {
                col,
                msg: format!("unexpected `{t}` after the operation"),
            },
            None => OpError {
                col: self.end,
                msg: "unexpected end".into(),
            },
        }
    }
}

fn check_path(p: &str) -> Result<(), String> {
    if p.starts_with('-') {
        return Err(format!("expected a path, found option `{p}`"));
    }
    Ok(())
}

/// The results a call is asserted to return: `= R` (one) or `in {R, R, ...}` (a set, in the
/// order written, without repeats).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Expected(pub Vec<OpResult>);

impl Expected {
    /// Whether `r` is one of the asserted results.
    pub fn admits(&self, r: OpResult) -> bool {
        self.0.contains(&r)
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "= {one}"),
            many => write!(
                f,
                "in {{{}}}",
                many.iter()
                    .map(OpResult::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn result_names() -> String {
    std::iter::once("0".to_string())
        .chain(std::iter::once("NULL".to_string()))
        .chain(MountError::ALL.iter().map(|e| e.errno_name().to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One result name at column `col`, checked against what `kind` can return.
fn result_at(kind: OpKind, name: &str, col: usize) -> Result<OpResult, OpError> {
    let r = OpResult::from_name(name).ok_or_else(|| OpError {
        col,
        msg: format!(
            "unknown result `{name}` (expected one of: {})",
            result_names()
        ),
    })?;
    let spec = kind.spec();
    if !spec.results.admits(r) {
        return Err(OpError {
            col,
            msg: format!(
                "`{}` returns {}, never {r}",
                spec.name,
                spec.results.describe()
            ),
        });
    }
    Ok(r)
}

/// The result assertion after an operation's words, if any: `= R` or `in {R, ...}`.
fn parse_expected(t: &mut Tokens, text: &str, kind: OpKind) -> Result<Option<Expected>, OpError> {
    let Some((col, word)) = t.toks.get(t.pos).copied() else {
        return Ok(None);
    };
    t.pos += 1;
    match word {
        "=" => {
            let (c, name) = t.next("a result (0, NULL or an errno name)")?;
            let r = result_at(kind, name, c)?;
            if let Some(&(c, x)) = t.toks.get(t.pos) {
                return Err(OpError {
                    col: c,
                    msg: format!(
                        "unexpected `{x}` after the result (for several, write `in {{0, EBUSY}}`)"
                    ),
                });
            }
            Ok(Some(Expected(vec![r])))
        }
        "in" => {
            // The rest of the text, character by character: `{R, R, ...}`.
            let chars: Vec<char> = text.chars().collect();
            let mut i = t.toks.get(t.pos).map_or(chars.len(), |x| x.0);
            t.pos = t.toks.len();
            if chars.get(i) != Some(&'{') {
                return Err(OpError {
                    col: i,
                    msg: "expected `{` and a set of results, e.g. `in {0, ENOENT}`".into(),
                });
            }
            i += 1;
            let mut out: Vec<OpResult> = Vec::new();
            loop {
                while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                    i += 1;
                }
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if name.is_empty() {
                    return Err(OpError {
                        col: start,
                        msg: "expected a result (0, NULL or an errno name)".into(),
                    });
                }
                let r = result_at(kind, &name, start)?;
                if out.contains(&r) {
                    return Err(OpError {
                        col: start,
                        msg: format!("`{r}` is listed twice"),
                    });
                }
                out.push(r);
                while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                    i += 1;
                }
                match chars.get(i) {
                    Some(',') => i += 1,
                    Some('}') => {
                        i += 1;
                        break;
                    }
                    _ => {
                        return Err(OpError {
                            col: i,
                            msg: "expected `,` or `}` in the set of results".into(),
                        })
                    }
                }
            }
            if let Some(c) = (i..chars.len()).find(|j| !chars[*j].is_whitespace()) {
                return Err(OpError {
                    col: c,
                    msg: "unexpected text after the set of results".into(),
                });
            }
            Ok(Some(Expected(out)))
        }
        other => Err(OpError {
            col,
            msg: format!("unexpected `{other}` after the operation"),
        }),
    }
}

/// Read one operation's words (its name, then the pieces of the first operation of that name
/// whose syntax fits), leaving `t` at the end or at a result assertion.
fn parse_op_words(t: &mut Tokens) -> Result<Op, OpError> {
    let (col, name) = t.next("an operation")?;
    let mut best: Option<OpError> = None;
    for spec in OPERATIONS.iter().filter(|o| o.name == name) {
        let mut tt = t.clone();
        let err = match parse_kind(spec.kind, &mut tt) {
            Ok(op) if tt.at_call_end() => {
                *t = tt;
                return Ok(op);
            }
            Ok(_) => tt.trailing(),
            Err(e) => e,
        };
        // Of several syntaxes of one name (`mount DEV PATH`, `mount --bind SRC DST`), report
        // the error of the one that read furthest.
        if best.as_ref().is_none_or(|b| err.col > b.col) {
            best = Some(err);
        }
    }
    Err(best.unwrap_or_else(|| {
        let mut names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        names.dedup();
        OpError {
            col,
            msg: format!(
                "unknown operation `{name}` (expected one of: {})",
                names.join(", ")
            ),
        }
    }))
}

/// Parse one call: an operation and, optionally, its asserted result (`umount /mnt = EBUSY`,
/// `stat /mnt/a in {0, ENOENT}`).
pub fn parse_call(s: &str) -> Result<Call, OpError> {
    let mut t = Tokens::new(s);
    let op = parse_op_words(&mut t)?;
    let expect = parse_expected(&mut t, s, op.kind())?;
    Ok(Call { op, expect })
}

/// Parse one operation with no result assertion, e.g. `umount -l /mnt` or
/// `get_super ram0 as sb`.
pub fn parse_op(s: &str) -> Result<Op, OpError> {
    let mut t = Tokens::new(s);
    let op = parse_op_words(&mut t)?;
    if t.peek().is_some() {
        return Err(t.trailing());
    }
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_round_trip() {
        for t in [
            "umount /mnt = EBUSY",
            "mount ram0 /mnt = 0",
            "stat /mnt/a in {0, ENOENT}",
            "get_super ram0 as sb = NULL",
            "umount -l -f /a in {0, EINVAL, EBUSY}",
            "open /a as in = 0",
        ] {
            let c = parse_call(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(c.to_string(), t);
            assert_eq!(parse_call(&c.to_string()).unwrap(), c);
        }
        // Spacing inside the set is free; the printed form is canonical.
        let c = parse_call("stat /a in {0,ENOENT }").unwrap();
        assert_eq!(c.to_string(), "stat /a in {0, ENOENT}");
        assert_eq!(
            parse_call("close f in {EBADF}").unwrap().to_string(),
            "close f = EBADF"
        );
    }

    #[test]
    fn assertion_errors_point_at_the_result() {
        for (bad, col, what) in [
            ("umount /mnt = EBUZY", 14, "unknown result `EBUZY`"),
            ("umount /mnt =", 13, "expected a result"),
            (
                "umount /mnt = 0 EBUSY",
                16,
                "unexpected `EBUSY` after the result",
            ),
            ("stat /a in 0", 11, "expected `{`"),
            ("stat /a in {0, 0}", 15, "listed twice"),
            ("stat /a in {0 ENOENT}", 14, "expected `,` or `}`"),
            ("stat /a in {0} x", 15, "unexpected text"),
            ("stat /a in {}", 12, "expected a result"),
            ("sync = EBUSY", 7, "`sync` returns only 0, never EBUSY"),
            (
                "get_super ram0 as sb = EINVAL",
                23,
                "returns 0 or NULL, never EINVAL",
            ),
            (
                "umount /mnt = NULL",
                14,
                "returns 0 or an errno, never NULL",
            ),
            (
                "umount /mnt == 0",
                12,
                "unexpected `==` after the operation",
            ),
        ] {
            let e = parse_call(bad).unwrap_err();
            assert_eq!(e.col, col, "{bad}: {e}");
            assert!(e.msg.contains(what), "{bad}: {e}");
        }
        // An operation alone refuses an assertion.
        assert!(parse_op("umount /mnt = 0").is_err());
    }
}
