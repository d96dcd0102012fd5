#!/usr/bin/env python3
"""Drives bench/agent.sh: submits UNITS units (each `sleep`) through the fleet API, one at a time, and times
each from its PUT to the moment the agent's published state shows it active with a live main pid; then
samples the agent's RSS and CPU while it supervises them all. Prints one JSON line. Stdlib only."""
import json, os, sys, time, urllib.request

api, keys, agent_pid, units = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
prefix = "/_coreos.com/fleet"

def put_unit(name, index):
    body = json.dumps({"desiredState": "launched", "options": [
        {"section": "Service", "name": "ExecStart", "value": "/bin/sleep %d" % (100000 + index)}]}).encode()
    request = urllib.request.Request(api + "/fleet/v1/units/" + name, data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201, response.status

def state(name):
    try:
        with urllib.request.urlopen(keys + "/v2/keys" + prefix + "/states/" + name + "?recursive=true", timeout=10) as r:
            node = json.load(r)["node"]
    except Exception:
        return None
    for child in node.get("nodes", []):
        value = json.loads(child["value"])
        pid = value.get("mainPID")
        if value.get("activeState") == "active" and pid:
            try:
                os.kill(pid, 0)
                return pid
            except OSError:
                pass
    return None

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0

latencies, pids = [], []
for index in range(units):
    name = "bench-%d.service" % index
    start = time.monotonic()
    put_unit(name, index)
    deadline = start + 60
    pid = None
    while pid is None:
        if time.monotonic() > deadline:
            sys.exit("unit %s not running within 60 s" % name)
        pid = state(name)
        if pid is None:
            time.sleep(0.002)
    latencies.append(time.monotonic() - start)
    pids.append(pid)

# Supervising all of them: CPU over a quiet 10 s window, then RSS.
before = cpu_seconds(agent_pid)
time.sleep(10)
cpu = (cpu_seconds(agent_pid) - before) / 10
latencies.sort()
def percentile(p):
    return latencies[min(len(latencies) - 1, int(round(p * (len(latencies) - 1))))]
alive = sum(1 for pid in pids if os.path.exists("/proc/%d" % pid))
print(json.dumps({"units": units, "p50_ms": round(percentile(0.5) * 1000, 1), "p99_ms": round(percentile(0.99) * 1000, 1),
                  "max_ms": round(latencies[-1] * 1000, 1), "agent_rss_mib": round(rss_mib(agent_pid), 1),
                  "agent_cpu_percent_idle": round(cpu * 100, 2), "units_alive": alive}))
