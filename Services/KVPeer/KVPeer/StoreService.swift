import KVStorage
public import KeysStore
public import Logging
import NIOSSL
import RaftCore
public import ServiceLifecycle
import Synchronization

/// What applying a write produced, with the log position it was applied at (`X-Raft-Index`).
public struct AppliedWrite: Sendable {
    public let result: Result<StoreEvent, StoreError>
    public let raftIndex: UInt64
}

/// How this member takes part in a cluster, resolved from `--initial-cluster*` (or discovery) by the command.
public struct ClusterConfiguration: Sendable {
    public enum Start: Sendable {
        /// Found a new cluster with these members (every founding member passes the same list).
        case new([ClusterMember])
        /// Join a running cluster that already lists this member (`--initial-cluster-state existing`); the
        /// members are what its peers reported, used to reach them until the leader's snapshot arrives.
        case join([ClusterMember])
    }

    public var memberID: UInt64
    public var clusterID: UInt64
    public var start: Start
    /// `--heartbeat-interval`: one Raft tick.
    public var tick: Duration
    /// `--election-timeout` in ticks.
    public var electionTicks: Int
    public var clusterToken: String
    /// `--unsafe-no-fsync`.
    public var unsafeNoFsync: Bool
    /// `--strict-reconfig-check`: refuse membership changes that would leave too few running members.
    public var strictReconfigCheck = true

    public init(memberID: UInt64, clusterID: UInt64, start: Start, tick: Duration = .milliseconds(100), electionTicks: Int = 10, clusterToken: String = "etcd-cluster", unsafeNoFsync: Bool = false) {
        self.memberID = memberID
        self.clusterID = clusterID
        self.start = start
        self.tick = tick
        self.electionTicks = electionTicks
        self.clusterToken = clusterToken
        self.unsafeNoFsync = unsafeNoFsync
    }

    /// etcd's request timeout: 5 s plus two election timeouts.
    var requestTimeout: Duration { .seconds(5) + tick * (2 * electionTicks) }
}

/// The replicated v2 store of one member: the Raft node and its log, the store they drive, and the clients
/// waiting on both.
///
/// One task (`raftLoop`, in `StoreService+Raft.swift`) owns the Raft node and the write-ahead log. Writers,
/// quorum readers and peers hand it work through `mailbox` and wait; the loop feeds the work to the node,
/// persists what the node asks (one fdatasync per round — group commit), sends messages only after that,
/// applies committed entries in order and answers the waiters. Plain reads and watches take the store lock.
public final class StoreService: Service, Sendable {
    struct State: ~Copyable {
        var store: KeysStore
        var members: ClusterMembers
        var watchers: [WatcherID: AsyncStream<StoreEvent>.Continuation] = [:]
    }

    let state: Mutex<State>
    let mailbox = Mutex(Mailbox())
    let wakeup: AsyncStream<Void>.Continuation
    let wakeups: AsyncStream<Void>
    let driver: RaftDriver
    let transport: PeerTransport
    let configuration: ClusterConfiguration
    let snapshotCount: UInt64
    let logger: Logger
    let clock: @Sendable () -> Timestamp
    let requestIDs: RequestIDGenerator
    /// Written only by the loop while it holds the store lock, so a read under the lock is exact.
    let applied = Atomic<UInt64>(0)
    let currentTerm = Atomic<UInt64>(0)
    /// Leader's ID, 0 when none is known.
    let currentLeader = Atomic<UInt64>(0)
    /// When the current leader was first seen (`leaderInfo` of `/v2/stats/self`).
    let leaderChangedAt = Mutex<Timestamp?>(nil)
    let counters = Mutex(RaftCounters())
    /// Set once this member's own attribute publication was applied: everything committed before it is then
    /// applied too, so the store is current enough to serve (etcd's `ReadyNotify`).
    private let readiness = Mutex(Readiness())

