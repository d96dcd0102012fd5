#!/usr/bin/env bash
# Benchmarks the shared Swift HTTP server (flotilla-bench-http, release build) against nginx, side by side,
# in one run: HTTP/1.1 with wrk and cleartext HTTP/2 (prior knowledge) with h2load. Everything is on
# 127.0.0.1; both servers are started here and stopped on exit.
#
# Usage: bench/http.sh
#
# Environment overrides (defaults in brackets):
#   DURATION      measured seconds per run, "10" or "10s"                      [10]
#   CONNECTIONS   wrk connections, and total h2 streams in flight for h2load    [64]
#   WRK_THREADS   wrk -t                                                        [2]
#   H2_CLIENTS    h2load -c (connections); streams per connection = CONNECTIONS / H2_CLIENTS   [4]
#   H2_THREADS    h2load -t                                                     [2]
#   WARMUP        seconds of unreported warm-up traffic before each measured run (0 = none)  [2]
#   LOG_LEVEL     flotilla --log-level                                          [info]
#   SERVER_CPUS   taskset CPU list for both servers; set it empty for unpinned  [0]  (unpinned on 1 CPU)
#   CLIENT_CPUS   taskset CPU list for wrk and h2load; empty = unpinned          [1]  (unpinned on 1 CPU)
#   SKIP_BUILD=1  use the existing release binary instead of running swift build
#   FLOTILLA_BIN  benchmark this flotilla-bench-http binary instead (implies SKIP_BUILD=1)
#   OUT_DIR       where raw tool output goes                     [bench/out/http-<timestamp>]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# stop_pid, free_port, wait_http_ok, to_ms, measure_begin/measure_end, ratio
. "$REPO_ROOT/bench/lib.sh"
SCRATCH="$REPO_ROOT/.build-release"
PRODUCT=flotilla-bench-http

default_http_load
LOG_LEVEL="${LOG_LEVEL:-info}"
# By default each server gets CPU 0 and the load generator CPU 1: nginx runs one worker, so this compares one
# core against one core, and the load generator never competes with the server it measures.
default_cpu_pinning
SKIP_BUILD="${SKIP_BUILD:-0}"
OUT_DIR="${OUT_DIR:-$REPO_ROOT/bench/out/http-$(date +%Y%m%d-%H%M%S)}"

die() { echo "bench/http.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds, got '$DURATION'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be whole seconds, got '$WARMUP'"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer"
[[ "$H2_CLIENTS" =~ ^[1-9][0-9]*$ ]] || die "H2_CLIENTS must be a positive integer"
(( CONNECTIONS % H2_CLIENTS == 0 )) || die "CONNECTIONS ($CONNECTIONS) must be a multiple of H2_CLIENTS ($H2_CLIENTS)"
H2_STREAMS=$(( CONNECTIONS / H2_CLIENTS ))
(( WRK_THREADS <= CONNECTIONS )) || WRK_THREADS=$CONNECTIONS
(( H2_THREADS <= H2_CLIENTS )) || H2_THREADS=$H2_CLIENTS

for tool in nginx wrk h2load curl awk sort; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y nginx-light wrk nghttp2-client curl)"
done
if [[ -n "$SERVER_CPUS$CLIENT_CPUS" ]]; then command -v taskset >/dev/null || die "taskset not found"; fi

server_prefix=()
client_prefix=()
[[ -n "$SERVER_CPUS" ]] && server_prefix=(taskset -c "$SERVER_CPUS")
[[ -n "$CLIENT_CPUS" ]] && client_prefix=(taskset -c "$CLIENT_CPUS")

# --- build ----------------------------------------------------------------------------------------------
release_binary "$PRODUCT" FLOTILLA_BIN

