#!/usr/bin/env bash
# bench/kv.sh --cluster: a 3-member kv-peer cluster (release build) and a 3-member etcd 3.4 cluster (v2 API,
# --enable-v2=true) on loopback, side by side in one run, with the same flags (heartbeat 100 ms, election
# 1000 ms, every member's data directory on DATA_ROOT, every write fsynced on a quorum before it is answered):
#   1. writes at 64 connections, random keys, sent to the leader (wrk -s bench/kv/put.lua)
#   2. the same writes sent to a follower (forwarded to the leader)
#   3. quorum reads (?quorum=true) at 64 connections on the leader, and default (local) reads
#   4. failover: SIGKILL the leader, time until the next acknowledged write on a survivor (bench/kv/failover.py),
#      FAILOVER_ROUNDS times (the killed member is restarted and caught up between rounds)
# and prints one table with kv-peer, etcd, their ratio and the issue's goals.
#
# Usage: bench/kv.sh --cluster   (or bench/kv/cluster.sh)
#
# Environment overrides (defaults in brackets):
#   DURATION, WARMUP, WRK_THREADS   as bench/kv.sh                                             [10, 2, 2]
#   CONNECTIONS       wrk connections for every load run                                      [64]
#   FAILOVER_ROUNDS   leader kills per cluster                                                [3]
#   SERVER_CPUS, CLIENT_CPUS        taskset lists: all six members share SERVER_CPUS           [0, 1]
#   SKIP_BUILD=1, KV_PEER_BIN, ETCD_BIN, DATA_ROOT, OUT_DIR   as bench/kv.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$REPO_ROOT/bench/lib.sh"
SCRATCH="$REPO_ROOT/.build-release"
PUT_LUA="$REPO_ROOT/bench/kv/put.lua"
FAILOVER_PY="$REPO_ROOT/bench/kv/failover.py"

DURATION="${DURATION:-10}"
DURATION="${DURATION%s}"
WARMUP="${WARMUP:-2}"
WARMUP="${WARMUP%s}"
WRK_THREADS="${WRK_THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
FAILOVER_ROUNDS="${FAILOVER_ROUNDS:-3}"
ETCD_BIN="${ETCD_BIN:-/usr/bin/etcd}"
DATA_ROOT="${DATA_ROOT:-/var/tmp}"
HEARTBEAT_MS=100
ELECTION_MS=1000
default_cpu_pinning
SKIP_BUILD="${SKIP_BUILD:-0}"
OUT_DIR="${OUT_DIR:-$REPO_ROOT/bench/out/kv-cluster-$(date +%Y%m%d-%H%M%S)}"
READ_PATH=/v2/keys/bench-read
VALUE="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

