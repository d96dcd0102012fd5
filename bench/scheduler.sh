#!/usr/bin/env bash
# Benchmarks the scheduler (release build) through the real keys API, on etcd 3.4 (v2 API) and on kv-peer,
# one after the other in one run:
#   1. submit UNITS units (desired launched) through the fleet API of an API-only scheduler (--disable-engine)
#   2. register MACHINES simulated machines (presence keys, as agents write them)
#   3. start a fresh scheduler with its engine and time it until every unit is placed; count the keys API
#      requests the engine sent (its /metrics, flotilla_keys_requests_total) and every operation the store
#      answered meanwhile (/v2/stats/store: also the API-only scheduler's watches and this driver's polling)
#   4. let one machine's presence expire (TTL LOSS_TTL) and time until its units are placed elsewhere
# and prints one table. The driver is bench/SchedulerBench (flotilla-bench-scheduler).
#
# Usage: bench/scheduler.sh
#
# Environment overrides (defaults in brackets):
#   UNITS        units submitted                                                             [10000]
#   MACHINES     simulated machines                                                          [1000]
#   LOSS_TTL     presence TTL of the machine that dies, seconds                              [5]
#   BACKENDS     which keys APIs to run against                                              [etcd kv-peer]
#   SKIP_BUILD=1 use the existing release binaries in .build-release
#   ETCD_BIN     the etcd 3.4 binary                                                         [/usr/bin/etcd]
#   DATA_ROOT    where the stores' data directories go; must be a real disk                 [/var/tmp]
#   OUT_DIR      where raw output goes                                 [bench/out/scheduler-<timestamp>]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO_ROOT/bench/lib.sh"
SCRATCH="$REPO_ROOT/.build-release"
UNITS="${UNITS:-10000}"
MACHINES="${MACHINES:-1000}"
LOSS_TTL="${LOSS_TTL:-5}"
BACKENDS="${BACKENDS:-etcd kv-peer}"
ETCD_BIN="${ETCD_BIN:-/usr/bin/etcd}"
DATA_ROOT="${DATA_ROOT:-/var/tmp}"
SKIP_BUILD="${SKIP_BUILD:-0}"
OUT_DIR="${OUT_DIR:-$REPO_ROOT/bench/out/scheduler-$(date +%Y%m%d-%H%M%S)}"

die() { echo "bench/scheduler.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

[[ "$UNITS" =~ ^[1-9][0-9]*$ ]] || die "UNITS must be a positive integer"
[[ "$MACHINES" =~ ^[1-9][0-9]*$ ]] || die "MACHINES must be a positive integer"
[[ "$LOSS_TTL" =~ ^[1-9][0-9]*$ ]] || die "LOSS_TTL must be whole seconds"

if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
if [[ "$SKIP_BUILD" != 1 ]]; then
    for product in scheduler kv-peer flotilla-bench-scheduler; do
        log "building $product (release, --scratch-path .build-release)"
        (cd "$REPO_ROOT" && swift build -c release --product "$product" --scratch-path "$SCRATCH") >&2 || die "release build of $product failed"
    done
fi
BIN="$SCRATCH/release"
for product in scheduler kv-peer flotilla-bench-scheduler; do
    [[ -x "$BIN/$product" ]] || die "$BIN/$product missing; build it or unset SKIP_BUILD"
done

mkdir -p "$OUT_DIR" "$DATA_ROOT"
DATA="$(mktemp -d "$DATA_ROOT/flotilla-bench-scheduler.XXXXXX")"
STORE_PID=""
API_PID=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid "$API_PID" scheduler
    stop_pid "$STORE_PID" store
    rm -rf "$DATA"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

writable() { # url pid: waits until the store takes a write (etcd elects itself after listening)
    local i
    for ((i = 0; i < 200; i++)); do
        curl -fsS --max-time 1 -X PUT "$1/v2/keys/bench-ready" -d value=1 -o /dev/null 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start_store() { # backend -> STORE_URL, STORE_PID
    local backend="$1" port peer
    rm -rf "$DATA/$backend"
    if [[ "$backend" == etcd ]]; then
        port="$(free_port)"
        peer="$(free_port)"
        STORE_URL="http://127.0.0.1:$port"
        "$ETCD_BIN" --name bench --data-dir "$DATA/etcd" --enable-v2=true \
            --listen-client-urls "$STORE_URL" --advertise-client-urls "$STORE_URL" \
            --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
            --initial-cluster "bench=http://127.0.0.1:$peer" >"$OUT_DIR/etcd.log" 2>&1 &
        STORE_PID=$!
    else
        "$BIN/kv-peer" --name bench --data-dir "$DATA/kv-peer" --listen-client-urls http://127.0.0.1:0 --listen-peer-urls http://127.0.0.1:0 \
            --advertise-client-urls http://127.0.0.1:0 >"$OUT_DIR/kv-peer.stdout" 2>"$OUT_DIR/kv-peer.log" &
        STORE_PID=$!
        STORE_URL="$(ready_url "$OUT_DIR/kv-peer.stdout" client "$STORE_PID")" || die "kv-peer did not start: $(tail -n 5 "$OUT_DIR/kv-peer.log")"
    fi
    writable "$STORE_URL" "$STORE_PID" || die "$backend does not take writes at $STORE_URL"
}

declare -A RESULT
for backend in $BACKENDS; do
    log "$backend: $UNITS units, $MACHINES machines"
    start_store "$backend"
    "$BIN/scheduler" --endpoints "$STORE_URL" --listen 127.0.0.1:0 --disable-engine --name api \
        >"$OUT_DIR/api-$backend.stdout" 2>"$OUT_DIR/api-$backend.log" &
    API_PID=$!
    API_URL="$(ready_url "$OUT_DIR/api-$backend.stdout" api "$API_PID")" || die "API scheduler did not start"
    RESULT[$backend]="$("$BIN/flotilla-bench-scheduler" --endpoint "$STORE_URL" --api "$API_URL" \
        --engine-command "exec '$BIN/scheduler' --endpoints '$STORE_URL' --listen 127.0.0.1:0 --name engine 2>'$OUT_DIR/engine-$backend.log'" \
        --machines "$MACHINES" --units "$UNITS" --loss-ttl "$LOSS_TTL")" || die "$backend run failed"
    echo "${RESULT[$backend]}" >"$OUT_DIR/result-$backend.json"
    stop_pid "$API_PID" scheduler
    API_PID=""
    stop_pid "$STORE_PID" "$backend"
    STORE_PID=""
done

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
printf '\n%-44s' "scheduler, $UNITS units on $MACHINES machines"
for backend in $BACKENDS; do printf '%14s' "$backend"; done
printf '%14s\n' "goal"
row() { # label field goal
    printf '%-44s' "$1"
    for backend in $BACKENDS; do printf '%14s' "$(field "${RESULT[$backend]}" "$2")"; done
    printf '%14s\n' "$3"
}
row "submit through the API (s)" submit_seconds "-"
row "full placement by a fresh engine (s)" place_seconds "<= 5"
row "keys API requests by the engine" place_engine_requests "-"
row "store operations during placement (all)" place_store_operations "-"
row "most / fewest units on one machine" max_units_per_machine "-"
row "" min_units_per_machine ""
row "re-placed after presence expiry (s)" replace_after_expiry_seconds "-"
row "re-placed after last heartbeat (s)" replace_after_last_heartbeat_seconds "<= TTL + 1"
echo "raw output: $OUT_DIR" >&2
