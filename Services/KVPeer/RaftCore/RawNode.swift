/// Everything the shell must do after feeding the node inputs, in this order (etcd raft README, steps 1–4):
///
/// 1. Persist `hardState`, `entries` and `snapshot` (fsync if `mustSync`); apply `snapshot` to the state
///    machine first if present.
/// 2. Send the `messages` whose `mayLeaveBeforePersist` is true at once, even before step 1 (so a leader
///    writes its disk in parallel with replicating, thesis §10.2.1); send the others only after step 1,
///    because they promise a vote or acknowledge entries.
/// 3. Apply `committedEntries` (for conf changes: call `RawNode.applyConfChange`), answer `readStates`.
/// 4. Call `RawNode.advance(_:)` with this value: it tells the node that step 1 is durable (a leader counts its
///    own entries towards a quorum only from then on) and step 3 done.
///
/// The node may keep taking inputs while the shell works through these steps. The simple shell advances each
/// `Ready` before asking for the next; a shell that pipelines its writes may call `ready()` again while
/// earlier `Ready`s are still being written, provided it writes, applies and advances them in order — each
/// `Ready` holds only what earlier ones did not hand out.
public struct Ready: Hashable, Sendable {
    /// Nil if unchanged since the last `Ready`.
    public var softState: SoftState?
    /// Nil if unchanged since the last `Ready`.
    public var hardState: HardState?
    public var readStates: [ReadState]
    /// Append to stable storage, replacing any stored entries from `entries.first.index` on.
    public var entries: [Entry]
    /// A snapshot from the leader to persist and restore.
    public var snapshot: Snapshot?
    public var committedEntries: [Entry]
    public var messages: [Message]
    /// Whether step 1 must be synchronous (term, vote or entries changed); a commit-index-only change
    /// may be written lazily because it can be relearned from the leader.
    public var mustSync: Bool
}

/// Observable state for diagnostics and the shell (`/v2/stats`-style endpoints).
public struct RaftStatus: Hashable, Sendable {
    public var id: NodeID
    public var hardState: HardState
    public var softState: SoftState
    public var applied: UInt64
    public var lastIndex: UInt64
    public var confState: ConfState
    /// Per-member replication progress; only populated on the leader.
    public var progress: [NodeID: Progress]
    public var leadTransferee: NodeID?
}

/// The thread-unsafe, I/O-free Raft member (etcd's `RawNode`). Drive it from a single task:
/// `tick()`/`step(_:)`/`propose(_:)` as inputs arrive, then `while hasReady { handle(ready()); advance }`.
public struct RawNode: Sendable {
    var raft: Raft
    private var previousSoftState: SoftState
    private var previousHardState: HardState

    public init(config: RaftConfig, recovered: RecoveredState) throws(RaftError) {
        raft = try Raft(config: config, recovered: recovered)
        previousSoftState = raft.softState
        previousHardState = raft.hardState
    }

    public init(config: RaftConfig, storage: some RaftStorage) throws(RaftError) {
        try self.init(config: config, recovered: try storage.recoveredState())
    }

    public var id: NodeID { raft.id }

    /// Advances logical time by one tick (the shell decides the tick length, e.g. 100 ms).
    public mutating func tick() { raft.tick() }

    /// Starts an election now instead of waiting for the timeout (bootstrap, tests).
    public mutating func campaign() { raft.hup(transfer: false) }

    /// Feeds a message received from a peer.
    public mutating func step(_ message: Message) throws(RaftError) {
        if message.isResponse && raft.tracker.progress[message.from] == nil && message.from != raft.lead {
            throw .peerNotFound
        }
        try raft.step(message)
    }

    /// Proposes application data; forwarded to the leader if we are a follower. Success means "appended
    /// or forwarded", not "committed": watch `committedEntries` for the outcome.
    public mutating func propose(_ data: [UInt8]) throws(RaftError) {
        try raft.step(Message(kind: .propose, from: raft.id, entries: [Entry(term: 0, index: 0, data: data)]))
    }

    public mutating func proposeConfChange(_ change: ConfChange) throws(RaftError) {
        let entry = Entry(term: 0, index: 0, kind: .confChange, data: change.encoded())
        try raft.step(Message(kind: .propose, from: raft.id, entries: [entry]))
    }

    /// Applies a committed conf change (from `committedEntries`) and returns the resulting membership,
    /// which the shell stores with its next snapshot.
    @discardableResult
    public mutating func applyConfChange(_ change: ConfChange) -> ConfState { raft.applyConfChange(change) }

