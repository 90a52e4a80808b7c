//! Scenario files: what a VFS developer writes, parsed with positions for every error.
//!
//! A scenario is a TOML file (see `scenarios/README.md`): a name, a description, an optional
//! `see`, the model variant, the expected verdict, an optional end state, the lock design it
//! runs under, whether its executions are checked for linearizability (`check`), a setup (calls
//! init runs first) and up to four `[[thread]]` tables of calls in the model's text syntax
//! (`mountcheck_model::parse_call`: an operation, optionally with its asserted result). This
//! module turns it into a [`Scenario`] or a [`ScenarioError`] that names file, line and column.
//!
//! Invariant: a [`Scenario`] that parsed is valid: every call parses (an unknown errno name is an
//! error at its column), every handle is bound by its own task before use, `exit` is last, it has
//! 1 to [`MAX_SCENARIO_THREADS`] threads (what every backend runs), the variant, verdict, design
//! and check are known, and the setup returns what it asserts (0 when it asserts nothing) in the
//! fixed protocol without blocking (checked by running it once in the model's sequential runner,
//! std backend). [`check_program`] makes the same checks of a program that comes from elsewhere
//! (a report given to `replay`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use mountcheck_engine::bounds::MAX_SCENARIO_THREADS;
use mountcheck_model::oracle::FindingClass;
use mountcheck_model::{parse_call, Call, EndState, LockDesign, Oracles, Program, Variant};
use serde::{Deserialize, Serialize};
use toml::Spanned;

mod check;

pub use check::{check_program, ProgramProblem, Spot};

/// An error in a scenario file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong and what was expected.
    pub msg: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.col,
            self.msg
        )
    }
}

impl std::error::Error for ScenarioError {}

/// The verdict a scenario expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// No finding.
    Clean,
    /// A finding of this class.
    Finding(FindingClass),
}

impl Expect {
    /// `clean` or the class name.
    pub fn name(self) -> &'static str {
        match self {
            Expect::Clean => "clean",
            Expect::Finding(c) => c.name(),
        }
    }

    /// Parse `clean` or a class name.
    pub fn from_name(s: &str) -> Option<Self> {
        if s == "clean" {
            Some(Expect::Clean)
        } else {
            FindingClass::from_name(s).map(Expect::Finding)
        }
    }
}

/// Whether a scenario's executions are checked for linearizability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// Every execution's results and mount tables must be those of a sequential order (the
    /// default).
    Linearizable,
    /// No linearizability check (the file says why).
    None,
}

impl Check {
    /// The name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Check::Linearizable => "linearizable",
            Check::None => "none",
        }
    }
}

/// A parsed, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name (the file stem unless `name` says otherwise).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// One paragraph.
    pub description: String,
    /// Reference.
    pub see: Option<String>,
    /// Model variant.
    pub variant: Variant,
    /// Expected verdict.
    pub expect: Expect,
    /// The operations.
    pub program: Program,
    /// Position (line, col) of the `name` value, or 1:1 when the name is the file stem: where a
    /// duplicate name is pointed at.
    pub name_pos: (usize, usize),
    /// The lock design the file names (`lock_design`); none means the command line's, or global.
    pub lock_design: Option<LockDesign>,
    /// The linearizability check (`check`, default `linearizable`).
    pub check: Check,
    /// Position (line, col) of the `check` key, or of the first thread when there is none: where
    /// a problem of the check (too many orders) is reported.
    pub check_pos: (usize, usize),
    /// Position (line, col) of each thread call's text, to point at an assertion.
    pub call_pos: Vec<Vec<(usize, usize)>>,
    /// The size of its sequential specification, once computed (`crate::specs::attach_specs`).
    pub spec_info: Option<crate::report::SpecInfo>,
    /// Seconds its sequential specification took to compute.
    pub spec_secs: Option<f64>,
    /// The oracle families its explorations raise findings of (all, except for the catalog's
    /// one-family-at-a-time attribution).
    pub oracles: Oracles,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<Spanned<String>>,
    description: Spanned<String>,
    see: Option<String>,
    variant: Option<Spanned<String>>,
    expect: Option<Spanned<String>>,
    end: Option<Spanned<String>>,
    lock_design: Option<Spanned<String>>,
    check: Option<Spanned<String>>,
    #[serde(default)]
    setup: Vec<Spanned<String>>,
    #[serde(default)]
    thread: Vec<Spanned<RawThread>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThread {
    #[allow(dead_code)]
    name: Option<String>,
    ops: Vec<Spanned<String>>,
}

