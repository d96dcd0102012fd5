#!/usr/bin/env bash
# Benchmarks discovery-proxy (release build) against nginx and HAProxy as reverse proxies in front of the same
# nginx backends, side by side in one run. Everything is on 127.0.0.1; every server is started here (etcd with a
# private data directory) and stopped on exit.
#   1. throughput and latency: directly to one backend (the baseline), and through discovery-proxy, nginx
#      (upstream keepalive) and HAProxy (http-reuse always) to 2 backends; HTTP/1.1 with wrk --latency and
#      cleartext HTTP/2 (prior knowledge) with h2load
#   2. client-visible errors during 8 backend changes under wrk load (add a new backend, remove an old one,
#      alternately, evenly spaced): discovery-proxy by etcd key PUT/DELETE, nginx by rewriting its upstream
#      block + nginx -t + nginx -s reload (what confd-style setups do), HAProxy by its runtime API
#      (set server state ready|maint on the stats socket)
#   3. discovery-proxy's key-to-route latency: just before the etcd PUT -> first response from the new backend
#      (bench/proxy/key_to_route.py, 50 trials)
# and prints one summary with ratios against the direct baseline and against HAProxy; $OUT_DIR/summary.md is the
# same as a Markdown fragment for BENCHMARKS.md.
#
# Usage: bench/proxy.sh
#
# Environment overrides (defaults in brackets):
#   DURATION      measured seconds per run, also the length of each backend-change run, "10" or "10s"  [10]
#   CONNECTIONS   wrk connections, and total h2 streams in flight for h2load                   [64]
#   WRK_THREADS   wrk -t                                                                       [2]
#   H2_CLIENTS    h2load -c (connections); streams per connection = CONNECTIONS / H2_CLIENTS   [4]
#   H2_THREADS    h2load -t                                                                    [2]
#   WARMUP        seconds of unreported traffic before each measured run (0 = none)            [2]
#   CHANGES       backend changes per change run (even: the run ends on the set it began with) [8]
#   TRIALS        key-to-route trials                                                          [50]
#   PROXY_LOG_LEVEL  discovery-proxy --log-level                                               [warning]
#   SERVER_CPUS   taskset CPU list for the proxies and etcd; empty = unpinned                  [0]  (unpinned on 1 CPU)
#   BACKEND_CPUS  taskset CPU list for the backend nginx                                       [$SERVER_CPUS]
#   CLIENT_CPUS   taskset CPU list for wrk, h2load and key_to_route.py; empty = unpinned       [1]  (unpinned on 1 CPU)
#   SKIP_BUILD=1  use the existing release binary instead of running swift build
#   PROXY_BIN     benchmark this discovery-proxy binary instead (implies SKIP_BUILD=1)
#   ETCD_BIN      the etcd 3.4 binary                                                          [/usr/bin/etcd]
#   HAPROXY_BIN   the HAProxy binary; when missing, root installs Debian's (apt-get install -y haproxy), and
#                 if that fails the HAProxy rows are skipped ("haproxy: not available")       [haproxy]
#   OUT_DIR       where raw tool output goes                                 [bench/out/proxy-<timestamp>]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# stop_pid, free_port, to_ms, measure_begin/measure_end, ratio, nginx_conf, ready_url
. "$REPO_ROOT/bench/lib.sh"
# start_backends, start_nginx_proxy, write_nginx_upstream, nginx_proxy, start_haproxy, haproxy_cmd, apply_change,
# run_changes
. "$REPO_ROOT/bench/proxy/configs.sh"
# print_summary, print_summary_md (the summary.txt and summary.md texts)
. "$REPO_ROOT/bench/proxy/report.sh"
SCRATCH="$REPO_ROOT/.build-release"
PRODUCT=discovery-proxy
KEY_TO_ROUTE_PY="$REPO_ROOT/bench/proxy/key_to_route.py"

