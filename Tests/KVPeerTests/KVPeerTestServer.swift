import Foundation
import KVPeer
import KeysStore
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

// In-process kv-peer for HTTP tests: the real services (`StoreService` + one `Server`) in a `ServiceGroup`
// on 127.0.0.1 port 0, a temp data dir, a controllable clock, and a raw HTTP/1.1 client that exposes the
// exact bytes on the wire (status line, header names as sent, body, chunked framing).

/// A wall clock the test moves by hand. Starts at 2027-01-15T08:00:00.1234Z, so expirations render as
/// fixed strings (`ttl=5` → `2027-01-15T08:00:05.1234Z`).
final class TestClock: Sendable {
    static let start = Timestamp(nanoseconds: 1_800_000_000_123_400_000)
    private let current = Mutex(TestClock.start)

    var now: Timestamp { current.withLock { $0 } }
    func advance(seconds: Double) { current.withLock { $0.nanoseconds += Int64(seconds * 1e9) } }
    var function: @Sendable () -> Timestamp { { self.now } }
}

/// One running member, seen from the test.
struct TestPeer: Sendable {
    let port: Int
    let dataDirectory: String
    let clock: TestClock?

    /// One request on a fresh connection; returns the complete response.
    @discardableResult
    func request(
        _ method: String, _ target: String, body: String? = nil,
        contentType: String? = "application/x-www-form-urlencoded", headers: [(String, String)] = []
    ) async throws -> HTTPReply {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body {
            if let contentType { head += "Content-Type: \(contentType)\r\n" }
            head += "Content-Length: \(body.utf8.count)\r\n"
        }
        return try await raw(head + "\r\n" + (body ?? ""), isHead: method == "HEAD")
    }

    /// Sends `bytes` as they are and waits for one complete response (or the server closing the connection).
    func raw(_ bytes: String, isHead: Bool = false, timeout: Duration = .seconds(10)) async throws -> HTTPReply {
        try await RawClient.with(port: port) { client in
            try await client.send(bytes)
            let received = try await client.received.wait(for: "a complete response to \(bytes.prefix(80).debugDescription)", timeout: timeout) {
                Wire.reply($0.bytes, isHead: isHead) != nil || $0.closed
            }
            guard let reply = Wire.reply(received.bytes, isHead: isHead) else {
                throw WireError(description: "connection closed without a complete response: \(received.text.debugDescription)")
            }
            return reply
        }
    }

    func get(_ target: String) async throws -> HTTPReply { try await request("GET", target) }
    @discardableResult func put(_ target: String, _ body: String? = nil) async throws -> HTTPReply { try await request("PUT", target, body: body) }
    @discardableResult func post(_ target: String, _ body: String? = nil) async throws -> HTTPReply { try await request("POST", target, body: body) }
    @discardableResult func delete(_ target: String) async throws -> HTTPReply { try await request("DELETE", target) }

    /// Opens a watch (or any streaming GET), returning once the response head has arrived.
    func watch(_ target: String) async throws -> WatchStream {
        try await WatchStream.open(port: port, target: target)
    }

    /// `watchers` from `/v2/stats/store`.
    func watcherCount() async throws -> Int {
        let body = try await get("/v2/stats/store").body
        guard let range = body.range(of: "\"watchers\":") else { throw WireError(description: "no watchers in \(body)") }
        return Int(body[range.upperBound...].prefix { $0.isNumber }) ?? -1
    }