/// Line and column (1-based, in characters) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError {
            file: self.file.to_path_buf(),
            line,
            col,
            msg: msg.into(),
        }
    }

    /// Position of column `col` (0-based, characters) inside the string literal at `span`.
    fn err_in_str(&self, span: Range<usize>, col: usize, msg: impl Into<String>) -> ScenarioError {
        let (line, c) = line_col(self.text, span.start);
        // +1 for the opening quote of the literal.
        ScenarioError {
            file: self.file.to_path_buf(),
            line,
            col: c + 1 + col,
            msg: msg.into(),
        }
    }
}

/// Read and validate a scenario file.
pub fn load(file: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(file).map_err(|e| ScenarioError {
        file: file.to_path_buf(),
        line: 1,
        col: 1,
        msg: format!("cannot read the file: {e}"),
    })?;
    parse(file, &text)
}

/// Parse and validate scenario text (`file` names it in errors).
pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let cx = Ctx { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim();
        if msg.is_empty() {
            // toml gives no text when the input stops where a value should start.
            cx.err(
                span,
                "incomplete TOML: a value is missing here (a key with `=` and nothing after it, or a list or string that is not closed)",
            )
        } else {
            cx.err(span, msg.to_string())
        }
    })?;
    let name_pos = raw
        .name
        .as_ref()
        .map_or((1, 1), |n| line_col(text, n.span().start));
    let name = match &raw.name {
        Some(n) => {
            let v = n.get_ref();
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(cx.err(
                    n.span(),
                    format!("expected a name of letters, digits, '-' or '_', found `{v}`"),
                ));
            }
            v.clone()
        }
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let variant = match &raw.variant {
        Some(v) => Variant::from_id(v.get_ref()).ok_or_else(|| {
            let ids: Vec<&str> = std::iter::once("fixed")
                .chain(mountcheck_model::Mutant::ALL.iter().map(|m| m.id()))
                .collect();
            cx.err(
                v.span(),
                format!(
                    "unknown variant `{}` (expected one of: {})",
                    v.get_ref(),
                    ids.join(", ")
                ),
            )
        })?,
        None => Variant::Fixed,
    };
    let expect = match &raw.expect {
        Some(e) => Expect::from_name(e.get_ref()).ok_or_else(|| {
            let names: Vec<&str> = std::iter::once("clean")
                .chain(FindingClass::ALL.iter().map(|c| c.name()))
                .collect();
            cx.err(
                e.span(),
                format!(
                    "unknown verdict `{}` (expected one of: {})",
                    e.get_ref(),
                    names.join(", ")
                ),
            )
        })?,
        None => Expect::Clean,
    };
    let end = match &raw.end {
        Some(e) => match e.get_ref().as_str() {
            "exit-all" => EndState::ExitAll,
            "as-is" => EndState::AsIs,
            other => {
                return Err(cx.err(
                    e.span(),
                    format!("unknown end state `{other}` (expected exit-all or as-is)"),
                ))
            }
        },
        None => EndState::ExitAll,
    };
    let lock_design = match &raw.lock_design {
        Some(d) => Some(LockDesign::from_name(d.get_ref()).ok_or_else(|| {
            cx.err(
                d.span(),
                format!(
                    "unknown lock design `{}` (expected one of: {})",
                    d.get_ref(),
                    LockDesign::ALL.map(LockDesign::name).join(", ")
                ),
            )
        })?),
        None => None,
    };
    let check = match &raw.check {
        Some(c) => match c.get_ref().as_str() {
            "linearizable" => Check::Linearizable,
            "none" => Check::None,
            other => {
                return Err(cx.err(
                    c.span(),
                    format!("unknown check `{other}` (expected linearizable or none)"),
                ))
            }
        },
        None => Check::Linearizable,
    };
    if raw.thread.is_empty() {
        return Err(cx.err(
            text.len()..text.len(),
            "a scenario needs at least one [[thread]] with `ops`",
        ));
    }
    let parse_list = |list: &[Spanned<String>]| -> Result<Vec<Call>, ScenarioError> {
        list.iter()
            .map(|s| parse_call(s.get_ref()).map_err(|e| cx.err_in_str(s.span(), e.col, e.msg)))
            .collect()
    };
    let setup = parse_list(&raw.setup)?;
    let mut threads = Vec::new();
    let mut thread_pos = Vec::new();
    let mut call_pos = Vec::new();
    for t in &raw.thread {
        if t.get_ref().ops.is_empty() {
            return Err(cx.err(t.span(), "a thread needs at least one operation in `ops`"));
        }
        threads.push(parse_list(&t.get_ref().ops)?);
        thread_pos.push(line_col(text, t.span().start));
        call_pos.push(
            t.get_ref()
                .ops
                .iter()
                .map(|o| {
                    let (l, c) = line_col(text, o.span().start);
                    (l, c + 1)
                })
                .collect(),
        );
    }
    let check_pos = match &raw.check {
        Some(c) => line_col(text, c.span().start),
        None => thread_pos[0],
    };
    let program = Program {
        setup,
        threads,
        end,
        spec: None,
    };
    check_program(&program, lock_design.unwrap_or_default()).map_err(
        |ProgramProblem { spot, msg }| match spot {
            Spot::Program => cx.err(0..0, msg),
            Spot::Thread(i) => cx.err(raw.thread[i].span(), msg),
            Spot::Op { thread, index, col } => {
                let list = match thread {
                    None => &raw.setup,
                    Some(i) => &raw.thread[i].get_ref().ops,
                };
                match list.get(index.min(list.len().saturating_sub(1))) {
                    Some(op) => cx.err_in_str(op.span(), col, msg),
                    None => cx.err(0..0, msg),
                }
            }
        },
    )?;
    Ok(Scenario {
        name,
        file: file.to_path_buf(),
        description: raw.description.get_ref().trim().to_string(),
        see: raw.see,
        variant,
        expect,
        program,
        name_pos,
        lock_design,
        check,
        check_pos,
        call_pos,
        spec_info: None,
        spec_secs: None,
        oracles: Oracles::all(),
    })
}

