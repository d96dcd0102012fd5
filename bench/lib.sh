# Shell helpers shared by the bench scripts (bench/*.sh, bench/kv/cluster.sh). Source it; it runs nothing itself.
#
# The sourcing script provides:
#   die MSG, log MSG    error exit / progress line on stderr
#   server_pids NAME    the pids whose CPU time counts as server NAME's (used by measure_begin/measure_end)
#   CLK_TCK             $(getconf CLK_TCK), set before measure_begin is called
#   WORK                a private temp directory (children_seconds writes a scratch file there)

stop_pid() { # pid, name: TERM, wait up to 10 s, then KILL
    local pid="$1" name="$2" i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    log "$name (pid $pid) did not stop after SIGTERM; killing"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# A port nobody is listening on right now. Someone could take it before the server binds; callers retry.
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    while :; do
        port=$(( 20000 + RANDOM % 30000 ))
        ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return; }
    done
}

# Polls until the URL answers 200 "ok", at most $2 tenths of a second. Extra curl flags after that.
wait_http_ok() {
    local url="$1" tries="$2" i
    shift 2
    for ((i = 0; i < tries; i++)); do
        if [[ "$(curl -fsS --max-time 1 "$@" "$url" 2>/dev/null || true)" == "ok" ]]; then return 0; fi
        sleep 0.1
    done
    return 1
}

# wrk latency like "1.23ms" / "850.00us" / "1.02s" -> milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000
        printf "%.2f", n
    }'
}

# Clock ticks (user + system) used so far by the given processes, threads included.
cpu_ticks() {
    local pid total=0 t
    for pid in "$@"; do
        t="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')" || t=0
        total=$(( total + ${t:-0} ))
    done
    echo "$total"
}

# Sets CHILD_SECONDS to user + system seconds of this shell's finished children (the load generator runs in
# the foreground). Not usable as $(...): `times` must run in this shell, not in a subshell.
children_seconds() {
    times >"$WORK/times"
    CHILD_SECONDS="$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); n += p[1] * 60 + p[2] } printf "%.3f", n }' "$WORK/times")"
}

# Busy clock ticks of all CPUs together, from /proc/stat.
machine_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# Around one measured run: CPU = the server's CPU, OTHER = CPU used by neither the server nor the load
# generator (other work on the machine, disturbing the run), both in % of one core over the run.
measure_begin() {
    M_SERVER0="$(cpu_ticks $(server_pids "$1"))"
    children_seconds
    M_CLIENT0="$CHILD_SECONDS"
    M_BUSY0="$(machine_busy_ticks)"
    M_T0="$(date +%s.%N)"
}
measure_end() {
    local server1 client1 busy1 t1
    server1="$(cpu_ticks $(server_pids "$1"))"
    children_seconds
    client1="$CHILD_SECONDS"
    busy1="$(machine_busy_ticks)"
    t1="$(date +%s.%N)"
    CPU="$(awk -v d="$(( server1 - M_SERVER0 ))" -v hz="$CLK_TCK" -v t="$(awk -v a="$M_T0" -v b="$t1" 'BEGIN { print b - a }')" \
        'BEGIN { printf "%.0f", 100 * d / hz / t }')"
    OTHER="$(awk -v busy="$(( busy1 - M_BUSY0 ))" -v server="$(( server1 - M_SERVER0 ))" -v c0="$M_CLIENT0" -v c1="$client1" \
        -v hz="$CLK_TCK" -v t0="$M_T0" -v t1="$t1" \
        'BEGIN { o = (busy - server) / hz - (c1 - c0); if (o < 0) o = 0; printf "%.0f", 100 * o / (t1 - t0) }')"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

# nginx_conf PREFIX SERVER_BLOCKS: the config both benchmarks give nginx (one worker, no access log, keep-alive
# connections never recycled, every path under PREFIX), with the caller's server blocks inside http { }.
nginx_conf() {
    local prefix="$1" servers="$2"
    cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $prefix/logs/nginx.pid;
error_log $prefix/logs/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
$servers
}
EOF
}