# --- lifecycle ------------------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/flotilla-bench-http.XXXXXX")"
FLOTILLA_PID=""
NGINX_PID=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid "$FLOTILLA_PID" flotilla
    stop_pid "$NGINX_PID" nginx
    if [[ -d "$WORK" ]]; then
        cp -f "$WORK/nginx/logs/error.log" "$OUT_DIR/nginx-error.log" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_flotilla() {
    local stdout="$OUT_DIR/flotilla.stdout" i url=""
    # Create the file first: the background job opens its redirection only after it has forked.
    : >"$stdout"
    "${server_prefix[@]}" "$BIN" --listen 127.0.0.1:0 --log-level "$LOG_LEVEL" >"$stdout" 2>"$OUT_DIR/flotilla.stderr" &
    FLOTILLA_PID=$!
    for ((i = 0; i < 300; i++)); do # up to 30 s for the ready line
        url="$(sed -n 's/^listening http=\(http:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$stdout" | head -n1)"
        [[ -n "$url" ]] && break
        kill -0 "$FLOTILLA_PID" 2>/dev/null || die "flotilla exited before it was ready: $(cat "$OUT_DIR/flotilla.stderr")"
        sleep 0.1
    done
    [[ -n "$url" ]] || die "flotilla printed no ready line within 30 s"
    FLOTILLA_URL="$url/"
    wait_http_ok "$FLOTILLA_URL" 50 || die "flotilla does not answer HTTP/1.1 at $FLOTILLA_URL"
    wait_http_ok "$FLOTILLA_URL" 50 --http2-prior-knowledge || die "flotilla does not answer h2c at $FLOTILLA_URL"
}

# nginx cannot serve HTTP/1.1 and h2c prior knowledge on one cleartext port, so it gets two: one plain and
# one `http2` listener, both in the same single worker.
start_nginx() {
    local prefix="$WORK/nginx" attempt h1_port h2_port
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    for ((attempt = 1; attempt <= 5; attempt++)); do
        h1_port="$(free_port)"
        h2_port="$(free_port)"
        [[ "$h1_port" != "$h2_port" ]] || continue
        nginx_conf "$prefix" "$(cat <<EOF
    server {
        listen 127.0.0.1:$h1_port;
        location = / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:$h2_port http2;
        location = / { return 200 "ok\n"; }
    }
EOF
)" >"$prefix/conf/nginx.conf"
        : >"$prefix/logs/error.log"
        "${server_prefix[@]}" nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log" &
        NGINX_PID=$!
        NGINX_H1_URL="http://127.0.0.1:$h1_port/"
        NGINX_H2_URL="http://127.0.0.1:$h2_port/"
        if wait_http_ok "$NGINX_H1_URL" 100 && wait_http_ok "$NGINX_H2_URL" 50 --http2-prior-knowledge; then
            return 0
        fi
        log "nginx not ready on ports $h1_port/$h2_port (attempt $attempt): $(tail -n 3 "$prefix/logs/error.log")"
        stop_pid "$NGINX_PID" nginx
        NGINX_PID=""
    done
    die "nginx did not become ready"
}

# --- measurement ----------------------------------------------------------------------------------------
# run_wrk name url -> sets RPS, P99, NOTE; raw output in $OUT_DIR/wrk-<name>.txt
run_wrk() {
    local name="$1" url="$2" out="$OUT_DIR/wrk-$1.txt" errors
    if (( WARMUP > 0 )); then
        "${client_prefix[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null
    fi
    log "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency $url  ($name)"
    measure_begin "$name"
    "${client_prefix[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$out"
    measure_end "$name"
    RPS="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    P99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
    MEAN="$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $2; exit }' "$out")")"
    MAX="$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$out")")"
    errors="$(grep -E '^ *(Non-2xx|Socket errors)' "$out" | tr -s ' ' | tr '\n' ';' || true)"
    NOTE="wrk: ${errors:-no socket errors, all 2xx}"
    [[ -n "$RPS" && -n "$P99" ]] || die "could not parse $out"
}