default_http_load
CHANGES="${CHANGES:-8}"
TRIALS="${TRIALS:-50}"
PROXY_LOG_LEVEL="${PROXY_LOG_LEVEL:-warning}"
ETCD_BIN="${ETCD_BIN:-/usr/bin/etcd}"
HAPROXY_BIN="${HAPROXY_BIN:-haproxy}"
# As bench/http.sh: the servers on CPU 0, the load generator on CPU 1. Each proxy runs on one core (nginx one
# worker, HAProxy nbthread 1, discovery-proxy sizes its event loops to its affinity mask) and shares it with the
# backends, so the three proxies are compared on equal terms and the load generator never competes with them.
# etcd shares that core too; it only works when a key changes.
default_cpu_pinning
BACKEND_CPUS="${BACKEND_CPUS-$SERVER_CPUS}"
SKIP_BUILD="${SKIP_BUILD:-0}"
OUT_DIR="${OUT_DIR:-$REPO_ROOT/bench/out/proxy-$(date +%Y%m%d-%H%M%S)}"

SERVICE=web
BACKENDS=(b1 b2 b3 b4) # b1, b2 live at start; b3, b4 come and go (change runs, key-to-route trials)

die() { echo "bench/proxy.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds, got '$DURATION'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be whole seconds, got '$WARMUP'"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer"
[[ "$H2_CLIENTS" =~ ^[1-9][0-9]*$ ]] || die "H2_CLIENTS must be a positive integer"
[[ "$CHANGES" =~ ^[1-9][0-9]*$ ]] && (( CHANGES % 2 == 0 )) || die "CHANGES must be a positive even number"
[[ "$TRIALS" =~ ^[1-9][0-9]*$ ]] || die "TRIALS must be a positive integer"
(( CONNECTIONS % H2_CLIENTS == 0 )) || die "CONNECTIONS ($CONNECTIONS) must be a multiple of H2_CLIENTS ($H2_CLIENTS)"
H2_STREAMS=$(( CONNECTIONS / H2_CLIENTS ))
(( WRK_THREADS <= CONNECTIONS )) || WRK_THREADS=$CONNECTIONS
(( H2_THREADS <= H2_CLIENTS )) || H2_THREADS=$H2_CLIENTS

for tool in nginx wrk h2load curl python3 awk sort timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y nginx-light wrk nghttp2-client curl python3)"
done
[[ -x "$ETCD_BIN" ]] || die "etcd not found at $ETCD_BIN (apt-get install -y etcd-server, or set ETCD_BIN)"
if [[ -n "$SERVER_CPUS$BACKEND_CPUS$CLIENT_CPUS" ]]; then command -v taskset >/dev/null || die "taskset not found"; fi

server_prefix=()
backend_prefix=()
client_prefix=()
[[ -n "$SERVER_CPUS" ]] && server_prefix=(taskset -c "$SERVER_CPUS")
[[ -n "$BACKEND_CPUS" ]] && backend_prefix=(taskset -c "$BACKEND_CPUS")
[[ -n "$CLIENT_CPUS" ]] && client_prefix=(taskset -c "$CLIENT_CPUS")

mkdir -p "$OUT_DIR"

# HAProxy is optional: without it the run goes on and its rows say "not available".
if ! command -v "$HAPROXY_BIN" >/dev/null && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "haproxy not found; trying apt-get install -y haproxy (log: $OUT_DIR/apt-haproxy.log)"
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y haproxy >"$OUT_DIR/apt-haproxy.log" 2>&1 || true
fi
HAVE_HAPROXY=0
if command -v "$HAPROXY_BIN" >/dev/null; then
    HAVE_HAPROXY=1
else
    echo "haproxy: not available" >&2
fi

# --- build ----------------------------------------------------------------------------------------------
release_binary "$PRODUCT" PROXY_BIN