    /// Retries `condition` every 50 ms until it holds, failing with `what` after `timeout`.
    func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TimeoutError(waitingFor: what, timeout: timeout) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Runs kv-peer's services in a `ServiceGroup`, hands `body` the member, then shuts the group down
/// gracefully and waits for it. A data directory created here is removed afterwards; one passed in is kept.
/// `clock: nil` runs on the real wall clock.
func withKVPeer<T>(
    dataDirectory: String? = nil, clock: TestClock? = TestClock(), maxRequestBytes: Int = 1_572_864,
    registry: PrometheusCollectorRegistry? = nil, _ body: (TestPeer) async throws -> T
) async throws -> T {
    let directory = dataDirectory ?? temporaryDataDirectory()
    defer { if dataDirectory == nil { try? FileManager.default.removeItem(atPath: directory) } }
    let options = KVPeerOptions(
        name: "node1", dataDirectory: directory, clientListeners: [.init(host: "127.0.0.1", port: 0)],
        advertiseClientURLs: ["http://127.0.0.1:0"], peerURLs: ["http://127.0.0.1:2380"], maxRequestBytes: maxRequestBytes
    )
    let logger = quietLogger("kv-peer")
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let services = try KVPeerServer.services(
        options: options, logger: logger, registry: registry, clock: clock?.function ?? Timestamp.now
    ) { _, port in
        portContinuation.yield(port)
        portContinuation.finish()
    }
    let group = ServiceGroup(services: services, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer { portContinuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port != 0 else {
            try await tasks.waitForAll()
            throw WireError(description: "kv-peer stopped before it was listening")
        }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(TestPeer(port: port, dataDirectory: directory, clock: clock)))
        } catch {
            outcome = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try outcome.get()
    }
}

func temporaryDataDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvpeer-test-\(UUID().uuidString.prefix(8))").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

// MARK: Wire format

struct WireError: Error, CustomStringConvertible {
    let description: String
}

/// One HTTP/1.1 response as it came off the wire.
struct HTTPReply: Sendable, CustomStringConvertible {
    var status: Int
    var reason: String
    /// Header fields in wire order, names spelled as sent.
    var headers: [(name: String, value: String)]
    var body: String

    /// The first value of a header, matched case-insensitively.
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    func has(_ name: String) -> Bool { header(name) != nil }

    /// The etcd headers of a successful keys response, as one comparable value.
    var etcdIndex: UInt64? { header("X-Etcd-Index").flatMap { UInt64($0) } }

    var description: String {
        "\(status) \(reason)\n" + headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n") + "\n\n" + body
    }
}

enum Wire {
    /// Parses the status line and headers; nil until the blank line has arrived.
    static func head(_ bytes: [UInt8]) -> (reply: HTTPReply, bodyStart: Int)? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) }) else {
            return nil
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2).map(String.init)
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let reply = HTTPReply(status: status, reason: statusParts.count > 2 ? statusParts[2] : "", headers: headers, body: "")
        return (reply, end + 4)
    }

    /// Decodes the complete chunks in `bytes`; `finished` once the last (zero) chunk has arrived.
    static func dechunk(_ bytes: ArraySlice<UInt8>) -> (data: [UInt8], finished: Bool) {
        var data: [UInt8] = []
        var index = bytes.startIndex
        while true {
            guard let lineEnd = (index..<bytes.endIndex).first(where: { bytes[$0] == UInt8(ascii: "\n") }) else { return (data, false) }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { return (data, false) }
            let start = lineEnd + 1
            if size == 0 { return (data, bytes.endIndex >= start + 2) }
            guard bytes.endIndex >= start + size + 2 else { return (data, false) }
            data += bytes[start..<start + size]
            index = start + size + 2
        }
    }

    /// A complete response (Content-Length or chunked), or nil while more bytes are due.
    static func reply(_ bytes: [UInt8], isHead: Bool) -> HTTPReply? {
        guard let (parsed, start) = head(bytes) else { return nil }
        var reply = parsed
        if isHead || reply.status == 204 || reply.status == 304 { return reply }
        if reply.header("Transfer-Encoding")?.lowercased() == "chunked" {
            let (data, finished) = dechunk(bytes[start...])
            guard finished else { return nil }
            reply.body = String(decoding: data, as: UTF8.self)
            return reply
        }
        let length = reply.header("Content-Length").flatMap { Int($0) } ?? 0
        guard bytes.count - start >= length else { return nil }
        reply.body = String(decoding: bytes[start..<start + length], as: UTF8.self)
        return reply
    }
}

/// A long-poll watch on its own connection: the head is read first, events are read as they arrive.
final class WatchStream: Sendable {
    let client: RawClient
    let head: HTTPReply
    private let bodyStart: Int

    private init(client: RawClient, head: HTTPReply, bodyStart: Int) {
        self.client = client
        self.head = head
        self.bodyStart = bodyStart
    }

    static func open(port: Int, target: String) async throws -> WatchStream {
        let client = try await RawClient.connect(port: port)
        do {
            try await client.send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n")
            let received = try await client.received.wait(for: "the head of \(target)") { Wire.head($0.bytes) != nil || $0.closed }
            guard let (head, start) = Wire.head(received.bytes) else {
                throw WireError(description: "watch closed before its head: \(received.text.debugDescription)")
            }
            return WatchStream(client: client, head: head, bodyStart: start)
        } catch {
            await client.close()
            throw error
        }
    }

