public import AsyncHTTPClient
public import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Foundation

/// A client of the etcd v2 keys API (`/v2/keys`), for kv-peer and real etcd alike.
///
/// Every operation tries the endpoints in turn, starting with the one that answered last. A request that may
/// have reached the server is retried elsewhere only when repeating it is harmless (reads, plain sets and
/// deletes); a conditional write is retried only when it surely never left this process.
public struct KeysAPI: Sendable {
    public let configuration: KeysClientConfiguration
    let httpClient: HTTPClient
    let logger: Logger
    private let preferred: PreferredEndpoint
    private let requests: RequestCounters

    public init(configuration: KeysClientConfiguration, httpClient: HTTPClient, logger: Logger) {
        precondition(!configuration.endpoints.isEmpty, "a KeysAPI needs at least one endpoint")
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        self.requests = RequestCounters()
        self.preferred = PreferredEndpoint()
    }

    /// Creates an HTTP client for the duration of `body` and always shuts it down, on success, error or
    /// cancellation.
    public static func withClient<Result: Sendable>(
        configuration: KeysClientConfiguration,
        logger: Logger,
        _ body: (KeysAPI) async throws -> Result
    ) async throws -> Result {
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(connect: TimeAmount(configuration.connectTimeout), read: nil)
        httpConfiguration.httpVersion = .http1Only
        httpConfiguration.redirectConfiguration = .disallow
        httpConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, configuration.maxConnectionsPerEndpoint)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        let result: Result
        do {
            result = try await body(KeysAPI(configuration: configuration, httpClient: httpClient, logger: logger))
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
        return result
    }

    // MARK: Reads

    public func get(_ key: String, recursive: Bool = false, sorted: Bool = false, quorum: Bool = false) async throws -> KeysResponse {
        var query = KeysQuery()
        query.flag("recursive", recursive)
        query.flag("sorted", sorted)
        query.flag("quorum", quorum)
        return try await keysRequest(.GET, key, query: query, retry: .always)
    }

    // MARK: Writes

    /// Creates or replaces a key (etcd `set`).
    public func set(_ key: String, value: String, ttl: Duration? = nil) async throws -> KeysResponse {
        try await keysRequest(.PUT, key, form: Self.valueForm(value, ttl: ttl), retry: .always)
    }

    /// Creates a key that must not exist yet (`prevExist=false`); fails with 105 if it does.
    public func create(_ key: String, value: String, ttl: Duration? = nil) async throws -> KeysResponse {
        var query = KeysQuery()
        query.add("prevExist", "false")
        return try await keysRequest(.PUT, key, query: query, form: Self.valueForm(value, ttl: ttl), retry: .unsent)
    }

    /// Changes a key that must exist (`prevExist=true`); fails with 100 if it does not.
    public func update(_ key: String, value: String, ttl: Duration? = nil) async throws -> KeysResponse {
        var query = KeysQuery()
        query.add("prevExist", "true")
        return try await keysRequest(.PUT, key, query: query, form: Self.valueForm(value, ttl: ttl), retry: .unsent)
    }

    /// Sets `value` only if the current value and/or modifiedIndex match; fails with 101 otherwise.
    public func compareAndSwap(
        _ key: String, value: String, prevValue: String? = nil, prevIndex: UInt64? = nil, ttl: Duration? = nil
    ) async throws -> KeysResponse {
        let query = try Self.conditions(prevValue: prevValue, prevIndex: prevIndex)
        return try await keysRequest(.PUT, key, query: query, form: Self.valueForm(value, ttl: ttl), retry: .unsent)
    }

    /// Resets a key's TTL without changing its value or waking watchers (`refresh=true`).
    public func refresh(_ key: String, ttl: Duration, prevIndex: UInt64? = nil, prevValue: String? = nil) async throws -> KeysResponse {
        var query = KeysQuery()
        if prevIndex == nil, prevValue == nil {
            query.add("prevExist", "true")
        } else {
            query = try Self.conditions(prevValue: prevValue, prevIndex: prevIndex)
        }
        var form = KeysQuery()
        form.add("refresh", "true")
        form.add("ttl", Self.seconds(ttl))
        return try await keysRequest(.PUT, key, query: query, form: form, retry: .unsent)
    }