# --- lifecycle ------------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/flotilla-bench-proxy.XXXXXX")"
BACKEND_PID=""
ETCD_PID=""
PROXY_PID=""
NGINX_PID=""
HAPROXY_PID=""
WRK_PID=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [[ -n "$WRK_PID" ]] && stop_pid "$WRK_PID" wrk
    stop_pid "$PROXY_PID" discovery-proxy
    stop_pid "$NGINX_PID" "nginx (proxy)"
    stop_pid "$HAPROXY_PID" haproxy
    stop_pid "$ETCD_PID" etcd
    stop_pid "$BACKEND_PID" "nginx (backends)"
    if [[ -d "$WORK" ]]; then
        cp -f "$WORK/backends/logs/error.log" "$OUT_DIR/backends-nginx-error.log" 2>/dev/null || true
        cp -f "$WORK/nginx/logs/error.log" "$OUT_DIR/proxy-nginx-error.log" 2>/dev/null || true
        cp -f "$WORK/haproxy/haproxy.cfg" "$WORK/nginx/conf/nginx.conf" "$OUT_DIR/" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls (at most $3 tenths of a second) until URL answers 2xx with a body that is one of the words in $2
# (e.g. "b1 b2"). Extra curl flags after that.
wait_http_body() {
    local url="$1" want=" $2 " tries="$3" i body
    shift 3
    for ((i = 0; i < tries; i++)); do
        body="$(curl -fsS --max-time 1 "$@" "$url" 2>/dev/null || true)"
        [[ -n "$body" && "$want" == *" $body "* ]] && return 0
        sleep 0.1
    done
    return 1
}

