import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1

/// What a watch yields.
public enum WatchEvent: Sendable, Equatable {
    /// A change, in index order; each index is delivered at most once.
    case event(KeysResponse)
    /// The watch fell out of the server's 1000-event history (error 401), so changes were missed. This is a
    /// fresh read of the watched key (recursive if the watch is), with `node == nil` if it does not exist;
    /// the watch continues after its `etcdIndex`. Consumers replace their view with it.
    case resync(KeysResponse)

    public var index: UInt64 {
        switch self {
        case .event(let response): response.index
        case .resync(let response): response.etcdIndex
        }
    }
}

extension KeysAPI {
    /// Watches `key` (and, with `recursive`, everything below it) for changes after index `after`; with
    /// `after == nil`, for changes from now on.
    ///
    /// The sequence never ends on its own and never loses or repeats an event: it long-polls from the last
    /// delivered `modifiedIndex + 1`, re-polls when a poll's own deadline passes or an empty body arrives,
    /// fails over and backs off when endpoints are unreachable, and turns "event index cleared" into a
    /// `.resync`. Cancel the consuming task to stop it. Errors other than the endpoints' unavailability
    /// (for example a key that is a file when a recursive listing is needed) end the sequence by throwing.
    public func watch(_ key: String, recursive: Bool = false, after index: UInt64? = nil) -> KeysWatch {
        KeysWatch(client: self, key: key, recursive: recursive, nextIndex: index.map { $0 + 1 })
    }
}

public struct KeysWatch: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    public typealias Failure = any Error

    let client: KeysAPI
    let key: String
    let recursive: Bool
    let nextIndex: UInt64?

    public func makeAsyncIterator() -> Iterator {
        Iterator(client: client, key: key, recursive: recursive, nextIndex: nextIndex)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let client: KeysAPI
        let key: String
        let recursive: Bool
        var nextIndex: UInt64?
        var failures = 0

        public mutating func next() async throws -> WatchEvent? {
            while true {
                try Task.checkCancellation()
                do {
                    // Pin "from now on" to an index first: a poll that ends without an event must resume from a
                    // known position, or events between two polls would be lost.
                    let waitIndex: UInt64
                    if let nextIndex {
                        waitIndex = nextIndex
                    } else {
                        waitIndex = try await client.currentIndex(of: key) + 1
                        nextIndex = waitIndex
                    }
                    let outcome = try await client.poll(key, recursive: recursive, waitIndex: waitIndex)
                    failures = 0
                    switch outcome {
                    case .noEvent:
                        continue
                    case .event(let response):
                        let eventIndex = response.index
                        guard eventIndex >= waitIndex else { continue }
                        nextIndex = eventIndex + 1
                        return .event(response)
                    }
                } catch let error as KeysError where error.code == .eventIndexCleared {
                    let snapshot = try await client.resyncSnapshot(key, recursive: recursive)
                    nextIndex = snapshot.etcdIndex + 1
                    return .resync(snapshot)
                } catch let error where Self.isTransient(error) {
                    client.logger.debug("watch poll failed; retrying", metadata: ["key": "\(key)", "error": "\(error)"])
                    let delay = client.configuration.backoff.delay(attempt: failures, jitter: Double.random(in: 0...1))
                    failures += 1
                    try await Task.sleep(for: delay)
                }
            }
        }

        static func isTransient(_ error: any Error) -> Bool {
            if error is CancellationError { return false }
            if let keysError = error as? KeysError {
                // 5xx answers (raft trouble, leader election) pass; request errors do not.
                return keysError.status >= 500
            }
            if let clientError = error as? KeysClientError {
                return clientError.isClusterUnavailable
            }
            return true
        }
    }
}

enum PollOutcome: Sendable {
    /// The poll returned no event: its deadline passed, or an empty 200 arrived as etcd 0.4 sent after 5 minutes.
    case noEvent
    case event(KeysResponse)
}

extension KeysAPI {
    func poll(_ key: String, recursive: Bool, waitIndex: UInt64) async throws -> PollOutcome {
        var query = KeysQuery()
        query.add("wait", "true")
        query.flag("recursive", recursive)
        query.add("waitIndex", String(waitIndex))
        let head: ResponseHead
        let body: ByteBuffer
        do {
            (head, body) = try await execute(
                .GET, path: "/v2/keys" + Self.escapePath(key), query: query, form: nil, retry: .always,
                timeout: configuration.watchPollTimeout, isLongPoll: true
            )
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .noEvent
        }
        if head.status == .ok, body.readableBytes == 0 {
            return .noEvent
        }
        return .event(try Self.decodeKeysResponse(head: head, body: body))
    }

    /// The store's current index, read from a plain GET of `key` (or the error that says it is missing).
    func currentIndex(of key: String) async throws -> UInt64 {
        do {
            return try await get(key).etcdIndex
        } catch let error as KeysError where error.status < 500 {
            // Missing, or below a file: the key can still appear later, and the error carries the index.
            return error.index
        }
    }

    func resyncSnapshot(_ key: String, recursive: Bool) async throws -> KeysResponse {
        do {
            return try await get(key, recursive: recursive, sorted: true)
        } catch let error as KeysError where error.code == .keyNotFound {
            return KeysResponse(action: .get, node: nil, etcdIndex: error.index)
        }
    }
}
