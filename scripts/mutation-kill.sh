#!/usr/bin/env bash
# Measure the checker against source mutations of the model (mutations/*.patch): for each patch,
# apply it to a scratch checkout of HEAD, build `mountcheck`, and see whether (a) the bundled
# scenarios and (b) `mountcheck fuzz` (when this build has it) notice. Writes reports/mutations.md.
#
#   bash scripts/mutation-kill.sh                      # every patch, fuzz budget 60 s
#   bash scripts/mutation-kill.sh --fuzz-budget 120 mutations/07-*.patch
#
# Options:
#   --fuzz-budget SECONDS   budget of `mountcheck fuzz` per mutant (default 60)
#   --build-timeout SECONDS bound on one build (default 1800)
#   --run-timeout SECONDS   bound on one bundled run (default 1200)
#   --report FILE           where the Markdown goes (default reports/mutations.md)
#   --no-control            skip the unmutated control runs (only when they were just checked)
#
# A patch may have a witness, mutations/witness/<patch name>.toml: a scenario (not bundled) that
# the unmutated tree passes clean and the mutant fails, showing that a survivor of the bundled
# scenarios changes behaviour. The control checks each witness clean first.
#
# What counts:
# - bundled: `mountcheck run --backend loom,pct --allow-incomplete` over every bundled scenario,
#   under the lock design the patch header names (`# design:`; the code it changes only runs
#   there). Killed when the run exits 1: some verdict was not the expected one (a finding on a
#   scenario expected clean, or a catalog mutant's scenario no longer caught); the table names
#   those explorations. `--allow-incomplete` keeps an exploration that ran out of time on a
#   loaded machine from counting as a kill: only findings and checker errors do. A mutant that
#   breaks even a sequential order is killed before any exploration: `run` computes each
#   scenario's sequential specification on the (mutated) model first and refuses with exit 2,
#   "the sequential specification failed: … use-after-free …"; that exit 2 counts as a kill.
# - fuzz: `mountcheck fuzz --budget B --seed 1 --until-found` killed when it exits 1 (it found
#   something; the campaign stops there and the cell says when), survived on 0; "not run" when
#   the binary has no `fuzz` subcommand.
# - "does not compile" and timeouts are their own outcomes, never kills.
# Before the mutants, the unmutated tree is built and run the same way (once per lock design the
# patches need): if the control is not clean, nothing measured would mean anything, so the script
# stops (exit 1).
#
# Exit status: 0 when every patch was measured (survivors are results, not failures); 1 when the
# script itself could not do its job (a patch that does not apply or compile, a control that is
# not clean, a timeout, a checker that exits 2); 2 on bad usage.
#
# Bounds: every build, bundled run and fuzz campaign runs under `timeout`, and the message names
# the bound that was hit. Resource use: `nice -n 10`, one shared target directory
# (target/mutants) whose scratch checkout keeps one path, so only the model and what depends on
# it rebuild between mutants.
set -euo pipefail
# The whole script is one compound command, read before any of it runs: editing this file while
# a measurement is running cannot change what the running one does.
{

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

FUZZ_BUDGET=60
BUILD_TIMEOUT=1800
RUN_TIMEOUT=1200
FUZZ_GRACE=120
CONTROL=1
REPO=$(cd "$(dirname "$0")/.." && pwd)
REPORT="$REPO/reports/mutations.md"
PATCHES=()
while (($#)); do
    case "$1" in
        --fuzz-budget) FUZZ_BUDGET=${2:?}; shift 2 ;;
        --build-timeout) BUILD_TIMEOUT=${2:?}; shift 2 ;;
        --run-timeout) RUN_TIMEOUT=${2:?}; shift 2 ;;
        --report) REPORT=$(realpath -m "${2:?}"); shift 2 ;;
        --no-control) CONTROL=0; shift ;;
        -h|--help) usage ;;
        -*) echo "mutation-kill: unknown option $1" >&2; usage ;;
        *) PATCHES+=("$(realpath "$1")"); shift ;;
    esac
