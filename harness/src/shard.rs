//! Shards: a run split into units of work that separate processes, on separate machines, run
//! on their own and `mountcheck merge` joins again (as cargo-nextest's `--partition` and
//! Playwright's `--shard`).
//!
//! A unit is one exploration: (scenario, backend, lock design, replica). A randomized backend
//! (PCT, random, stress) runs `--replicas R` times with the seeds `seed, seed + 1, …,
//! seed + R - 1`, each with the full execution budget; a systematic one (loom, DFS) once, because
//! it is deterministic and a replica would explore the same executions again. The units are
//! listed in one canonical order (scenario name, backend name, lock design, replica: see
//! [`plan`]), and shard K of N runs the units whose position in that list is K - 1 modulo N
//! ([`ShardSpec::owns`]): deterministic, independent of the order of the command line, and the
//! replicas of one exploration, being adjacent, go to different shards. `--shard env` reads K and
//! N from a job engine's environment ([`env::from_env`]: a Slurm job array, a Kubernetes Indexed Job,
//! a GitHub Actions matrix).
//!
//! Each shard writes, beside its reports, a manifest ([`Manifest`], `shard.json`): the shard,
//! the identity of the run ([`RunIdentity`]: the scenarios by name and content hash, the
//! backends, the bounds, the seed, the replicas, the tool version) and every unit it ran with
//! its row. `merge` checks from the manifests alone that the shards belong to one run and cover
//! every unit exactly once.
//!
//! Invariant: the shards 1..N of one run partition its units: every unit is in exactly one
//! shard, and which one depends only on the run's identity and N.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::Path;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::report::Row;
use crate::run::Backend;

pub mod env;

/// The most shards of one run. Not a limit of the partition (a shard with no unit is fine) but a
/// guard against a typo such as `--shard 1/1000000000`: no job engine runs that many tasks of
/// one array.
pub const MAX_SHARDS: u32 = 100_000;

/// The range of `--replicas`: at least one run of each exploration; at most 10 000, which at
/// the default budget is 20 million executions of one scenario on one backend, so a larger
/// number is a typo.
pub const REPLICAS_RANGE: RangeInclusive<u64> = 1..=10_000;

/// The manifest's file name in a shard's reports directory.
pub const MANIFEST: &str = "shard.json";

/// Schema id of [`Manifest`].
pub const MANIFEST_SCHEMA: &str = "mountcheck-shard/1";

/// Shard K of N (K is 1-based, as in `--shard K/N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardSpec {
    /// K, in 1..=count.
    pub index: u32,
    /// N, in 1..=[`MAX_SHARDS`].
    pub count: u32,
}

