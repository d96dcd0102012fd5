# The summary of bench/proxy.sh: print_summary writes the plain-text report (header lines, the throughput and
# latency table, the backend-change table, the key-to-route line and the column notes) and print_summary_md the
# Markdown fragment for BENCHMARKS.md, both on stdout, plus their formatting helpers. Source it from
# bench/proxy.sh after bench/lib.sh; it defines functions and runs nothing itself. When they are called, the
# sourcing script provides ratio (bench/lib.sh); the results R (associative, keys target,h1|h2|ch,field),
# TARGETS, CHANGE_TARGETS, HAP_ROW ("haproxy", or empty without HAProxy) and K2R_JSON (key_to_route.py's
# output); and the run's description: REPO_ROOT, BIN, NGINX_VERSION, HAPROXY_VERSION, ETCD_VERSION, SERVER_CPUS,
# BACKEND_CPUS, CLIENT_CPUS, WARMUP, DURATION, CONNECTIONS, WRK_THREADS, H2_THREADS, H2_CLIENTS, H2_STREAMS,
# SERVICE, PROXY_LOG_LEVEL, CHANGES, TRIALS, LOAD_BEFORE and LOAD_AFTER.

# key_to_route.py's result field NAME from K2R_JSON ("n/a" when it is null).
k2r() { python3 -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print("n/a" if v is None else v)' "$K2R_JSON" "$1"; }
# The checked-out commit, read from .git without running git.
source_rev() {
    local head ref
    head="$(cat "$REPO_ROOT/.git/HEAD" 2>/dev/null || true)"
    if [[ "$head" == ref:* ]]; then
        ref="${head#ref: }"
        head="$(cat "$REPO_ROOT/.git/$ref" 2>/dev/null || awk -v r="$ref" '$2 == r { print $1 }' "$REPO_ROOT/.git/packed-refs" 2>/dev/null || true)"
    fi
    echo "${head:0:10}"
}
minus() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || a == "" || b == "") print "n/a"; else printf "%.2f", a - b }'; }
# ratio, but n/a when either side is missing or the denominator is not positive (an added p99 can be <= 0).
ratio_na() {
    if [[ "$1" == n/a || "$2" == n/a || -z "$1" || -z "$2" ]] || awk -v b="$2" 'BEGIN { exit !(b + 0 <= 0) }'; then echo n/a; else ratio "$1" "$2"; fi
}
label() {
    case "$1" in
        direct) echo "direct to b1" ;;
        discovery-proxy) echo "discovery-proxy" ;;
        nginx) echo "nginx proxy" ;;
        haproxy) echo "HAProxy" ;;
    esac
}
how() {
    case "$1" in
        discovery-proxy) echo "etcd key PUT/DELETE" ;;
        nginx) echo "rewrite upstream + reload" ;;
        haproxy) echo "runtime API (set server state)" ;;
    esac
}
# Proxy CPU per request in microseconds, from the % of a core and req/s.
us_per_req() { awk -v c="$1" -v r="$2" 'BEGIN { if (c == "-" || r + 0 == 0) print "-"; else printf "%.1f", c * 10000 / r }'; }