# The backends that answer 40 requests to URL over one keep-alive connection, sorted, space-separated.
routed_backends() {
    local url="$1" urls=() i
    for ((i = 0; i < 40; i++)); do urls+=("$url"); done
    { curl -sS --max-time 10 "${urls[@]}" 2>/dev/null || true; } | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# Connections the backend nginx has accepted so far (stub_status); this query's own connection is counted.
backend_accepts() { curl -fsS --max-time 2 "http://127.0.0.1:$BACKEND_STATUS_PORT/nginx_status" 2>/dev/null | awk 'NR == 3 { print $1 }'; }

# Backend name -> its port; start_backends (bench/proxy/configs.sh) picks them.
declare -A BP

# etcd needs fixed ports (client and peer); a port taken between free_port and etcd's bind makes it exit,
# so retry with new ones. It is ready once it takes a write (it elects itself a second or two after listening).
start_etcd() {
    local attempt client_port peer_port i
    for ((attempt = 1; attempt <= 5; attempt++)); do
        client_port="$(free_port)"
        peer_port="$(free_port)"
        [[ "$client_port" != "$peer_port" ]] || continue
        rm -rf "$WORK/etcd"
        ETCD_URL="http://127.0.0.1:$client_port"
        "${server_prefix[@]}" "$ETCD_BIN" --name proxy-bench --data-dir "$WORK/etcd" --enable-v2=true \
            --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
            --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
            --initial-cluster "proxy-bench=http://127.0.0.1:$peer_port" --initial-cluster-state new \
            >>"$OUT_DIR/etcd.log" 2>&1 &
        ETCD_PID=$!
        for ((i = 0; i < 200; i++)); do
            if curl -fsS --max-time 1 -X PUT "$ETCD_URL/v2/keys/bench-ready" -d value=1 -o /dev/null 2>/dev/null; then return 0; fi
            kill -0 "$ETCD_PID" 2>/dev/null || break
            sleep 0.1
        done
        log "etcd not ready on ports $client_port/$peer_port (attempt $attempt): $(tail -n 2 "$OUT_DIR/etcd.log")"
        stop_pid "$ETCD_PID" etcd
        ETCD_PID=""
    done
    die "etcd did not become ready"
}

# Instance keys: /services/web/<instance> = {"host":"127.0.0.1","port":N}.
put_instance() { # instance backend
    curl -fsS --max-time 2 -X PUT "$ETCD_URL/v2/keys/services/$SERVICE/$1" \
        --data-urlencode "value={\"host\":\"127.0.0.1\",\"port\":${BP[$2]}}" -o /dev/null
}
delete_instance() { # instance
    curl -fsS --max-time 2 -X DELETE "$ETCD_URL/v2/keys/services/$SERVICE/$1" -o /dev/null
}

# The instances discovery-proxy routes to right now (state "active" in GET /status), sorted, space-separated.
proxy_active_instances() {
    curl -fsS --max-time 2 "$PROXY_ADMIN/status" 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(" ".join(sorted(i["instance"] for i in doc.get("services", {}).get(sys.argv[1], []) if i.get("state") == "active")))
' "$SERVICE" 2>/dev/null || true
}

start_proxy() {
    local stdout="$OUT_DIR/discovery-proxy.stdout" i
    # Create the file first: the background job opens its redirection only after it has forked.
    : >"$stdout"
    "${server_prefix[@]}" "$BIN" --endpoints "$ETCD_URL" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
        --route "service=$SERVICE" --log-level "$PROXY_LOG_LEVEL" --drain-timeout 5s \
        >"$stdout" 2>"$OUT_DIR/discovery-proxy.stderr" &
    PROXY_PID=$!
    PROXY_ADMIN="$(ready_url "$stdout" admin "$PROXY_PID")" \
        || die "discovery-proxy printed no ready line within 30 s (or exited): $(tail -n 5 "$OUT_DIR/discovery-proxy.stderr")"
    PROXY_URL="$(ready_url "$stdout" http "$PROXY_PID")/" || die "discovery-proxy's ready line has no http= URL: $(cat "$stdout")"
    for ((i = 0; i < 100; i++)); do
        curl -fsS --max-time 1 "$PROXY_ADMIN/health" -o /dev/null 2>/dev/null && break
        sleep 0.1
    done
    (( i < 100 )) || die "discovery-proxy's $PROXY_ADMIN/health did not turn 200 within 10 s"
    for ((i = 0; i < 100; i++)); do
        [[ "$(proxy_active_instances)" == "$INITIAL_INSTANCES" ]] && break
        sleep 0.1
    done
    (( i < 100 )) || die "discovery-proxy's /status does not list the instances '$INITIAL_INSTANCES' within 10 s: $(proxy_active_instances)"
    wait_http_body "$PROXY_URL" "b1 b2" 50 || die "discovery-proxy does not answer HTTP/1.1 from b1/b2 at $PROXY_URL"
    wait_http_body "$PROXY_URL" "b1 b2" 50 --http2-prior-knowledge || die "discovery-proxy does not answer h2c from b1/b2 at $PROXY_URL"
}

# --- measurement ----------------------------------------------------------------------------------------
backend_pids() { echo "$BACKEND_PID" $(ps -o pid= --ppid "$BACKEND_PID"); }
proxy_pids() {
    case "$1" in
        direct) ;;
        discovery-proxy) echo "$PROXY_PID" ;;
        nginx) echo "$NGINX_PID" $(ps -o pid= --ppid "$NGINX_PID") ;;
        haproxy) echo "$HAPROXY_PID" ;;
    esac
}
# For measure_begin/measure_end: the proxy and the backends (so OTHER counts neither); PROXY_CPU and BACKEND_CPU
# split it.
server_pids() { proxy_pids "$1"; backend_pids; }

