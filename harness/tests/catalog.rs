//! The historical bug catalog, scaled down to fit the test suite: every mutant of
//! `mountcheck_model::Mutant::ALL` must be caught by loom (preemption bound 2) and by PCT within
//! 3 000 executions, and the fixed protocol must be clean on every mutant's scenario. A mutant
//! that stops being caught, or a finding on the fixed protocol, fails this test. The oracle
//! table must show the mutants of the result oracles caught by those oracles only, the two
//! older mutants that a wrong result also reveals caught by them too, and the mutants that skip
//! a lock caught by the lockdep oracle.

use std::process::Command;

#[test]
fn scaled_down_catalog_catches_every_mutant_and_the_fixed_protocol_is_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_mountcheck"))
        .current_dir(&root)
        .args([
            "catalog",
            "--backend",
            "loom,pct",
            "--pct-iterations",
            "3000",
            "--reports",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "the catalog is not all caught / all clean"
    );
    let md = std::fs::read_to_string(tmp.path().join("catalog.md")).unwrap();
    // One row per mutant of the oracle table: | id | class | lifetime | invariant | result | lin |
    let oracle_row = |id: &str| -> Vec<String> {
        let row = md
            .lines()
            .skip_while(|l| !l.starts_with("## Which oracles catch each mutant"))
            .find(|l| l.starts_with(&format!("| {id} | ")))
            .unwrap_or_else(|| panic!("no oracle row for {id}:\n{md}"));
        row.split('|').map(|c| c.trim().to_string()).collect()
    };
    // Columns: "", id, class, lifetime, invariant, lockdep, result, linearizability, "".
    for id in [
        "expire-busy-off-by-one",
        "copy-namespace-unlocked",
        "legitimize-no-recheck",
        "graft-lost-enoent",
    ] {
        let r = oracle_row(id);
        assert!(
            r[3].starts_with("no") && r[4].starts_with("no"),
            "{id}: lifetime or invariant catches it: {r:?}"
        );
        assert!(
            r[6].starts_with("yes") || r[7].starts_with("yes"),
            "{id}: no result oracle catches it: {r:?}"
        );
    }
    for id in ["umount-check-before-lock", "no-follow-down-in-mount"] {
        let r = oracle_row(id);
        assert!(
            r[4].starts_with("yes"),
            "{id}: the invariant oracle no longer catches it: {r:?}"
        );
        assert!(
            r[6].starts_with("yes") || r[7].starts_with("yes"),
            "{id}: not caught as a wrong result: {r:?}"
        );
    }
    // The mutants that break a lock rule are caught by the lockdep oracle alone.
    for id in [
        "kill-super-no-umount-lock",
        "umount-check-before-lock",
        "copy-namespace-unlocked",
    ] {
        let r = oracle_row(id);
        assert!(
            r[5].starts_with("yes (lock-rule)"),
            "{id}: the lockdep oracle does not catch it: {r:?}"
        );
    }
    for m in mountcheck_model::Mutant::ALL {
        for backend in ["loom", "pct"] {
            let caught = md.lines().any(|l| {
                l.starts_with(&format!("| {} | ", m.id()))
                    && l.contains(&format!(
                        "| {backend} | {} | finding | yes |",
                        m.expected().name()
                    ))
            });
            assert!(caught, "{} not caught by {backend}:\n{md}", m.id());
            // Clean means explored as far as the backend goes: loom's whole bounded space, PCT's
            // whole budget.
            let stop = if backend == "loom" {
                "exhausted"
            } else {
                "bound"
            };
            let clean = md.lines().any(|l| {
                l.starts_with(&format!("| {} (fixed) | ", m.id()))
                    && l.contains(&format!("| {backend} | clean | {stop} | yes |"))
            });
            assert!(
                clean,
                "fixed protocol not clean ({stop}) on {} under {backend}:\n{md}",
                m.id()
            );
        }
    }
}

#[test]
fn dfs_rows_that_did_not_exhaust_are_incomplete_not_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_mountcheck"))
        .current_dir(&root)
        .args([
            "catalog",
            "--backend",
            "dfs",
            "--mutants",
            "get-super-no-pin,fsmount-missing-mntget",
            "--dfs-iterations",
            "200",
            "--reports",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // DFS is held to its verdict only where it exhausts: its incomplete rows are accepted.
    assert_eq!(out.status.code(), Some(0));
    let md = std::fs::read_to_string(tmp.path().join("catalog.md")).unwrap();
    // 200 executions are far from DFS's whole space of these scenarios.
    assert!(
        md.contains(
            "| get-super-no-pin (fixed) | clean | dfs | incomplete | iteration-cap | yes | 200 |"
        ),
        "{md}"
    );
    // The mutant fsmount-missing-mntget fails in its first execution, whatever the schedule.
    assert!(
        md.contains("| fsmount-missing-mntget | underflow | dfs | underflow | finding | yes |"),
        "{md}"
    );
    assert!(!md.contains("| dfs | clean |"), "{md}");
}