    /// Requests a linearizable read (kv-peer's `quorum=true`); the answer arrives as a `ReadState` carrying
    /// the same `context`, which must be non-empty and unique among outstanding reads. Throws
    /// `proposalDropped` if the context is empty or no leader is known; a read lost with its messages or a
    /// leader change never produces a `ReadState`, so the shell times reads out and retries.
    public mutating func readIndex(context: [UInt8]) throws(RaftError) {
        guard !context.isEmpty else { throw .proposalDropped }
        try raft.step(Message(kind: .readIndex, from: raft.id, context: context))
    }

    /// Asks the leader to hand over to `transferee` (graceful shutdown of the leader). Proposals are refused
    /// until the transfer completes or is abandoned after an election timeout. Followers forward the request.
    public mutating func transferLeadership(to transferee: NodeID) {
        try? raft.step(Message(kind: .transferLeader, from: transferee))
    }

    /// A leader hands over to its most up-to-date voter (graceful shutdown); returns it, or nil when this member
    /// does not lead or has no other voter.
    public mutating func transferLeadershipToBestSuccessor() -> NodeID? {
        guard raft.role == .leader else { return nil }
        raft.handOverToSuccessor()
        return raft.leadTransferee
    }

    /// The transport failed to deliver to `peer`: stop pipelining to it and probe again.
    public mutating func reportUnreachable(_ peer: NodeID) { raft.reportUnreachable(peer) }

    /// The transport finished (or failed) streaming a `.snapshot` message to `peer`. The leader waits for
    /// this report before replicating to `peer` again, so the shell must always call it.
    public mutating func reportSnapshot(_ peer: NodeID, success: Bool) { raft.reportSnapshot(peer, success: success) }

    /// Drops in-memory entries up to `index` once `snapshot` (from `MemoryRaftStorage.createSnapshot`)
    /// covers them; the snapshot is what lagging followers will be sent.
    public mutating func compact(upTo index: UInt64, snapshot: Snapshot) throws(RaftError) {
        try raft.log.compact(upTo: index, snapshot: snapshot)
    }

    public var hasReady: Bool {
        raft.softState != previousSoftState || raft.hardState != previousHardState
            || raft.log.snapshotToPersist != nil || raft.log.hasUnstableEntries || !raft.messages.isEmpty
            || raft.log.hasNextCommittedEntries || !raft.readStates.isEmpty
    }

    /// Collects the pending work. Everything is handed over once: a later `Ready` holds only what changed
    /// since, whether or not this one was advanced yet.
    public mutating func ready() -> Ready {
        let soft = raft.softState
        let hard = raft.hardState
        let entries = raft.log.unstableEntries
        let snapshot = raft.log.snapshotToPersist
        let rd = Ready(
            softState: soft != previousSoftState ? soft : nil,
            hardState: hard != previousHardState ? hard : nil,
            readStates: raft.readStates,
            entries: entries,
            snapshot: snapshot,
            committedEntries: raft.log.nextCommittedEntries,
            messages: raft.messages,
            mustSync: !entries.isEmpty || snapshot != nil || hard.term != previousHardState.term
                || hard.vote != previousHardState.vote)
        raft.messages = []
        raft.readStates = []
        raft.log.handedOut(applying: rd.committedEntries.last?.index)
        previousSoftState = soft
        previousHardState = hard
        return rd
    }

    /// The shell finished handling `rd`: its hard state, snapshot and entries are durable and its committed
    /// entries applied. On a leader, durable entries count towards the quorum only from here on, so this may
    /// commit entries (and even a cluster of one commits only here): check `hasReady` again afterwards.
    public mutating func advance(_ rd: Ready) {
        if let snapshot = rd.snapshot { raft.log.snapshotStable(snapshot) }
        if let hard = rd.hardState { raft.hardStateStable(hard) }
        if let last = rd.entries.last { raft.entriesStable(to: last.index, term: last.term) }
        if let last = rd.committedEntries.last { raft.log.appliedTo(last.index) }
    }

    public func status() -> RaftStatus {
        RaftStatus(
            id: raft.id, hardState: raft.hardState, softState: raft.softState, applied: raft.log.applied,
            lastIndex: raft.log.lastIndex, confState: raft.tracker.confState,
            progress: raft.role == .leader ? raft.tracker.progress : [:], leadTransferee: raft.leadTransferee)
    }
}
