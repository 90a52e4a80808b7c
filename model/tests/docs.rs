//! The tables of `scenarios/README.md` are generated from the operation table
//! (`mountcheck_model::program::ops`): this test fails when the README's copy differs, and
//! rewrites it when run with `MOUNTCHECK_BLESS=1`
//! (`MOUNTCHECK_BLESS=1 cargo test -p mountcheck-model --test docs`).
#![cfg(not(any(loom, feature = "shuttle")))]

use mountcheck_model::program::ops::{atomicity_markdown, operations_markdown};

fn readme() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .join("scenarios/README.md")
}

/// `text` with the block between `<!-- NAME:begin -->` and `<!-- NAME:end -->` set to `block`.
fn with_block(text: &str, name: &str, block: &str) -> String {
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let i = text
        .find(&begin)
        .unwrap_or_else(|| panic!("no {begin:?} in scenarios/README.md"))
        + begin.len();
    let j = text[i..]
        .find(&end)
        .unwrap_or_else(|| panic!("no {end:?} in scenarios/README.md"))
        + i;
    format!("{}{block}{}", &text[..i], &text[j..])
}

#[test]
fn the_readme_tables_are_the_operation_table() {
    let path = readme();
    let text = std::fs::read_to_string(&path).expect("scenarios/README.md");
    let want = with_block(
        &with_block(&text, "operations", &operations_markdown()),
        "atomicity",
        &atomicity_markdown(),
    );
    if want != text {
        if std::env::var_os("MOUNTCHECK_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write scenarios/README.md");
            return;
        }
        panic!(
            "scenarios/README.md's tables differ from model/src/program/ops/mod.rs; run \
             `MOUNTCHECK_BLESS=1 cargo test -p mountcheck-model --test docs` to regenerate them.\n\
             Expected operations table:\n{}\nExpected atomicity table:\n{}",
            operations_markdown(),
            atomicity_markdown()
        );
    }
}
