#!/usr/bin/env python3
"""Watch notification latency of an etcd v2 keys API, for bench/kv.sh. Standard library only.

Opens WATCHERS keep-alive HTTP/1.1 connections and, each round, sends one long-poll
`GET /v2/keys/<key>?wait=true&waitIndex=N` on every one of them, with N the index the next write will get.
A watch counts as armed once its response headers have arrived (etcd flushes them when it registers the
watcher). When all are armed the script takes a monotonic timestamp, PUTs the key over a separate
connection, and records, per watcher, when the complete event response has arrived. Latency = arrival -
timestamp, so it includes the write itself (durable, i.e. fsynced, before the event can be sent).

Arrival is stamped in the stream reader's feed_data, i.e. when the event loop reads the bytes off the
socket, before any Python parsing, so the client's own per-watcher work adds as little as possible.

Prints one line: `samples=… p50_ms=… p99_ms=… max_ms=… put_p50_ms=… put_p99_ms=… … errors=…` (put_*: until
the first byte of the write's own answer); exits non-zero
if anything failed or timed out.
"""

import argparse
import asyncio
import json
import sys
import time
import urllib.parse


class TimedReader(asyncio.StreamReader):
    """A StreamReader that notes when the body it is told to expect is complete."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.framing = None  # None (not armed) | ("chunked",) | ("length", n)
        self.seen = bytearray()
        self.done_at = None
        self.first_at = None  # set by expect_first: when the next bytes arrive

    def expect_first(self):
        self.first_at = 0.0

    def arm(self, framing):
        self.framing = framing
        self.seen = bytearray()
        self.done_at = None

    def feed_data(self, data):
        if self.first_at == 0.0:
            self.first_at = time.perf_counter()
        if self.framing is not None and self.done_at is None:
            self.seen += data
            if self.framing[0] == "chunked":
                complete = self.seen.endswith(b"0\r\n\r\n")
            else:
                complete = len(self.seen) >= self.framing[1]
            if complete:
                self.done_at = time.perf_counter()
        super().feed_data(data)


async def connect(host, port):
    loop = asyncio.get_running_loop()
    reader = TimedReader(limit=1 << 20)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


def framing_of(headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return ("chunked",)
    return ("length", int(headers.get("content-length", "0")))


async def read_body(reader, framing):
    if framing[0] == "length":
        return await reader.readexactly(framing[1])
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers expected: the empty line
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def request(reader, writer, host, method, path, body=None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if body is not None:
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
    await writer.drain()
    status, headers = await read_head(reader)
    payload = await read_body(reader, framing_of(headers))
    return status, headers, payload


def percentile(sorted_values, p):
    # Nearest rank: the smallest value with at least p% of the samples at or below it.
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="client URL, e.g. http://127.0.0.1:2379")
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--key", default="/w", help="key to watch and write, e.g. /w")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds allowed for each phase of a round")
    args = parser.parse_args()

    url = urllib.parse.urlsplit(args.url)
    host, port = url.hostname, url.port
    host_header = f"{host}:{port}"
    key_path = "/v2/keys" + args.key

    watchers = await asyncio.wait_for(
        asyncio.gather(*(connect(host, port) for _ in range(args.watchers))), args.timeout
    )
    put_reader, put_writer = await connect(host, port)

    async def put(value):
        status, _, payload = await request(put_reader, put_writer, host_header, "PUT", key_path, f"value={value}".encode())
        if status not in (200, 201):
            raise RuntimeError(f"PUT {key_path}: HTTP {status}: {payload[:200]!r}")
        return json.loads(payload)["node"]["modifiedIndex"]

    index = await asyncio.wait_for(put("start"), args.timeout)
    latencies, put_times, errors = [], [], 0

    async def arm(reader, writer, wait_index):
        writer.write(f"GET {key_path}?wait=true&waitIndex={wait_index} HTTP/1.1\r\nHost: {host_header}\r\n\r\n".encode())
        await writer.drain()
        status, headers = await read_head(reader)
        if status != 200:
            raise RuntimeError(f"watch: HTTP {status}")
        framing = framing_of(headers)
        reader.arm(framing)
        # Event bytes that came with the headers (the watch did not wait) leave done_at unset: an error below.
        return framing

    async def event(reader, framing):
        payload = await read_body(reader, framing)
        reader.framing = None
        return json.loads(payload)

    for round_number in range(args.rounds):
        wait_index = index + 1
        framings = await asyncio.wait_for(
            asyncio.gather(*(arm(r, w, wait_index) for r, w in watchers)), args.timeout
        )
        put_reader.expect_first()
        start = time.perf_counter()
        put_task = asyncio.ensure_future(put(f"round{round_number}"))
        events = await asyncio.wait_for(
            asyncio.gather(*(event(r, f) for (r, _), f in zip(watchers, framings))), args.timeout
        )
        index = await asyncio.wait_for(put_task, args.timeout)
        put_times.append((put_reader.first_at - start) * 1000)  # first byte of the PUT's answer
        for (reader, _), got in zip(watchers, events):
            if reader.done_at is None or got.get("node", {}).get("modifiedIndex") != index:
                errors += 1
                continue
            latencies.append((reader.done_at - start) * 1000)

    for _, writer in watchers + [(put_reader, put_writer)]:
        writer.close()
    latencies.sort()
    if not latencies:
        print(f"samples=0 errors={errors}")
        return 1
    print(
        f"samples={len(latencies)} p50_ms={percentile(latencies, 50):.3f} p99_ms={percentile(latencies, 99):.3f} "
        f"max_ms={latencies[-1]:.3f} put_p50_ms={percentile(sorted(put_times), 50):.3f} "
        f"put_p99_ms={percentile(sorted(put_times), 99):.3f} rounds={args.rounds} watchers={args.watchers} errors={errors}"
    )
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
