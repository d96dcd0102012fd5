#!/usr/bin/env python3
"""Time from SIGKILL of a cluster's leader to the next acknowledged write (bench/kv.sh --cluster).

Writes go to the surviving members in turn, one at a time, each given --attempt-timeout (a write that reached
the dead leader waits for the server's own request timeout, seconds, so a client that wants to know gives up
early and tries again, as etcd's clients do); the first 2xx answer after the kill ends the measurement, so
the figure is at most one attempt timeout late. Prints `failover_ms=<ms> attempts=<n>`. Stdlib only.

    failover.py --pid 1234 http://127.0.0.1:A http://127.0.0.1:B
"""
import argparse
import os
import signal
import sys
import time
import urllib.error
import urllib.request


def put(url, timeout):
    request = urllib.request.Request(url + "/v2/keys/failover", data=b"value=x", method="PUT")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True, help="the leader's process, killed with SIGKILL")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds")
    parser.add_argument("--attempt-timeout", type=float, default=0.1, help="seconds one write may take")
    parser.add_argument("urls", nargs="+", help="client URLs of the surviving members")
    args = parser.parse_args()

    # A write before the kill proves the survivors answer at all (the number measured is failover, not start-up).
    if not any(put(url, 5) for url in args.urls):
        print("no survivor takes writes before the kill", file=sys.stderr)
        return 1
    start = time.monotonic()
    os.kill(args.pid, signal.SIGKILL)
    attempts = 0
    while time.monotonic() - start < args.timeout:
        url = args.urls[attempts % len(args.urls)]
        attempts += 1
        if put(url, args.attempt_timeout):
            print(f"failover_ms={(time.monotonic() - start) * 1000:.0f} attempts={attempts}")
            return 0
        time.sleep(0.005)
    print(f"no acknowledged write within {args.timeout} s of the kill", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