# Prints the URL from the service's ready line ("listening NAME=URL ...") in FILE once it appears, at most 30 s;
# fails early if PID exits.  Usage: ready_url FILE NAME PID
ready_url() {
    local file="$1" name="$2" pid="$3" i url=""
    for ((i = 0; i < 300; i++)); do
        url="$(sed -n "s/^listening .*$name=\\(http:\\/\\/127\\.0\\.0\\.1:[0-9][0-9]*\\).*$/\\1/p" "$file" | head -n1)"
        [[ -n "$url" ]] && { echo "$url"; return 0; }
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Servers on CPU 0, load generators on CPU 1 (each script says why for its servers): one core against one core,
# and the load generator never competes with what it measures. On one CPU nothing is pinned. SERVER_CPUS and
# CLIENT_CPUS given by the caller win (an empty value means unpinned).
default_cpu_pinning() {
    if (( $(nproc) >= 2 )); then
        SERVER_CPUS="${SERVER_CPUS-0}"
        CLIENT_CPUS="${CLIENT_CPUS-1}"
    else
        SERVER_CPUS="${SERVER_CPUS-}"
        CLIENT_CPUS="${CLIENT_CPUS-}"
    fi
}

# The HTTP load both bench/http.sh and bench/proxy.sh generate: wrk and h2load settings, "10s" or "10" alike.
default_http_load() {
    DURATION="${DURATION:-10}"
    DURATION="${DURATION%s}"
    CONNECTIONS="${CONNECTIONS:-64}"
    WRK_THREADS="${WRK_THREADS:-2}"
    H2_CLIENTS="${H2_CLIENTS:-4}"
    H2_THREADS="${H2_THREADS:-2}"
    WARMUP="${WARMUP:-2}"
    WARMUP="${WARMUP%s}"
}

# Reads an h2load run: OUT is its stdout, REQLOG its --log-file. Sets RPS, MEAN, MAX (ms), P99 (ms, over 2xx
# answers, "n/a" without any), and ok / failed (per-request 2xx / other counts).
parse_h2load() {
    local out="$1" reqlog="$2" n idx
    RPS="$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) { printf "%.0f", $i; exit } }' "$out")"
    # "time for request:  min  max  mean  sd  +/-sd" (values carry units: us, ms, s)
    MEAN="$(to_ms "$(awk '/^time for request:/ { print $6 }' "$out")")"
    MAX="$(to_ms "$(awk '/^time for request:/ { print $5 }' "$out")")"
    ok="$(awk -F'\t' '$2 >= 200 && $2 < 300' "$reqlog" | wc -l)"
    failed="$(awk -F'\t' '$2 < 200 || $2 >= 300' "$reqlog" | wc -l)"
    n="$ok"
    if (( n > 0 )); then
        idx=$(( (n * 99 + 99) / 100 ))
        P99="$(awk -F'\t' '$2 >= 200 && $2 < 300 { print $3 }' "$reqlog" | sort -n | sed -n "${idx}p" | awk '{ printf "%.2f", $1 / 1000 }')"
    else
        P99="n/a"
    fi
}

# The release binary of $1 -> BIN: built into $SCRATCH (.build-release) unless SKIP_BUILD=1, or unless the
# variable named by $2 (KV_PEER_BIN, PROXY_BIN, ...) names a binary built elsewhere. Needs REPO_ROOT and SCRATCH.
release_binary() {
    local product="$1" override_name="$2" override
    override="${!override_name:-}"
    if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    if [[ -z "$override" && "${SKIP_BUILD:-0}" != 1 ]]; then
        command -v swift >/dev/null || die "swift not found"
        log "building $product (release, --scratch-path .build-release)"
        (cd "$REPO_ROOT" && swift build -c release --product "$product" --scratch-path "$SCRATCH") >&2 \
            || die "release build of $product failed (above); $override_name=/path/to/$product benchmarks a binary built elsewhere"
    fi
    BIN="${override:-$SCRATCH/release/$product}"
    [[ -x "$BIN" ]] || die "$BIN missing; build it or unset SKIP_BUILD"
}