    /// Opens (or creates) the data directory and rebuilds the member from its snapshot and log. Committed
    /// entries after the snapshot are applied again by the Raft node once the loop runs.
    init(
        dataDirectory: String, snapshotCount: UInt64, cluster: ClusterConfiguration, peerTLS: TLSConfiguration? = nil, logger: Logger,
        clock: @escaping @Sendable () -> Timestamp = Timestamp.now
    ) throws {
        let (wal, stored) = try WriteAheadLog.open(directory: dataDirectory + "/member/wal")
        let recovered: RaftCore.RecoveredState
        var members = ClusterMembers()
        let store = KeysStore()
        do {
            if stored.snapshot == nil && stored.entries.isEmpty && stored.hardState == KVStorage.HardState() {
                switch cluster.start {
                case .new(let founders):
                    members = ClusterMembers(founders)
                    let data = StateMachineSnapshot(members: members, store: store.snapshot()).encoded
                    let bootstrap = RaftCore.RecoveredState.bootstrap(voters: founders.map(\.id), data: data)
                    // The founding configuration must survive a crash before the first entry is written.
                    try wal.saveSnapshot(KVStorage.Snapshot(index: 1, term: 1, data: bootstrap.snapshot.encoded()))
                    recovered = .bootstrap(voters: founders.map(\.id))
                    try wal.append([], hardState: KVStorage.HardState(term: 1, vote: 0, commit: 1), sync: true)
                case .join:
                    recovered = RaftCore.RecoveredState()
                }
            } else {
                var state = try Self.raftState(from: stored)
                if !state.snapshot.data.isEmpty {
                    let snapshot = try StateMachineSnapshot(decoding: state.snapshot.data)
                    members = snapshot.members
                    try store.restore(from: snapshot.store)
                }
                // The node keeps only the snapshot's metadata; a follower that needs it gets it from disk.
                state.snapshot.data = []
                recovered = state
            }
        } catch {
            wal.close()
            throw error
        }
        if let repaired = stored.repairedTail {
            logger.warning("write-ahead log ended in a torn write; cut off", metadata: ["file": "\(repaired.file)", "offset": "\(repaired.offset)"])
        }
        var raftConfig = RaftConfig(id: cluster.memberID, electionTicks: max(2, cluster.electionTicks), heartbeatTicks: 1, seed: UInt64.random(in: 0...UInt64.max))
        raftConfig.maxInflight = 256
        let node = try RawNode(config: raftConfig, recovered: recovered)
        logger.info(
            "member recovered",
            metadata: [
                "kvpeer.member": "\(String(cluster.memberID, radix: 16))", "kvpeer.snapshot_index": "\(recovered.snapshot.metadata.index)",
                "kvpeer.entries": "\(recovered.entries.count)", "kvpeer.commit": "\(recovered.hardState.commit)",
                "kvpeer.voters": "\(recovered.snapshot.metadata.confState.voters.map { String($0, radix: 16) })",
            ]
        )
        self.driver = RaftDriver(node: node, wal: wal, snapshot: recovered.snapshot.metadata, electionTicks: raftConfig.electionTicks)
        self.state = Mutex(State(store: store, members: members))
        self.configuration = cluster
        self.snapshotCount = max(1, snapshotCount)
        self.logger = logger
        self.clock = clock
        self.requestIDs = RequestIDGenerator(memberID: cluster.memberID, now: clock())
        self.applied.store(recovered.snapshot.metadata.index, ordering: .relaxed)
        self.currentTerm.store(recovered.hardState.term, ordering: .relaxed)
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.transport = PeerTransport(localID: cluster.memberID, clusterID: cluster.clusterID, tls: peerTLS, logger: logger)
        var peers = members.members.values.filter { $0.id != cluster.memberID }
        if case .join(let existing) = cluster.start, members.members.isEmpty {
            peers = existing.filter { $0.id != cluster.memberID }
        }
        for peer in peers { transport.addPeer(id: peer.id, urls: peer.peerURLs) }
        transport.feedback = { [weak self] feedback in self?.deliver(feedback) }
    }

    /// A single-member cluster of its own, as an etcd started without clustering flags.
    public convenience init(dataDirectory: String, snapshotCount: UInt64, member: MemberIdentity, logger: Logger, clock: @escaping @Sendable () -> Timestamp = Timestamp.now) throws {
        let founder = ClusterMember(id: member.id, name: member.name, peerURLs: member.peerURLs)
        try self.init(
            dataDirectory: dataDirectory, snapshotCount: snapshotCount,
            cluster: ClusterConfiguration(memberID: member.id, clusterID: member.clusterID, start: .new([founder]), clusterToken: member.clusterToken),
            logger: logger, clock: clock
        )
    }