done
for n in "$FUZZ_BUDGET" "$BUILD_TIMEOUT" "$RUN_TIMEOUT"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "mutation-kill: '$n' is not a positive number of seconds" >&2; exit 2; }
done
if ((${#PATCHES[@]} == 0)); then
    PATCHES=("$REPO"/mutations/*.patch)
fi
for p in "${PATCHES[@]}"; do
    [[ -f "$p" ]] || { echo "mutation-kill: no such patch: $p" >&2; exit 2; }
done

TARGET="$REPO/target/mutants"
SRC="$TARGET/src"
BIN="$TARGET/debug/mountcheck"
mkdir -p "$TARGET"
exec 9>"$TARGET/lock"
flock -n 9 || { echo "mutation-kill: another run holds $TARGET/lock" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mutation-kill.XXXXXX")
HEAD_COMMIT=$(git -C "$REPO" rev-parse HEAD)
APPLIED="$TARGET/applied"   # the files the patch now applied to $SRC changed, one a line

# The scratch copy: a plain directory holding `git archive HEAD` (not a git worktree: nothing is
# registered in the repository), kept between runs so cargo's fingerprints (file times: the
# archive's are the commit's) let only the model and what depends on it rebuild. `restore`
# writes back, from HEAD, every file the last patch changed (with a new time, so the next build
# sees them change again) and is run before each mutant, at exit and at the start of a run that
# follows an interrupted one.
restore() {
    local f
    [[ -f "$APPLIED" ]] || return 0
    while IFS= read -r f; do
        [[ -n "$f" ]] && git -C "$REPO" show "$HEAD_COMMIT:$f" >"$SRC/$f"
    done <"$APPLIED"
    rm -f "$APPLIED"
}
CHILD=
cleanup() {
    local rc=$?
    [[ -n "$CHILD" ]] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    restore || { echo "mutation-kill: could not restore $SRC; remove it" >&2; rc=1; }
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# bounded SECONDS CMD...: run CMD under `timeout` in the background and wait for it, so that a
# signal to this script ends it at once (cleanup kills it) instead of after the child.
bounded() {
    local secs=$1 rc=0; shift
    timeout "$secs" nice -n 10 "$@" &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=
    return "$rc"
}
# Bring the scratch copy to HEAD: from the commit it holds, only the files that changed are
# rewritten (the others keep their times, so they do not rebuild); without one, a fresh archive.
OLD_HEAD=$(cat "$SRC/.mutation-kill-head" 2>/dev/null || true)
if [[ -d "$SRC" && -n "$OLD_HEAD" ]] && git -C "$REPO" cat-file -e "$OLD_HEAD^{commit}" 2>/dev/null; then
    HEAD_SAVED=$HEAD_COMMIT; HEAD_COMMIT=$OLD_HEAD; restore; HEAD_COMMIT=$HEAD_SAVED
    git -C "$REPO" diff --name-only --no-renames "$OLD_HEAD" "$HEAD_COMMIT" | while IFS= read -r f; do
        if git -C "$REPO" cat-file -e "$HEAD_COMMIT:$f" 2>/dev/null; then
            mkdir -p "$(dirname "$SRC/$f")"
            git -C "$REPO" show "$HEAD_COMMIT:$f" >"$SRC/$f"
        else
            rm -f "$SRC/$f"
        fi
    done
else
    rm -rf "$SRC" "$APPLIED"
    mkdir -p "$SRC"
    git -C "$REPO" archive "$HEAD_COMMIT" | tar -x -C "$SRC"
fi
echo "$HEAD_COMMIT" >"$SRC/.mutation-kill-head"

cd "$SRC"
export CARGO_TARGET_DIR="$TARGET"
# A first run seeds the mutants' target directory with the dependencies already built for this
# worktree (same profile, so cargo reuses them) instead of building them all again.
if [[ ! -d "$TARGET/debug/deps" && -d "$REPO/target/debug/deps" ]]; then
    echo "mutation-kill: seeding $TARGET from target/debug (dependencies only need building once)"
    mkdir -p "$TARGET/debug"
    for d in deps build .fingerprint; do cp -a "$REPO/target/debug/$d" "$TARGET/debug/"; done
fi

# header FIELD PATCH: a `# field:` line of the patch's header.
header() { sed -n "s/^# $1: *//p" "$2" | head -1; }
# md: a table cell (no pipes, no newlines).
md() { tr '\n' ' ' <<<"$*" | sed 's/|/\\|/g; s/ *$//'; }

# No debug info for the crates a mutant rebuilds (the dependencies keep the profile they were
# built with, so they are reused): a quicker rebuild, and nothing here needs a debugger.
NODEBUG=()
for pkg in mountcheck-model mountcheck-model-shuttle mountcheck-model-loom mountcheck-engine \
    mountcheck-engine-shuttle mountcheck-engine-loom mountcheck; do
    NODEBUG+=(--config "profile.dev.package.$pkg.debug=0")
done

# build LOG: 0 built, 1 does not compile, 124 timed out.
build() {
    local rc=0
    bounded "$BUILD_TIMEOUT" cargo build -q -p mountcheck "${NODEBUG[@]}" >"$1" 2>&1 || rc=$?
    return "$rc"
}

# bundled DESIGN OUT: run the bundled scenarios; sets B_RC and B_WHAT.
bundled() {
    local design=$1 out=$2 rc=0
    local args=(run --backend loom,pct --allow-incomplete --scenarios-dir "$SRC/scenarios" --reports "$out/reports")
    [[ "$design" == default ]] || args+=(--lock-design "$design")
    bounded "$RUN_TIMEOUT" "$BIN" "${args[@]}" >"$out/run.out" 2>"$out/run.err" || rc=$?
    B_RC=$rc
    # Before exploring, `run` runs every scenario's calls sequentially on the model to get the
    # linearizability specification; a mutant that breaks even a sequential order makes that fail,
    # and `run` refuses (exit 2) naming the finding: caught, before any interleaving.
    if ((rc == 2)) && grep -q 'the sequential specification failed' "$out/run.err"; then
        B_RC=1
        B_WHAT="sequential specification: $(grep -m1 -o 'the sequential specification failed: .*' "$out/run.err" | sed 's/^the sequential specification failed: //; s/mountcheck finding: //' | cut -c1-200)"
        return
    fi
    # The summary table's rows end in "ok": `NO` marks a verdict that was not the expected one.
    # Grouped by scenario: `scenario: loom use-after-free, pct use-after-free (expected clean)`.
    B_WHAT=$(awk '$NF == "NO" {
            if (!($1 in got)) { order[++n] = $1 }
            got[$1] = got[$1] (got[$1] == "" ? "" : ", ") $2 " " $3; want[$1] = $6
        }
        END { for (i = 1; i <= n; i++) printf "%s%s: %s (expected %s)", (i > 1 ? "; " : ""), order[i], got[order[i]], want[order[i]] }' "$out/run.out")
}

HAVE_FUZZ=0
# fuzz DESIGN OUT: sets F_RC.
fuzz() {
    local design=$1 out=$2 rc=0
    local args=(fuzz --budget "$FUZZ_BUDGET" --seed 1 --until-found --reports "$out/fuzz")
    [[ "$design" == default ]] || args+=(--lock-design "$design")
    bounded $((FUZZ_BUDGET + FUZZ_GRACE)) "$BIN" "${args[@]}" >"$out/fuzz.out" 2>"$out/fuzz.err" || rc=$?
    F_RC=$rc
}

# witness NAME DESIGN OUT: run the mutant's witness scenario (mutations/witness/NAME.toml, a
# scenario the fixed protocol passes clean) if there is one; sets W_CELL.
witness() {
    local name=$1 design=$2 out=$3 rc=0 file="$REPO/mutations/witness/$1.toml"
    W_CELL="-"
    [[ -f "$file" ]] || return 0
    mkdir -p "$out/witness"
    local args=(run "$file" --backend loom,pct --allow-incomplete --reports "$out/witness/reports")
    [[ "$design" == default ]] || args+=(--lock-design "$design")
    bounded "$RUN_TIMEOUT" "$BIN" "${args[@]}" >"$out/witness/run.out" 2>"$out/witness/run.err" || rc=$?
    if ((rc == 2)) && grep -q 'the sequential specification failed' "$out/witness/run.err"; then
        W_CELL="caught: sequential specification fails"
        return
    fi
    case $rc in
        0) W_CELL="not caught" ;;
        1) W_CELL="caught: $(awk '$NF == "NO" { printf "%s%s/%s", sep, $2, $3; sep = ", " }' "$out/witness/run.out")" ;;
        124) W_CELL="run timeout ($RUN_TIMEOUT s)" ;;
        *) W_CELL="checker exit $rc: $(tail -1 "$out/witness/run.err")" ;;
    esac
}

