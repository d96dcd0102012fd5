# The server configurations of bench/proxy.sh and their changes under load: the backend nginx (start_backends),
# nginx as a reverse proxy (start_nginx_proxy; write_nginx_upstream rewrites its upstream block, nginx_proxy runs
# nginx -t / -s reload on it) and HAProxy (start_haproxy; haproxy_cmd talks to its runtime API), then the
# backend-change runs (apply_change, run_changes). Source it from bench/proxy.sh after bench/lib.sh; it defines
# functions and the change-run state (INSTANCE_OF, LIVE) and runs nothing itself. The sourcing script provides
# die/log, the bench/lib.sh helpers (stop_pid, free_port, nginx_conf, to_ms); the settings WORK, OUT_DIR, SERVICE,
# BACKENDS, BP (declared associative), HAPROXY_BIN, WRK_THREADS, CONNECTIONS, DURATION, WARMUP, CHANGES and the
# CPU pinning arrays backend_prefix, server_prefix, client_prefix; and the functions wait_http_body,
# backend_accepts, routed_backends, put_instance, delete_instance, proxy_active_instances, wrk_cmd, wrk_errors
# and check_alive. They set BACKEND_PID, BACKEND_H2_PORT, BACKEND_STATUS_PORT, NGINX_PID, NGINX_H1_URL,
# NGINX_H2_URL, HAPROXY_PID, HAPROXY_SOCK, HAPROXY_H1_URL, HAPROXY_H2_URL, WRK_PID (for cleanup) and the
# change-run results (RPS, P99, WRK_ERR_*, WRK_ERRORS, CHANGE_FAILURES, ROUTED_AFTER, BACKEND_CONNS).