    private static func raftState(from stored: KVStorage.RecoveredState) throws -> RaftCore.RecoveredState {
        // Every member's log starts with a snapshot (the founding configuration, or the leader's); a log of
        // entries without one, or a snapshot that is not a Raft snapshot, was written by kv-peer before Raft.
        let earlier = KVPeerStartError(
            "the data directory was written by a kv-peer without Raft replication and cannot be read by this one; start with a fresh --data-dir"
        )
        guard stored.snapshot != nil || stored.entries.isEmpty else { throw earlier }
        let snapshot: RaftCore.Snapshot
        do {
            snapshot = try stored.snapshot.map { try RaftCore.Snapshot(decoding: $0.data) } ?? RaftCore.Snapshot()
        } catch {
            throw earlier
        }
        let entries = try stored.entries.map { entry in try RaftDriver.raftEntry(entry) }
        let hard = stored.hardState
        return RaftCore.RecoveredState(
            hardState: RaftCore.HardState(term: hard.term, vote: hard.vote == 0 ? nil : hard.vote, commit: hard.commit),
            snapshot: snapshot, entries: entries
        )
    }

    // MARK: Status

    /// Raft term reported in `X-Raft-Term`.
    public var term: UInt64 { currentTerm.load(ordering: .relaxed) }

    /// The log index of the last applied entry (`X-Raft-Index`).
    public var appliedIndex: UInt64 { applied.load(ordering: .relaxed) }

    public var memberID: UInt64 { configuration.memberID }

    public var leaderID: UInt64? {
        let leader = currentLeader.load(ordering: .relaxed)
        return leader == 0 ? nil : leader
    }

    public var isLeader: Bool { leaderID == memberID }

    var leaderSince: Timestamp? { leaderChangedAt.withLock { $0 } }

    /// Committed membership, sorted by ID.
    public var members: [ClusterMember] { state.withLock { $0.members.sorted } }

    func isRemoved(_ id: UInt64) -> Bool { state.withLock { $0.members.removed.contains(id) } }

    // MARK: Readiness

    struct Readiness {
        enum State { case waiting, ready, stopped }
        var state = State.waiting
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// Ready (or stopped for good): every waiting client request goes on (or fails).
    func settleReadiness(_ state: Readiness.State) {
        let waiters = readiness.withLock { readiness in
            guard readiness.state == .waiting else { return [CheckedContinuation<Void, any Error>]() }
            readiness.state = state
            defer { readiness.waiters = [:] }
            return Array(readiness.waiters.values)
        }
        for waiter in waiters {
            if state == .ready { waiter.resume() } else { waiter.resume(throwing: Self.stoppedError) }
        }
    }

    func markReady() { settleReadiness(.ready) }

    /// Returns once the member may serve clients; a member that cannot reach a quorum after a restart keeps
    /// them waiting, as etcd does, rather than answer from a store that has not caught up with its own log.
    /// Throws if the member stops first or the request is cancelled (its connection closed, or shutdown).
    public func waitUntilReady() async throws {
        let id = readiness.withLock { readiness in
            defer { readiness.nextWaiter += 1 }
            return readiness.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let state = readiness.withLock { readiness in
                    if readiness.state == .waiting && !Task.isCancelled { readiness.waiters[id] = continuation }
                    return Task.isCancelled ? nil : readiness.state
                }
                switch state {
                case .waiting: break
                case .ready: continuation.resume()
                case .stopped: continuation.resume(throwing: Self.stoppedError)
                case nil: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            readiness.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    // MARK: Reads and watches

    /// Runs `body` with the store locked; keep it short.
    public func read<Result>(_ body: (KeysStore) throws -> Result) rethrows -> Result {
        try state.withLock { state in try body(state.store) }
    }

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

    static func deliver(_ deliveries: [WatchDelivery], in state: inout State) {
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

/// Unique IDs for this member's proposals, as etcd's idutil makes them: the member's low bits, then time,
/// then a counter, so IDs from different members and incarnations do not collide.
final class RequestIDGenerator: Sendable {
    private let next: Atomic<UInt64>

    init(memberID: UInt64, now: Timestamp) {
        let prefix = (memberID & 0xFFFF) << 48
        let time = (UInt64(bitPattern: now.nanoseconds / 1_000_000) & 0xFF_FFFF_FFFF) << 8
        next = Atomic(prefix | time)
    }

    func make() -> UInt64 { next.add(1, ordering: .relaxed).newValue }
}

/// Counts `/v2/stats/self` reports.
struct RaftCounters {
    var receivedAppends: UInt64 = 0
    var sentAppends: UInt64 = 0
}
