#!/usr/bin/env bash
# Benchmarks kv-peer (release build) against etcd 3.4 (v2 API, --enable-v2=true), one member each, side by
# side in one run, with nginx serving a static 200 as this machine's HTTP ceiling for reads:
#   1. sequential writes: 1 connection PUTting random keys (wrk -t1 -c1 --latency -s bench/kv/put.lua)
#   2. writes at 16 and 64 connections, random keys
#   3. reads at 64 connections: GET of an existing key, and the same with ?quorum=true; nginx on the same path
#   4. watch notification latency: 200 long-poll watchers, bench/kv/watch.py (stdlib asyncio), 30 rounds
#   5. RSS after loading 100 k keys with 64-byte values into a fresh member (h2load POSTs to /v2/keys/load)
# and prints one table with kv-peer, etcd, their ratio (reads: also kv-peer/nginx) and the issue's goals.
# Both members keep their data directories on the same disk (DATA_ROOT) and fsync every write before
# answering: etcd 3.4 has no switch to turn that off; the run counts fdatasync/fsync calls per write to show it.
# Everything is on 127.0.0.1; all servers are started here and stopped on exit.
#
# Usage: bench/kv.sh              one member each (below)
#        bench/kv.sh --cluster    three members each: see bench/kv/cluster.sh
#
# Environment overrides (defaults in brackets):
#   DURATION      measured seconds per wrk run, "10" or "10s"                                  [10]
#   WARMUP        seconds of unreported traffic before each measured wrk run (0 = none)        [2]
#   WRK_THREADS   wrk -t for the 16- and 64-connection runs (the sequential run uses -t1)      [2]
#   WATCHERS      long-poll watchers per round                                                 [200]
#   WATCH_ROUNDS  watch rounds (one write each)                                                [30]
#   LOAD_KEYS     keys loaded before the RSS reading                                           [100000]
#   SERVER_CPUS   taskset CPU list for kv-peer, etcd and nginx; empty = unpinned               [0]  (unpinned on 1 CPU)
#   CLIENT_CPUS   taskset CPU list for wrk, h2load and the watch script; empty = unpinned      [1]  (unpinned on 1 CPU)
#   SKIP_BUILD=1  use the existing release binary instead of running swift build
#   KV_PEER_BIN   benchmark this kv-peer binary instead (implies SKIP_BUILD=1)
#   ETCD_BIN      the etcd 3.4 binary                                                          [/usr/bin/etcd]
#   DATA_ROOT     where both members' data directories go; must be a real disk, not tmpfs     [/var/tmp]
#   OUT_DIR       where raw tool output goes                                  [bench/out/kv-<timestamp>]
set -euo pipefail
if [[ "${1:-}" == --cluster ]]; then exec "$(dirname "${BASH_SOURCE[0]}")/kv/cluster.sh"; fi
[[ $# -eq 0 ]] || { echo "usage: bench/kv.sh [--cluster]" >&2; exit 2; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# stop_pid, free_port, wait_http_ok, to_ms, measure_begin/measure_end, ratio
. "$REPO_ROOT/bench/lib.sh"
SCRATCH="$REPO_ROOT/.build-release"
PRODUCT=kv-peer
PUT_LUA="$REPO_ROOT/bench/kv/put.lua"
WATCH_PY="$REPO_ROOT/bench/kv/watch.py"

DURATION="${DURATION:-10}"
DURATION="${DURATION%s}"
WARMUP="${WARMUP:-2}"
WARMUP="${WARMUP%s}"
WRK_THREADS="${WRK_THREADS:-2}"
WATCHERS="${WATCHERS:-200}"
WATCH_ROUNDS="${WATCH_ROUNDS:-30}"
LOAD_KEYS="${LOAD_KEYS:-100000}"
ETCD_BIN="${ETCD_BIN:-/usr/bin/etcd}"
DATA_ROOT="${DATA_ROOT:-/var/tmp}"
# Servers on CPU 0, load generators on CPU 1 (as bench/http.sh does): each server gets exactly one core —
# nginx runs one worker, etcd's Go runtime sizes GOMAXPROCS from the affinity mask (so 1), and kv-peer's
# threads all share that core — so this compares one core against one core, and the load generator (which
# needs most of a core itself at these rates) never competes with the server it measures. Only one server
# is under load at a time; the idle ones cost nothing measurable.
default_cpu_pinning
SKIP_BUILD="${SKIP_BUILD:-0}"
OUT_DIR="${OUT_DIR:-$REPO_ROOT/bench/out/kv-$(date +%Y%m%d-%H%M%S)}"

READ_CONNECTIONS=64
LOAD_CONNECTIONS=16
VALUE="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" # 64 bytes, as put.lua writes
READ_PATH=/v2/keys/bench-read

die() { echo "bench/kv.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds, got '$DURATION'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be whole seconds, got '$WARMUP'"
[[ "$WRK_THREADS" =~ ^[1-9][0-9]*$ ]] || die "WRK_THREADS must be a positive integer"
[[ "$WATCHERS" =~ ^[1-9][0-9]*$ ]] || die "WATCHERS must be a positive integer"
[[ "$WATCH_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "WATCH_ROUNDS must be a positive integer"
[[ "$LOAD_KEYS" =~ ^[1-9][0-9]*$ ]] || die "LOAD_KEYS must be a positive integer"
(( WRK_THREADS <= 16 )) || WRK_THREADS=16

for tool in nginx wrk h2load curl python3 awk sort timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y nginx-light wrk nghttp2-client curl python3)"
done
[[ -x "$ETCD_BIN" ]] || die "etcd not found at $ETCD_BIN (apt-get install -y etcd-server, or set ETCD_BIN)"
ETCD_VERSION="$("$ETCD_BIN" --version | awk '/^etcd Version:/ { print $3 }')"
[[ "$ETCD_VERSION" == 3.4.* ]] || log "warning: $ETCD_BIN is etcd $ETCD_VERSION, not 3.4"
if [[ -n "$SERVER_CPUS$CLIENT_CPUS" ]]; then command -v taskset >/dev/null || die "taskset not found"; fi

server_prefix=()
client_prefix=()
[[ -n "$SERVER_CPUS" ]] && server_prefix=(taskset -c "$SERVER_CPUS")
[[ -n "$CLIENT_CPUS" ]] && client_prefix=(taskset -c "$CLIENT_CPUS")

# --- build ----------------------------------------------------------------------------------------------
release_binary "$PRODUCT" KV_PEER_BIN

# --- lifecycle ------------------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
mkdir -p "$DATA_ROOT"
case "$(stat -f -c %T "$DATA_ROOT")" in
    tmpfs | ramfs) die "DATA_ROOT=$DATA_ROOT is $(stat -f -c %T "$DATA_ROOT"): fsync would cost nothing; pick a directory on disk" ;;
esac
WORK="$(mktemp -d "${TMPDIR:-/tmp}/flotilla-bench-kv.XXXXXX")"
DATA="$(mktemp -d "$DATA_ROOT/flotilla-bench-kv-data.XXXXXX")"
KV_PID=""
ETCD_PID=""
NGINX_PID=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid "$KV_PID" kv-peer
    stop_pid "$ETCD_PID" etcd
    stop_pid "$NGINX_PID" nginx
    if [[ -d "$WORK" ]]; then
        cp -f "$WORK/nginx/logs/error.log" "$OUT_DIR/nginx-error.log" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    if [[ -d "$DATA" ]]; then
        du -sh "$DATA"/* >"$OUT_DIR/data-dir-sizes.txt" 2>/dev/null || true
        rm -rf "$DATA"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits (at most $2 tenths of a second) until a write to the keys API succeeds; this also creates the key
# the read runs GET. etcd only takes writes once it has elected itself, a second or two after it listens.
wait_keys_writable() {
    local url="$1" tries="$2" pid="$3" i
    for ((i = 0; i < tries; i++)); do
        if curl -fsS --max-time 1 -X PUT "$url$READ_PATH" -d "value=$VALUE" -o /dev/null 2>/dev/null; then return 0; fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start_kv_peer() {
    local stdout="$OUT_DIR/kv-peer.stdout"
    # Create the file first: the background job opens its redirection only after it has forked.
    : >"$stdout"
    "${server_prefix[@]}" "$BIN" --name kv-bench --data-dir "$DATA/kv-peer" \
        --listen-client-urls http://127.0.0.1:0 --advertise-client-urls http://127.0.0.1:0 \
        --listen-peer-urls http://127.0.0.1:0 \
        >"$stdout" 2>"$OUT_DIR/kv-peer.stderr" &
    KV_PID=$!
    KV_URL="$(ready_url "$stdout" client "$KV_PID")" \
        || die "kv-peer printed no ready line within 30 s: $(tail -n 5 "$OUT_DIR/kv-peer.stderr")"
    wait_keys_writable "$KV_URL" 100 "$KV_PID" || die "kv-peer does not take writes at $KV_URL"
}

# etcd needs fixed ports (client and peer); a port taken between free_port and etcd's bind makes it exit,
# so retry with new ones.
start_etcd() {
    local attempt client_port peer_port
    for ((attempt = 1; attempt <= 5; attempt++)); do
        client_port="$(free_port)"
        peer_port="$(free_port)"
        [[ "$client_port" != "$peer_port" ]] || continue
        rm -rf "$DATA/etcd"
        ETCD_URL="http://127.0.0.1:$client_port"
        "${server_prefix[@]}" "$ETCD_BIN" --name etcd-bench --data-dir "$DATA/etcd" --enable-v2=true \
            --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
            --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
            --initial-cluster "etcd-bench=http://127.0.0.1:$peer_port" --initial-cluster-state new \
            >>"$OUT_DIR/etcd.log" 2>&1 &
        ETCD_PID=$!
        if wait_keys_writable "$ETCD_URL" 200 "$ETCD_PID"; then return 0; fi
        log "etcd not ready on ports $client_port/$peer_port (attempt $attempt): $(tail -n 2 "$OUT_DIR/etcd.log")"
        stop_pid "$ETCD_PID" etcd
        ETCD_PID=""
    done
    die "etcd did not become ready"
}

# One worker answering every path with a static 200, so the read runs can use the very same URL path.
start_nginx() {
    local prefix="$WORK/nginx" attempt port
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    for ((attempt = 1; attempt <= 5; attempt++)); do
        port="$(free_port)"
        nginx_conf "$prefix" "$(cat <<EOF
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "ok\n"; }
    }
EOF
)" >"$prefix/conf/nginx.conf"
        : >"$prefix/logs/error.log"
        "${server_prefix[@]}" nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log" &
        NGINX_PID=$!
        NGINX_URL="http://127.0.0.1:$port"
        if wait_http_ok "$NGINX_URL$READ_PATH" 100; then return 0; fi
        log "nginx not ready on port $port (attempt $attempt): $(tail -n 3 "$prefix/logs/error.log")"
        stop_pid "$NGINX_PID" nginx
        NGINX_PID=""
    done
    die "nginx did not become ready"
}

# The server's processes: kv-peer and etcd are one process each; nginx is its master plus the worker.
server_pids() {
    case "$1" in
        nginx) echo "$NGINX_PID" $(ps -o pid= --ppid "$NGINX_PID") ;;
        etcd) echo "$ETCD_PID" ;;
        kv-peer) echo "$KV_PID" ;;
    esac
}
server_url() {
    case "$1" in
        nginx) echo "$NGINX_URL" ;;
        etcd) echo "$ETCD_URL" ;;
        kv-peer) echo "$KV_URL" ;;
    esac
}

# Snapshots the member has logged so far (both take one every 100000 entries by default; kv-peer logs it
# when saved, etcd when it starts). A snapshot inside a measured run shows in its p99 and max.
snapshots_logged() {
    case "$1" in
        kv-peer) grep -c 'snapshot saved' "$OUT_DIR/kv-peer.stderr" || true ;;
        etcd) grep -c 'start to snapshot' "$OUT_DIR/etcd.log" || true ;;
        *) echo 0 ;;
    esac
}

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }

# --- measurement ----------------------------------------------------------------------------------------
# fdatasync + fsync calls a process makes while `sleep $2` runs, via the syscall tracepoints (root or
# perf_event_paranoid <= -1 needed); the count is written to $3. Started in the background around a run.
FSYNC_TRACE=0
if command -v perf >/dev/null \
    && perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -- true >/dev/null 2>&1; then
    FSYNC_TRACE=1
fi
count_syncs() {
    perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$1" -o "$3" -- sleep "$2" >/dev/null 2>&1 || true
}
syncs_in() { awk -F, '$3 ~ /sys_enter_f(data)?sync/ { n += $1 } END { print n + 0 }' "$1"; }
etcd_wal_fsyncs() {
    curl -fsS --max-time 5 "$ETCD_URL/metrics" | awk '$1 == "etcd_disk_wal_fsync_duration_seconds_count" { print $2 }'
}

# run_wrk run server connections threads path [lua] -> sets RPS, P50, P99, MAX, REQS, NOTE, CPU, OTHER;
# raw output in $OUT_DIR/wrk-<run>-<server>.txt
run_wrk() {
    local run="$1" server="$2" conns="$3" threads="$4" path="$5" lua="${6:-}" url out errors non2xx sock
    url="$(server_url "$server")$path"
    out="$OUT_DIR/wrk-$run-$server.txt"
    local args=(-t"$threads" -c"$conns")
    [[ -n "$lua" ]] && args+=(-s "$lua")
    if (( WARMUP > 0 )); then
        "${client_prefix[@]}" wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null
    fi
    log "wrk ${args[*]} -d${DURATION}s --latency $url  ($run, $server)"
    local sync_out="$WORK/syncs-$run-$server" sync_pid=""
    if [[ "$run" == seq-write && "$FSYNC_TRACE" == 1 ]]; then
        # Counting spans the whole measured run (the warm-up is over, and nothing writes after wrk ends).
        count_syncs "$(server_pids "$server")" "$(( DURATION + 1 ))" "$sync_out" &
        sync_pid=$!
        sleep 0.3 # perf attaches
    fi
    local wal0=""
    [[ "$run" == seq-write && "$server" == etcd ]] && wal0="$(etcd_wal_fsyncs)"
    local snaps0
    snaps0="$(snapshots_logged "$server")"
    measure_begin "$server"
    "${client_prefix[@]}" wrk "${args[@]}" -d"${DURATION}s" --latency "$url" >"$out"
    measure_end "$server"
    R[$run,$server,snaps]=$(( $(snapshots_logged "$server") - snaps0 ))
    RPS="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    P50="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")"
    P99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
    MAX="$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$out")")"
    REQS="$(awk '/ requests in / { print $1; exit }' "$out")"
    [[ -n "$RPS" && -n "$P99" && -n "$REQS" && "$RPS" != 0 ]] || die "could not parse $out"
    non2xx="$(awk '/^ *Non-2xx or 3xx responses:/ { print $NF }' "$out")"
    sock="$(grep -E '^ *Socket errors' "$out" | tr -s ' ' || true)"
    errors="${non2xx:+non-2xx: $non2xx; }${sock}"
    NOTE="${errors:-all 2xx, no socket errors}"
    [[ -z "$errors" ]] || ERRORS+="$run/$server: $errors"$'\n'
    if [[ -n "$sync_pid" ]]; then
        wait "$sync_pid" || true
        R[$server,syncs_per_write]="$(awk -v s="$(syncs_in "$sync_out")" -v n="$REQS" 'BEGIN { printf "%.2f", s / n }')"
    fi
    if [[ -n "$wal0" ]]; then
        R[etcd,wal_fsyncs_per_write]="$(awk -v a="$wal0" -v b="$(etcd_wal_fsyncs)" -v n="$REQS" 'BEGIN { printf "%.2f", (b - a) / n }')"
    fi
    R[$run,$server,rps]=$RPS R[$run,$server,p50]=$P50 R[$run,$server,p99]=$P99 R[$run,$server,max]=$MAX
    R[$run,$server,cpu]=$CPU R[$run,$server,other]=$OTHER R[$run,$server,note]=$NOTE
    (( OTHER <= 10 )) || DISTURBED+="$run/$server (${OTHER}%) "
    RUNS+=("$run,$server")
}

# Loads LOAD_KEYS in-order keys (POST /v2/keys/load, value = 64 bytes) and records RSS before and after.
load_keys() {
    local server="$1" url out ok pid
    url="$(server_url "$server")/v2/keys/load"
    pid="$(server_pids "$server")"
    out="$OUT_DIR/h2load-load-$server.txt"
    R[$server,rss_empty]="$(rss_mib "$pid")"
    log "h2load --h1 -n $LOAD_KEYS -c $LOAD_CONNECTIONS POST $url  ($server)"
    "${client_prefix[@]}" timeout 600 h2load --h1 -t1 -n "$LOAD_KEYS" -c "$LOAD_CONNECTIONS" -d "$WORK/body.txt" \
        -H 'Content-Type: application/x-www-form-urlencoded' "$url" >"$out" || die "h2load failed or timed out; see $out"
    ok="$(awk '/^status codes:/ { print $3 }' "$out")"
    [[ "$ok" == "$LOAD_KEYS" ]] || die "loading $server: $ok of $LOAD_KEYS answers were 2xx; see $out"
    R[$server,load_rps]="$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) { printf "%.0f", $i; exit } }' "$out")"
    sleep 1 # let the last answers' buffers go; the reading is of a member at rest
    R[$server,rss]="$(rss_mib "$pid")"
    R[$server,hwm]="$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
    R[$server,threads]="$(threads_of "$pid")"
}

run_watch() {
    local server="$1" url out line
    url="$(server_url "$server")"
    out="$OUT_DIR/watch-$server.txt"
    log "watch.py $url --watchers $WATCHERS --rounds $WATCH_ROUNDS  ($server)"
    "${client_prefix[@]}" timeout 300 python3 "$WATCH_PY" "$url" --watchers "$WATCHERS" --rounds "$WATCH_ROUNDS" \
        >"$out" 2>&1 || die "watch benchmark against $server failed: $(tail -n 3 "$out")"
    line="$(grep '^samples=' "$out" | tail -n1)"
    field() { sed -n "s/.*\<$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
    R[$server,watch_p50]="$(field p50_ms)" R[$server,watch_p99]="$(field p99_ms)" R[$server,watch_max]="$(field max_ms)"
    R[$server,watch_put_p50]="$(field put_p50_ms)" R[$server,watch_samples]="$(field samples)"
    [[ "${R[$server,watch_samples]}" == $(( WATCHERS * WATCH_ROUNDS )) && -n "${R[$server,watch_p99]}" ]] \
        || die "watch benchmark against $server: unexpected output: $line"
}

# --- run ------------------------------------------------------------------------------------------------
CLK_TCK="$(getconf CLK_TCK)"
printf 'value=%s' "$VALUE" >"$WORK/body.txt"
declare -A R
RUNS=()
ERRORS=""
DISTURBED=""
log "starting servers; data directories under $DATA ($(stat -f -c %T "$DATA"))"
start_kv_peer
start_etcd
start_nginx
log "kv-peer: $KV_URL, pid $KV_PID; etcd $ETCD_VERSION: $ETCD_URL, pid $ETCD_PID; nginx: $NGINX_URL, 1 worker, pid $NGINX_PID"
log "raw output: $OUT_DIR"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# RSS first, on fresh members, so it is the cost of exactly LOAD_KEYS keys (the write runs add more).
for server in kv-peer etcd; do load_keys "$server"; done
for server in kv-peer etcd; do run_wrk seq-write "$server" 1 1 / "$PUT_LUA"; done
for conns in 16 64; do
    for server in kv-peer etcd; do run_wrk "write-c$conns" "$server" "$conns" "$WRK_THREADS" / "$PUT_LUA"; done
done
for server in kv-peer etcd nginx; do run_wrk read "$server" "$READ_CONNECTIONS" "$WRK_THREADS" "$READ_PATH"; done
for server in kv-peer etcd; do run_wrk quorum-read "$server" "$READ_CONNECTIONS" "$WRK_THREADS" "$READ_PATH?quorum=true"; done
for server in kv-peer etcd; do run_watch "$server"; done
for server in kv-peer etcd; do R[$server,rss_end]="$(rss_mib "$(server_pids "$server")")"; done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ---------------------------------------------------------------------------------------------
# verdict kind value target -> MET / NOT MET; kind: ge (value >= target) or le (value <= target)
verdict() {
    awk -v k="$1" -v v="$2" -v t="$3" 'BEGIN {
        if (v == "n/a" || t == "n/a") { print "n/a"; exit }
        ok = (k == "ge") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print ok ? "MET" : "NOT MET"
    }'
}
# "*" when one of the given runs ("run,server") was disturbed by other work on the machine.
disturbed() {
    local key
    for key in "$@"; do (( ${R[$key,other]:-0} <= 10 )) || { echo "*"; return; }; done
}
twice() { awk -v a="$1" 'BEGIN { printf "%.0f", 2 * a }'; }
ninety() { awk -v a="$1" 'BEGIN { printf "%.0f", 0.9 * a }'; }
row() { # metric kv etcd kv/etcd nginx kv/nginx goal verdict reference
    printf '| %-34s | %9s | %9s | %7s | %9s | %8s | %-22s | %-8s | %-12s |\n' "$@"
}
{
    echo
    echo "kv-peer vs etcd $ETCD_VERSION (v2 API) bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r), nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')"
    # Only what the binary is built from counts; uncommitted edits there are listed.
    dirty="$(git -C "$REPO_ROOT" status --porcelain -- Package.swift Package.resolved Shared Services 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ')"
    echo "source: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)${dirty:+ + uncommitted changes in: $dirty}; binary $BIN${KV_PEER_BIN:+ (KV_PEER_BIN: built elsewhere, the source line may not describe it)}"
    echo "server CPUs: ${SERVER_CPUS:-unpinned}; load generator CPUs: ${CLIENT_CPUS:-unpinned}; warm-up ${WARMUP}s before each wrk run of ${DURATION}s"
    echo "data directories: $DATA_ROOT ($(stat -f -c %T "$DATA_ROOT"), $(df -P "$DATA_ROOT" | awk 'NR == 2 { print $1 }')); threads after load: kv-peer ${R[kv-peer,threads]}, etcd ${R[etcd,threads]}"
    echo "writes: wrk --latency -s bench/kv/put.lua (PUT /v2/keys/bench/<random>, value=<64 bytes>); seq = -t1 -c1, c16/c64 = -t$WRK_THREADS"
    echo "reads: wrk -t$WRK_THREADS -c$READ_CONNECTIONS --latency GET $READ_PATH (nginx: same path, return 200 \"ok\\n\", 1 worker)"
    echo "watch: bench/kv/watch.py, $WATCHERS long-poll watchers x $WATCH_ROUNDS rounds; latency = write sent -> event received (includes the write's fsync)"
    echo "RSS: VmRSS after h2load --h1 -c$LOAD_CONNECTIONS POSTed $LOAD_KEYS keys (64-byte values) into a fresh member"
    echo "load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
    echo
    row metric kv-peer etcd kv/etcd nginx kv/nginx goal verdict "etcd earlier"
    printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------------" "----------:" "----------:" "--------:" "----------:" "---------:" "------------------------" "----------" "--------------"
    for run in seq-write write-c16 write-c64; do
        case $run in
            seq-write) label="sequential writes (c1)"; ref_rps="~3.3k"; ref_p99="" ;;
            write-c16) label="writes c16"; ref_rps=""; ref_p99="" ;;
            write-c64) label="writes c64"; ref_rps="~20k"; ref_p99="~55" ;;
        esac
        k="${R[$run,kv-peer,rps]}" e="${R[$run,etcd,rps]}"
        row "$label: writes/s" "$k" "$e" "$(ratio "$k" "$e")" "" "" ">= 2x etcd ($(twice "$e"))" "$(verdict ge "$(ratio "$k" "$e")" 2)$(disturbed "$run,kv-peer" "$run,etcd")" "$ref_rps"
        if [[ $run == seq-write ]]; then
            k="${R[$run,kv-peer,p50]}" e="${R[$run,etcd,p50]}"
            row "$label: p50 ms" "$k" "$e" "$(ratio "$k" "$e")" "" "" "<= etcd" "$(verdict le "$k" "$e")$(disturbed "$run,kv-peer" "$run,etcd")" ""
        fi
        k="${R[$run,kv-peer,p99]}" e="${R[$run,etcd,p99]}"
        row "$label: p99 ms" "$k" "$e" "$(ratio "$k" "$e")" "" "" "<= etcd" "$(verdict le "$k" "$e")$(disturbed "$run,kv-peer" "$run,etcd")" "$ref_p99"
    done
    n="${R[read,nginx,rps]}"
    for run in read quorum-read; do
        case $run in
            read) label="reads c64 (GET)"; ref_rps="~46k" ;;
            quorum-read) label="reads c64 (?quorum=true)"; ref_rps="~24k" ;;
        esac
        k="${R[$run,kv-peer,rps]}" e="${R[$run,etcd,rps]}"
        row "$label: reads/s" "$k" "$e" "$(ratio "$k" "$e")" "$n" "$(ratio "$k" "$n")" ">= 0.9x nginx ($(ninety "$n"))" "$(verdict ge "$(ratio "$k" "$n")" 0.9)$(disturbed "$run,kv-peer" read,nginx)" "$ref_rps"
        k="${R[$run,kv-peer,p99]}" e="${R[$run,etcd,p99]}"
        row "$label: p99 ms" "$k" "$e" "$(ratio "$k" "$e")" "${R[read,nginx,p99]}" "$(ratio "$k" "${R[read,nginx,p99]}")" "(none)" "" ""
    done
    k="${R[kv-peer,watch_p50]}" e="${R[etcd,watch_p50]}"
    row "watch x$WATCHERS: p50 ms" "$k" "$e" "$(ratio "$k" "$e")" "" "" "(none)" "" ""
    k="${R[kv-peer,watch_p99]}" e="${R[etcd,watch_p99]}"
    row "watch x$WATCHERS: p99 ms" "$k" "$e" "$(ratio "$k" "$e")" "" "" "<= 2 ms" "$(verdict le "$k" 2)" "4-6"
    k="${R[kv-peer,rss]}" e="${R[etcd,rss]}"
    row "RSS after $LOAD_KEYS keys: MiB" "$k" "$e" "$(ratio "$k" "$e")" "" "" "<= 64 MiB" "$(verdict le "$k" 64)" "~257"
    echo
    echo "Details (informative):"
    echo "  RSS MiB  empty member: kv-peer ${R[kv-peer,rss_empty]}, etcd ${R[etcd,rss_empty]};" \
        "peak (VmHWM) during load: kv-peer ${R[kv-peer,hwm]}, etcd ${R[etcd,hwm]};" \
        "at the end of the run: kv-peer ${R[kv-peer,rss_end]}, etcd ${R[etcd,rss_end]}"
    echo "  load rate (h2load POST, c$LOAD_CONNECTIONS) writes/s: kv-peer ${R[kv-peer,load_rps]}, etcd ${R[etcd,load_rps]}"
    echo "  watch: max ms kv-peer ${R[kv-peer,watch_max]}, etcd ${R[etcd,watch_max]};" \
        "the write's own answer p50 ms kv-peer ${R[kv-peer,watch_put_p50]}, etcd ${R[etcd,watch_put_p50]}"
    if [[ "$FSYNC_TRACE" == 1 ]]; then
        echo "  durability: fdatasync+fsync calls per write in the sequential run (perf syscall tracepoints):" \
            "kv-peer ${R[kv-peer,syncs_per_write]:-n/a}, etcd ${R[etcd,syncs_per_write]:-n/a};" \
            "etcd's own etcd_disk_wal_fsync_duration_seconds_count per write: ${R[etcd,wal_fsyncs_per_write]:-n/a}"
    else
        echo "  durability: etcd_disk_wal_fsync_duration_seconds_count per write in the sequential run:" \
            "${R[etcd,wal_fsyncs_per_write]:-n/a} (perf syscall tracepoints unavailable: kv-peer not counted)"
    fi
    echo
    printf '| %-11s | %-7s | %8s | %7s | %7s | %8s | %10s | %9s | %9s | %s\n' run server "req/s" "p50 ms" "p99 ms" "max ms" "server CPU" "other CPU" snapshots notes
    for key in "${RUNS[@]}"; do
        run="${key%%,*}" server="${key#*,}"
        printf '| %-11s | %-7s | %8s | %7s | %7s | %8s | %9s%% | %8s%% | %9s | %s\n' "$run" "$server" "${R[$run,$server,rps]}" \
            "${R[$run,$server,p50]}" "${R[$run,$server,p99]}" "${R[$run,$server,max]}" "${R[$run,$server,cpu]}" \
            "${R[$run,$server,other]}" "${R[$run,$server,snaps]}" "${R[$run,$server,note]}"
    done
    echo
    echo "server CPU = user+system time of the server's processes during the run / its length (100% = one core);"
    echo "other CPU = CPU used by neither the server nor the load generator (other work on the machine): more than a"
    echo "few % means the run was disturbed. snapshots = store snapshots the member logged during the run (both default to"
    echo "one per 100000 entries; where they land depends on throughput): a run with one has it in its p99 and max."
    echo "Quorum reads: the issue's \"reads >= 0.9x nginx\" is applied to both read rows."
    if [[ -n "$DISTURBED" ]]; then
        echo "WARNING: other work on the machine used > 10% of a core during: $DISTURBED- rerun on a quiet machine;"
        echo "         verdicts marked * rest on such a run."
    fi
    if [[ -n "$ERRORS" ]]; then
        echo "WARNING: some runs had errors:"
        printf '%s' "$ERRORS" | sed 's/^/  /'
    fi
} | tee "$OUT_DIR/summary.txt"
