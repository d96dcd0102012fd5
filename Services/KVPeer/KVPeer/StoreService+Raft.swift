import KVStorage
public import KeysStore
import Logging
import NIOPosix
import RaftCore
import ServiceLifecycle
import Synchronization

/// What clients and peers hand the Raft loop, and the clients waiting for an answer. One lock for both, so a
/// waiter is always registered before the loop can see (and answer) its work.
struct Mailbox {
    enum Work {
        case entry(requestID: UInt64, data: [UInt8])
        case confChange(requestID: UInt64, ConfChange)
    }

    enum Answer {
        case write(AppliedWrite)
        case member(ClusterMember)
        case done
    }

    struct Waiter {
        let continuation: CheckedContinuation<Answer, any Error>
        let deadline: ContinuousClock.Instant
    }

    struct Reader {
        let continuation: CheckedContinuation<Void, any Error>
        let deadline: ContinuousClock.Instant
    }

    var work: [Work] = []
    var readers: [Reader] = []
    var messages: [Message] = []
    var ticks = 0
    var unreachable: [NodeID] = []
    var snapshotReports: [(peer: NodeID, success: Bool)] = []
    var waiters: [UInt64: Waiter] = [:]
    var stopped = false
    var shuttingDown = false

    var isEmpty: Bool {
        work.isEmpty && readers.isEmpty && messages.isEmpty && ticks == 0 && unreachable.isEmpty && snapshotReports.isEmpty
    }
}

/// What only the Raft loop touches: the node, the log, and the bookkeeping of reads and parked work.
final class RaftDriver: @unchecked Sendable {
    var node: RawNode
    let wal: WriteAheadLog
    var snapshot: SnapshotMetadata
    var confState: ConfState
    var appliedTerm: UInt64
    let electionTicks: Int
    var ticks: UInt64 = 0
    /// Work the node refused because no leader was known; offered again every tick until its deadline.
    var parked: [Mailbox.Work] = []
    /// Quorum reads not yet sent to the leader (no leader known).
    var unissuedReads: [Mailbox.Reader] = []
    /// Read-index requests in flight, by context; re-sent when unanswered for an election timeout.
    var readBatches: [[UInt8]: (readers: [Mailbox.Reader], issuedAt: UInt64)] = [:]
    /// Answered reads waiting for the apply loop to reach their index.
    var readsAwaitingApply: [(index: UInt64, readers: [Mailbox.Reader])] = []
    var nextReadContext: UInt64 = 1
    var transferDeadline: UInt64?
    var removed = false

    init(node: RawNode, wal: WriteAheadLog, snapshot: SnapshotMetadata, electionTicks: Int) {
        self.node = node
        self.wal = wal
        self.snapshot = snapshot
        self.confState = snapshot.confState
        self.appliedTerm = snapshot.term
        self.electionTicks = electionTicks
    }

    /// The WAL keeps the entry kind in the first byte of the payload.
    static func walEntry(_ entry: Entry) -> WALEntry {
        var data = [entry.kind.rawValue]
        data.append(contentsOf: entry.data)
        return WALEntry(term: entry.term, index: entry.index, data: data)
    }

    static func raftEntry(_ entry: WALEntry) throws -> Entry {
        guard let first = entry.data.first, let kind = Entry.Kind(rawValue: first) else {
            throw KVPeerStartError("log entry \(entry.index) has no valid entry type (written by an older kv-peer?)")
        }
        return Entry(term: entry.term, index: entry.index, kind: kind, data: Array(entry.data.dropFirst()))
    }
}

/// This member applied its own removal: like etcd, it stops for good (the process exits 0).
public struct MemberRemoved: Error, CustomStringConvertible {
    public var description: String { "the member has been permanently removed from the cluster" }
}

struct KVPeerStartError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Feedback from the transport to the node.
enum TransportFeedback: Sendable {
    case unreachable(NodeID)
    case snapshotSent(NodeID, success: Bool)
}

