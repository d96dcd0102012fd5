#!/usr/bin/env python3
"""discovery-proxy key-to-route latency: the time from just before an etcd v2 key write (PUT) starts to the first
response the proxy routes to the backend that key announces. Standard library only; bench/proxy.sh runs it.

Each trial:
  1. deletes the previous trial's key and waits (at most --timeout s) until the proxy's GET /status no longer
     lists that instance as active, so the trial starts from a settled route table;
  2. checks, over the polling connection, that the trial's backend is not routed yet (a hit here is a stale
     route: it is counted and reported);
  3. PUTs <prefix>/<service>/<instance> with {"host": ..., "port": ...} for one of two spare backends
     (alternating), taking the clock just before the PUT starts;
  4. polls the proxy over one keep-alive connection (http.client), as fast as it can, until a response comes
     from that backend (its x-backend header, else its body), and stops the clock there.
A trial gives up after --timeout seconds and counts as a failure. Every loop is bounded.

stdout: one JSON object (counts and percentiles in ms); --raw: one tab-separated line per trial.
"""

import argparse
import http.client
import json
import math
import sys
import time
import urllib.parse


class KeepAlive:
    """One keep-alive HTTP/1.1 connection that reconnects (once per request) when the server closed it."""

    def __init__(self, url, timeout):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body); raises OSError / HTTPException when even a fresh connection fails."""
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.close()
                return response.status, response.headers, data
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def backend_of(headers, body):
    name = headers.get("x-backend")
    if name:
        return name.strip()
    return body.decode("utf-8", "replace").strip()


def percentile(sorted_values, p):
    """Nearest rank."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def active_instances(admin, service):
    status, _, body = admin.request("GET", "/status")
    if status != 200:
        return None
    doc = json.loads(body)
    return {i.get("instance") for i in doc.get("services", {}).get(service, []) if i.get("state") == "active"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--etcd", required=True, help="keys API base URL, e.g. http://127.0.0.1:2379")
    ap.add_argument("--proxy", required=True, help="the proxy's client URL (HTTP/1.1)")
    ap.add_argument("--admin", required=True, help="the proxy's admin URL (GET /status)")
    ap.add_argument("--service", default="web")
    ap.add_argument("--services-prefix", default="/services")
    ap.add_argument("--spare", action="append", required=True, metavar="NAME=PORT",
                    help="a backend on 127.0.0.1:PORT answering with x-backend: NAME; give two")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds before a trial (or a wait) gives up")
    ap.add_argument("--prechecks", type=int, default=8, help="requests checking the new backend is not routed yet")
    ap.add_argument("--raw", help="file for one tab-separated line per trial")
    args = ap.parse_args()

    spares = []
    for text in args.spare:
        name, _, port = text.partition("=")
        spares.append((name, int(port)))
    if len(spares) < 2:
        ap.error("give two --spare backends")

    etcd = KeepAlive(args.etcd, args.timeout)
    proxy = KeepAlive(args.proxy, args.timeout)
    admin = KeepAlive(args.admin, args.timeout)
    key_dir = "/v2/keys" + args.services_prefix.rstrip("/") + "/" + args.service + "/"
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    raw = open(args.raw, "w") if args.raw else None
    if raw:
        print("trial\tinstance\tbackend\tresult\tms_to_route\tms_put\tpolls\tpoll_errors\tpoll_non200\tstale_before", file=raw)

    latencies, put_times = [], []
    failures, stale_trials, unsettled, poll_errors_total, poll_non200_total = 0, 0, 0, 0, 0
    previous = None
    for trial in range(args.trials):
        name, port = spares[trial % len(spares)]
        instance = f"k2r-{trial}-{name}"

        # 1. remove the previous trial's instance and let the route table settle
        if previous is not None:
            status, _, body = etcd.request("DELETE", key_dir + previous)
            if status not in (200, 404):
                sys.exit(f"key_to_route: DELETE {previous} -> {status} {body[:200]!r}")
            deadline = time.monotonic() + args.timeout
            while True:
                active = active_instances(admin, args.service)
                if active is not None and previous not in active:
                    break
                if time.monotonic() > deadline:
                    unsettled += 1
                    break
                time.sleep(0.005)
            time.sleep(0.05)  # past any coalescing window the delete opened

        # 2. the new backend must not be routed yet
        stale = 0
        for _ in range(args.prechecks):
            try:
                status, headers, body = proxy.request("GET", "/")
                if status == 200 and backend_of(headers, body) == name:
                    stale += 1
            except (OSError, http.client.HTTPException):
                pass
        if stale:
            stale_trials += 1

        # 3. the key write, timed from just before it starts
        value = json.dumps({"host": "127.0.0.1", "port": port})
        payload = urllib.parse.urlencode({"value": value})
        t0 = time.perf_counter()
        status, _, body = etcd.request("PUT", key_dir + instance, body=payload, headers=form)
        t_put = time.perf_counter()
        if status not in (200, 201):
            sys.exit(f"key_to_route: PUT {instance} -> {status} {body[:200]!r}")

        # 4. poll until the proxy answers from the new backend
        deadline = t0 + args.timeout
        polls = errors = non200 = 0
        routed_at = None
        while time.perf_counter() < deadline:
            try:
                status, headers, body = proxy.request("GET", "/")
            except (OSError, http.client.HTTPException):
                errors += 1
                continue
            polls += 1
            if status != 200:
                non200 += 1
                continue
            if backend_of(headers, body) == name:
                routed_at = time.perf_counter()
                break
        poll_errors_total += errors
        poll_non200_total += non200
        put_ms = (t_put - t0) * 1000
        put_times.append(put_ms)
        if routed_at is None:
            failures += 1
            result, ms = "timeout", ""
        else:
            latency_ms = (routed_at - t0) * 1000
            latencies.append(latency_ms)
            result, ms = "ok", f"{latency_ms:.3f}"
        if raw:
            print(f"{trial}\t{instance}\t{name}\t{result}\t{ms}\t{put_ms:.3f}\t{polls}\t{errors}\t{non200}\t{stale}", file=raw)
        previous = instance

    if previous is not None:
        etcd.request("DELETE", key_dir + previous)
    if raw:
        raw.close()

    latencies.sort()
    put_times.sort()

    def fmt(v):
        return None if v is None else round(v, 2)

    print(json.dumps({
        "trials": args.trials,
        "routed": len(latencies),
        "failures": failures,
        "stale_routes": stale_trials,
        "unsettled_deletes": unsettled,
        "poll_errors": poll_errors_total,
        "poll_non200": poll_non200_total,
        "p50_ms": fmt(percentile(latencies, 50)),
        "p99_ms": fmt(percentile(latencies, 99)),
        "min_ms": fmt(latencies[0] if latencies else None),
        "max_ms": fmt(latencies[-1] if latencies else None),
        "put_p50_ms": fmt(percentile(put_times, 50)),
    }))


if __name__ == "__main__":
    main()
