#!/usr/bin/env bash
# Time to find every catalog mutant with generated scenarios: for each mutant id (the `variant` of
# the catalog's scenario files, one per mutant), `mountcheck fuzz --variant ID --seed 1 --budget
# $BUDGET --until-found`, each campaign's figures kept in reports/fuzz-catalog/ID/fuzz.json; then
# the table (mutant, found?, seconds to find, scenarios tried, shrunk calls against the
# hand-written scenario's) replaces the `catalog` section of reports/fuzz.md.
#
# Usage: scripts/fuzz-catalog.sh [ID...]   (default: every mutant)
# Environment: BUDGET (seconds per mutant, default 300), MOUNTCHECK (the binary, default
# target/debug/mountcheck, whose model and engine are built at opt-level 3), JOBS (default 2),
# TABLE_ONLY=1 (no campaign: only the table, from the campaigns already in reports/fuzz-catalog;
# a mutant without one is listed as not run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-300}
JOBS=${JOBS:-2}
MC=${MOUNTCHECK:-target/debug/mountcheck}
if [ ! -x "$MC" ]; then
  cargo build -p mountcheck
fi
OUT=reports/fuzz-catalog
mkdir -p "$OUT"
if [ $# -gt 0 ]; then
  ids="$*"
else
  ids=$(sed -n 's/^variant = "\(.*\)"$/\1/p' scenarios/*.toml | grep -vx fixed | sort -u)
fi
for id in $ids; do
  [ "${TABLE_ONLY:-0}" = 1 ] && break
  rm -rf "${OUT:?}/$id"
  echo "fuzz-catalog: $id (budget ${BUDGET} s)" >&2
  status=0
  "$MC" fuzz --variant "$id" --seed 1 --budget "$BUDGET" --until-found --jobs "$JOBS" \
    --reports "$OUT/$id" >"$OUT/$id.log" 2>&1 || status=$?
  if [ "$status" -eq 2 ]; then
    echo "fuzz-catalog: $id: bad input (see $OUT/$id.log)" >&2
    exit 2
  fi
done
python3 - "$OUT" "$BUDGET" $ids <<'PY'
import json, os, re, sys
out, budget, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = ["| mutant | found? | class | seconds to find | scenarios tried | shrunk calls | hand-written calls | fixed twin clean | file |",
        "|---|---|---|---|---|---|---|---|---|"]
found_n = 0
not_run = []
for i in ids:
    try:
        with open(os.path.join(out, i, "fuzz.json")) as f:
            s = json.load(f)
    except FileNotFoundError:
        not_run.append(i)
        rows.append(f"| `{i}` | not run | — | — | — | — | — | — | — |")
        continue
    fs = [x for x in s["found"] if x.get("fixed_twin_clean") is not False]
    hand = s.get("hand_written_calls")
    if fs:
        found_n += 1
        x = fs[0]
        rows.append(f"| `{i}` | yes | {x['class']} | {s['first_find_secs']:.1f} | {s['first_find_scenarios']} | {x['calls_after']} | {hand} | {'yes' if x['fixed_twin_clean'] else 'no'} | `{x['file']}` |")
    else:
        other = f" ({len(s['found'])} finding(s) the fixed protocol shares)" if s["found"] else ""
        rows.append(f"| `{i}` | **no**{other} | — | > {float(budget):.0f} | {s['scenarios']} | — | {hand} | — | — |")
body = (f"## Catalog: time to find each mutant\n\n`scripts/fuzz-catalog.sh` (`mountcheck fuzz --variant ID --seed 1 --budget {budget} --until-found`, default bounds); "
        f"{found_n} of {len(ids) - len(not_run)} mutants run found" + (f" ({len(not_run)} not run: out of time)" if not_run else "") + f". Seconds to find: from the campaign's start to the end of the batch of scenarios that found it (shrinking not included); "
        "scenarios tried: up to and including that one; calls: setup and threads.\n\n" + "\n".join(rows))
path = "reports/fuzz.md"
old = open(path).read() if os.path.exists(path) else ""
secs = dict(re.findall(r"<!-- begin (.*?) -->\n(.*?)\n<!-- end \1 -->", old, re.S))
secs["catalog"] = body
text = ("# Fuzzing campaigns\n\nWritten by `mountcheck fuzz` (one section per campaign: lock design and variant) and "
        "`scripts/fuzz-catalog.sh` (the catalog's time-to-find table); see reports/README.md.\n\n")
for k in sorted(secs):
    text += f"<!-- begin {k} -->\n{secs[k]}\n<!-- end {k} -->\n\n"
open(path, "w").write(text)
print(body)
PY