split_begin() { S_A0="$(backend_accepts)"; S_P0="$(cpu_ticks $(proxy_pids "$1"))"; S_B0="$(cpu_ticks $(backend_pids))"; S_T0="$(date +%s.%N)"; }
split_end() { # -> PROXY_CPU, BACKEND_CPU (% of a core), BACKEND_CONNS (connections opened to the backends)
    local p1 b1 t1 a1
    p1="$(cpu_ticks $(proxy_pids "$1"))"
    b1="$(cpu_ticks $(backend_pids))"
    t1="$(date +%s.%N)"
    a1="$(backend_accepts)"
    BACKEND_CONNS="$(awk -v a="$S_A0" -v b="$a1" 'BEGIN { if (a == "" || b == "") print "n/a"; else print b - a - 1 }')"
    PROXY_CPU="$(awk -v d="$(( p1 - S_P0 ))" -v hz="$CLK_TCK" -v t0="$S_T0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * d / hz / (t1 - t0) }')"
    BACKEND_CPU="$(awk -v d="$(( b1 - S_B0 ))" -v hz="$CLK_TCK" -v t0="$S_T0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * d / hz / (t1 - t0) }')"
    [[ "$1" == direct ]] && PROXY_CPU="-"
    return 0
}

# Dies when a server under test has exited (a crash shows here rather than as a pile of wrk errors).
check_alive() {
    local name pid
    for name in "nginx (backends):$BACKEND_PID" "etcd:$ETCD_PID" "discovery-proxy:$PROXY_PID" "nginx (proxy):$NGINX_PID" "haproxy:$HAPROXY_PID"; do
        pid="${name##*:}"
        [[ -z "$pid" ]] || kill -0 "$pid" 2>/dev/null || die "${name%:*} (pid $pid) exited during the run ($1); see $OUT_DIR"
    done
}

# Sets WRK_ERR_{CONNECT,READ,WRITE,TIMEOUT}, WRK_NON2XX and WRK_ERRORS (their sum) from wrk output FILE.
wrk_errors() {
    local line
    line="$(grep -E '^ *Socket errors:' "$1" || true)"
    WRK_ERR_CONNECT="$(sed -n 's/.*connect \([0-9]*\).*/\1/p' <<<"$line")"
    WRK_ERR_READ="$(sed -n 's/.*read \([0-9]*\).*/\1/p' <<<"$line")"
    WRK_ERR_WRITE="$(sed -n 's/.*write \([0-9]*\).*/\1/p' <<<"$line")"
    WRK_ERR_TIMEOUT="$(sed -n 's/.*timeout \([0-9]*\).*/\1/p' <<<"$line")"
    WRK_NON2XX="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")"
    WRK_ERR_CONNECT="${WRK_ERR_CONNECT:-0}" WRK_ERR_READ="${WRK_ERR_READ:-0}" WRK_ERR_WRITE="${WRK_ERR_WRITE:-0}"
    WRK_ERR_TIMEOUT="${WRK_ERR_TIMEOUT:-0}" WRK_NON2XX="${WRK_NON2XX:-0}"
    WRK_ERRORS=$(( WRK_ERR_CONNECT + WRK_ERR_READ + WRK_ERR_WRITE + WRK_ERR_TIMEOUT + WRK_NON2XX ))
}

# Bounded: wrk ends on its own after -d; timeout catches a wedged one.
wrk_cmd() { timeout -k 5 $(( $2 + 30 )) "${client_prefix[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$2s" --latency "$1"; }
h2load_cmd() { timeout -k 5 $(( $2 + 30 )) "${client_prefix[@]}" h2load -t"$H2_THREADS" -c"$H2_CLIENTS" -m"$H2_STREAMS" -D"$2" "${@:3}" "$1"; }

# run_wrk target url -> RPS, P99, MEAN, MAX, CPU (proxy+backends), PROXY_CPU, BACKEND_CPU, OTHER, ERRORS; raw: wrk-<target>.txt
run_wrk() {
    local target="$1" url="$2" out="$OUT_DIR/wrk-$1.txt"
    if (( WARMUP > 0 )); then wrk_cmd "$url" "$WARMUP" >/dev/null || die "wrk warm-up against $target failed"; fi
    log "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency $url  ($target)"
    split_begin "$target"
    measure_begin "$target"
    wrk_cmd "$url" "$DURATION" >"$out" || die "wrk against $target failed (exit $?); $out"
    measure_end "$target"
    split_end "$target"
    RPS="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    P99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
    MEAN="$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $2; exit }' "$out")")"
    MAX="$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$out")")"
    [[ -n "$RPS" && -n "$P99" ]] || die "could not parse $out"
    wrk_errors "$out"
    ERRORS="$WRK_ERRORS"
    check_alive "wrk $target"
}

