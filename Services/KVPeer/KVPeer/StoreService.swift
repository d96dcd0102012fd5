import KVStorage
public import KeysStore
public import Logging
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// What applying a write produced, with the log position it was applied at (`X-Raft-Index`).
public struct AppliedWrite: Sendable {
    public let result: Result<StoreEvent, StoreError>
    public let raftIndex: UInt64
}

/// The store and its log: every write is appended to the write-ahead log and fsynced, then applied, then
/// acknowledged — the shape the Raft issue will replicate (persist → apply → answer).
///
/// Writers call `propose`; one loop (`run`) takes everything queued, writes it in one batch with one
/// fdatasync (group commit), applies it in order and resumes the writers. Reads and watch registrations
/// take the store lock directly.
public final class StoreService: Service, Sendable {
    private struct State: ~Copyable {
        var store: KeysStore
        var watchers: [WatcherID: AsyncStream<StoreEvent>.Continuation] = [:]
        var entriesSinceSnapshot: UInt64 = 0
    }

    private struct Proposal {
        let command: StoreCommand
        let continuation: CheckedContinuation<AppliedWrite, any Error>?
    }

    /// Raft term reported in `X-Raft-Term`; a single member never holds an election after starting.
    public let term: UInt64 = 2
    private let state: Mutex<State>
    private let queue = Mutex<(proposals: [Proposal], stopped: Bool)>(([], false))
    private let wakeup: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let log: LogBox
    private let snapshotCount: UInt64
    private let logger: Logger
    private let clock: @Sendable () -> Timestamp
    /// Written only by the apply loop while it holds the store lock, so a read under the lock is exact and a
    /// read without it is at worst one batch behind.
    private let applied = Atomic<UInt64>(0)
    private static let maxBatch = 4096

    /// Opens (or creates) the data directory, restores the latest snapshot and replays the log after it.
    public init(dataDirectory: String, snapshotCount: UInt64, logger: Logger, clock: @escaping @Sendable () -> Timestamp = Timestamp.now) throws {
        let (wal, recovered) = try WriteAheadLog.open(directory: dataDirectory + "/member/wal")
        let store = KeysStore()
        if let snapshot = recovered.snapshot {
            try store.restore(from: snapshot.data)
        }
        var applied = recovered.snapshot?.index ?? 0
        let now = clock()
        for entry in recovered.entries where entry.index > applied {
            let command = try StoreCommand(decoding: entry.data)
            _ = store.apply(command, now: now)
            applied = entry.index
        }
        logger.info(
            "store recovered",
            metadata: ["kvpeer.raft_index": "\(applied)", "kvpeer.etcd_index": "\(store.currentIndex)", "kvpeer.replayed": "\(recovered.entries.count)"]
        )
        self.state = Mutex(State(store: store, entriesSinceSnapshot: UInt64(recovered.entries.count)))
        self.log = LogBox(wal: wal, lastIndex: applied)
        self.snapshotCount = max(1, snapshotCount)
        self.logger = logger
        self.clock = clock
        self.applied.store(applied, ordering: .relaxed)
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: Writes

    /// Appends `command` to the log and applies it; returns once it is durable and applied.
    public func propose(_ command: StoreCommand) async throws -> AppliedWrite {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = queue.withLock { queue in
                guard !queue.stopped else { return false }
                queue.proposals.append(Proposal(command: command, continuation: continuation))
                return true
            }
            guard accepted else {
                continuation.resume(throwing: StoreError(code: StoreError.raftInternal, cause: "etcdserver: server stopped", index: 0))
                return
            }
            wakeup.yield()
        }
    }