    /// The body decoded so far, and whether it has ended.
    var body: (text: String, finished: Bool) {
        let bytes = client.received.value.bytes
        let (data, finished) = Wire.dechunk(bytes[min(bodyStart, bytes.count)...])
        return (String(decoding: data, as: UTF8.self), finished)
    }

    /// Waits until `count` complete lines (events) have arrived; returns every line so far, newline included.
    @discardableResult
    func events(_ count: Int = 1, timeout: Duration = .seconds(10)) async throws -> [String] {
        let start = bodyStart
        let received = try await client.received.wait(for: "\(count) watch event(s)", timeout: timeout) { received in
            let data = Wire.dechunk(received.bytes[min(start, received.bytes.count)...]).data
            return data.count(where: { $0 == UInt8(ascii: "\n") }) >= count || received.closed
        }
        let text = String(decoding: Wire.dechunk(received.bytes[min(start, received.bytes.count)...]).data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { String($0) + "\n" }
        guard lines.count >= count else {
            throw WireError(description: "watch ended after \(lines.count) of \(count) events: \(text.debugDescription)")
        }
        return lines
    }

    /// Waits for the terminating chunk of a one-shot watch.
    func waitForEnd(timeout: Duration = .seconds(10)) async throws {
        let start = bodyStart
        try await client.received.wait(for: "the watch body to end", timeout: timeout) {
            Wire.dechunk($0.bytes[min(start, $0.bytes.count)...]).finished
        }
    }

    func close() async { await client.close() }
}

/// Opens a watch, runs `body`, and closes the watch connection afterwards (also on failure).
func withWatch<T>(_ peer: TestPeer, _ target: String, _ body: (WatchStream) async throws -> T) async throws -> T {
    let watch = try await peer.watch(target)
    do {
        let result = try await body(watch)
        await watch.close()
        return result
    } catch {
        await watch.close()
        throw error
    }
}

/// `{"errorCode":…,"message":…,"cause":…,"index":…}` + newline, as etcd writes it.
func etcdError(_ code: Int, _ cause: String, index: UInt64) -> String {
    EventJSON.string(StoreError(code: code, cause: cause, index: index))
}

/// Asserts the headers every successful keys response carries, with the given indexes.
/// `term`: a fresh single member elects itself in term 2 (the bootstrap entry is term 1); every restart holds
/// one more election, as etcd's does.
func expectKeysHeaders(_ reply: HTTPReply, etcdIndex: UInt64, term: UInt64 = 2, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
    #expect(reply.header("X-Etcd-Index") == String(etcdIndex), "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.header("X-Raft-Index").flatMap { UInt64($0) } != nil, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.header("X-Raft-Term") == String(term), sourceLocation: sourceLocation)
    #expect(reply.header("X-Etcd-Cluster-Id")?.allSatisfy(\.isHexDigit) == true, "\(reply)", sourceLocation: sourceLocation)
    expectCORS(reply, sourceLocation: sourceLocation)
}

/// Asserts an etcd error answer: status, exact body, `X-Etcd-Index` equal to the body's index, no raft headers.
func expectError(
    _ reply: HTTPReply, status: Int, _ code: Int, _ cause: String, index: UInt64, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(reply.status == status, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.body == etcdError(code, cause, index: index), sourceLocation: sourceLocation)
    #expect(reply.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
    #expect(reply.header("X-Etcd-Index") == String(index), sourceLocation: sourceLocation)
    #expect(!reply.has("X-Raft-Index") && !reply.has("X-Raft-Term"), "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.header("X-Etcd-Cluster-Id") != nil, "\(reply)", sourceLocation: sourceLocation)
    expectCORS(reply, sourceLocation: sourceLocation)
}

func expectCORS(_ reply: HTTPReply, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.header("Access-Control-Allow-Origin") == "*", sourceLocation: sourceLocation)
    #expect(reply.header("Access-Control-Allow-Methods") == "POST, GET, OPTIONS, PUT, DELETE", sourceLocation: sourceLocation)
    #expect(reply.header("Access-Control-Allow-Headers") == "accept, content-type, authorization", sourceLocation: sourceLocation)
}
