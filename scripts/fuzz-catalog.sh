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
# SEEDS (the seeds of each mutant's campaigns, default "1"), TABLE_ONLY=1 (no campaign: only the
# table, from the campaigns already in reports/fuzz-catalog; a mutant without one is listed as
# not run).
#
# One seed is one draw of scenarios: whether a mutant is found within the budget, and when, varies
# from seed to seed as a waiting time does. With several seeds (SEEDS="1 2 3") the table adds how
# many seeds found each mutant and the median time to find (the higher middle one of an even
# count; a seed that did not find it counts as "> budget"), the figure to compare two generators
# by. The first seed's campaign stays in reports/fuzz-catalog/ID (its found scenario is the one
# the table links); the others go to reports/fuzz-catalog/ID/seed-S.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-300}
JOBS=${JOBS:-2}
MC=${MOUNTCHECK:-target/debug/mountcheck}
SEEDS=${SEEDS:-1}
for s in $SEEDS; do
  if ! [[ "$s" =~ ^[0-9]+$ ]]; then
    echo "fuzz-catalog: SEEDS must be whole numbers separated by spaces, got \"$SEEDS\"" >&2
    exit 2
  fi
done
first_seed=${SEEDS%% *}
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
  for seed in $SEEDS; do
    dir="$OUT/$id" log="$OUT/$id.log"
    if [ "$seed" != "$first_seed" ]; then
      dir="$OUT/$id/seed-$seed" log="$OUT/$id/seed-$seed.log"
      mkdir -p "$OUT/$id"
    fi
    echo "fuzz-catalog: $id, seed $seed (budget ${BUDGET} s)" >&2
    status=0
    "$MC" fuzz --variant "$id" --seed "$seed" --budget "$BUDGET" --until-found --jobs "$JOBS" \
      --reports "$dir" >"$log" 2>&1 || status=$?
    if [ "$status" -eq 2 ]; then
      echo "fuzz-catalog: $id: bad input (see $log)" >&2
      exit 2
    fi
  done
done
python3 - "$OUT" "$BUDGET" "$SEEDS" $ids <<'PY'
import json, os, re, statistics, sys
out, budget, seeds, ids = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
many = len(seeds) > 1

def seed_cell(i):
    """How many seeds found mutant i, and the median time to find (a miss counts as > budget)."""
    times = []
    for k, seed in enumerate(seeds):
        d = os.path.join(out, i) if k == 0 else os.path.join(out, i, f"seed-{seed}")
        try:
            with open(os.path.join(d, "fuzz.json")) as f:
                s = json.load(f)
        except FileNotFoundError:
            return "not run", "—"
        hit = [x for x in s["found"] if x.get("fixed_twin_clean") is not False]
        times.append(s["first_find_secs"] if hit else float("inf"))
    med = statistics.median_high(times)  # of an even count, the higher middle value
    found = sum(t != float("inf") for t in times)
    return f"{found} / {len(times)}", ("> %.0f" % float(budget)) if med == float("inf") else f"{med:.1f}"

rows = ["| mutant | found? | class | seconds to find | scenarios tried | shrunk calls | hand-written calls | fixed twin clean | file |" + (" seeds that found it | median seconds |" if many else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if many else "")]
found_n = 0
not_run = []
for i in ids:
    try:
        with open(os.path.join(out, i, "fuzz.json")) as f:
            s = json.load(f)
    except FileNotFoundError:
        not_run.append(i)
        rows.append(f"| `{i}` | not run | — | — | — | — | — | — | — |" + (" not run | — |" if many else ""))
        continue
    fs = [x for x in s["found"] if x.get("fixed_twin_clean") is not False]
    hand = s.get("hand_written_calls")
    extra = " %s | %s |" % seed_cell(i) if many else ""
    if fs:
        found_n += 1
        x = fs[0]
        rows.append(f"| `{i}` | yes | {x['class']} | {s['first_find_secs']:.1f} | {s['first_find_scenarios']} | {x['calls_after']} | {hand} | {'yes' if x['fixed_twin_clean'] else 'no'} | `{x['file']}` |" + extra)
    else:
        other = f" ({len(s['found'])} finding(s) the fixed protocol shares)" if s["found"] else ""
        rows.append(f"| `{i}` | **no**{other} | — | > {float(budget):.0f} | {s['scenarios']} | — | {hand} | — | — |" + extra)
seeds_text = (f"; the columns up to `file` are seed {seeds[0]}'s, the last two over seeds {', '.join(seeds)} (a seed that did not find the mutant counts as > {float(budget):.0f} s)" if many else "")
body = (f"## Catalog: time to find each mutant\n\n`scripts/fuzz-catalog.sh` (`mountcheck fuzz --variant ID --seed {seeds[0]} --budget {budget} --until-found`, default bounds{seeds_text}); "
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