/// Every `*.toml` in `dir`, sorted.
pub fn bundled(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mountcheck_model::Op;

    fn p(text: &str) -> Result<Scenario, ScenarioError> {
        parse(Path::new("t.toml"), text)
    }

    const OK: &str = "description = \"d\"\nsetup = [\"mkdir /mnt\", \"mount ram0 /mnt\"]\n[[thread]]\nops = [\"umount /mnt\"]\n";

    #[test]
    fn parses_a_valid_scenario() {
        let s = p(OK).unwrap();
        assert_eq!(s.name, "t");
        assert_eq!(s.program.setup.len(), 2);
        assert_eq!(s.expect, Expect::Clean);
    }

    #[test]
    fn unknown_operation_points_at_it() {
        let e = p("description = \"d\"\n[[thread]]\nops = [\"stat /\", \"frobnicate /mnt\"]\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (3, 19), "{e}");
        assert!(e.msg.contains("unknown operation `frobnicate`"), "{e}");
    }

    #[test]
    fn undefined_handle_points_at_it() {
        let e = p("description = \"d\"\n[[thread]]\nops = [\"drop_super sb\"]\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 20), "{e}");
        assert!(e.msg.contains("handle `sb`"), "{e}");
    }

    #[test]
    fn malformed_toml_has_a_position() {
        let e = p("description = \"d\"\n[[thread]\nops = []\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn failing_setup_is_an_error() {
        let e = p(
            "description = \"d\"\nsetup = [\"mount ram0 /nope\"]\n[[thread]]\nops = [\"sync\"]\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (2, 11), "{e}");
        assert!(e.msg.contains("ENOENT"), "{e}");
    }

    #[test]
    fn a_truncated_value_has_a_message_and_a_position() {
        let e = p("description = \"d\"\n[[thread]]\nops = ").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.msg.contains("a value is missing"), "{e}");
        let e = p("description = \"d\"\n[[thread]]\nops = [\"sync\"").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(!e.msg.trim().is_empty(), "{e}");
    }

    #[test]
    fn five_threads_are_refused_at_the_fifth() {
        let text = format!(
            "description = \"d\"\n{}",
            "[[thread]]\nops = [\"sync\"]\n".repeat(5)
        );
        let e = p(&text).unwrap_err();
        assert_eq!((e.line, e.col), (10, 1), "{e}");
        assert!(e.msg.contains("at most 4 threads"), "{e}");
        let four = format!(
            "description = \"d\"\n{}",
            "[[thread]]\nops = [\"sync\"]\n".repeat(4)
        );
        assert!(p(&four).is_ok());
    }

    #[test]
    fn a_program_from_elsewhere_is_checked_like_a_scenario() {
        let ok = p(OK).unwrap().program;
        assert_eq!(check_program(&ok, LockDesign::Global), Ok(()));
        // A path the text syntax refuses, slipped in as data.
        let mut option = ok.clone();
        option.threads[0] = vec![Op::Stat { path: "-l".into() }.into()];
        let e = check_program(&option, LockDesign::Global).unwrap_err();
        assert!(
            matches!(
                e.spot,
                Spot::Op {
                    thread: Some(0),
                    index: 0,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.msg.contains("option `-l`"), "{e:?}");
        // An unbound handle.
        let mut unbound = ok.clone();
        unbound.threads[0] = vec![Op::Statfs {
            handle: "sb".into(),
        }
        .into()];
        assert!(check_program(&unbound, LockDesign::Global)
            .unwrap_err()
            .msg
            .contains("handle `sb`"));
        // Six threads.
        let mut six = ok.clone();
        six.threads = vec![vec![Op::Sync.into()]; 6];
        assert_eq!(
            check_program(&six, LockDesign::Global).unwrap_err().spot,
            Spot::Thread(4)
        );
    }

    #[test]
    fn the_name_position_is_kept() {
        let s = p(&format!("name = \"x\"\n{OK}")).unwrap();
        assert_eq!(s.name_pos, (1, 8));
        assert_eq!(p(OK).unwrap().name_pos, (1, 1));
    }

    #[test]
    fn an_unknown_errno_name_points_at_it() {
        let e =
            p("description = \"d\"\n[[thread]]\nops = [\"umount /mnt = EBUZY\"]\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 23), "{e}");
        assert!(e.msg.contains("unknown result `EBUZY`"), "{e}");
        let e = p("description = \"d\"\n[[thread]]\nops = [\"stat /a in {0, ENOENT, EFOO}\"]\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (3, 32), "{e}");
        let e = p("description = \"d\"\n[[thread]]\nops = [\"get_super ram0 as sb = EBUSY\"]\n")
            .unwrap_err();
        assert!(e.msg.contains("returns 0 or NULL, never EBUSY"), "{e}");
    }

    #[test]
    fn assertions_check_and_lock_design_parse() {
        let s = p("description = \"d\"\ncheck = \"none\"\nlock_design = \"read-mostly\"\nsetup = [\"umount /x = ENOENT\"]\n[[thread]]\nops = [\"stat /a in {0, ENOENT}\", \"get_super ram0 as sb = NULL\"]\n").unwrap();
        assert_eq!(s.check, Check::None);
        assert_eq!(s.lock_design, Some(LockDesign::ReadMostly));
        assert_eq!(
            s.program.threads[0][0].to_string(),
            "stat /a in {0, ENOENT}"
        );
        assert_eq!(s.check_pos, (2, 9));
        assert_eq!(s.call_pos[0], vec![(6, 9), (6, 35)]);
        let e = p("description = \"d\"\ncheck = \"maybe\"\n[[thread]]\nops = [\"sync\"]\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (2, 9), "{e}");
        let e = p("description = \"d\"\nlock_design = \"seqlock\"\n[[thread]]\nops = [\"sync\"]\n")
            .unwrap_err();
        assert!(e.msg.contains("unknown lock design `seqlock`"), "{e}");
    }

    #[test]
    fn a_handle_of_another_thread_says_whose_it_is() {
        let e = p("description = \"d\"\n[[thread]]\nops = [\"get_super ram0 as sb\", \"drop_super sb\"]\n[[thread]]\nops = [\"statfs sb\"]\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (5, 16), "{e}");
        assert!(e.msg.contains("bound by T1"), "{e}");
        assert!(e.msg.contains("belong to the task that bound them"), "{e}");
    }

    #[test]
    fn a_setup_assertion_is_checked() {
        let e = p("description = \"d\"\nsetup = [\"mkdir /a\", \"mkdir /a = 0\"]\n[[thread]]\nops = [\"sync\"]\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (2, 23), "{e}");
        assert!(e.msg.contains("returns EEXIST"), "{e}");
        let e = p("description = \"d\"\nsetup = [\"mkdir /mnt\", \"mount ram0 /mnt\", \"get_super ram0 as sb\", \"umount /mnt\"]\n[[thread]]\nops = [\"sync\"]\n")
            .unwrap_err();
        assert!(e.msg.contains("blocks for ever"), "{e}");
    }

    #[test]
    fn unknown_verdict_and_variant() {
        let e = p("description = \"d\"\nexpect = \"boom\"\n[[thread]]\nops = [\"sync\"]\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (2, 10), "{e}");
        let e = p("description = \"d\"\nvariant = \"nope\"\n[[thread]]\nops = [\"sync\"]\n")
            .unwrap_err();
        assert!(e.msg.contains("unknown variant"), "{e}");
    }
}