# run_h2load target url -> RPS, P99 (from h2load --log-file), MEAN, MAX, CPU..., ERRORS; raw: h2load-<target>.txt
run_h2load() {
    local target="$1" url="$2" out="$OUT_DIR/h2load-$1.txt" reqlog="$WORK/h2load-$1.log" ok failed
    if (( WARMUP > 0 )); then h2load_cmd "$url" "$WARMUP" >/dev/null || die "h2load warm-up against $target failed"; fi
    log "h2load -t$H2_THREADS -c$H2_CLIENTS -m$H2_STREAMS -D$DURATION $url  ($target)"
    split_begin "$target"
    measure_begin "$target"
    h2load_cmd "$url" "$DURATION" --log-file="$reqlog" >"$out" || die "h2load against $target failed (exit $?); $out"
    measure_end "$target"
    split_end "$target"
    parse_h2load "$out" "$reqlog"
    # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout"
    ERRORS="$(awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^(failed|errored|timeout)/) s += $i; print s + 0 }' "$out")"
    ERRORS=$(( ERRORS + failed ))
    [[ -n "$RPS" ]] || die "could not parse $out"
    rm -f "$reqlog"
    check_alive "h2load $target"
}

# --- run ------------------------------------------------------------------------------------------------
CLK_TCK="$(getconf CLK_TCK)"
log "starting backends, etcd and the proxies"
start_backends
start_etcd
INITIAL_INSTANCES="b1 b2"
put_instance b1 b1 || die "could not write /services/$SERVICE/b1 to etcd"
put_instance b2 b2 || die "could not write /services/$SERVICE/b2 to etcd"
start_proxy
start_nginx_proxy
(( HAVE_HAPROXY )) && start_haproxy
ETCD_VERSION="$("$ETCD_BIN" --version | awk '/^etcd Version:/ { print $3 }')"
NGINX_VERSION="$(nginx -v 2>&1 | sed 's/.*nginx\///')"
HAPROXY_VERSION="$( (( HAVE_HAPROXY )) && "$HAPROXY_BIN" -v | awk 'NR == 1 { print $3 }' || echo "not available")"
log "backends: $(for n in "${BACKENDS[@]}"; do printf '%s=127.0.0.1:%s ' "$n" "${BP[$n]}"; done)(b1 h2c: $BACKEND_H2_PORT), nginx pid $BACKEND_PID"
log "etcd $ETCD_VERSION: $ETCD_URL, pid $ETCD_PID"
log "discovery-proxy: $PROXY_URL (HTTP/1.1 and h2c), admin $PROXY_ADMIN, pid $PROXY_PID"
log "nginx proxy: $NGINX_H1_URL, h2c $NGINX_H2_URL, pid $NGINX_PID"
(( HAVE_HAPROXY )) && log "haproxy $HAPROXY_VERSION: $HAPROXY_H1_URL, h2c $HAPROXY_H2_URL, pid $HAPROXY_PID"
log "raw output: $OUT_DIR"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

TARGETS=(direct discovery-proxy nginx)
CHANGE_TARGETS=(discovery-proxy nginx)
(( HAVE_HAPROXY )) && TARGETS+=(haproxy) CHANGE_TARGETS+=(haproxy)
declare -A H1 H2
H1[direct]="http://127.0.0.1:${BP[b1]}/" H2[direct]="http://127.0.0.1:$BACKEND_H2_PORT/"
H1[discovery-proxy]="$PROXY_URL" H2[discovery-proxy]="$PROXY_URL"
H1[nginx]="$NGINX_H1_URL" H2[nginx]="$NGINX_H2_URL"
if (( HAVE_HAPROXY )); then H1[haproxy]="$HAPROXY_H1_URL" H2[haproxy]="$HAPROXY_H2_URL"; fi

