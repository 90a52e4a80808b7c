//! `--shard env`: the shard of a run from the environment a job engine gives each of its tasks:
//! a Slurm job array, a Kubernetes Indexed Job, or a GitHub Actions matrix (or any engine that
//! can set two variables).
//!
//! Invariant: exactly one engine's index variable is read; a shard is returned only when every
//! variable it needs is set, is a number and is in range, and an error names the variables and
//! their values otherwise.

use super::{Resolved, ShardSpec, MAX_SHARDS};

/// The variables `--shard env` reads, by job engine.
pub const ENV_HELP: &str = "a Slurm job array (SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, \
with SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_STEP when set), a Kubernetes Indexed Job \
(JOB_COMPLETION_INDEX, 0-based, and MOUNTCHECK_SHARD_COUNT, equal to the Job's completions) or \
a GitHub Actions matrix or any other engine (MOUNTCHECK_SHARD_INDEX, 1-based like K in --shard \
K/N, and MOUNTCHECK_SHARD_COUNT)";

/// `--shard env`: the shard from the environment `get` reads. Exactly one engine's index
/// variable must be set: `MOUNTCHECK_SHARD_INDEX` (1-based), `SLURM_ARRAY_TASK_ID` (Slurm's task
/// id; the shard is `(id - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP`, 0-based) or
/// `JOB_COMPLETION_INDEX` (0-based). N is `SLURM_ARRAY_TASK_COUNT` for Slurm (and
/// `MOUNTCHECK_SHARD_COUNT` must agree if it is set), else `MOUNTCHECK_SHARD_COUNT`. Anything
/// missing, not a number or out of range is an error naming the variables.
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Resolved, String> {
    let var = |k: &str| get(k).map(|v| (k.to_string(), v.trim().to_string()));
    let number = |(k, v): &(String, String)| {
        v.parse::<u64>()
            .map_err(|_| format!("--shard env: {k}={v:?} is not a non-negative integer"))
    };
    let index_vars = [
        "MOUNTCHECK_SHARD_INDEX",
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
    ];
    let set: Vec<(String, String)> = index_vars.iter().filter_map(|k| var(k)).collect();
    let count_var = var("MOUNTCHECK_SHARD_COUNT");
    let required = |k: &str, why: &str| {
        var(k).ok_or_else(|| format!("--shard env: {why}, but {k} is not set"))
    };
    let (index0, count, source) = match set.as_slice() {
        [] => {
            return Err(format!(
                "--shard env: no shard index in the environment; expected {ENV_HELP}"
            ))
        }
        [one] if one.0 == "MOUNTCHECK_SHARD_INDEX" => {
            let n = required("MOUNTCHECK_SHARD_COUNT", "MOUNTCHECK_SHARD_INDEX is set")?;
            let k = number(one)?;
            if k == 0 {
                return Err(format!(
                    "--shard env: MOUNTCHECK_SHARD_INDEX={} is 1-based (1 to MOUNTCHECK_SHARD_COUNT)",
                    one.1
                ));
            }
            let count = number(&n)?;
            (
                k - 1,
                count,
                format!("{}={}, {}={}", one.0, one.1, n.0, n.1),
            )
        }
        [one] if one.0 == "SLURM_ARRAY_TASK_ID" => {
            let n = required(
                "SLURM_ARRAY_TASK_COUNT",
                "SLURM_ARRAY_TASK_ID is set (a Slurm job array)",
            )?;
            let id = number(one)?;
            let count = number(&n)?;
            let min = var("SLURM_ARRAY_TASK_MIN");
            let step = var("SLURM_ARRAY_TASK_STEP");
            let min_v = min.as_ref().map(number).transpose()?.unwrap_or(0);
            let step_v = step.as_ref().map(number).transpose()?.unwrap_or(1).max(1);
            let mut source = format!("{}={}, {}={}", one.0, one.1, n.0, n.1);
            for (k, v) in min.iter().chain(step.iter()) {
                source.push_str(&format!(", {k}={v}"));
            }
            if id < min_v || (id - min_v) % step_v != 0 {
                return Err(format!(
                    "--shard env: {source}: the task id is not SLURM_ARRAY_TASK_MIN plus a multiple of SLURM_ARRAY_TASK_STEP; submit the array as --array=0-(N-1)"
                ));
            }
            if let Some(m) = &count_var {
                if number(m)? != count {
                    return Err(format!(
                        "--shard env: {source}, but MOUNTCHECK_SHARD_COUNT={}: the two numbers of shards disagree",
                        m.1
                    ));
                }
            }
            ((id - min_v) / step_v, count, source)
        }
        [one] => {
            let n = required(
                "MOUNTCHECK_SHARD_COUNT",
                "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) and the number of shards must be the Job's completions",
            )?;
            let k = number(one)?;
            let count = number(&n)?;
            (k, count, format!("{}={}, {}={}", one.0, one.1, n.0, n.1))
        }
        many => {
            let names: Vec<String> = many.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return Err(format!(
                "--shard env: more than one shard index in the environment ({}); set only one engine's",
                names.join(", ")
            ));
        }
    };
    let count = u32::try_from(count)
        .ok()
        .filter(|c| (1..=MAX_SHARDS).contains(c))
        .ok_or_else(|| {
            format!("--shard env: {source}: the number of shards is outside 1..={MAX_SHARDS}")
        })?;
    let index = u32::try_from(index0)
        .ok()
        .filter(|&i| i < count)
        .ok_or_else(|| {
            format!("--shard env: {source}: the shard index is past the number of shards ({count})")
        })?;
    Ok(Resolved {
        spec: ShardSpec::new(index + 1, count)?,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    fn spec(pairs: &[(&str, &str)]) -> Result<ShardSpec, String> {
        from_env(env(pairs)).map(|r| r.spec)
    }

    #[test]
    fn the_environment_of_each_job_engine_gives_its_shard() {
        let s = |i, n| Ok(ShardSpec { index: i, count: n });
        // Slurm: 0-based ids, possibly offset (--array=5-7) or stepped (--array=0-8:4).
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        assert_eq!(spec(&slurm), s(1, 3));
        assert_eq!(
            spec(&[
                ("SLURM_ARRAY_TASK_ID", "7"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "5")
            ]),
            s(3, 3)
        );
        assert_eq!(
            spec(&[
                ("SLURM_ARRAY_TASK_ID", "8"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_STEP", "4")
            ]),
            s(3, 3)
        );
        // Kubernetes Indexed Job: 0-based index, N from the manifest.
        assert_eq!(
            spec(&[
                ("JOB_COMPLETION_INDEX", "3"),
                ("MOUNTCHECK_SHARD_COUNT", "4")
            ]),
            s(4, 4)
        );
        // GitHub Actions matrix (or anything else): 1-based.
        assert_eq!(
            spec(&[
                ("MOUNTCHECK_SHARD_INDEX", "2"),
                ("MOUNTCHECK_SHARD_COUNT", "2")
            ]),
            s(2, 2)
        );
        let r = from_env(env(&slurm)).unwrap();
        assert!(r.source.contains("SLURM_ARRAY_TASK_ID=0"), "{}", r.source);
    }

    #[test]
    fn bad_or_missing_shard_variables_are_named() {
        let cases: [(&[(&str, &str)], &str); 9] = [
            (&[], "SLURM_ARRAY_TASK_ID"),
            (&[("SLURM_ARRAY_TASK_ID", "0")], "SLURM_ARRAY_TASK_COUNT"),
            (&[("JOB_COMPLETION_INDEX", "0")], "MOUNTCHECK_SHARD_COUNT"),
            (
                &[
                    ("JOB_COMPLETION_INDEX", "4"),
                    ("MOUNTCHECK_SHARD_COUNT", "4"),
                ],
                "past the number of shards",
            ),
            (
                &[
                    ("MOUNTCHECK_SHARD_INDEX", "0"),
                    ("MOUNTCHECK_SHARD_COUNT", "4"),
                ],
                "1-based",
            ),
            (
                &[
                    ("MOUNTCHECK_SHARD_INDEX", "two"),
                    ("MOUNTCHECK_SHARD_COUNT", "4"),
                ],
                "MOUNTCHECK_SHARD_INDEX=\"two\"",
            ),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "1"),
                    ("SLURM_ARRAY_TASK_COUNT", "3"),
                    ("MOUNTCHECK_SHARD_COUNT", "4"),
                ],
                "disagree",
            ),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "1"),
                    ("SLURM_ARRAY_TASK_COUNT", "3"),
                    ("JOB_COMPLETION_INDEX", "1"),
                ],
                "more than one",
            ),
            (
                &[
                    ("JOB_COMPLETION_INDEX", "0"),
                    ("MOUNTCHECK_SHARD_COUNT", "0"),
                ],
                "outside 1..=",
            ),
        ];
        for (vars, needle) in cases {
            let e = spec(vars).unwrap_err();
            assert!(e.contains(needle), "{vars:?}: {e}");
            assert!(e.starts_with("--shard env:"), "{e}");
        }
    }
}