# The plain-text summary (bench/proxy.sh tees it into $OUT_DIR/summary.txt).
print_summary() {
    echo
    echo "Flotilla discovery-proxy bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, kernel $(uname -r)"
    echo "source: $(source_rev) (working tree may differ); binary $BIN"
    echo "nginx $NGINX_VERSION (backends: 1 worker; proxy: 1 worker, upstream keepalive 64), HAProxy $HAPROXY_VERSION (nbthread 1, http-reuse always), etcd $ETCD_VERSION"
    echo "proxy + etcd CPUs: ${SERVER_CPUS:-unpinned}; backend CPUs: ${BACKEND_CPUS:-unpinned}; load generator CPUs: ${CLIENT_CPUS:-unpinned}; warm-up ${WARMUP}s before each run"
    echo "HTTP/1.1: wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency; h2c: h2load -t$H2_THREADS -c$H2_CLIENTS -m$H2_STREAMS -D$DURATION (prior knowledge; p99 from --log-file)"
    echo "discovery-proxy: --route service=$SERVICE --drain-timeout 5s --log-level $PROXY_LOG_LEVEL; the proxies route to b1+b2, direct = b1 alone"
    echo "load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
    echo
    echo "1. Throughput and latency (/direct, /HAProxy: req/s divided; added p99 = p99 - direct p99; its /HAProxy divides those)"
    printf '| %-15s | %-8s | %8s | %7s | %8s | %7s | %7s | %9s | %9s | %9s | %10s | %11s | %13s | %9s | %6s |\n' \
        target protocol "req/s" "/direct" "/HAProxy" "p99 ms" "mean ms" "added p99" "/HAProxy" "proxy CPU" "us CPU/req" "backend CPU" "backend conns" "other CPU" errors
    printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "-----------------" "----------" "---------:" "--------:" "---------:" \
        "--------:" "--------:" "----------:" "----------:" "----------:" "-----------:" "------------:" "--------------:" "----------:" "-------:"
    for proto in h1 h2; do
        plabel=$([[ $proto == h1 ]] && echo "HTTP/1.1" || echo "h2c")
        for target in "${TARGETS[@]}"; do
            rps="${R[$target,$proto,rps]}"
            added="-" added_r="-" vs_hap="-" vs_direct="-"
            if [[ "$target" != direct ]]; then
                vs_direct="$(ratio "$rps" "${R[direct,$proto,rps]}")"
                added="$(minus "${R[$target,$proto,p99]}" "${R[direct,$proto,p99]}")"
                if [[ -n "$HAP_ROW" ]]; then
                    vs_hap="$(ratio "$rps" "${R[haproxy,$proto,rps]}")"
                    added_r="$(ratio_na "$added" "$(minus "${R[haproxy,$proto,p99]}" "${R[direct,$proto,p99]}")")"
                else
                    vs_hap="n/a" added_r="n/a"
                fi
            fi
            pcpu="${R[$target,$proto,pcpu]}"
            [[ "$pcpu" == - ]] || pcpu="$pcpu%"
            printf '| %-15s | %-8s | %8s | %7s | %8s | %7s | %7s | %9s | %9s | %9s | %10s | %11s | %13s | %8s%% | %6s |\n' "$(label "$target")" "$plabel" \
                "$rps" "$vs_direct" "$vs_hap" "${R[$target,$proto,p99]}" "${R[$target,$proto,mean]}" "$added" "$added_r" \
                "$pcpu" "$(us_per_req "${R[$target,$proto,pcpu]}" "$rps")" "${R[$target,$proto,bcpu]}%" "${R[$target,$proto,conns]}" \
                "${R[$target,$proto,other]}" "${R[$target,$proto,err]}"
        done
    done
    echo
    echo "2. $CHANGES backend changes under load (wrk -c$CONNECTIONS -d${DURATION}s; add a new backend / remove an old one, alternately, every $(awk -v d="$DURATION" -v n="$CHANGES" 'BEGIN { printf "%.2f", d / (n + 1) }') s)"
    printf '| %-15s | %-30s | %8s | %7s | %7s | %5s | %5s | %7s | %7s | %6s | %14s | %13s | %-12s |\n' \
        target "changes applied by" "req/s" "p99 ms" connect read write timeout non-2xx errors "failed changes" "backend conns" "routed after"
    printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "-----------------" "--------------------------------" "---------:" "--------:" \
        "--------:" "------:" "------:" "--------:" "--------:" "-------:" "---------------:" "--------------:" "--------------"
    for target in "${CHANGE_TARGETS[@]}"; do
        printf '| %-15s | %-30s | %8s | %7s | %7s | %5s | %5s | %7s | %7s | %6s | %14s | %13s | %-12s |\n' "$(label "$target")" "$(how "$target")" \
            "${R[$target,ch,rps]}" "${R[$target,ch,p99]}" "${R[$target,ch,connect]}" "${R[$target,ch,read]}" "${R[$target,ch,write]}" \
            "${R[$target,ch,timeout]}" "${R[$target,ch,non2xx]}" "${R[$target,ch,errors]}" "${R[$target,ch,failed]}" "${R[$target,ch,conns]}" \
            "${R[$target,ch,routed]}"
    done
    [[ -n "$HAP_ROW" ]] || echo "| HAProxy         | not available                  |"
    echo
    echo "3. discovery-proxy key write -> first routed response ($TRIALS trials; clock from just before the etcd PUT to the first"
    echo "   response from the new backend, polled over one keep-alive connection; includes the PUT itself, p50 $(k2r put_p50_ms) ms)"
    echo "   p50 $(k2r p50_ms) ms, p99 $(k2r p99_ms) ms, min $(k2r min_ms) ms, max $(k2r max_ms) ms; $(k2r failures) failed (> 5 s);" \
        "$(k2r stale_routes) trials found the new backend already routed; $(k2r unsettled_deletes) deletes not applied within 5 s;" \
        "polling saw $(k2r poll_errors) connection errors and $(k2r poll_non200) non-200 responses"
    echo
    echo "proxy CPU / backend CPU = user+system time of the proxy's / the backend nginx's processes during the run / its length"
    echo "  (100% = one core); us CPU/req = the proxy's CPU time per request; backend conns = connections the backends accepted"
    echo "  during the run (stub_status; a proxy reusing its upstream connections opens a handful, not one per request);"
    echo "  other CPU = CPU used by none of them nor the load generator (etcd idles; more than a few % = disturbed run)"
    echo "errors: wrk socket errors + non-2xx; h2load failed/errored/timeout requests + non-2xx in its log"
    for target in "${TARGETS[@]}"; do
        other="${R[$target,h1,other]}"
        (( ${R[$target,h2,other]} > other )) && other="${R[$target,h2,other]}"
        if (( other > 10 )); then echo "WARNING: $target's runs were disturbed (other CPU up to ${other}% of a core); rerun on a quiet machine"; fi
    done
}