declare -A R
# 1. throughput and latency
for target in "${TARGETS[@]}"; do
    if [[ "$target" != direct ]]; then
        routed="$(routed_backends "${H1[$target]}")"
        [[ "$routed" == "b1 b2" ]] || die "$target routes to '$routed' before the throughput runs, expected 'b1 b2'"
    fi
    run_wrk "$target" "${H1[$target]}"
    R[$target,h1,rps]=$RPS R[$target,h1,p99]=$P99 R[$target,h1,mean]=$MEAN R[$target,h1,max]=$MAX R[$target,h1,err]=$ERRORS
    R[$target,h1,pcpu]=$PROXY_CPU R[$target,h1,bcpu]=$BACKEND_CPU R[$target,h1,other]=$OTHER R[$target,h1,conns]=$BACKEND_CONNS
    run_h2load "$target" "${H2[$target]}"
    R[$target,h2,rps]=$RPS R[$target,h2,p99]=$P99 R[$target,h2,mean]=$MEAN R[$target,h2,max]=$MAX R[$target,h2,err]=$ERRORS
    R[$target,h2,pcpu]=$PROXY_CPU R[$target,h2,bcpu]=$BACKEND_CPU R[$target,h2,other]=$OTHER R[$target,h2,conns]=$BACKEND_CONNS
done

# 2. errors during backend changes under load
for target in "${CHANGE_TARGETS[@]}"; do
    run_changes "$target" "${H1[$target]}"
    R[$target,ch,rps]=$RPS R[$target,ch,p99]=$P99 R[$target,ch,connect]=$WRK_ERR_CONNECT R[$target,ch,read]=$WRK_ERR_READ
    R[$target,ch,write]=$WRK_ERR_WRITE R[$target,ch,timeout]=$WRK_ERR_TIMEOUT R[$target,ch,non2xx]=$WRK_NON2XX
    R[$target,ch,errors]=$WRK_ERRORS R[$target,ch,failed]=$CHANGE_FAILURES R[$target,ch,routed]=$ROUTED_AFTER R[$target,ch,conns]=$BACKEND_CONNS
done

# 3. discovery-proxy key-to-route latency
log "key-to-route: $TRIALS trials, spare backends b3/b4  (discovery-proxy)"
K2R_JSON="$(timeout $(( TRIALS * 12 + 30 )) "${client_prefix[@]}" python3 "$KEY_TO_ROUTE_PY" --etcd "$ETCD_URL" --proxy "$PROXY_URL" \
    --admin "$PROXY_ADMIN" --service "$SERVICE" --spare "b3=${BP[b3]}" --spare "b4=${BP[b4]}" --trials "$TRIALS" --timeout 5 \
    --raw "$OUT_DIR/key-to-route.tsv" 2>"$OUT_DIR/key-to-route.stderr")" \
    || die "bench/proxy/key_to_route.py failed: $(tail -n 5 "$OUT_DIR/key-to-route.stderr")"
echo "$K2R_JSON" >"$OUT_DIR/key-to-route.json"
check_alive "key-to-route"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- summary --------------------------------------------------------------------------------------------
HAP_ROW=haproxy
(( HAVE_HAPROXY )) || HAP_ROW=""
# On stdout and in summary.txt, and the same as a Markdown fragment for BENCHMARKS.md (bench/proxy/report.sh).
print_summary | tee "$OUT_DIR/summary.txt"
print_summary_md >"$OUT_DIR/summary.md"
log "Markdown fragment: $OUT_DIR/summary.md"