impl ShardSpec {
    /// Shard `index` of `count`, if 1 <= index <= count <= [`MAX_SHARDS`].
    pub fn new(index: u32, count: u32) -> Result<ShardSpec, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "the number of shards {count} is outside 1..={MAX_SHARDS}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard {index} of {count} does not exist: shards are numbered 1 to {count}"
            ));
        }
        Ok(ShardSpec { index, count })
    }

    /// Whether the unit at `position` of the canonical list belongs to this shard.
    pub fn owns(self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--shard`: `K/N`, or `env` (read from the job engine's environment when the run starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// `--shard K/N`.
    Fixed(ShardSpec),
    /// `--shard env`.
    Env,
}

/// Parse `--shard`.
pub fn shard_arg(s: &str) -> Result<ShardArg, String> {
    if s == "env" {
        return Ok(ShardArg::Env);
    }
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not K/N (e.g. 2/4, 1-based) or `env`"))?;
    let num = |v: &str, what: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|e| format!("`{s}`: {what} `{v}` is not a number: {e}"))
    };
    let spec = ShardSpec::new(num(k, "K")?, num(n, "N")?)?;
    Ok(ShardArg::Fixed(spec))
}

/// The shard a run takes, and where it came from (for the manifest and messages).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The shard.
    #[serde(flatten)]
    pub spec: ShardSpec,
    /// `--shard 2/4`, or the environment variables it was read from.
    pub source: String,
}

impl ShardArg {
    /// The shard, reading the process's environment for `env`.
    pub fn resolve(self) -> Result<Resolved, String> {
        match self {
            ShardArg::Fixed(spec) => Ok(Resolved {
                spec,
                source: format!("--shard {spec}"),
            }),
            ShardArg::Env => env::from_env(|k| std::env::var(k).ok()),
        }
    }
}

/// Whether replicas of explorations on `b` explore different executions: the randomized
/// backends' do (another seed), a systematic search (loom, DFS) would repeat itself.
pub fn replicable(b: Backend) -> bool {
    match b {
        Backend::Pct | Backend::Random | Backend::Stress => true,
        Backend::Loom | Backend::Dfs => false,
    }
}

/// One unit of work: one exploration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Position in the canonical list of the run's units (0-based).
    pub position: usize,
    /// Scenario name.
    pub scenario: String,
    /// Backend, as the CLI names it.
    #[serde(with = "backend_name")]
    pub backend: Backend,
    /// Lock design.
    pub lock_design: String,
    /// Replica, 0-based (always 0 on a systematic backend).
    pub replica: u64,
    /// The seed of the replica: the run's seed plus the replica.
    pub seed: u64,
}

/// A backend in JSON: its name.
mod backend_name {
    use super::*;

    pub fn serialize<S: serde::Serializer>(b: &Backend, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(b.name())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Backend, D::Error> {
        let name = String::deserialize(d)?;
        Backend::from_str(&name, false)
            .map_err(|_| serde::de::Error::custom(format!("unknown backend `{name}`")))
    }
}

/// The units of a run in canonical order: sorted by scenario name, backend name, lock design and
/// replica, numbered from 0. Backends are deduplicated. An error when the last replica's seed
/// would pass `u64::MAX`.
pub fn plan(
    scenarios: &[String],
    backends: &[Backend],
    lock_design: &str,
    replicas: u64,
    seed: u64,
) -> Result<Vec<Unit>, String> {
    if seed.checked_add(replicas.saturating_sub(1)).is_none() {
        return Err(format!(
            "--seed {seed} with --replicas {replicas}: the last replica's seed would pass {}",
            u64::MAX
        ));
    }
    let mut names: Vec<&String> = scenarios.iter().collect();
    names.sort();
    names.dedup();
    let mut bs: Vec<Backend> = backends.to_vec();
    bs.sort_by_key(|b| b.name());
    bs.dedup();
    let mut units = Vec::new();
    for s in names {
        for &b in &bs {
            let n = if replicable(b) { replicas } else { 1 };
            for replica in 0..n {
                units.push(Unit {
                    position: units.len(),
                    scenario: s.clone(),
                    backend: b,
                    lock_design: lock_design.to_string(),
                    replica,
                    seed: seed + replica,
                });
            }
        }
    }
    Ok(units)
}

/// A scenario of a run: its name and the SHA-256 of its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioDigest {
    /// Name.
    pub name: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

impl ScenarioDigest {
    /// The digest of the scenario `name` read from `file`.
    pub fn of(name: &str, file: &Path) -> std::io::Result<ScenarioDigest> {
        let bytes = std::fs::read(file)?;
        Ok(ScenarioDigest {
            name: name.to_string(),
            sha256: hex(&Sha256::digest(&bytes)),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything that decides a run's units and their results: shards of one run have the same
/// identity. The scenarios are sorted by name and the backends by name, so the order of the
/// command line does not matter; `--jobs` and the directories are not part of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// The mountcheck that ran (a schedule or a verdict of another version is not comparable).
    pub tool_version: String,
    /// The scenarios, by name, with their content hashes.
    pub scenarios: Vec<ScenarioDigest>,
    /// `--variant`, if it overrode the scenarios' own.
    pub variant: Option<String>,
    /// Backends, by name, sorted.
    pub backends: Vec<String>,
    /// Lock design.
    pub lock_design: String,
    /// `--replicas`.
    pub replicas: u64,
    /// `--seed`: replica r of a randomized exploration runs seed + r.
    pub seed: u64,
    /// `--iterations` (`None`: each backend's default).
    pub iterations: Option<u64>,
    /// `--preemption-bound`.
    pub preemption_bound: usize,
    /// `--max-branches`.
    pub max_branches: usize,
    /// `--depth`.
    pub depth: usize,
    /// `--time-limit`, seconds.
    pub time_limit_secs: f64,
    /// `--allow-incomplete`.
    pub allow_incomplete: bool,
}

impl RunIdentity {
    /// A short id for messages: the first 16 hex digits of the SHA-256 of the identity's JSON.
    pub fn id(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        hex(&Sha256::digest(json.as_bytes()))[..16].to_string()
    }

    /// The fields in which `other` differs from `self`, each as `field: ours vs theirs`.
    pub fn differences(&self, other: &RunIdentity) -> Vec<String> {
        let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
            (serde_json::to_value(self), serde_json::to_value(other))
        else {
            return vec!["the identities cannot be compared".into()];
        };
        let mut out = Vec::new();
        for (k, va) in &a {
            let vb = b.get(k).unwrap_or(&serde_json::Value::Null);
            if va == vb {
                continue;
            }
            if k == "scenarios" {
                out.push(scenario_differences(&self.scenarios, &other.scenarios));
            } else {
                out.push(format!("{k}: {va} vs {vb}"));
            }
        }
        out
    }

    /// The run's units (see [`plan`]).
    pub fn units(&self) -> Result<Vec<Unit>, String> {
        let names: Vec<String> = self.scenarios.iter().map(|s| s.name.clone()).collect();
        let backends = self
            .backends
            .iter()
            .map(|b| Backend::from_str(b, false).map_err(|_| format!("unknown backend `{b}`")))
            .collect::<Result<Vec<_>, _>>()?;
        plan(
            &names,
            &backends,
            &self.lock_design,
            self.replicas,
            self.seed,
        )
    }
}

fn scenario_differences(a: &[ScenarioDigest], b: &[ScenarioDigest]) -> String {
    let mut parts = Vec::new();
    for s in a {
        match b.iter().find(|t| t.name == s.name) {
            None => parts.push(format!("{} only in the first", s.name)),
            Some(t) if t.sha256 != s.sha256 => parts.push(format!(
                "{} has other contents (sha256 {}… vs {}…)",
                s.name,
                &s.sha256[..12.min(s.sha256.len())],
                &t.sha256[..12.min(t.sha256.len())]
            )),
            Some(_) => {}
        }
    }
    for t in b {
        if !a.iter().any(|s| s.name == t.name) {
            parts.push(format!("{} only in the second", t.name));
        }
    }
    format!("scenarios: {}", parts.join("; "))
}

/// The order a run shows its rows in: its scenarios as loaded and its backends as given (the
/// canonical order of [`plan`] is for partitioning only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayOrder {
    /// Scenario names, in the order the run loaded them.
    pub scenarios: Vec<String>,
    /// Backend names, in the order of `--backend`.
    pub backends: Vec<String>,
}

impl DisplayOrder {
    /// The sort key of a row of `scenario` on `backend`.
    pub fn key(&self, scenario: &str, backend: &str) -> (usize, usize) {
        let pos = |v: &[String], x: &str| v.iter().position(|y| y == x).unwrap_or(usize::MAX);
        (pos(&self.scenarios, scenario), pos(&self.backends, backend))
    }
}

/// What a shard ran: one unit, its row in the shard's index and its report file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitResult {
    /// The unit.
    #[serde(flatten)]
    pub unit: Unit,
    /// The report's JSON file name in the shard's directory, for a finding or a checker error.
    pub report_file: Option<String>,
    /// The exploration's row (verdict, stop reason, executions, bounds, time).
    pub row: Row,
}

/// `shard.json`: what one shard of a run ran, for `mountcheck merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA`].
    pub schema: String,
    /// The shard and where it was read from.
    pub shard: Resolved,
    /// [`RunIdentity::id`] of `run`.
    pub run_id: String,
    /// The run this is a shard of.
    pub run: RunIdentity,
    /// The order of the run's rows.
    pub order: DisplayOrder,
    /// How many units the whole run has.
    pub units_total: usize,
    /// The units this shard ran, in canonical order.
    pub units: Vec<UnitResult>,
    /// The command line.
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_arguments_parse_one_based() {
        assert_eq!(
            shard_arg("2/4"),
            Ok(ShardArg::Fixed(ShardSpec { index: 2, count: 4 }))
        );
        assert_eq!(shard_arg("env"), Ok(ShardArg::Env));
        for bad in [
            "0/4", "5/4", "1/0", "x/2", "1/", "2", "", "1/100001", "-1/3",
        ] {
            assert!(shard_arg(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn shards_partition_the_units_and_spread_replicas() {
        let names: Vec<String> = ["b", "a", "c"].iter().map(|s| s.to_string()).collect();
        let backends = [Backend::Pct, Backend::Loom, Backend::Random, Backend::Pct];
        let units = plan(&names, &backends, "global", 3, 10).unwrap();
        // 3 scenarios x (loom 1 + pct 3 + random 3).
        assert_eq!(units.len(), 21);
        assert_eq!(units[0].scenario, "a");
        assert_eq!(units[0].backend, Backend::Loom);
        assert_eq!((units[1].backend, units[1].seed), (Backend::Pct, 10));
        assert_eq!((units[3].backend, units[3].seed), (Backend::Pct, 12));
        // The order of the command line does not matter.
        let again = plan(
            &["c".into(), "a".into(), "b".into()],
            &[Backend::Random, Backend::Pct, Backend::Loom],
            "global",
            3,
            10,
        )
        .unwrap();
        assert_eq!(units, again);
        for n in 1..=25u32 {
            let mut seen = vec![0; units.len()];
            for k in 1..=n {
                let s = ShardSpec::new(k, n).unwrap();
                let mine: Vec<&Unit> = units.iter().filter(|u| s.owns(u.position)).collect();
                // Balanced: shard sizes differ by at most one.
                assert!(mine.len() >= units.len() / n as usize, "{s}");
                assert!(mine.len() <= units.len().div_ceil(n as usize), "{s}");
                for u in mine {
                    seen[u.position] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "N={n}: {seen:?}");
        }
        // Replicas of one exploration land on different shards when N >= R.
        let s = |k| ShardSpec::new(k, 3).unwrap();
        for u in units.iter().filter(|u| u.backend == Backend::Pct) {
            let owners: Vec<u32> = (1..=3).filter(|&k| s(k).owns(u.position)).collect();
            assert_eq!(owners.len(), 1);
        }
        let pct_a: Vec<u32> = units
            .iter()
            .filter(|u| u.scenario == "a" && u.backend == Backend::Pct)
            .map(|u| (1..=3).find(|&k| s(k).owns(u.position)).unwrap())
            .collect();
        assert_eq!(pct_a.len(), 3);
        assert_ne!(pct_a[0], pct_a[1]);
        assert_ne!(pct_a[1], pct_a[2]);
        assert_ne!(pct_a[0], pct_a[2]);
    }

    #[test]
    fn a_seed_range_past_u64_max_is_refused() {
        let e = plan(&["a".into()], &[Backend::Pct], "global", 2, u64::MAX).unwrap_err();
        assert!(e.contains("--replicas 2"), "{e}");
        assert!(plan(&["a".into()], &[Backend::Pct], "global", 1, u64::MAX).is_ok());
    }

    #[test]
    fn systematic_backends_are_not_replicated() {
        // The same classification as the engine's strategies.
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            opts: crate::options::ExploreOptions,
        }
        let d = <Defaults as clap::Parser>::parse_from(["mountcheck"]);
        for &b in Backend::value_variants() {
            assert_eq!(
                replicable(b),
                !b.strategy(&d.opts).is_systematic(),
                "{}",
                b.name()
            );
        }
    }

    #[test]
    fn identities_name_what_differs() {
        let id = RunIdentity {
            tool_version: "0.1.0".into(),
            scenarios: vec![ScenarioDigest {
                name: "a".into(),
                sha256: "00".repeat(32),
            }],
            variant: None,
            backends: vec!["pct".into()],
            lock_design: "global".into(),
            replicas: 2,
            seed: 1,
            iterations: Some(10),
            preemption_bound: 2,
            max_branches: 20_000,
            depth: 3,
            time_limit_secs: 20.0,
            allow_incomplete: false,
        };
        let mut other = id.clone();
        assert!(id.differences(&other).is_empty());
        assert_eq!(id.id(), other.id());
        other.seed = 2;
        other.scenarios[0].sha256 = "11".repeat(32);
        let d = id.differences(&other);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|x| x == "seed: 1 vs 2"), "{d:?}");
        assert!(
            d.iter().any(|x| x.contains("a has other contents")),
            "{d:?}"
        );
        assert_ne!(id.id(), other.id());
    }
}