designs() {
    local p d
    for p in "${PATCHES[@]}"; do
        d=$(header design "$p"); echo "${d:-default}"
    done | sort -u
}

FAILED=0
fail() { echo "mutation-kill: $*" >&2; FAILED=1; }

echo "mutation-kill: building the unmutated tree ($HEAD_COMMIT) in $SRC"
if ! build "$WORK/control-build.log"; then
    tail -20 "$WORK/control-build.log" >&2
    echo "mutation-kill: the unmutated tree does not build (bound: --build-timeout $BUILD_TIMEOUT s)" >&2
    exit 1
fi
if "$BIN" fuzz --help >/dev/null 2>&1; then HAVE_FUZZ=1; else echo "fuzz: not available in this build"; fi

if ((CONTROL)); then
    for d in $(designs); do
        mkdir -p "$WORK/control-$d"
        t0=$SECONDS
        bundled "$d" "$WORK/control-$d"
        if ((B_RC != 0)); then
            cat "$WORK/control-$d/run.out" "$WORK/control-$d/run.err" >&2
            [[ $B_RC == 124 ]] && echo "mutation-kill: the control run hit --run-timeout $RUN_TIMEOUT s" >&2
            echo "mutation-kill: the unmutated checker is not as expected under design $d (exit $B_RC: ${B_WHAT:-see above}): no kill would mean anything" >&2
            exit 1
        fi
        echo "control ($d): bundled scenarios as expected in $((SECONDS - t0)) s"
        if ((HAVE_FUZZ)); then
            fuzz "$d" "$WORK/control-$d"
            if ((F_RC != 0)); then
                cat "$WORK/control-$d/fuzz.out" >&2
                echo "mutation-kill: the unmutated checker's fuzz campaign (design $d, budget $FUZZ_BUDGET s) exited $F_RC: a false alarm or a model bug to fix first" >&2
                exit 1
            fi
            echo "control ($d): fuzz found nothing in $FUZZ_BUDGET s"
        fi
    done