# run_h2load name url -> sets RPS, P99, MEAN, MAX, NOTE; raw output in $OUT_DIR/h2load-<name>.txt
# h2load prints only min/max/mean/sd, so p99 is computed from its --log-file (per-request durations).
run_h2load() {
    local name="$1" url="$2" out="$OUT_DIR/h2load-$1.txt" reqlog="$WORK/h2load-$1.log" ok failed
    if (( WARMUP > 0 )); then
        "${client_prefix[@]}" h2load -t"$H2_THREADS" -c"$H2_CLIENTS" -m"$H2_STREAMS" -D"$WARMUP" "$url" >/dev/null
    fi
    log "h2load -t$H2_THREADS -c$H2_CLIENTS -m$H2_STREAMS -D$DURATION $url  ($name)"
    measure_begin "$name"
    "${client_prefix[@]}" h2load -t"$H2_THREADS" -c"$H2_CLIENTS" -m"$H2_STREAMS" -D"$DURATION" --log-file="$reqlog" "$url" >"$out"
    measure_end "$name"
    parse_h2load "$out" "$reqlog"
    NOTE="h2load: $(awk '/^requests:/ { sub(/^requests: /, ""); print }' "$out"); per-request log: $ok 2xx, $failed other"
    [[ -n "$RPS" ]] || die "could not parse $out"
    rm -f "$reqlog"
}

# The server's processes: flotilla is one process; nginx is its master plus the worker.
server_pids() {
    if [[ "$1" == nginx ]]; then echo "$NGINX_PID" $(ps -o pid= --ppid "$NGINX_PID"); else echo "$FLOTILLA_PID"; fi
}

# --- run ------------------------------------------------------------------------------------------------
CLK_TCK="$(getconf CLK_TCK)"
log "starting servers"
start_flotilla
start_nginx
log "flotilla: $FLOTILLA_URL (HTTP/1.1 and h2c on one port), pid $FLOTILLA_PID, log level $LOG_LEVEL"
log "nginx:    $NGINX_H1_URL (HTTP/1.1), $NGINX_H2_URL (h2c), 1 worker, pid $NGINX_PID"
log "raw output: $OUT_DIR"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

declare -A R
UNSATURATED=""
for server in nginx flotilla; do
    if [[ "$server" == nginx ]]; then h1="$NGINX_H1_URL"; h2="$NGINX_H2_URL"; else h1="$FLOTILLA_URL"; h2="$FLOTILLA_URL"; fi
    run_wrk "$server" "$h1"
    R[$server,h1,rps]=$RPS R[$server,h1,p99]=$P99 R[$server,h1,mean]=$MEAN R[$server,h1,max]=$MAX R[$server,h1,cpu]=$CPU R[$server,h1,other]=$OTHER R[$server,h1,note]=$NOTE
    run_h2load "$server" "$h2"
    R[$server,h2,rps]=$RPS R[$server,h2,p99]=$P99 R[$server,h2,mean]=$MEAN R[$server,h2,max]=$MAX R[$server,h2,cpu]=$CPU R[$server,h2,other]=$OTHER R[$server,h2,note]=$NOTE
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

