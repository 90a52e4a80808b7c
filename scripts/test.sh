#!/usr/bin/env bash
# Every test of mountcheck, as CI runs it (.ci/run calls this script and nothing else).
#
# Bounds, so the whole run stays well inside CI's 90 minutes on 2 cores:
# - loom model tests (model/tests/loom.rs, model/tests/lock_designs.rs) explore with a preemption
#   bound of 3 set in each file (LOOM_PREEMPTION_BOUND there) and a branch bound; the grace-period
#   test under crossbeam_loom (model/src/rcu_hash.rs) uses preemption bound 2; the CLI's loom explorations default to
#   preemption bound 2, 200 000 executions and 20 s per exploration (engine/src/bounds.rs);
# - shuttle tests use PCT and DFS with fixed iteration counts;
# - the catalog test runs a scaled-down catalog (harness/tests/catalog.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== std build: unit tests, sequential model tests, CLI integration tests (the one mountcheck binary links the loom, shuttle and std backends)"
cargo test --workspace

echo "== the shuttle engine's own unit tests (the witness shrinker)"
CARGO_TARGET_DIR=target/test-shuttle cargo test -p mountcheck-engine --features shuttle --release --lib

echo "== benches compile"
cargo bench --workspace --no-run

echo "== shuttle model tests (PCT, DFS)"
CARGO_TARGET_DIR=target/test-shuttle cargo test -p mountcheck-model --features shuttle --release --test shuttle --test lock_designs

echo "== loom model tests (exhaustive within the preemption bound)"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/test-loom cargo test -p mountcheck-model --release --test loom --test lock_designs

echo "== loom with crossbeam-epoch on loom: the RCU tables' grace period (preemption bound 2)"
RUSTFLAGS="--cfg loom --cfg crossbeam_loom" CARGO_TARGET_DIR=target/test-cbloom cargo test -p mountcheck-model --release --lib rcu_hash