fi

if ((CONTROL)) && compgen -G "$REPO/mutations/witness/*.toml" >/dev/null; then
    for p in "${PATCHES[@]}"; do
        name=$(basename "$p" .patch)
        [[ -f "$REPO/mutations/witness/$name.toml" ]] || continue
        d=$(header design "$p"); d=${d:-default}
        witness "$name" "$d" "$WORK/control-witness-$name"
        if [[ "$W_CELL" != "not caught" ]]; then
            cat "$WORK/control-witness-$name/witness/run.out" >&2
            echo "mutation-kill: witness $name.toml is not clean on the unmutated tree ($W_CELL)" >&2
            exit 1
        fi
    done
    echo "control: every witness scenario is clean on the unmutated tree"
fi

pct() { (($2)) && echo "$1 / $2 ($((100 * $1 / $2)) %)" || echo "0 / 0"; }
# One table row per patch (ROW), and its outcomes: BUNDLED and FUZZ are killed, survived,
# not-run (fuzz only) or broken (not measured: does not apply or compile, a timeout, a checker
# exit 2); WIT is the witness cell.
declare -A ROW BUNDLED FUZZ WIT
# cells LINE: split a table row into CELLS (a pipe inside a cell is escaped by `md`).
cells() { IFS=$'\x1f' read -r -a CELLS <<<"$(sed 's/^| //; s/ |$//; s/ | /\x1f/g' <<<"$1")"; }
# outcome CELL: killed, survived, not-run or broken.
outcome() {
    case "$1" in
        killed*) echo killed ;;
        survived*) echo survived ;;
        "not run"*) echo not-run ;;
        *) echo broken ;;
    esac
}
# Every patch of mutations/ is a row, plus any other patch given.
ALL=("$REPO"/mutations/*.patch)
for p in "${PATCHES[@]}"; do
    [[ " ${ALL[*]} " == *" $p "* ]] || ALL+=("$p")
done
# A run of some of the patches keeps the rows of the others from the report it rewrites.
CARRIED=0
if [[ -f "$REPORT" ]] && grep -q '^| [0-9]' "$REPORT"; then
    while IFS= read -r line; do
        cells "$line"
        name=${CELLS[0]}
        [[ -f "$REPO/mutations/$name.patch" ]] || continue
        [[ " ${PATCHES[*]} " == *"/$name.patch "* ]] && continue
        [[ "${CELLS[2]}" == "not reached yet" ]] && continue
        [[ "${CELLS[5]}" == *"(earlier run)" ]] || CELLS[5]="${CELLS[5]} (earlier run)"
        ROW[$name]="| ${CELLS[0]} | ${CELLS[1]} | ${CELLS[2]} | ${CELLS[3]} | ${CELLS[4]} | ${CELLS[5]} |"
        BUNDLED[$name]=$(outcome "${CELLS[2]}")
        FUZZ[$name]=$(outcome "${CELLS[3]}")
        WIT[$name]=${CELLS[4]}
        CARRIED=$((CARRIED + 1))
    done < <(grep '^| [0-9]' "$REPORT")
fi

# write_report: the Markdown of every row so far (rewritten after every mutant, so an
# interrupted run leaves the rows it measured and says which patches it did not reach).
write_report() {
    local p name nm=0 nb=0 nf=0 nbf=0 nbroken=0 nreached=0 fuzz_ran=0
    local fuzz_only=() survivors=()
    for p in "${ALL[@]}"; do
        name=$(basename "$p" .patch)
        [[ -n "${ROW[$name]:-}" ]] || continue
        nreached=$((nreached + 1))
        if [[ ${BUNDLED[$name]} == broken || ${FUZZ[$name]} == broken ]]; then
            nbroken=$((nbroken + 1)); continue
        fi
        nm=$((nm + 1))
        [[ ${FUZZ[$name]} != not-run ]] && fuzz_ran=$((fuzz_ran + 1))
        [[ ${BUNDLED[$name]} == killed ]] && nb=$((nb + 1))
        [[ ${FUZZ[$name]} == killed ]] && nf=$((nf + 1))
        if [[ ${BUNDLED[$name]} == killed || ${FUZZ[$name]} == killed ]]; then nbf=$((nbf + 1)); fi
        [[ ${FUZZ[$name]} == killed && ${BUNDLED[$name]} != killed ]] && fuzz_only+=("$name")
        if [[ ${BUNDLED[$name]} != killed && ${FUZZ[$name]} != killed ]]; then
            local note; note=$(header note "$p")
            survivors+=("$name (witness: ${WIT[$name]})${note:+. Note: $note}")
        fi
    done
    mkdir -p "$(dirname "$REPORT")"
    {
        echo "# Source mutations: what the checker catches"
        echo
        echo "Generated by \`bash scripts/mutation-kill.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at commit \`${HEAD_COMMIT:0:12}\`"
        echo "($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)."
        echo "Each patch of \`mutations/\` plants one plausible slip in the model (its header says what,"
        echo "where, and which kernel bug class it resembles); none is a catalog switch of \`model/src/variant.rs\`."
        echo "Bundled: \`mountcheck run --backend loom,pct --allow-incomplete\` over every bundled scenario"
        echo "under the patch's lock design; killed when a verdict is not the expected one (the explorations"
        echo "are named). Fuzz: \`mountcheck fuzz --budget $FUZZ_BUDGET --seed 1 --until-found\`; killed on exit 1 (the cell says when the first finding came)."
        echo "Witness: for a mutant the bundled scenarios miss, \`mutations/witness/<patch>.toml\` is a scenario"
        echo "the unmutated tree passes clean (checked first) and the mutant fails: proof that it changes"
        echo "behaviour (not an equivalent mutant); it is not part of the bundled figure."
        echo "Time: build, bundled run, fuzz and witness of the mutant (the bundled run's own time in parentheses)."
        ((CARRIED)) && echo "Rows marked \"(earlier run)\" were not measured by this run: they come from the report it rewrote."
        echo
        echo "| patch | what it plants | bundled | fuzz | witness | time |"
        echo "|---|---|---|---|---|---|"
        for p in "${ALL[@]}"; do
            name=$(basename "$p" .patch)
            if [[ -n "${ROW[$name]:-}" ]]; then
                echo "${ROW[$name]}"
            else
                echo "| $name | $(md "$(header plants "$p")") | not reached yet | not reached yet | - | - |"
            fi
        done
        echo
        echo "## Kill rates"
        echo
        echo "Of $nm measured mutants (${#ALL[@]} patches: $nreached reached, $nbroken of them not measured; see the table):"
        echo
        echo "| caught by | killed |"
        echo "|---|---|"
        echo "| bundled scenarios only | $(pct "$nb" "$nm") |"
        if ((fuzz_ran == nm && nm > 0)); then
            echo "| fuzz only (budget $FUZZ_BUDGET s) | $(pct "$nf" "$nm") |"
            echo "| bundled + fuzz | $(pct "$nbf" "$nm") |"
            echo
            echo "Caught only by fuzzing: ${fuzz_only[*]:-none}."
        elif ((fuzz_ran == 0)); then
            echo "| fuzz | not run: the build that measured them has no \`mountcheck fuzz\` |"
            echo "| bundled + fuzz | not measured |"
            echo
            echo "Caught only by fuzzing: not measured."
        else
            echo "| fuzz | run on $fuzz_ran of $nm only: the others were measured by a build without \`mountcheck fuzz\` |"
            echo "| bundled + fuzz | not measured |"
            echo
            echo "Caught only by fuzzing: not measured."
        fi
        echo
        echo "Survivors (caught by nothing that ran), with what their witness shows:"
        echo
        if ((${#survivors[@]})); then printf -- '- %s\n' "${survivors[@]}"; else echo "- none"; fi
    } >"$REPORT.tmp"
    mv "$REPORT.tmp" "$REPORT"
    SUMMARY="bundled $(pct "$nb" "$nm")"
}

for p in "${PATCHES[@]}"; do
    name=$(basename "$p" .patch)
    plants=$(header plants "$p")
    design=$(header design "$p"); design=${design:-default}
    out="$WORK/$name"; mkdir -p "$out"
    t0=$SECONDS
    restore
    echo "== $name (design $design)"
    (cd "$SRC" && GIT_CEILING_DIRECTORIES="$TARGET" git apply --numstat "$p") 2>/dev/null | cut -f3 >"$APPLIED" || true
    # GIT_CEILING_DIRECTORIES: $SRC lies inside this worktree; git must not find the repository
    # around it (it would apply the patch relative to the worktree's top).
    if ! (cd "$SRC" && GIT_CEILING_DIRECTORIES="$TARGET" git apply "$p") 2>"$out/apply.err"; then
        fail "$name: the patch does not apply to HEAD: $(head -3 "$out/apply.err")"
        ROW[$name]="| $name | $(md "$plants") | does not apply | not run | - | $((SECONDS - t0)) s |"
        BUNDLED[$name]=broken; FUZZ[$name]=broken; WIT[$name]=-
        write_report
        continue
    fi
    brc=0; build "$out/build.log" || brc=$?
    if ((brc != 0)); then
        if ((brc == 124)); then
            fail "$name: the build hit --build-timeout $BUILD_TIMEOUT s"
            cell="build timeout ($BUILD_TIMEOUT s)"
        else
            fail "$name: does not compile: $(grep -m1 -A3 '^error' "$out/build.log" | tr '\n' ' ')"
            cell="does not compile"
        fi
        ROW[$name]="| $name | $(md "$plants") | $cell | not run | - | $((SECONDS - t0)) s |"
        BUNDLED[$name]=broken; FUZZ[$name]=broken; WIT[$name]=-
        write_report
        continue
    fi
    tb=$SECONDS
    bundled "$design" "$out"
    case $B_RC in
        0) bcell="survived"; bkill=0 ;;
        1) bcell="killed: ${B_WHAT:-exit 1}"; bkill=1 ;;
        124) fail "$name: the bundled run hit --run-timeout $RUN_TIMEOUT s"; bcell="run timeout ($RUN_TIMEOUT s)"; bkill=-1 ;;
        *) fail "$name: mountcheck run exited $B_RC: $(tail -2 "$out/run.err" | tr '\n' ' ')"; bcell="checker exit $B_RC"; bkill=-1 ;;
    esac
    tr=$((SECONDS - tb))
    fcell="not run (no fuzz in this build)"; fkill=0
    if ((HAVE_FUZZ && bkill >= 0)); then
        fuzz "$design" "$out"
        case $F_RC in
            0) fcell="survived" ;;
            1)
                # The campaign stops at its first finding (--until-found): say when that was.
                secs=$(sed -n 's/.*"first_find_secs": *\([0-9][0-9]*\(\.[0-9]\)\{0,1\}\).*/\1/p' "$out/fuzz/fuzz.json" 2>/dev/null | head -1)
                fcell="killed${secs:+ (first finding at $secs s)}"; fkill=1 ;;
            124) fail "$name: fuzz hit its bound of $((FUZZ_BUDGET + FUZZ_GRACE)) s (budget $FUZZ_BUDGET s + $FUZZ_GRACE s grace)"; fcell="timeout"; fkill=-1 ;;
            *) fail "$name: mountcheck fuzz exited $F_RC: $(tail -2 "$out/fuzz.err" | tr '\n' ' ')"; fcell="fuzz exit $F_RC"; fkill=-1 ;;
        esac
    fi
    witness "$name" "$design" "$out"
    case $bkill in 1) BUNDLED[$name]=killed ;; 0) BUNDLED[$name]=survived ;; *) BUNDLED[$name]=broken ;; esac
    case $fkill in 1) FUZZ[$name]=killed ;; -1) FUZZ[$name]=broken ;; *) ((HAVE_FUZZ)) && FUZZ[$name]=survived || FUZZ[$name]=not-run ;; esac
    WIT[$name]=$W_CELL
    echo "   bundled: $bcell; fuzz: $fcell; witness: $W_CELL; $((SECONDS - t0)) s"
    ROW[$name]="| $name | $(md "$plants") | $(md "$bcell") | $fcell | $(md "$W_CELL") | $((SECONDS - t0)) s (run ${tr} s) |"
    write_report
done
restore
write_report


echo "mutation-kill: $SUMMARY; report in $REPORT"
exit "$FAILED"
}