    public func run() async throws {
        // Release the data directory's lock as soon as the member stops, not whenever the last reference to the
        // log goes away: a member restarted on the same directory (in the same process, or right after) must
        // find it free.
        defer { log.wal.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.expiryTicker() }
            group.addTask { try await self.applyLoop() }
            try await group.next()
            group.cancelAll()
        }
    }

    private func applyLoop() async throws {
        defer { failPending() }
        for await _ in wakeups.cancelOnGracefulShutdown() {
            while true {
                let batch = queue.withLock { queue -> [Proposal] in
                    let taken = Array(queue.proposals.prefix(Self.maxBatch))
                    queue.proposals.removeFirst(taken.count)
                    return taken
                }
                if batch.isEmpty { break }
                try await commit(batch)
            }
        }
    }

    /// Persist, then apply, then answer: a write is acknowledged only once it is on disk.
    private func commit(_ batch: [Proposal]) async throws {
        let first = log.lastIndex + 1
        let entries = batch.enumerated().map { offset, proposal in
            WALEntry(term: term, index: first + UInt64(offset), data: proposal.command.encoded)
        }
        let log = self.log
        let hardState = HardState(term: term, vote: 1, commit: first + UInt64(batch.count) - 1)
        do {
            try await NIOThreadPool.singleton.runIfActive {
                try log.wal.append(entries, hardState: hardState, sync: true)
            }
        } catch {
            // etcd's storage contract: a log that cannot be written is fatal; the supervisor restarts us.
            logger.critical("write-ahead log append failed; stopping", metadata: ["error": "\(error)"])
            for proposal in batch {
                proposal.continuation?.resume(throwing: StoreError(code: StoreError.raftInternal, cause: "etcdserver: \(error)", index: 0))
            }
            throw error
        }
        log.lastIndex = first + UInt64(batch.count) - 1

        let now = clock()
        let (answers, snapshot) = state.withLock { state -> ([AppliedWrite], (bytes: [UInt8], index: UInt64)?) in
            var answers: [AppliedWrite] = []
            answers.reserveCapacity(batch.count)
            for (offset, proposal) in batch.enumerated() {
                let raftIndex = first + UInt64(offset)
                let (result, deliveries) = state.store.apply(proposal.command, now: now)
                Self.deliver(deliveries, in: &state)
                applied.store(raftIndex, ordering: .relaxed)
                answers.append(AppliedWrite(result: result.map { $0.first ?? StoreEvent(action: .expire, node: NodeExtern(key: "/", modifiedIndex: 0, createdIndex: 0), etcdIndex: state.store.currentIndex) }, raftIndex: raftIndex))
            }
            state.entriesSinceSnapshot += UInt64(batch.count)
            guard state.entriesSinceSnapshot >= snapshotCount else { return (answers, nil) }
            state.entriesSinceSnapshot = 0
            return (answers, (state.store.snapshot(), applied.load(ordering: .relaxed)))
        }
        for (proposal, answer) in zip(batch, answers) {
            proposal.continuation?.resume(returning: answer)
        }
        if let snapshot {
            let snapshotTerm = term
            try await NIOThreadPool.singleton.runIfActive {
                try log.wal.saveSnapshot(Snapshot(index: snapshot.index, term: snapshotTerm, data: snapshot.bytes))
            }
            logger.info("snapshot saved", metadata: ["kvpeer.raft_index": "\(snapshot.index)", "kvpeer.bytes": "\(snapshot.bytes.count)"])
        }
    }

    private func failPending() {
        let pending = queue.withLock { queue in
            queue.stopped = true
            defer { queue.proposals = [] }
            return queue.proposals
        }
        for proposal in pending {
            proposal.continuation?.resume(throwing: StoreError(code: StoreError.raftInternal, cause: "etcdserver: server stopped", index: 0))
        }
    }

    /// etcd's leader SYNC: every 500 ms, if a key is due, propose an expiry sweep through the log so the
    /// expire events get indexes like any write.
    private func expiryTicker() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try await Task.sleep(for: .milliseconds(500))
            let now = clock()
            let due = state.withLock { state in state.store.nextExpiration.map { $0 <= now } ?? false }
            guard due else { continue }
            queue.withLock { $0.proposals.append(Proposal(command: .expire(cutoff: now), continuation: nil)) }
            wakeup.yield()
        }
    }

    // MARK: Reads and watches

    /// Runs `body` with the store locked; keep it short.
    public func read<Result>(_ body: (KeysStore) throws -> Result) rethrows -> Result {
        // The store never leaves the lock: `body` runs synchronously inside it.
        try state.withLock { state in try body(state.store) }
    }

    /// The log index of the last applied entry (`X-Raft-Index`).
    public var appliedIndex: UInt64 { applied.load(ordering: .relaxed) }

    public enum WatchStart: Sendable {
        /// The event was already in history; `etcdIndex` is the current index.
        case historical(StoreEvent, raftIndex: UInt64)
        case live(WatchSubscription)
    }

    /// Registers a watch atomically with the history scan, so no event falls between the two.
    public func watch(_ key: String, recursive: Bool, stream: Bool, sinceIndex: UInt64) -> Result<WatchStart, StoreError> {
        state.withLock { state in
            switch state.store.watch(key, recursive: recursive, stream: stream, sinceIndex: sinceIndex) {
            case .failure(let error):
                return .failure(error)
            case .success(.historical(let event)):
                return .success(.historical(event, raftIndex: applied.load(ordering: .relaxed)))
            case .success(.registered(let id)):
                // etcd's per-watcher channel holds 100 events; a reader slower than that is dropped.
                let (events, continuation) = AsyncStream.makeStream(of: StoreEvent.self, bufferingPolicy: .bufferingOldest(100))
                state.watchers[id] = continuation
                return .success(.live(WatchSubscription(
                    id: id, events: events, startIndex: state.store.currentIndex, raftIndex: applied.load(ordering: .relaxed), service: self
                )))
            }
        }
    }

    func removeWatcher(_ id: WatcherID) {
        let continuation = state.withLock { state in
            state.store.removeWatcher(id)
            return state.watchers.removeValue(forKey: id)
        }
        continuation?.finish()
    }

    private static func deliver(_ deliveries: [WatchDelivery], in state: inout State) {
        for delivery in deliveries {
            guard let continuation = state.watchers[delivery.watcher] else { continue }
            let overflowed: Bool
            switch continuation.yield(delivery.event) {
            case .dropped: overflowed = true
            default: overflowed = false
            }
            if delivery.isFinal || overflowed {
                state.watchers[delivery.watcher] = nil
                if overflowed { state.store.removeWatcher(delivery.watcher) }
                continuation.finish()
            }
        }
    }
}

/// A live watch: events in order until the watch fires (one-shot), overflows, or is cancelled.
public final class WatchSubscription: Sendable {
    public let id: WatcherID
    public let events: AsyncStream<StoreEvent>
    /// The store index when the watch was armed (`X-Etcd-Index` of the watch response).
    public let startIndex: UInt64
    public let raftIndex: UInt64
    private let service: StoreService

    init(id: WatcherID, events: AsyncStream<StoreEvent>, startIndex: UInt64, raftIndex: UInt64, service: StoreService) {
        self.id = id
        self.events = events
        self.startIndex = startIndex
        self.raftIndex = raftIndex
        self.service = service
    }

    /// Unregisters the watcher; safe to call more than once.
    public func cancel() { service.removeWatcher(id) }
}

/// The log and its last index, touched only by the apply loop (and its thread-pool hops, which the loop awaits).
private final class LogBox: @unchecked Sendable {
    let wal: WriteAheadLog
    var lastIndex: UInt64

    init(wal: WriteAheadLog, lastIndex: UInt64) {
        self.wal = wal
        self.lastIndex = lastIndex
    }
}