{
    echo
    echo "Flotilla HTTP bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r), nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')"
    # Only what the binary is built from counts; uncommitted edits there are listed.
    dirty="$(git -C "$REPO_ROOT" status --porcelain -- Package.swift Package.resolved Shared bench/HTTPBenchServer 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ')"
    echo "source: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)${dirty:+ + uncommitted changes in: $dirty}; binary $BIN"
    echo "server CPUs: ${SERVER_CPUS:-unpinned}; load generator CPUs: ${CLIENT_CPUS:-unpinned}; warm-up ${WARMUP}s before each run; flotilla --log-level $LOG_LEVEL"
    echo "HTTP/1.1: wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency    (p99: wrk's latency distribution)"
    echo "h2c:      h2load -t$H2_THREADS -c$H2_CLIENTS -m$H2_STREAMS -D$DURATION    (prior knowledge, $CONNECTIONS streams in flight; p99: computed from h2load --log-file, mean/max: h2load)"
    echo "load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
    echo
    printf '| %-8s | %-14s | %8s | %7s | %7s | %7s | %10s | %15s | %9s | %20s |\n' \
        server protocol "req/s" "p99 ms" "mean ms" "max ms" "server CPU" "req/s per core" "other CPU" "req/s flotilla/nginx"
    printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' \
        "----------" "----------------" "---------:" "--------:" "--------:" "--------:" "-----------:" "----------------:" "----------:" "---------------------:"
    for proto in h1 h2; do
        label=$([[ $proto == h1 ]] && echo "HTTP/1.1 (wrk)" || echo "h2c (h2load)")
        for server in nginx flotilla; do
            r=""
            [[ $server == flotilla ]] && r="$(ratio "${R[flotilla,$proto,rps]}" "${R[nginx,$proto,rps]}")"
            per_core="$(awk -v r="${R[$server,$proto,rps]}" -v c="${R[$server,$proto,cpu]}" 'BEGIN { if (c + 0 == 0) print "n/a"; else printf "%.0f", r * 100 / c }')"
            rps="${R[$server,$proto,rps]}"
            if [[ -n "$SERVER_CPUS" ]] && (( ${R[$server,$proto,cpu]} < 85 )); then rps="*$rps"; UNSATURATED=1; fi
            printf '| %-8s | %-14s | %8s | %7s | %7s | %7s | %9s%% | %15s | %8s%% | %20s |\n' "$server" "$label" \
                "$rps" "${R[$server,$proto,p99]}" "${R[$server,$proto,mean]}" "${R[$server,$proto,max]}" \
                "${R[$server,$proto,cpu]}" "$per_core" "${R[$server,$proto,other]}" "$r"
        done
    done
    echo
    if [[ -n "${UNSATURATED:-}" ]]; then
        echo "* the server used < 85% of its pinned core: the load generator (or something else on its CPU) was the"
        echo "  bottleneck, so this req/s is a lower bound for that server. Check the load average above."
    fi
    echo "p99 ratio flotilla/nginx (lower is better): HTTP/1.1 $(ratio "${R[flotilla,h1,p99]}" "${R[nginx,h1,p99]}"), h2c $(ratio "${R[flotilla,h2,p99]}" "${R[nginx,h2,p99]}")"
    echo "server CPU = user+system time of the server's processes during the measured run / its length (100% = one core)"
    echo "other CPU = CPU time used by neither the server nor the load generator during the run (other work on the machine);"
    echo "            more than a few % means the run was disturbed"
    for proto in h1 h2; do
        for server in nginx flotilla; do echo "$server/$proto: ${R[$server,$proto,note]}"; done
    done
    h1r="$(ratio "${R[flotilla,h1,rps]}" "${R[nginx,h1,rps]}")"
    h2r="$(ratio "${R[flotilla,h2,rps]}" "${R[nginx,h2,rps]}")"
    verdict=$(awk -v a="$h1r" -v b="$h2r" 'BEGIN { print (a + 0 >= 0.8 && b + 0 >= 0.8) ? "MET" : "NOT MET" }')
    echo "goal >= 0.8x nginx req/s on both: $verdict (HTTP/1.1 ${h1r}x, h2c ${h2r}x)"
    worst_other=0
    for key in nginx,h1 flotilla,h1 nginx,h2 flotilla,h2; do
        if (( ${R[$key,other]} > worst_other )); then worst_other=${R[$key,other]}; fi
    done
    if (( worst_other > 10 )); then
        echo "WARNING: disturbed run (other CPU up to ${worst_other}% of a core); these ratios are not trustworthy, rerun on a quiet machine"
    fi
} | tee "$OUT_DIR/summary.txt"
