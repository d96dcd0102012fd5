#!/usr/bin/env bash
# Benchmarks the node agent (release build) with the scheduler on one etcd 3.4 (v2 API):
#   1. UNITS units (`/bin/sleep`), submitted one at a time through the fleet API; each timed from its PUT to the
#      moment the agent's published state shows it active with a live main pid (p50 / p99 / max)
#   2. the agent's CPU over 10 quiet seconds while it supervises all of them, and its RSS
# The driver is bench/agent/measure.py (stdlib python3). Everything on 127.0.0.1; all stopped on exit.
#
# Usage: bench/agent.sh        Environment: UNITS [200], SKIP_BUILD=1, ETCD_BIN [/usr/bin/etcd],
#                              OUT_DIR [bench/out/agent-<timestamp>]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO_ROOT/bench/lib.sh"
SCRATCH="$REPO_ROOT/.build-release"
UNITS="${UNITS:-200}"
ETCD_BIN="${ETCD_BIN:-/usr/bin/etcd}"
SKIP_BUILD="${SKIP_BUILD:-0}"
OUT_DIR="${OUT_DIR:-$REPO_ROOT/bench/out/agent-$(date +%Y%m%d-%H%M%S)}"

die() { echo "bench/agent.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }
[[ "$UNITS" =~ ^[1-9][0-9]*$ ]] || die "UNITS must be a positive integer"

if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
if [[ "$SKIP_BUILD" != 1 ]]; then
    for product in scheduler node-agent; do
        log "building $product (release, --scratch-path .build-release)"
        (cd "$REPO_ROOT" && swift build -c release --product "$product" --scratch-path "$SCRATCH") >&2 || die "release build of $product failed"
    done
fi
BIN="$SCRATCH/release"

mkdir -p "$OUT_DIR"
WORK="$(mktemp -d /var/tmp/flotilla-bench-agent.XXXXXX)"
PIDS=()
cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" "process"; done
    # The agent leaves its units running on exit (a restarted agent re-adopts them): kill what its runtime
    # records name — each unit's process group and the holder of its output pipes.
    python3 - "$WORK/agent/run/units" <<'PY' || true
import json, os, signal, sys
directory = sys.argv[1]
for name in (os.listdir(directory) if os.path.isdir(directory) else []):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(directory, name)) as f:
        record = json.load(f)
    for group in record.get("groups", []):
        if group > 1:
            try: os.killpg(group, signal.SIGKILL)
            except OSError: pass
    for key in ("mainPID", "holderPID"):
        pid = record.get(key)
        if pid and pid > 1:
            try: os.kill(pid, signal.SIGKILL)
            except OSError: pass
PY
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$(free_port)"; peer="$(free_port)"
KEYS="http://127.0.0.1:$port"
"$ETCD_BIN" --name bench --data-dir "$WORK/etcd" --enable-v2=true --listen-client-urls "$KEYS" --advertise-client-urls "$KEYS" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "bench=http://127.0.0.1:$peer" >"$OUT_DIR/etcd.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 200; i++)); do curl -fsS -X PUT "$KEYS/v2/keys/ready" -d value=1 -o /dev/null 2>/dev/null && break; sleep 0.1; done

"$BIN/scheduler" --endpoints "$KEYS" --listen 127.0.0.1:0 >"$OUT_DIR/scheduler.stdout" 2>"$OUT_DIR/scheduler.log" &
PIDS+=($!)
API="$(ready_url "$OUT_DIR/scheduler.stdout" api "${PIDS[-1]}")" || die "scheduler did not start"
"$BIN/node-agent" --endpoints "$KEYS" --listen 127.0.0.1:0 --data-dir "$WORK/agent" --machine-id bench00000000000000000000000001 \
    >"$OUT_DIR/agent.stdout" 2>"$OUT_DIR/agent.log" &
AGENT_PID=$!
PIDS+=($AGENT_PID)
ready_url "$OUT_DIR/agent.stdout" agent "$AGENT_PID" >/dev/null || die "node-agent did not start"

log "submitting $UNITS units one at a time"
RESULT="$(python3 "$REPO_ROOT/bench/agent/measure.py" "$API" "$KEYS" "$AGENT_PID" "$UNITS")" || die "measurement failed"
echo "$RESULT" >"$OUT_DIR/result.json"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$RESULT" "$1"; }
printf '\n%-52s%12s\n' "node agent, $UNITS units (sleep)" "value"
printf '%-52s%12s\n' "submitted -> running, p50 (ms)" "$(field p50_ms)"
printf '%-52s%12s\n' "submitted -> running, p99 (ms)" "$(field p99_ms)"
printf '%-52s%12s\n' "submitted -> running, max (ms)" "$(field max_ms)"
printf '%-52s%12s\n' "agent RSS supervising them (MiB)" "$(field agent_rss_mib)"
printf '%-52s%12s\n' "agent CPU supervising them, idle (% of a core)" "$(field agent_cpu_percent_idle)"
printf '%-52s%12s\n' "units still running at the end" "$(field units_alive)"
echo "raw output: $OUT_DIR" >&2
