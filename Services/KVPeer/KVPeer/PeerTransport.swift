import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RaftCore
import Synchronization

/// Raft messages to the other members over HTTP: `POST <peerURL>/raft` with a batch of length-prefixed
/// messages. One sender per peer with its own bounded queue, so a slow or dead peer never holds up the others
/// or the Raft loop; Raft tolerates the loss of any message, so a full queue drops (as etcd's does).
final class PeerTransport: Sendable {
    static let maxQueuedMessages = 4096
    static let raftPath = "/raft"

    let localID: UInt64
    let clusterID: UInt64
    private let logger: Logger
    private let clientConfiguration: HTTPClient.Configuration
    /// Made with the first peer request: a member of its own never needs one.
    private let lazyClient = Mutex<HTTPClient?>(nil)
    private let senders = Mutex<[UInt64: PeerSender]>([:])
    private let started: AsyncStream<PeerSender>.Continuation
    private let startedSenders: AsyncStream<PeerSender>
    private let feedbackHandler = Mutex<(@Sendable (TransportFeedback) -> Void)?>(nil)

    init(localID: UInt64, clusterID: UInt64, tls: TLSConfiguration? = nil, logger: Logger) {
        self.localID = localID
        self.clusterID = clusterID
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(1), read: .seconds(30))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 2)
        configuration.tlsConfiguration = tls
        configuration.decompression = .disabled
        clientConfiguration = configuration
        (startedSenders, started) = AsyncStream.makeStream(of: PeerSender.self)
    }

    var feedback: (@Sendable (TransportFeedback) -> Void)? {
        get { feedbackHandler.withLock { $0 } }
        set { feedbackHandler.withLock { $0 = newValue } }
    }

    func addPeer(id: UInt64, urls: [String]) {
        guard id != localID, !urls.isEmpty else { return }
        let created: PeerSender? = senders.withLock { senders in
            if let existing = senders[id] {
                existing.urls = urls
                return nil
            }
            let sender = PeerSender(peer: id, urls: urls, transport: self)
            senders[id] = sender
            return sender
        }
        if let created { started.yield(created) }
    }

    func removePeer(id: UInt64) {
        senders.withLock { $0.removeValue(forKey: id) }?.close()
    }

    /// Replaces the peer set (after installing a snapshot, whose membership is authoritative).
    func setPeers(_ peers: [(UInt64, [String])]) {
        let wanted = Set(peers.map(\.0))
        let stale = senders.withLock { senders in senders.keys.filter { !wanted.contains($0) } }
        for id in stale { removePeer(id: id) }
        for (id, urls) in peers { addPeer(id: id, urls: urls) }
    }

    func send(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        let current = senders.withLock { $0 }
        for message in messages {
            guard let sender = current[message.to] else {
                if message.kind == .snapshot { report(.snapshotSent(message.to, success: false)) }
                continue
            }
            sender.enqueue(message)
        }
    }

    /// Per-follower delivery statistics for `/v2/stats/leader`.
    func followerStats() -> [UInt64: FollowerStats] {
        senders.withLock { $0 }.mapValues { $0.stats.withLock { $0 } }
    }

    func report(_ feedback: TransportFeedback) { self.feedback?(feedback) }

    /// Peers reachable without interruption for at least `interval` (etcd's `ActiveSince` against its 5 s
    /// health interval, which `--strict-reconfig-check` uses).
    func peersConnectedForHealthInterval(_ interval: Duration = .seconds(5)) -> Set<UInt64> {
        let since = ContinuousClock.now - interval
        return Set(followerStats().filter { stats in stats.value.connectedSince.map { $0 <= since } ?? false }.keys)
    }

    /// Runs every sender until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await sender in startedSenders {
                group.addTask { await sender.run() }
            }
        }
        for sender in senders.withLock({ Array($0.values) }) { sender.close() }
        if let client = lazyClient.withLock({ $0 }) { try? await client.shutdown() }
    }

    private var client: HTTPClient {
        lazyClient.withLock { client in
            if let client { return client }
            let made = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: clientConfiguration)
            client = made
            return made
        }
    }

    fileprivate func post(_ body: ByteBuffer, to url: String, timeout: TimeAmount) async throws {
        var request = HTTPClientRequest(url: url + Self.raftPath)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.headers.add(name: "X-Etcd-Cluster-ID", value: String(clusterID, radix: 16))
        request.headers.add(name: "X-Server-From", value: String(localID, radix: 16))
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: timeout)
        _ = try await response.body.collect(upTo: 64 * 1024)
        guard response.status == .noContent else { throw PeerSendError(status: response.status.code) }
    }
}

struct PeerSendError: Error, CustomStringConvertible {
    let status: UInt
    var description: String { "peer answered \(status)" }
}

/// Round-trip latency and delivery counts of one follower, in etcd's `/v2/stats/leader` shape.
struct FollowerStats: Sendable {
    var successes: UInt64 = 0
    var failures: UInt64 = 0
    /// Start of the current run of successful requests; nil after a failure.
    var connectedSince: ContinuousClock.Instant?
    var currentMilliseconds = 0.0
    var minimumMilliseconds = Double.greatestFiniteMagnitude
    var maximumMilliseconds = 0.0
    private var mean = 0.0
    private var squares = 0.0

    var averageMilliseconds: Double { mean }
    var standardDeviation: Double { successes > 1 ? (squares / Double(successes)).squareRoot() : 0 }