extension StoreService {
    // MARK: Client entry points

    /// Replicates `command` and applies it; returns once this member applied it.
    public func propose(_ command: StoreCommand) async throws -> AppliedWrite {
        let id = requestIDs.make()
        guard case .write(let applied) = try await submit(.entry(requestID: id, data: ReplicatedEntry.command(requestID: id, command).encoded), id: id) else {
            throw StoreError(code: StoreError.raftInternal, cause: "etcdserver: unexpected answer", index: 0)
        }
        return applied
    }

    /// Returns once this member has applied everything committed when the read began (read index, Raft
    /// thesis §6.4): a local read after it is linearizable.
    public func linearizableRead(timeout: Duration? = nil) async throws {
        let deadline = ContinuousClock.now + (timeout ?? configuration.requestTimeout)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let accepted = mailbox.withLock { mailbox in
                guard !mailbox.stopped else { return false }
                mailbox.readers.append(Mailbox.Reader(continuation: continuation, deadline: deadline))
                return true
            }
            guard accepted else { return continuation.resume(throwing: Self.stoppedError) }
            wakeup.yield()
        }
    }

    /// Hands `work` to the loop and waits for its entry to be applied here. Cancelling the wait (a client gone,
    /// a shutdown) stops the waiting, not the work: a proposal may still commit, as in etcd.
    func submit(_ work: Mailbox.Work, id: UInt64) async throws -> Mailbox.Answer {
        let deadline = ContinuousClock.now + configuration.requestTimeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let accepted = mailbox.withLock { mailbox in
                    guard !mailbox.stopped, !Task.isCancelled else { return false }
                    mailbox.waiters[id] = Mailbox.Waiter(continuation: continuation, deadline: deadline)
                    mailbox.work.append(work)
                    return true
                }
                guard accepted else {
                    return continuation.resume(throwing: Task.isCancelled ? CancellationError() : Self.stoppedError)
                }
                wakeup.yield()
            }
        } onCancel: {
            mailbox.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Messages a peer sent us (`POST /raft`).
    func receive(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        mailbox.withLock { $0.messages.append(contentsOf: messages) }
        wakeup.yield()
    }

    func deliver(_ feedback: TransportFeedback) {
        mailbox.withLock { mailbox in
            switch feedback {
            case .unreachable(let peer): mailbox.unreachable.append(peer)
            case .snapshotSent(let peer, let success): mailbox.snapshotReports.append((peer, success))
            }
        }
        wakeup.yield()
    }

    static let stoppedError = StoreError(code: StoreError.raftInternal, cause: "etcdserver: server stopped", index: 0)

    // MARK: The loop

    public func run() async throws {
        // Release the data directory's lock as soon as the member stops: a member restarted on the same
        // directory (in the same process, or right after) must find it free.
        defer { driver.wal.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.raftLoop() }
            group.addTask { try await self.ticker() }
            group.addTask { await self.transport.run() }
            group.addTask { try await self.expiryTicker() }
            group.addTask {
                try? await gracefulShutdown()
                self.mailbox.withLock { $0.shuttingDown = true }
                self.wakeup.yield()
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func ticker() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: configuration.tick)
            mailbox.withLock { $0.ticks += 1 }
            wakeup.yield()
        }
    }

    private func raftLoop() async throws {
        defer { failEverything() }
        if configuration.start.isSingleFounder, driver.node.status().confState.voters == [memberID] {
            // A cluster of one need not wait an election timeout for its own vote.
            driver.node.campaign()
            wakeup.yield()
        }
        for await _ in wakeups {
            while true {
                let (work, shuttingDown) = mailbox.withLock { mailbox -> (Mailbox, Bool) in
                    var taken = Mailbox()
                    swap(&taken.work, &mailbox.work)
                    swap(&taken.readers, &mailbox.readers)
                    swap(&taken.messages, &mailbox.messages)
                    swap(&taken.unreachable, &mailbox.unreachable)
                    swap(&taken.snapshotReports, &mailbox.snapshotReports)
                    taken.ticks = mailbox.ticks
                    mailbox.ticks = 0
                    return (taken, mailbox.shuttingDown)
                }
                if shuttingDown && handOverBeforeStopping() { return }
                if work.isEmpty && !driver.node.hasReady { break }
                feed(work)
                while driver.node.hasReady { try await processReady() }
                if driver.removed { throw MemberRemoved() }
            }
        }
    }

    /// On graceful shutdown a leader hands over to its most up-to-date follower first (thesis §3.10), so the
    /// cluster does not sit out an election timeout. Returns true once the loop may stop.
    private func handOverBeforeStopping() -> Bool {
        let status = driver.node.status()
        guard status.softState.role == .leader, status.confState.voters.count > 1 else { return true }
        if let deadline = driver.transferDeadline { return driver.ticks >= deadline }
        guard let successor = driver.node.transferLeadershipToBestSuccessor() else { return true }
        logger.info("handing leadership over before stopping", metadata: ["kvpeer.transferee": "\(String(successor, radix: 16))"])
        driver.transferDeadline = driver.ticks + UInt64(driver.electionTicks)
        return false
    }

    private func feed(_ work: Mailbox) {
        var appends: UInt64 = 0
        for message in work.messages {
            if message.kind == .append { appends += 1 }
            try? driver.node.step(message)
        }
        if appends > 0 { counters.withLock { $0.receivedAppends += appends } }
        for peer in work.unreachable { driver.node.reportUnreachable(peer) }
        for report in work.snapshotReports { driver.node.reportSnapshot(report.peer, success: report.success) }
        for _ in 0..<min(work.ticks, driver.electionTicks) {
            driver.ticks += 1
            driver.node.tick()
        }
        if work.ticks > 0 { onTick() }
        for item in work.work { offer(item) }
        if !work.readers.isEmpty { issueRead(work.readers) }
    }

    /// Hands `work` to the node; without a leader it is parked and offered again on the next tick, as etcd
    /// holds proposals until a leader is known or the request times out.
    private func offer(_ work: Mailbox.Work) {
        do {
            switch work {
            case .entry(_, let data): try driver.node.propose(data)
            case .confChange(_, let change): try driver.node.proposeConfChange(change)
            }
        } catch .confChangePending {
            if case .confChange(let id, _) = work {
                answer(id, with: .failure(MembershipError.changePending))
            }
        } catch {
            driver.parked.append(work)
        }
    }

    private func issueRead(_ readers: [Mailbox.Reader]) {
        var context: [UInt8] = []
        withUnsafeBytes(of: driver.nextReadContext.littleEndian) { context.append(contentsOf: $0) }
        do {
            try driver.node.readIndex(context: context)
            driver.nextReadContext += 1
            driver.readBatches[context] = (readers, driver.ticks)
        } catch {
            driver.unissuedReads.append(contentsOf: readers)
        }
    }

    /// Once per tick: time out waiters, offer parked work again, re-send unanswered reads.
    private func onTick() {
        let now = ContinuousClock.now
        let leaderKnown = leaderID != nil
        let timeout = StoreError(
            code: StoreError.raftInternal,
            cause: leaderKnown ? "etcdserver: request timed out" : "etcdserver: request timed out, possibly due to previous leader failure", index: 0
        )
        let expired = mailbox.withLock { mailbox in
            let gone = mailbox.waiters.filter { $0.value.deadline <= now }
            for id in gone.keys { mailbox.waiters[id] = nil }
            return gone.values.map(\.continuation)
        }
        for continuation in expired { continuation.resume(throwing: timeout) }

        func expire(_ readers: [Mailbox.Reader]) -> [Mailbox.Reader] {
            var alive: [Mailbox.Reader] = []
            for reader in readers {
                if reader.deadline <= now { reader.continuation.resume(throwing: timeout) } else { alive.append(reader) }
            }
            return alive
        }
        driver.readsAwaitingApply = driver.readsAwaitingApply.map { ($0.index, expire($0.readers)) }.filter { !$0.readers.isEmpty }
        for (context, batch) in driver.readBatches {
            let alive = expire(batch.readers)
            if alive.isEmpty {
                driver.readBatches[context] = nil
            } else if driver.ticks - batch.issuedAt >= UInt64(driver.electionTicks) {
                // Lost with its messages or a leader change: ask again under a new context.
                driver.readBatches[context] = nil
                driver.unissuedReads.append(contentsOf: alive)
            } else {
                driver.readBatches[context] = (alive, batch.issuedAt)
            }
        }
        let unissued = expire(driver.unissuedReads)
        driver.unissuedReads = []
        if !unissued.isEmpty { issueRead(unissued) }

        guard !driver.parked.isEmpty else { return }
        let parked = driver.parked
        driver.parked = []
        let waiting = mailbox.withLock { mailbox in Set(mailbox.waiters.keys) }
        for work in parked where waiting.contains(work.requestID) { offer(work) }
    }

    private func processReady() async throws {
        let ready = driver.node.ready()
        if let soft = ready.softState {
            if soft.leader != leaderID {
                logger.info("leader changed", metadata: ["kvpeer.leader": "\(soft.leader.map { String($0, radix: 16) } ?? "none")", "kvpeer.role": "\(soft.role)"])
            }
            if soft.leader != leaderID { leaderChangedAt.withLock { $0 = clock() } }
            currentLeader.store(soft.leader ?? 0, ordering: .relaxed)
        }
        if let hard = ready.hardState { currentTerm.store(hard.term, ordering: .relaxed) }
        // A leader's appends may leave while its own write is under way (thesis §10.2.1): the core counts the
        // leader's copy only once `advance` says it is durable. Votes and acknowledgements wait for the disk.
        let early = try await withSnapshotData(ready.messages.filter(\.mayLeaveBeforePersist))
        transport.send(early)
        if let snapshot = ready.snapshot, !snapshot.isEmpty { try await install(snapshot) }
        if !ready.entries.isEmpty || ready.hardState != nil { try await persist(ready) }
        let appends = ready.messages.reduce(0) { $0 + ($1.kind == .append ? 1 : 0) }
        if appends > 0 { counters.withLock { $0.sentAppends += UInt64(appends) } }
        if early.count < ready.messages.count { transport.send(ready.messages.filter { !$0.mayLeaveBeforePersist }) }
        if !ready.committedEntries.isEmpty { apply(ready.committedEntries) }
        for readState in ready.readStates { answered(readState) }
        driver.node.advance(ready)
        releaseReads()
        try await snapshotIfDue()
    }

    /// Snapshots to send are kept in memory as metadata only (a big store would otherwise sit there twice);
    /// their data is read back from the snapshot file. One that is gone is reported as not sent, and Raft
    /// tries again with a newer one.
    private func withSnapshotData(_ messages: [Message]) async throws -> [Message] {
        guard messages.contains(where: { $0.kind == .snapshot && $0.snapshot?.data.isEmpty == true }) else { return messages }
        let driver = self.driver
        var result: [Message] = []
        for var message in messages {
            if message.kind == .snapshot, let metadata = message.snapshot?.metadata, message.snapshot?.data.isEmpty == true {
                do {
                    let stored = try await NIOThreadPool.singleton.runIfActive {
                        try driver.wal.loadSnapshot(term: metadata.term, index: metadata.index)
                    }
                    message.snapshot = try RaftCore.Snapshot(decoding: stored.data)
                } catch {
                    logger.warning("snapshot to send could not be read", metadata: ["kvpeer.raft_index": "\(metadata.index)", "error": "\(error)"])
                    deliver(.snapshotSent(message.to, success: false))
                    continue
                }
            }
            result.append(message)
        }
        return result
    }

    private func persist(_ ready: Ready) async throws {
        let entries = ready.entries.map(RaftDriver.walEntry)
        let hard = ready.hardState.map { KVStorage.HardState(term: $0.term, vote: $0.vote ?? 0, commit: $0.commit) }
        let sync = ready.mustSync && !configuration.unsafeNoFsync
        // The driver, not the log: the log is not Sendable; the loop awaits this hop, so nobody else touches it.
        let driver = self.driver
        do {
            try await NIOThreadPool.singleton.runIfActive { try driver.wal.append(entries, hardState: hard, sync: sync) }
        } catch {
            // etcd's storage contract: a log that cannot be written is fatal; the supervisor restarts us.
            logger.critical("write-ahead log append failed; stopping", metadata: ["error": "\(error)"])
            throw error
        }
    }

    /// A snapshot from the leader replaces the log and the store (this member was too far behind).
    private func install(_ snapshot: RaftCore.Snapshot) async throws {
        let decoded = try StateMachineSnapshot(decoding: snapshot.data)
        // The driver, not the log: the log is not Sendable; the loop awaits this hop, so nobody else touches it.
        let driver = self.driver
        let bytes = snapshot.encoded()
        try await NIOThreadPool.singleton.runIfActive {
            try driver.wal.installSnapshot(KVStorage.Snapshot(index: snapshot.metadata.index, term: snapshot.metadata.term, data: bytes))
        }
        try state.withLock { state in
            try state.store.restore(from: decoded.store)
            state.members = decoded.members
            applied.store(snapshot.metadata.index, ordering: .relaxed)
        }
        driver.snapshot = snapshot.metadata
        driver.confState = snapshot.metadata.confState
        driver.appliedTerm = snapshot.metadata.term
        transport.setPeers(decoded.members.members.values.filter { $0.id != memberID }.map { ($0.id, $0.peerURLs) })
        logger.info("snapshot from the leader installed", metadata: ["kvpeer.raft_index": "\(snapshot.metadata.index)", "kvpeer.bytes": "\(snapshot.data.count)"])
    }

    private func failEverything() {
        settleReadiness(.stopped)
        let (waiters, readers) = mailbox.withLock { mailbox in
            mailbox.stopped = true
            defer {
                mailbox.waiters = [:]
                mailbox.readers = []
            }
            return (Array(mailbox.waiters.values), mailbox.readers)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Self.stoppedError) }
        var pendingReaders = readers + driver.unissuedReads + driver.readBatches.values.flatMap(\.readers)
        pendingReaders += driver.readsAwaitingApply.flatMap(\.readers)
        driver.unissuedReads = []
        driver.readBatches = [:]
        driver.readsAwaitingApply = []
        for reader in pendingReaders { reader.continuation.resume(throwing: Self.stoppedError) }
    }

    /// etcd's leader SYNC: every 500 ms the leader, if a key is due, proposes an expiry sweep through the log,
    /// so every member expires the same keys at the same index and no key expires early around a leader change.
    private func expiryTicker() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(500))
            guard isLeader else { continue }
            let now = clock()
            let due = state.withLock { state in state.store.nextExpiration.map { $0 <= now } ?? false }
            guard due else { continue }
            let id = requestIDs.make()
            mailbox.withLock { $0.work.append(.entry(requestID: id, data: ReplicatedEntry.command(requestID: id, .expire(cutoff: now)).encoded)) }
            wakeup.yield()
        }
    }
}

extension Mailbox.Work {
    var requestID: UInt64 {
        switch self {
        case .entry(let id, _), .confChange(let id, _): id
        }
    }
}

extension ClusterConfiguration.Start {
    var isSingleFounder: Bool {
        if case .new(let founders) = self { return founders.count == 1 }
        return false
    }
}
