//! The verdict of one exploration: what a user may conclude from it, derived from why it stopped.
//!
//! What it keeps: one typed answer used everywhere a verdict is shown or judged (the summary, the
//! index, the JSON and Markdown reports, the catalog table, replay). `clean` is only ever the
//! verdict of an exploration that went as far as it should: a systematic backend (loom, DFS) that
//! exhausted its space, or a randomized one (PCT, random, real threads) that ran its whole
//! iteration budget. A search stopped early is `incomplete`; a checker that failed is
//! `checker-error`, never `clean`.
//!
//! Invariant: the verdict is a function of the stop reason (and the finding's class), computed in
//! [`Verdict::of`] only.

use std::fmt;

use mountcheck_engine::Stop;
use mountcheck_model::oracle::FindingClass;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::scenario::Expect;

/// The verdict of an exploration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Explored as far as the backend goes (exhausted, or the randomized budget run) with no
    /// finding.
    Clean,
    /// No finding, but the search stopped early (time limit, or a systematic backend's execution
    /// cap): nothing is known about what was not explored.
    Incomplete,
    /// A finding of this class.
    Finding(FindingClass),
    /// The checker failed before or during exploring.
    CheckerError,
}

impl Verdict {
    /// The verdict of an exploration that stopped for `stop`, with the finding's class if it
    /// found one.
    pub fn of(stop: Stop, finding: Option<FindingClass>) -> Verdict {
        match (stop, finding) {
            (_, Some(c)) => Verdict::Finding(c),
            (Stop::CheckerError, None) => Verdict::CheckerError,
            (Stop::Exhausted | Stop::Bound, None) => Verdict::Clean,
            (Stop::TimeLimit | Stop::IterationCap, None) => Verdict::Incomplete,
            // A finding stop always carries its finding; without one nothing is known.
            (Stop::Finding, None) => Verdict::CheckerError,
        }
    }

    /// `clean`, `incomplete`, the finding class, or `checker-error`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Incomplete => "incomplete",
            Verdict::Finding(c) => c.name(),
            Verdict::CheckerError => "checker-error",
        }
    }

    /// Parse a name of [`Verdict::name`].
    pub fn from_name(s: &str) -> Option<Verdict> {
        match s {
            "clean" => Some(Verdict::Clean),
            "incomplete" => Some(Verdict::Incomplete),
            "checker-error" => Some(Verdict::CheckerError),
            other => FindingClass::from_name(other).map(Verdict::Finding),
        }
    }

    /// Whether this verdict is what `expect` asks for. `incomplete` meets `clean` only when the
    /// user accepts incomplete explorations (`--allow-incomplete`); a checker error meets nothing.
    pub fn meets(self, expect: Expect, allow_incomplete: bool) -> bool {
        match (self, expect) {
            (Verdict::Clean, Expect::Clean) => true,
            (Verdict::Incomplete, Expect::Clean) => allow_incomplete,
            (Verdict::Finding(c), Expect::Finding(e)) => c == e,
            _ => false,
        }
    }

    /// The rows of the documentation table: each verdict and what it means.
    pub const MEANINGS: [(&'static str, &'static str); 4] = [
        ("clean", "no finding, and the search went as far as it goes: loom or DFS exhausted their space (stop `exhausted`), or PCT, random or stress ran their whole iteration budget (stop `bound`)"),
        ("incomplete", "no finding, but the search stopped early (stop `time-limit` or `iteration-cap`): nothing is known about the rest; not as expected where `clean` is expected, unless `--allow-incomplete`"),
        ("a finding class", "`use-after-free`, `double-free`, `underflow`, `leak`, `deadlock`, `invariant`, `panic` (the model panicked) or `crash` (the worker process died): an execution broke the protocol; the report shows it"),
        ("checker-error", "the checker failed before or during exploring (its own limit, such as loom's branch bound, or a worker that refused the request): nothing can be said about the scenario; exit status 1"),
    ];
}

/// The two tables of `mountcheck run --help` and the documentation: what each verdict and each
/// stop reason means.
pub fn help() -> String {
    let mut o = String::from("Verdicts:\n");
    for (name, meaning) in Verdict::MEANINGS {
        o.push_str(&format!("  {name:<16} {meaning}\n"));
    }
    o.push_str("\nStop reasons (why an exploration ended):\n");
    for s in Stop::ALL {
        o.push_str(&format!("  {:<16} {}\n", s.name(), s.meaning()));
    }
    o
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Verdict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Verdict::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown verdict `{s}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_that_stopped_early_is_never_clean() {
        for stop in Stop::ALL {
            let v = Verdict::of(stop, None);
            match stop {
                Stop::Exhausted | Stop::Bound => assert_eq!(v, Verdict::Clean),
                Stop::TimeLimit | Stop::IterationCap => assert_eq!(v, Verdict::Incomplete),
                Stop::CheckerError | Stop::Finding => assert_eq!(v, Verdict::CheckerError),
            }
        }
        assert!(!Verdict::Incomplete.meets(Expect::Clean, false));
        assert!(Verdict::Incomplete.meets(Expect::Clean, true));
        assert!(!Verdict::CheckerError.meets(Expect::Clean, true));
        let uaf = Expect::Finding(FindingClass::UseAfterFree);
        assert!(!Verdict::Incomplete.meets(uaf, true));
        assert!(Verdict::Finding(FindingClass::UseAfterFree).meets(uaf, false));
    }

    #[test]
    fn the_documentation_tables_name_every_verdict_and_stop_reason() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for doc in ["README.md", "reports/README.md"] {
            let text = std::fs::read_to_string(root.join(doc)).unwrap();
            for (name, _) in Verdict::MEANINGS {
                let cell = if name == "a finding class" {
                    "| a finding class".to_string()
                } else {
                    format!("| `{name}` |")
                };
                assert!(
                    text.contains(&cell),
                    "{doc} has no table row for verdict {name}"
                );
            }
            for s in Stop::ALL {
                assert!(
                    text.contains(&format!("| `{}` |", s.name())),
                    "{doc} has no table row for stop reason {s}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        let all = [Verdict::Clean, Verdict::Incomplete, Verdict::CheckerError]
            .into_iter()
            .chain(FindingClass::ALL.map(Verdict::Finding));
        for v in all {
            assert_eq!(Verdict::from_name(v.name()), Some(v));
            let j = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<Verdict>(&j).unwrap(), v);
        }
    }
}