    /// Creates a directory (fails with 102/105 if the key exists).
    public func mkdir(_ key: String, ttl: Duration? = nil) async throws -> KeysResponse {
        var query = KeysQuery()
        query.add("dir", "true")
        query.add("prevExist", "false")
        var form = KeysQuery()
        if let ttl { form.add("ttl", Self.seconds(ttl)) }
        return try await keysRequest(.PUT, key, query: query, form: form, retry: .unsent)
    }

    /// Creates `<dir>/<zero-padded index>` (POST): a queue entry ordered by creation.
    public func createInOrder(in directory: String, value: String, ttl: Duration? = nil) async throws -> KeysResponse {
        try await keysRequest(.POST, directory, form: Self.valueForm(value, ttl: ttl), retry: .unsent)
    }

    /// Deletes a key; `dir` allows an empty directory, `recursive` a whole subtree.
    public func delete(_ key: String, dir: Bool = false, recursive: Bool = false) async throws -> KeysResponse {
        var query = KeysQuery()
        if dir { query.add("dir", "true") }
        if recursive { query.add("recursive", "true") }
        return try await keysRequest(.DELETE, key, query: query, retry: .always)
    }

    /// Deletes a key only if the current value and/or modifiedIndex match; fails with 101 otherwise.
    public func compareAndDelete(_ key: String, prevValue: String? = nil, prevIndex: UInt64? = nil) async throws -> KeysResponse {
        let query = try Self.conditions(prevValue: prevValue, prevIndex: prevIndex)
        return try await keysRequest(.DELETE, key, query: query, retry: .unsent)
    }

    // MARK: Request plumbing

    enum RetryPolicy {
        /// Safe to repeat on another endpoint whatever happened.
        case always
        /// Repeat elsewhere only if the request never left this process.
        case unsent
    }

    func keysRequest(
        _ method: HTTPMethod, _ key: String, query: KeysQuery = KeysQuery(), form: KeysQuery? = nil,
        retry: RetryPolicy, deadline: Duration? = nil
    ) async throws -> KeysResponse {
        let (head, body) = try await execute(method, path: "/v2/keys" + Self.escapePath(key), query: query, form: form, retry: retry, timeout: deadline ?? configuration.requestTimeout)
        return try Self.decodeKeysResponse(head: head, body: body)
    }

