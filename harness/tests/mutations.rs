//! The source-mutation set (`mutations/*.patch`, measured by `scripts/mutation-kill.sh`) stays
//! measurable: at least 30 patches, each with the header the script and the report read (what it
//! plants, where, the kernel bug class, the lock design), each changing the model's source only
//! and none of them a catalog switch (`Mutant::`), spread over the lifecycle files and the
//! read-mostly code, and each still applying to the tree (`git apply --check`), so the figure in
//! `reports/mutations.md` can be measured again. A witness scenario (`mutations/witness/`) names
//! its patch and is clean on the fixed tree (PCT, a small budget here; the script's control run
//! checks it under loom and PCT too).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target size of the set.
const MIN_PATCHES: usize = 30;
/// The header fields every patch states.
const FIELDS: [&str; 4] = ["plants", "where", "resembles", "design"];
/// What `# design:` may say: `default` (each scenario's own design) or a `--lock-design` value.
const DESIGNS: [&str; 4] = ["default", "global", "rwlock", "read-mostly"];
/// Files the set must reach (the lifecycle files and the read-mostly hash): a path ending in `/`
/// is a directory of the model (`super_block/`, `task/`: a file split along the kernel's seams)
/// reached by a patch of any file in it.
const FILES: [&str; 6] = [
    "model/src/super_block/",
    "model/src/mount/",
    "model/src/namespace.rs",
    "model/src/namei.rs",
    "model/src/task/",
    "model/src/rcu_hash.rs",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn patches() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(workspace().join("mutations"))
        .expect("mutations/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "patch"))
        .collect();
    v.sort();
    v
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("# {name}:");
    text.lines()
        .take_while(|l| !l.starts_with("diff --git"))
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[test]
fn every_patch_has_its_header_changes_only_the_model_and_is_no_catalog_switch() {
    let all = patches();
    assert!(
        all.len() >= MIN_PATCHES,
        "{} patches in mutations/, want at least {MIN_PATCHES}",
        all.len()
    );
    let mut numbers = BTreeSet::new();
    let mut touched = BTreeSet::new();
    for p in &all {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let (nn, rest) = name.split_at(2);
        assert!(
            nn.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with('-'),
            "{name}: not named NN-short-name.patch"
        );
        assert!(
            numbers.insert(nn.to_string()),
            "{name}: number {nn} used twice"
        );
        let text = std::fs::read_to_string(p).unwrap();
        for f in FIELDS {
            assert!(
                field(&text, f).is_some(),
                "{name}: no `# {f}:` line in its header"
            );
        }
        let design = field(&text, "design").unwrap();
        assert!(
            DESIGNS.contains(&design),
            "{name}: `# design: {design}` is none of {DESIGNS:?}"
        );
        let files: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("+++ b/"))
            .collect();
        assert!(!files.is_empty(), "{name}: no diff after the header");
        for f in &files {
            assert!(
                f.starts_with("model/src/"),
                "{name}: changes {f}, outside the model's source"
            );
            touched.insert(f.to_string());
        }
        let changed = text.lines().filter(|l| {
            (l.starts_with('+') && !l.starts_with("+++"))
                || (l.starts_with('-') && !l.starts_with("---"))
        });
        for l in changed {
            assert!(
                !l.contains("Mutant::") && !l.contains("mutants!"),
                "{name}: touches a catalog switch ({l:?}); the set is for slips nobody catalogued"
            );
        }
    }
    for f in FILES {
        assert!(
            touched
                .iter()
                .any(|t| t == f || (f.ends_with('/') && t.starts_with(f))),
            "no mutation of {f}"
        );
    }
}

#[test]
fn every_witness_belongs_to_a_patch() {
    let names: BTreeSet<String> = patches()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    let Ok(dir) = std::fs::read_dir(workspace().join("mutations/witness")) else {
        return;
    };
    for e in dir {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        assert!(
            p.extension().is_some_and(|e| e == "toml") && names.contains(&stem),
            "{}: a witness is mutations/witness/<patch name>.toml of an existing patch",
            p.display()
        );
    }
}

/// PCT executions per witness in this test (the script runs the full default budget).
const WITNESS_PCT_ITERATIONS: &str = "300";

#[test]
fn every_witness_is_clean_on_the_fixed_tree() {
    let Ok(dir) = std::fs::read_dir(workspace().join("mutations/witness")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for e in dir {
        let p = e.unwrap().path();
        let out = Command::new(env!("CARGO_BIN_EXE_mountcheck"))
            .current_dir(workspace())
            .args([
                "run",
                "--backend",
                "pct",
                "--iterations",
                WITNESS_PCT_ITERATIONS,
            ])
            .arg(&p)
            .arg("--reports")
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} is not clean on the fixed tree:\n{}{}",
            p.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_patch_applies_to_the_tree() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("git is not installed: `git apply --check` of the patches skipped");
        return;
    }
    for p in patches() {
        let out = Command::new("git")
            .current_dir(workspace())
            .args(["apply", "--check"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} no longer applies to the model: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_measuring_script_parses() {
    let script = workspace().join("scripts/mutation-kill.sh");
    let Ok(out) = Command::new("bash").arg("-n").arg(&script).output() else {
        eprintln!("bash is not installed: syntax check of the script skipped");
        return;
    };
    assert!(
        out.status.success(),
        "scripts/mutation-kill.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
