#!/usr/bin/env bash
# Smoke test of deploy/slurm-array.sbatch on a real Slurm: bring up a one-node cluster on
# localhost (munged, slurmctld, slurmd, all under a temporary directory), submit the job array
# (N shards of a small run), submit the merge as the dependent job the sbatch file documents
# (--dependency=afterok), wait for both (bounded), then run the same options unsharded and compare
# the verdict sets (rows, verdicts, stop reasons, executions, replicas, report files, exit
# status) and check from the manifests that every unit ran exactly once. Exits non-zero on any
# difference.
#
#   bash scripts/slurm-smoke.sh                          # builds target/release/mountcheck if needed
#   MOUNTCHECK=path/to/mountcheck bash scripts/slurm-smoke.sh
#
# Needs root, Slurm and munge (Debian: apt-get install slurmctld slurmd slurm-client munge) and
# jq. Not run by CI. The daemons it starts are stopped by their process ids when it ends, however
# it ends; a munged already running on the machine is left alone (this one has its own key and
# socket). Settings: SHARDS (3), WAIT_SECS (600), KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

SHARDS=${SHARDS:-3}
WAIT_SECS=${WAIT_SECS:-600}
run_args=(get-super-no-pin get-super-vs-umount fsmount-missing-mntget
    --scenarios-dir "$repo/scenarios" --backend "loom,pct" --replicas 3 --iterations 300)

say() { echo "slurm-smoke: $*"; }
die() {
    echo "slurm-smoke: FAILED: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || {
    echo "slurm-smoke: needs root (slurmd runs the jobs; munged runs as the munge user)" >&2
    exit 2
}
for tool in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel jq setpriv; do
    command -v "$tool" >/dev/null || {
        echo "slurm-smoke: $tool not found (apt-get install slurmctld slurmd slurm-client munge jq)" >&2
        exit 2
    }
done

if [ -n "${MOUNTCHECK:-}" ]; then
    mountcheck=$(realpath "$MOUNTCHECK")
else
    say "building target/release/mountcheck"
    cargo build --release -q -p mountcheck
    mountcheck=$repo/target/release/mountcheck
fi

tmp=$(mktemp -d /tmp/mountcheck-slurm-smoke.XXXXXX)
chmod 755 "$tmp"
pids=()
jobs_submitted=()
cleanup() {
    local status=$?
    if [ "${#jobs_submitted[@]}" -gt 0 ]; then
        scancel "${jobs_submitted[@]}" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        say "cluster stopped (munged, slurmctld, slurmd: pids ${pids[*]})"
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        say "kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$status"
}
trap cleanup EXIT INT TERM

# munge: its own key, socket and files, run as the munge user.
mkdir -p "$tmp/munge"
mungekey --create --keyfile "$tmp/munge/munge.key"
chown -R munge:munge "$tmp/munge"
chmod 755 "$tmp/munge" # munged: the socket's directory must be searchable by all
chmod 400 "$tmp/munge/munge.key"
socket=$tmp/munge/munge.socket
setpriv --reuid=munge --regid=munge --init-groups munged --foreground \
    --key-file="$tmp/munge/munge.key" --socket="$socket" --pid-file="$tmp/munge/munged.pid" \
    --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/munged.seed" \
    2>>"$tmp/munge/munged.stderr" &
pids+=($!)
for _ in $(seq 100); do
    [ -S "$socket" ] && break
    sleep 0.1
done
[ -S "$socket" ] || die "munged did not create its socket $socket within 10 s: $(cat "$tmp/munge/munged.stderr" 2>/dev/null)"

# Two free TCP ports for slurmctld and slurmd.
free_port() {
    local p
    for p in $(seq "$1" $(($1 + 200))); do
        if ! ss -Htln "sport = :$p" | grep -q .; then
            echo "$p"
            return
        fi
    done
    die "no free port from $1"
}
ctld_port=$(free_port 16817)
slurmd_port=$(free_port $((ctld_port + 1)))

host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512))
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/work"
conf=$tmp/slurm.conf
cat >"$conf" <<CONF
ClusterName=mountchecksmoke
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=smoke Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$conf
slurmctld -D -c -f "$conf" 2>>"$tmp/log/slurmctld.stderr" &
pids+=($!)
slurmd -D -f "$conf" 2>>"$tmp/log/slurmd.stderr" &
pids+=($!)
up=0
for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^idle'; then
        up=1
        break
    fi
    sleep 0.5