# --- servers --------------------------------------------------------------------------------------------
# One nginx worker serving every backend: server block bN on port BP[bN] answers 200 "bN\n" with x-backend: bN.
# b1 also gets an h2c listener for the direct h2c baseline, and stub_status counts the connections opened to them
# (a proxy that reuses its upstream connections opens a handful per run, not one per request).
start_backends() {
    local prefix="$WORK/backends" attempt name blocks port ok
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    for ((attempt = 1; attempt <= 5; attempt++)); do
        blocks=""
        for name in "${BACKENDS[@]}"; do
            BP[$name]="$(free_port)"
            blocks+="
    server {
        listen 127.0.0.1:${BP[$name]};
        location / { add_header x-backend $name always; return 200 \"$name\\n\"; }
    }"
        done
        BACKEND_H2_PORT="$(free_port)"
        BACKEND_STATUS_PORT="$(free_port)"
        blocks+="
    server {
        listen 127.0.0.1:$BACKEND_H2_PORT http2;
        location / { add_header x-backend b1 always; return 200 \"b1\\n\"; }
    }
    server {
        listen 127.0.0.1:$BACKEND_STATUS_PORT;
        location = /nginx_status { stub_status; }
    }"
        [[ "$(printf '%s\n' "${BP[@]}" "$BACKEND_H2_PORT" "$BACKEND_STATUS_PORT" | sort -u | wc -l)" == $(( ${#BACKENDS[@]} + 2 )) ]] || continue
        nginx_conf "$prefix" "$blocks" >"$prefix/conf/nginx.conf"
        : >"$prefix/logs/error.log"
        "${backend_prefix[@]}" nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log" &
        BACKEND_PID=$!
        ok=1
        for name in "${BACKENDS[@]}"; do
            wait_http_body "http://127.0.0.1:${BP[$name]}/" "$name" 100 || { ok=0; break; }
        done
        if (( ok )) && wait_http_body "http://127.0.0.1:$BACKEND_H2_PORT/" b1 50 --http2-prior-knowledge && [[ -n "$(backend_accepts)" ]]; then
            return 0
        fi
        log "backend nginx not ready (attempt $attempt): $(tail -n 3 "$prefix/logs/error.log")"
        stop_pid "$BACKEND_PID" "nginx (backends)"
        BACKEND_PID=""
    done
    die "backend nginx did not become ready"
}

# nginx as a reverse proxy; conf/upstream.conf holds the whole upstream block (rewritten for each change).
write_nginx_upstream() { # backend...
    local prefix="$WORK/nginx" name
    {
        echo "upstream $SERVICE {"
        for name in "$@"; do echo "    server 127.0.0.1:${BP[$name]};"; done
        echo "    keepalive 64;"
        echo "}"
    } >"$prefix/conf/upstream.conf.new"
    mv -f "$prefix/conf/upstream.conf.new" "$prefix/conf/upstream.conf"
}
nginx_proxy() { timeout 10 nginx -p "$WORK/nginx/" -c "$WORK/nginx/conf/nginx.conf" -e "$WORK/nginx/logs/error.log" "$@"; }

start_nginx_proxy() {
    local prefix="$WORK/nginx" attempt h1_port h2_port
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    for ((attempt = 1; attempt <= 5; attempt++)); do
        h1_port="$(free_port)"
        h2_port="$(free_port)"
        [[ "$h1_port" != "$h2_port" ]] || continue
        write_nginx_upstream b1 b2
        nginx_conf "$prefix" "$(cat <<EOF
    include $prefix/conf/upstream.conf;
    server {
        listen 127.0.0.1:$h1_port;
        listen 127.0.0.1:$h2_port http2;
        location / {
            proxy_pass http://$SERVICE;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
EOF
)" >"$prefix/conf/nginx.conf"
        : >"$prefix/logs/error.log"
        "${server_prefix[@]}" nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log" &
        NGINX_PID=$!
        NGINX_H1_URL="http://127.0.0.1:$h1_port/"
        NGINX_H2_URL="http://127.0.0.1:$h2_port/"
        if wait_http_body "$NGINX_H1_URL" "b1 b2" 100 && wait_http_body "$NGINX_H2_URL" "b1 b2" 50 --http2-prior-knowledge; then
            return 0
        fi
        log "nginx proxy not ready on ports $h1_port/$h2_port (attempt $attempt): $(tail -n 3 "$prefix/logs/error.log")"
        stop_pid "$NGINX_PID" "nginx (proxy)"
        NGINX_PID=""
    done
    die "nginx proxy did not become ready"
}

# HAProxy, one thread, every backend declared (b3 and b4 disabled); changes go through the runtime API.
haproxy_cmd() { # command -> the socket's answer on stdout
    if command -v socat >/dev/null; then
        printf '%s\n' "$1" | timeout 5 socat -t 2 stdio "unix-connect:$HAPROXY_SOCK"
    else
        timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    out += chunk
sys.stdout.write(out.decode())
' "$HAPROXY_SOCK" "$1"
    fi
}

start_haproxy() {
    local dir="$WORK/haproxy" attempt h1_port h2_port name disabled
    mkdir -p "$dir"
    HAPROXY_SOCK="$dir/haproxy.sock"
    for ((attempt = 1; attempt <= 5; attempt++)); do
        h1_port="$(free_port)"
        h2_port="$(free_port)"
        [[ "$h1_port" != "$h2_port" ]] || continue
        {
            cat <<EOF
global
    nbthread 1
    maxconn 4096
    stats socket $HAPROXY_SOCK mode 600 level admin

defaults
    mode http
    timeout connect 5s
    timeout client 75s
    timeout server 75s
    timeout http-keep-alive 75s
    http-reuse always

frontend fe
    bind 127.0.0.1:$h1_port
    bind 127.0.0.1:$h2_port proto h2
    default_backend $SERVICE

backend $SERVICE
    balance roundrobin
EOF
            for name in "${BACKENDS[@]}"; do
                disabled=""
                [[ "$name" == b1 || "$name" == b2 ]] || disabled=" disabled"
                echo "    server $name 127.0.0.1:${BP[$name]}$disabled"
            done
        } >"$dir/haproxy.cfg"
        "$HAPROXY_BIN" -c -q -f "$dir/haproxy.cfg" >"$OUT_DIR/haproxy-check.log" 2>&1 || die "haproxy -c rejects $dir/haproxy.cfg: $(cat "$OUT_DIR/haproxy-check.log")"
        "${server_prefix[@]}" "$HAPROXY_BIN" -db -f "$dir/haproxy.cfg" >>"$OUT_DIR/haproxy.log" 2>&1 &
        HAPROXY_PID=$!
        HAPROXY_H1_URL="http://127.0.0.1:$h1_port/"
        HAPROXY_H2_URL="http://127.0.0.1:$h2_port/"
        if wait_http_body "$HAPROXY_H1_URL" "b1 b2" 100 && wait_http_body "$HAPROXY_H2_URL" "b1 b2" 50 --http2-prior-knowledge \
            && haproxy_cmd "show info" | grep -q '^Name: HAProxy'; then
            return 0
        fi
        log "haproxy not ready on ports $h1_port/$h2_port (attempt $attempt): $(tail -n 3 "$OUT_DIR/haproxy.log")"
        stop_pid "$HAPROXY_PID" haproxy
        HAPROXY_PID=""
    done
    die "haproxy did not become ready"
}

# --- backend changes ------------------------------------------------------------------------------------
sleep_until() { # epoch seconds (fractional)
    local d
    d="$(awk -v t="$1" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; printf "%.3f", d < 0 ? 0 : d }')"
    sleep "$d"
}
now_ms() { date +%s%3N; }

# The live backend set during a change run, and one change to it: change k (0-based) adds the backend two
# places after the oldest live one when k is even, and removes the oldest live one when k is odd; so
# {b1,b2} -> +b3 -> -b1 -> +b4 -> -b2 -> +b1 -> -b3 -> +b2 -> -b4 -> {b1,b2} for 8 changes.
declare -A INSTANCE_OF # backend -> its current discovery-proxy instance name
LIVE=()
apply_change() { # target k -> CHANGE_DESC; returns non-zero when the change command failed
    local target="$1" k="$2" name action i rest=()
    if (( k % 2 == 0 )); then
        name="${BACKENDS[$(( (k / 2 + 2) % ${#BACKENDS[@]} ))]}"
        action=add
        LIVE+=("$name")
    else
        name="${BACKENDS[$(( (k / 2) % ${#BACKENDS[@]} ))]}"
        action=remove
        for i in "${LIVE[@]}"; do [[ "$i" == "$name" ]] || rest+=("$i"); done
        LIVE=("${rest[@]}")
    fi
    CHANGE_DESC="$action $name"
    case "$target" in
        discovery-proxy)
            if [[ "$action" == add ]]; then
                INSTANCE_OF[$name]="$name-c$k"
                CHANGE_DESC+=" (PUT /services/$SERVICE/${INSTANCE_OF[$name]})"
                put_instance "${INSTANCE_OF[$name]}" "$name"
            else
                CHANGE_DESC+=" (DELETE /services/$SERVICE/${INSTANCE_OF[$name]})"
                delete_instance "${INSTANCE_OF[$name]}"
            fi
            ;;
        nginx)
            CHANGE_DESC+=" (upstream {${LIVE[*]}}, nginx -t, nginx -s reload)"
            write_nginx_upstream "${LIVE[@]}"
            nginx_proxy -t -q && nginx_proxy -s reload
            ;;
        haproxy)
            local state=ready
            [[ "$action" == remove ]] && state=maint
            CHANGE_DESC+=" (set server $SERVICE/$name state $state)"
            local answer
            answer="$(haproxy_cmd "set server $SERVICE/$name state $state")" || return 1
            [[ -z "${answer//[[:space:]]/}" ]] || { CHANGE_DESC+=": $answer"; return 1; }
            ;;
    esac
}

# run_changes target url: wrk for DURATION s with CHANGES evenly spaced backend changes ((k+1) * DURATION /
# (CHANGES+1) s after the start) -> RPS, P99, WRK_ERR_*, WRK_ERRORS, CHANGE_FAILURES, ROUTED_AFTER,
# BACKEND_CONNS; raw: wrk-changes-<target>.txt and changes-<target>.txt (what was done when, and how long each command took).
run_changes() {
    local target="$1" url="$2" out="$OUT_DIR/wrk-changes-$1.txt" log_file="$OUT_DIR/changes-$1.txt" t0 k at c0 rc a0
    LIVE=(b1 b2)
    INSTANCE_OF=([b1]=b1 [b2]=b2)
    CHANGE_FAILURES=0
    if (( WARMUP > 0 )); then wrk_cmd "$url" "$WARMUP" >/dev/null || die "wrk warm-up against $target failed"; fi
    log "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency $url with $CHANGES backend changes  ($target)"
    : >"$log_file"
    a0="$(backend_accepts)"
    t0="$(date +%s.%N)"
    # Not through wrk_cmd: $! must be timeout's pid, so that cleanup can stop it.
    timeout -k 5 $(( DURATION + 30 )) "${client_prefix[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$out" &
    WRK_PID=$!
    for ((k = 0; k < CHANGES; k++)); do
        at="$(awk -v t0="$t0" -v k="$k" -v d="$DURATION" -v n="$CHANGES" 'BEGIN { printf "%.3f", t0 + (k + 1) * d / (n + 1) }')"
        sleep_until "$at"
        c0="$(now_ms)"
        rc=0
        apply_change "$target" "$k" >>"$log_file" 2>&1 || rc=$?
        (( rc == 0 )) || CHANGE_FAILURES=$(( CHANGE_FAILURES + 1 ))
        printf 't=+%ss %s: %s ms%s\n' "$(awk -v t0="$t0" -v c="$c0" 'BEGIN { printf "%.2f", c / 1000 - t0 }')" "$CHANGE_DESC" \
            "$(( $(now_ms) - c0 ))" "$( (( rc == 0 )) || echo ", FAILED (exit $rc)")" >>"$log_file"
    done
    rc=0
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    (( rc == 0 )) || die "wrk against $target with changes failed (exit $rc); $out"
    BACKEND_CONNS="$(awk -v a="$a0" -v b="$(backend_accepts)" 'BEGIN { if (a == "" || b == "") print "n/a"; else print b - a - 1 }')"
    RPS="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    P99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
    [[ -n "$RPS" && -n "$P99" ]] || die "could not parse $out"
    wrk_errors "$out"
    check_alive "changes $target"
    sleep 0.5
    ROUTED_AFTER="$(routed_backends "$url")"
    echo "routed after the run (40 requests): $ROUTED_AFTER" >>"$log_file"
    if [[ "$target" == discovery-proxy ]]; then
        echo "GET /status active instances: $(proxy_active_instances)" >>"$log_file"
    fi
}