    mutating func succeeded(milliseconds: Double) {
        successes += 1
        currentMilliseconds = milliseconds
        minimumMilliseconds = min(minimumMilliseconds, milliseconds)
        maximumMilliseconds = max(maximumMilliseconds, milliseconds)
        // Welford's running mean and variance.
        let delta = milliseconds - mean
        mean += delta / Double(successes)
        squares += delta * (milliseconds - mean)
    }
}

/// The queue and delivery loop for one peer. Ordinary messages go in batches; a snapshot goes alone and its
/// outcome is reported to the node, which waits for it before replicating to that peer again.
final class PeerSender: Sendable {
    let peer: UInt64
    private let state: Mutex<(messages: [Message], urls: [String], closed: Bool, dropped: UInt64)>
    private let wakeup: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    let stats = Mutex(FollowerStats())
    private let transport: PeerTransport

    init(peer: UInt64, urls: [String], transport: PeerTransport) {
        self.peer = peer
        self.transport = transport
        state = Mutex(([], urls, false, 0))
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var urls: [String] {
        get { state.withLock { $0.urls } }
        set { state.withLock { $0.urls = newValue } }
    }

    func enqueue(_ message: Message) {
        let accepted = state.withLock { state in
            guard !state.closed, state.messages.count < PeerTransport.maxQueuedMessages else {
                state.dropped += 1
                return false
            }
            state.messages.append(message)
            return true
        }
        if accepted {
            wakeup.yield()
        } else if message.kind == .snapshot {
            transport.report(.snapshotSent(peer, success: false))
        }
    }

    func close() {
        state.withLock { $0.closed = true }
        wakeup.finish()
    }

    /// An idle peer still gets an empty request this often, so every member knows which peers are up (etcd
    /// keeps stream connections to all peers for the same reason; `--strict-reconfig-check` relies on it), and
    /// the connection stays warm.
    static let probeInterval: Duration = .seconds(1)

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.probeInterval)
                    self.wakeup.yield()
                }
            }
            await deliverQueued()
            group.cancelAll()
        }
    }

    private func deliverQueued() async {
        var failedBefore = false
        var lastAttempt = ContinuousClock.now
        for await _ in wakeups {
            while true {
                let (batch, urls) = state.withLock { state -> ([Message], [String]) in
                    defer { state.messages = [] }
                    return (state.messages, state.urls)
                }
                let probeDue = ContinuousClock.now - lastAttempt >= Self.probeInterval
                if batch.isEmpty && !probeDue { break }
                guard let url = urls.first else { break }
                lastAttempt = .now
                let ordinary = batch.filter { $0.kind != .snapshot }
                var delivered = true
                if !ordinary.isEmpty || batch.isEmpty {
                    delivered = await deliver(ordinary, to: url, timeout: .seconds(5))
                }
                for snapshot in batch where snapshot.kind == .snapshot {
                    let success = await deliver([snapshot], to: url, timeout: .seconds(60))
                    transport.report(.snapshotSent(peer, success: success))
                    delivered = delivered && success
                }
                if !delivered {
                    transport.report(.unreachable(peer))
                    if !failedBefore {
                        transport.logger(for: peer).warning("peer unreachable", metadata: ["kvpeer.peer_url": "\(url)"])
                    }
                    failedBefore = true
                    // Don't spin against a dead peer: what queues meanwhile goes in the next attempt.
                    try? await Task.sleep(for: .milliseconds(100))
                } else if failedBefore {
                    failedBefore = false
                    transport.logger(for: peer).notice("peer reachable again", metadata: ["kvpeer.peer_url": "\(url)"])
                }
                if batch.isEmpty { break }
            }
        }
    }

    private func deliver(_ messages: [Message], to url: String, timeout: TimeAmount) async -> Bool {
        var body = ByteBuffer()
        for message in messages { RaftFrames.append(message, to: &body) }
        let started = ContinuousClock.now
        do {
            try await transport.post(body, to: url, timeout: timeout)
            let elapsed = ContinuousClock.now - started
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            stats.withLock { stats in
                // Idle probes tell whether the peer is up; only real traffic goes into /v2/stats/leader.
                if !messages.isEmpty { stats.succeeded(milliseconds: milliseconds) }
                if stats.connectedSince == nil { stats.connectedSince = started }
            }
            return true
        } catch {
            stats.withLock { stats in
                stats.failures += 1
                stats.connectedSince = nil
            }
            return false
        }
    }
}

extension PeerTransport {
    func logger(for peer: UInt64) -> Logger {
        var logger = self.logger
        logger[metadataKey: "kvpeer.peer"] = "\(String(peer, radix: 16))"
        return logger
    }
}

/// The body of `POST /raft`: messages, each preceded by its length as a 32-bit big-endian integer.
enum RaftFrames {
    static func append(_ message: Message, to buffer: inout ByteBuffer) {
        let bytes = message.encoded()
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }

    static func decode(_ buffer: ByteBuffer) throws -> [Message] {
        var buffer = buffer
        var messages: [Message] = []
        while buffer.readableBytes > 0 {
            guard let length = buffer.readInteger(as: UInt32.self), let bytes = buffer.readBytes(length: Int(length)) else {
                throw RaftError.malformedEncoding("truncated message frame")
            }
            messages.append(try Message(decoding: bytes))
        }
        return messages
    }
}