    struct ResponseHead: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
    }

    func execute(
        _ method: HTTPMethod, path: String, query: KeysQuery, form: KeysQuery?, retry: RetryPolicy, timeout: Duration,
        isLongPoll: Bool = false
    ) async throws -> (ResponseHead, ByteBuffer) {
        let endpoints = configuration.endpoints
        let first = preferred.index % endpoints.count
        var failures: [String] = []
        for attempt in 0..<endpoints.count {
            let index = (first + attempt) % endpoints.count
            var request = HTTPClientRequest(url: endpoints[index] + path + query.queryString)
            request.method = method
            if let form {
                request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: form.encoded))
            }
            requests.count(method, longPoll: isLongPoll)
            do {
                let response = try await httpClient.execute(request, timeout: TimeAmount(timeout), logger: logger)
                let body = try await response.body.collect(upTo: configuration.maxResponseBytes)
                if response.status.code >= 500, retry == .always, attempt + 1 < endpoints.count {
                    failures.append("\(endpoints[index]): HTTP \(response.status.code)")
                    continue
                }
                preferred.index = index
                return (ResponseHead(status: response.status, headers: response.headers), body)
            } catch {
                try Task.checkCancellation()
                // A long-poll reaching its own deadline is its normal end, not a sick endpoint.
                if isLongPoll, let error = error as? HTTPClientError, error == .deadlineExceeded { throw error }
                guard retry == .always || Self.neverSent(error) else { throw error }
                logger.debug("keys API endpoint failed", metadata: ["endpoint": "\(endpoints[index])", "error": "\(error)"])
                failures.append("\(endpoints[index]): \(error)")
            }
        }
        throw KeysClientError.clusterUnavailable(failures.joined(separator: "; "))
    }

    /// True for failures before a connection existed: the request cannot have been applied.
    static func neverSent(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout || error == .getConnectionFromPoolTimeout
        }
        if error is NIOConnectionError { return true }
        if let error = error as? IOError {
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL].contains(error.errnoCode)
        }
        return false
    }

    static func decodeKeysResponse(head: ResponseHead, body: ByteBuffer) throws -> KeysResponse {
        let etcdIndex = head.headers.first(name: "x-etcd-index").flatMap { UInt64($0) } ?? 0
        let decoder = JSONDecoder()
        guard (200..<300).contains(head.status.code) else {
            if let error = try? decoder.decode(ErrorBody.self, from: Data(body.readableBytesView)) {
                throw KeysError(
                    code: KeysError.Code(rawValue: error.errorCode), message: error.message, cause: error.cause,
                    index: error.index ?? etcdIndex, status: Int(head.status.code)
                )
            }
            throw KeysClientError.unexpectedStatus("HTTP \(head.status.code): \(String(buffer: body).prefix(200))")
        }
        let event: EventBody
        do {
            event = try decoder.decode(EventBody.self, from: Data(body.readableBytesView))
        } catch {
            throw KeysClientError.malformedResponse("\(error); body: \(String(buffer: body).prefix(200))")
        }
        return KeysResponse(
            action: event.action, node: event.node, prevNode: event.prevNode, etcdIndex: etcdIndex,
            raftIndex: head.headers.first(name: "x-raft-index").flatMap { UInt64($0) },
            raftTerm: head.headers.first(name: "x-raft-term").flatMap { UInt64($0) },
            clusterID: head.headers.first(name: "x-etcd-cluster-id")
        )
    }

    static func valueForm(_ value: String, ttl: Duration?) -> KeysQuery {
        var form = KeysQuery()
        form.add("value", value)
        if let ttl { form.add("ttl", seconds(ttl)) }
        return form
    }

    static func conditions(prevValue: String?, prevIndex: UInt64?) throws -> KeysQuery {
        guard prevValue != nil || (prevIndex ?? 0) > 0 else {
            throw KeysClientError.invalidArgument("a compare needs prevValue or a prevIndex above 0")
        }
        if let prevValue, prevValue.isEmpty {
            throw KeysClientError.invalidArgument("prevValue cannot be empty")
        }
        var query = KeysQuery()
        if let prevValue { query.add("prevValue", prevValue) }
        if let prevIndex, prevIndex > 0 { query.add("prevIndex", String(prevIndex)) }
        return query
    }

    /// etcd TTLs are whole seconds; round up so a lease never lives shorter than asked.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(max(1, seconds + (attoseconds > 0 ? 1 : 0)))
    }

    /// Percent-encodes a key for the URL path the way Go's `url.URL.EscapedPath` does; `/` separates levels.
    static func escapePath(_ key: String) -> String {
        var out = key.hasPrefix("/") ? "" : "/"
        for byte in key.utf8 {
            if isPathSafe(byte) {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    private static func isPathSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "/"),
            UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ":"),
            UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "@"):
            true
        default:
            false
        }
    }
}

/// The endpoint that answered last, shared by copies of one `KeysAPI`.
final class PreferredEndpoint: Sendable {
    private let value = Atomic<Int>(0)
    var index: Int {
        get { value.load(ordering: .relaxed) }
        set { value.store(newValue, ordering: .relaxed) }
    }
}

/// Ordered name=value pairs, encoded as Go's `url.Values.Encode` would (space as `+`).
struct KeysQuery: Sendable {
    private(set) var pairs: [(String, String)] = []

    mutating func add(_ name: String, _ value: String) { pairs.append((name, value)) }

    mutating func flag(_ name: String, _ on: Bool) { if on { add(name, "true") } }

    var encoded: String {
        pairs.map { Self.escape($0.0) + "=" + Self.escape($0.1) }.joined(separator: "&")
    }

    var queryString: String { pairs.isEmpty ? "" : "?" + encoded }

    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// `flotilla_keys_requests_total{method=…}`: every request sent to the keys API (watch long-polls as
/// `WATCH`), so a service's load on the store can be read from its own `/metrics`.
struct RequestCounters: Sendable {
    private let get = Counter(label: "flotilla_keys_requests_total", dimensions: [("method", "GET")])
    private let put = Counter(label: "flotilla_keys_requests_total", dimensions: [("method", "PUT")])
    private let post = Counter(label: "flotilla_keys_requests_total", dimensions: [("method", "POST")])
    private let delete = Counter(label: "flotilla_keys_requests_total", dimensions: [("method", "DELETE")])
    private let watch = Counter(label: "flotilla_keys_requests_total", dimensions: [("method", "WATCH")])

    func count(_ method: HTTPMethod, longPoll: Bool) {
        switch method {
        case _ where longPoll: watch.increment()
        case .GET, .HEAD: get.increment()
        case .PUT: put.increment()
        case .POST: post.increment()
        case .DELETE: delete.increment()
        default: get.increment()
        }
    }
}
