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
//! error at its column), every handle is bound by its own task before use, `exit` is last, the
//! variant, verdict, design and check are known, and the setup returns what it asserts (0 when it
//! asserts nothing) in the fixed protocol without blocking (checked by running it once in the
//! model's sequential runner, std backend).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use mountcheck_model::oracle::FindingClass;
use mountcheck_model::program::linearizable::{run_setup, SpecError};
use mountcheck_model::program::ProgramError;
use mountcheck_model::{parse_call, Call, EndState, LockDesign, Oracles, Program, Variant};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The most threads loom can explore (`loom::MAX_THREADS` is 5, the main thread included).
pub const LOOM_MAX_THREADS: usize = 4;

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
    /// The lock design the file names (`lock_design`); none means the command line's, or global.
    pub lock_design: Option<LockDesign>,
    /// The linearizability check (`check`, default `linearizable`).
    pub check: Check,
    /// Position (line, col) of the `check` key, or of the first thread when there is none: where
    /// a problem of the check (too many orders) is reported.
    pub check_pos: (usize, usize),
    /// Position (line, col) of each thread's table, to point at a thread loom cannot run.
    pub thread_pos: Vec<(usize, usize)>,
    /// Position (line, col) of each thread call's text, to point at an assertion.
    pub call_pos: Vec<Vec<(usize, usize)>>,
    /// The size of its sequential specification, once computed (`crate::run::attach_specs`).
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
        cx.err(span, e.message().trim_end().to_string())
    })?;
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
    program.validate().map_err(
        |ProgramError {
             thread,
             index,
             col,
             msg,
         }| {
            let span = match thread {
                None => raw.setup[index.min(raw.setup.len() - 1)].span(),
                Some(i) => {
                    let ops = &raw.thread[i].get_ref().ops;
                    ops[index.min(ops.len() - 1)].span()
                }
            };
            cx.err_in_str(span, col, msg)
        },
    )?;
    // The setup must return what it asserts (0 when it asserts nothing), in the fixed protocol,
    // without blocking: a property of the file, whatever variant it explores.
    match run_setup(&program, lock_design.unwrap_or_default()) {
        Ok(_) => {}
        Err(SpecError::Setup { index, msg }) => {
            return Err(cx.err_in_str(raw.setup[index].span(), 0, msg));
        }
        Err(e) => return Err(cx.err(0..0, format!("the setup alone already fails: {e}"))),
    }
    Ok(Scenario {
        name,
        file: file.to_path_buf(),
        description: raw.description.get_ref().trim().to_string(),
        see: raw.see,
        variant,
        expect,
        program,
        lock_design,
        check,
        check_pos,
        thread_pos,
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
        assert_eq!(s.thread_pos, vec![(3, 1)]);
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
