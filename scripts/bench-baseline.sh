#!/usr/bin/env bash
# Build the `mountcheck` of a baseline commit (default c34b00a: the code reports/bench.md of
# issue 5 measured) in its own git worktree under target/, with its workers, for bench-report's
# side-by-side exploration rate. Prints the directory to pass as `bench-report --baseline DIR`.
#
#   dir=$(bash scripts/bench-baseline.sh c34b00a)
#   cargo run --release -p mountcheck-benches --bin bench-report -- --baseline "$dir"
set -euo pipefail
commit=${1:-c34b00a}
cd "$(dirname "$0")/.."
dir="$PWD/target/baseline-$commit"
if [ ! -e "$dir/.git" ]; then
  git worktree add --detach "$dir" "$commit" >&2
fi
(
  cd "$dir"
  cargo build --release -q -p mountcheck >&2
  # The baseline builds its workers on its first run (it predates the self-contained binary).
  ./target/release/mountcheck run get-super-vs-umount --backend loom,pct,stress \
    --reports "$dir/target/warm-up-reports" >&2 || true
)
echo "$dir"