# The same as a Markdown fragment for BENCHMARKS.md.
print_summary_md() {
    echo "Measured $(date -u +%Y-%m-%d) with \`bench/proxy.sh\` ($(nproc) CPUs; proxies and etcd on CPU ${SERVER_CPUS:-unpinned}, backends on ${BACKEND_CPUS:-unpinned}, wrk/h2load on ${CLIENT_CPUS:-unpinned};"
    echo "nginx $NGINX_VERSION, HAProxy $HAPROXY_VERSION, etcd $ETCD_VERSION; wrk $CONNECTIONS connections ${DURATION} s, h2load $H2_CLIENTS×$H2_STREAMS streams; source $(source_rev)):"
    echo
    echo "| target | HTTP/1.1 req/s | p99 ms | req/s vs direct | req/s vs HAProxy | added p99 vs HAProxy | proxy µs CPU/req | h2c req/s | h2c p99 ms | h2c vs HAProxy | errors over $CHANGES backend changes under load |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for target in "${TARGETS[@]}"; do
        if [[ "$target" == direct ]]; then
            vd="1.00" vh="–" ah="–" h2h="–" ch="–"
        else
            vd="$(ratio "${R[$target,h1,rps]}" "${R[direct,h1,rps]}")"
            if [[ -n "$HAP_ROW" ]]; then
                vh="$(ratio "${R[$target,h1,rps]}" "${R[haproxy,h1,rps]}")"
                ah="$(ratio_na "$(minus "${R[$target,h1,p99]}" "${R[direct,h1,p99]}")" "$(minus "${R[haproxy,h1,p99]}" "${R[direct,h1,p99]}")")"
                h2h="$(ratio "${R[$target,h2,rps]}" "${R[haproxy,h2,rps]}")"
            else
                vh="n/a" ah="n/a" h2h="n/a"
            fi
            ch="${R[$target,ch,errors]} ($(how "$target"): connect/read/write/timeout ${R[$target,ch,connect]}/${R[$target,ch,read]}/${R[$target,ch,write]}/${R[$target,ch,timeout]}, non-2xx ${R[$target,ch,non2xx]})"
        fi
        us="$(us_per_req "${R[$target,h1,pcpu]}" "${R[$target,h1,rps]}") / $(us_per_req "${R[$target,h2,pcpu]}" "${R[$target,h2,rps]}")"
        [[ "$target" == direct ]] && us="–"
        echo "| $(label "$target") | ${R[$target,h1,rps]} | ${R[$target,h1,p99]} | $vd | $vh | $ah | $us | ${R[$target,h2,rps]} | ${R[$target,h2,p99]} | $h2h | $ch |"
    done
    [[ -n "$HAP_ROW" ]] || echo "| HAProxy | not available | | | | | | | | | |"
    echo
    echo "proxy µs CPU/req: HTTP/1.1 / h2c. discovery-proxy key write → first routed response ($TRIALS trials, clock from just before the etcd PUT):"
    echo "p50 $(k2r p50_ms) ms, p99 $(k2r p99_ms) ms, max $(k2r max_ms) ms, $(k2r failures) failed."
}