done
[ "$up" = 1 ] || die "the node did not become idle within 30 s (waited for sinfo to show it idle): $(tail -5 "$tmp/log/slurmctld.log" "$tmp/log/slurmd.log" 2>/dev/null)"
say "one-node cluster up on $host (slurmctld :$ctld_port, slurmd :$slurmd_port):"
sinfo

# The job array, exactly as deploy/slurm-array.sbatch documents it, and the merge after it.
cd "$tmp/work"
export MOUNTCHECK=$mountcheck MOUNTCHECK_SHARDS_DIR=$tmp/work/reports-shards
array=$(sbatch --parsable --array=0-$((SHARDS - 1)) --cpus-per-task=1 \
    "$repo/deploy/slurm-array.sbatch" "${run_args[@]}")
array=${array%%;*}
jobs_submitted+=("$array")
merge=$(sbatch --parsable --dependency=afterok:"$array" --output=merge.out \
    --wrap "$mountcheck merge $MOUNTCHECK_SHARDS_DIR/* --reports $tmp/work/merged --junit $tmp/work/merged/junit.xml")
merge=${merge%%;*}
jobs_submitted+=("$merge")
say "submitted job array $array (--array=0-$((SHARDS - 1))) and merge job $merge (afterok:$array)"

waited=0
while [ -n "$(squeue -h -j "$array,$merge" 2>/dev/null)" ]; do
    if [ "$waited" -ge "$WAIT_SECS" ]; then
        squeue -j "$array,$merge" || true
        die "timed out after $WAIT_SECS s waiting for job array $array and merge job $merge to leave the queue"
    fi
    sleep 2
    waited=$((waited + 2))
done
say "job array $array and merge job $merge done after about $waited s:"
for job in "$array" "$merge"; do
    scontrol -o show job "$job" | while read -r line; do
        grep -oE '(JobId|ArrayJobId|ArrayTaskId|JobState|ExitCode)=[^ ]+' <<<"$line" | paste -sd' '
    done
done
for i in $(seq 0 $((SHARDS - 1))); do
    [ -f "reports-shards/$i/shard.json" ] || die "shard task $i left no reports-shards/$i/shard.json: $(cat slurm-mountcheck-"${array}"_"$i".out 2>/dev/null)"
done
say "the merge job's output (merge.out):"
cat merge.out
merge_exit=$(scontrol -o show job "$merge" | grep -oE 'ExitCode=[0-9]+' | cut -d= -f2)

# Every unit exactly once: the shards' positions are 0..total-1, each once.
total=$(jq -s '.[0].units_total' reports-shards/*/shard.json)
positions=$(jq -s -c '[.[].units[].position] | sort' reports-shards/*/shard.json)
expected=$(jq -n -c "[range(0; $total)]")
[ "$positions" = "$expected" ] || die "the shards' units are not each of the $total units once: $positions"
say "manifests: $total units, each run by exactly one shard ($(jq -r '"\(.shard.index)/\(.shard.count): \(.units | length) units (\(.shard.source))"' reports-shards/*/shard.json | paste -sd';' | sed 's/;/; /g'))"

# The same options, unsharded.
say "the same run unsharded:"
unsharded_exit=0
"$mountcheck" run "${run_args[@]}" --reports unsharded --junit unsharded.xml || unsharded_exit=$?

verdicts() {
    jq -c '.[] | del(.secs, .spec_secs) | .report |= (if . == null then null else split("/") | last end)' "$1/index.json"
}
if ! diff <(verdicts unsharded) <(verdicts merged) >verdicts.diff; then
    cat verdicts.diff
    die "the merged verdict set differs from the unsharded run's"
fi
[ "$merge_exit" = "$unsharded_exit" ] || die "merge exited $merge_exit, the unsharded run $unsharded_exit"
rows=$(jq length merged/index.json)
say "OK: the $SHARDS shards merged give the unsharded run's $rows rows (verdict, stop, executions, replicas, report files) and its exit status $unsharded_exit"