die() { echo "bench/kv/cluster.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds, got '$DURATION'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be whole seconds, got '$WARMUP'"
[[ "$FAILOVER_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "FAILOVER_ROUNDS must be a positive integer"
for tool in wrk curl python3 awk; do command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y wrk curl python3)"; done
[[ -x "$ETCD_BIN" ]] || die "etcd not found at $ETCD_BIN (apt-get install -y etcd-server, or set ETCD_BIN)"
ETCD_VERSION="$("$ETCD_BIN" --version | awk '/^etcd Version:/ { print $3 }')"
server_prefix=()
client_prefix=()
[[ -n "$SERVER_CPUS" ]] && server_prefix=(taskset -c "$SERVER_CPUS")
[[ -n "$CLIENT_CPUS" ]] && client_prefix=(taskset -c "$CLIENT_CPUS")

release_binary kv-peer KV_PEER_BIN

mkdir -p "$OUT_DIR" "$DATA_ROOT"
case "$(stat -f -c %T "$DATA_ROOT")" in
    tmpfs | ramfs) die "DATA_ROOT=$DATA_ROOT is tmpfs: fsync would cost nothing; pick a directory on disk" ;;
esac
WORK="$(mktemp -d "${TMPDIR:-/tmp}/flotilla-bench-cluster.XXXXXX")"
DATA="$(mktemp -d "$DATA_ROOT/flotilla-bench-cluster-data.XXXXXX")"
declare -A PID CLIENT PEER R
SYSTEMS=(kv-peer etcd)

cleanup() {
    local status=$? key
    trap - EXIT INT TERM
    for key in "${!PID[@]}"; do stop_pid "${PID[$key]}" "$key"; done
    rm -rf "$WORK" "$DATA"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

binary_of() { [[ "$1" == kv-peer ]] && echo "$BIN" || echo "$ETCD_BIN"; }

# Both systems get exactly etcd's flags; etcd additionally --enable-v2=true.
start_member() {
    local system="$1" i="$2" cluster="$3" state="${4:-new}" extra=()
    [[ "$system" == etcd ]] && extra=(--enable-v2=true)
    "${server_prefix[@]}" "$(binary_of "$system")" --name "m$i" --data-dir "$DATA/$system-m$i" \
        --listen-client-urls "${CLIENT[$system,$i]}" --advertise-client-urls "${CLIENT[$system,$i]}" \
        --listen-peer-urls "${PEER[$system,$i]}" --initial-advertise-peer-urls "${PEER[$system,$i]}" \
        --initial-cluster "$cluster" --initial-cluster-state "$state" --initial-cluster-token "bench-$system" \
        --heartbeat-interval "$HEARTBEAT_MS" --election-timeout "$ELECTION_MS" "${extra[@]}" \
        >>"$OUT_DIR/$system-m$i.log" 2>&1 &
    PID[$system,$i]=$!
}

initial_cluster() {
    local system="$1" i list=""
    for i in 0 1 2; do list+="${list:+,}m$i=${PEER[$system,$i]}"; done
    echo "$list"
}

wait_writable() { # system i tries(0.1 s)
    local url="${CLIENT[$1,$2]}" i
    for ((i = 0; i < $3; i++)); do
        curl -fsS --max-time 2 -X PUT "$url$READ_PATH" -d "value=$VALUE" -o /dev/null 2>/dev/null && return 0
        kill -0 "${PID[$1,$2]}" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start_cluster() {
    local system="$1" attempt i cluster
    for ((attempt = 1; attempt <= 5; attempt++)); do
        for i in 0 1 2; do
            CLIENT[$system,$i]="http://127.0.0.1:$(free_port)"
            PEER[$system,$i]="http://127.0.0.1:$(free_port)"
            rm -rf "$DATA/$system-m$i"
        done
        cluster="$(initial_cluster "$system")"
        for i in 0 1 2; do start_member "$system" "$i" "$cluster"; done
        local ok=1
        for i in 0 1 2; do wait_writable "$system" "$i" 300 || ok=0; done
        (( ok )) && return 0
        log "$system cluster did not come up (attempt $attempt)"
        for i in 0 1 2; do stop_pid "${PID[$system,$i]}" "$system-m$i"; done
    done
    die "$system cluster did not start; logs in $OUT_DIR"
}

# Index (0-2) of the member a majority names as leader in /v2/stats/self.
leader_of() {
    local system="$1" i tries
    for ((tries = 0; tries < 100; tries++)); do
        for i in 0 1 2; do
            kill -0 "${PID[$system,$i]}" 2>/dev/null || continue
            if curl -fsS --max-time 1 "${CLIENT[$system,$i]}/v2/stats/self" 2>/dev/null | grep -q '"state":"StateLeader"'; then
                echo "$i"; return 0
            fi
        done
        sleep 0.1
    done
    die "$system: no leader"
}

server_pids() { local system="$1" i; for i in 0 1 2; do echo "${PID[$system,$i]}"; done; }

# run_wrk run system url [lua]: sets R[run,system,{rps,p50,p99,note,cpu}]
run_wrk() {
    local run="$1" system="$2" url="$3" lua="${4:-}" out="$OUT_DIR/wrk-$1-$2.txt" args non2xx sock
    args=(-t"$WRK_THREADS" -c"$CONNECTIONS")
    [[ -n "$lua" ]] && args+=(-s "$lua")
    (( WARMUP > 0 )) && "${client_prefix[@]}" wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null
    log "wrk ${args[*]} -d${DURATION}s --latency $url  ($run, $system)"
    measure_begin "$system"
    "${client_prefix[@]}" wrk "${args[@]}" -d"${DURATION}s" --latency "$url" >"$out"
    measure_end "$system"
    R[$run,$system,rps]="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    R[$run,$system,p50]="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")"
    R[$run,$system,p99]="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
    R[$run,$system,cpu]="$CPU"
    non2xx="$(awk '/^ *Non-2xx or 3xx responses:/ { print $NF }' "$out")"
    sock="$(grep -E '^ *Socket errors' "$out" | tr -s ' ' || true)"
    R[$run,$system,note]="${non2xx:+non-2xx: $non2xx; }${sock:-ok}"
}

failover() {
    local system="$1" round leader survivors i line times=()
    for ((round = 1; round <= FAILOVER_ROUNDS; round++)); do
        leader="$(leader_of "$system")"
        survivors=()
        for i in 0 1 2; do [[ "$i" != "$leader" ]] && survivors+=("${CLIENT[$system,$i]}"); done
        line="$("${client_prefix[@]}" python3 "$FAILOVER_PY" --pid "${PID[$system,$leader]}" "${survivors[@]}")" \
            || die "$system failover round $round: no write acknowledged after the kill"
        wait "${PID[$system,$leader]}" 2>/dev/null || true
        times+=("$(sed -n 's/^failover_ms=\([0-9]*\).*/\1/p' <<<"$line")")
        log "$system failover round $round: killed m$leader, $line"
        start_member "$system" "$leader" "$(initial_cluster "$system")"
        wait_writable "$system" "$leader" 300 || die "$system m$leader did not come back"
    done
    R[failover,$system,all]="${times[*]}"
    R[failover,$system,max]="$(printf '%s\n' "${times[@]}" | sort -n | tail -n1)"
    R[failover,$system,median]="$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
}

CLK_TCK="$(getconf CLK_TCK)"
for system in "${SYSTEMS[@]}"; do start_cluster "$system"; done
log "raw output: $OUT_DIR"
for system in "${SYSTEMS[@]}"; do
    leader="$(leader_of "$system")"
    follower=$(( (leader + 1) % 3 ))
    run_wrk write-leader "$system" "${CLIENT[$system,$leader]}/" "$PUT_LUA"
    run_wrk write-follower "$system" "${CLIENT[$system,$follower]}/" "$PUT_LUA"
    run_wrk quorum-read "$system" "${CLIENT[$system,$leader]}$READ_PATH?quorum=true"
    run_wrk read "$system" "${CLIENT[$system,$follower]}$READ_PATH"
done
for system in "${SYSTEMS[@]}"; do failover "$system"; done

row() { printf '| %-38s | %9s | %9s | %7s | %-26s | %-7s |\n' "$@"; }
verdict() { awk -v k="$1" -v v="$2" -v t="$3" 'BEGIN { ok = (k == "ge") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print ok ? "MET" : "NOT MET" }'; }
{
    echo
    echo "3-member kv-peer vs 3-member etcd $ETCD_VERSION (v2 API), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)"
    dirty="$(git -C "$REPO_ROOT" status --porcelain -- Package.swift Shared Services 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ')"
    echo "source: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)${dirty:+ + uncommitted changes in: $dirty}; binary $BIN"
    echo "members: all six on CPUs ${SERVER_CPUS:-unpinned}, load generator on ${CLIENT_CPUS:-unpinned}; heartbeat ${HEARTBEAT_MS} ms, election ${ELECTION_MS} ms; data on $DATA_ROOT ($(stat -f -c %T "$DATA_ROOT"))"
    echo "load: wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s after ${WARMUP}s warm-up; writes = PUT of a new random key with a 64-byte value"
    echo
    row metric kv-peer etcd ratio goal verdict
    row "---" "---" "---" "---" "---" "---"
    for run in write-leader write-follower quorum-read read; do
        k="${R[$run,kv-peer,rps]}" e="${R[$run,etcd,rps]}"
        case $run in
            write-leader | quorum-read) goal=">= 2x etcd ($(awk -v e="$e" 'BEGIN { printf "%.0f", 2 * e }'))"; v="$(verdict ge "$(ratio "$k" "$e")" 2)" ;;
            *) goal="(none)"; v="" ;;
        esac
        row "$run c$CONNECTIONS: req/s" "$k" "$e" "$(ratio "$k" "$e")" "$goal" "$v"
        k="${R[$run,kv-peer,p99]}" e="${R[$run,etcd,p99]}"
        case $run in
            write-leader | quorum-read) goal="<= etcd"; v="$(verdict le "$k" "$e")" ;;
            *) goal="(none)"; v="" ;;
        esac
        row "$run c$CONNECTIONS: p99 ms" "$k" "$e" "$(ratio "$k" "$e")" "$goal" "$v"
    done
    k="${R[failover,kv-peer,max]}" e="${R[failover,etcd,max]}"
    row "leader kill -> next ack: worst ms" "$k" "$e" "$(ratio "$k" "$e")" "<= 2x election ($(( 2 * ELECTION_MS )))" "$(verdict le "$k" $(( 2 * ELECTION_MS )))"
    row "leader kill -> next ack: median ms" "${R[failover,kv-peer,median]}" "${R[failover,etcd,median]}" \
        "$(ratio "${R[failover,kv-peer,median]}" "${R[failover,etcd,median]}")" "(none)" ""
    echo
    echo "failover rounds (ms): kv-peer ${R[failover,kv-peer,all]}; etcd ${R[failover,etcd,all]}"
    printf '| %-14s | %-7s | %8s | %7s | %7s | %11s | %s\n' run system "req/s" "p50 ms" "p99 ms" "members CPU" notes
    for run in write-leader write-follower quorum-read read; do
        for system in "${SYSTEMS[@]}"; do
            printf '| %-14s | %-7s | %8s | %7s | %7s | %10s%% | %s\n' "$run" "$system" "${R[$run,$system,rps]}" "${R[$run,$system,p50]}" \
                "${R[$run,$system,p99]}" "${R[$run,$system,cpu]}" "${R[$run,$system,note]}"
        done
    done
    echo "members CPU = user+system time of all three members during the run / its length (100% = one core)"
} | tee "$OUT_DIR/summary.txt"
