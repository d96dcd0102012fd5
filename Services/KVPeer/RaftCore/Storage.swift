/// Everything a member needs to come back after a crash: what `Ready` asked the shell to persist.
public struct RecoveredState: Hashable, Sendable {
    public var hardState: HardState
    /// The latest snapshot (possibly empty, carrying only the bootstrap membership).
    public var snapshot: Snapshot
    /// Entries following `snapshot.metadata.index`, contiguous.
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot = Snapshot(), entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }

    /// The initial state of a founding member of a new cluster (etcd's "initial-cluster"): the membership is
    /// snapshot #1 at term 1, identical on every founding member. Members added later start from
    /// `RecoveredState()` and receive this snapshot (or a newer one) from the leader, which is how they learn
    /// the members that joined before them.
    public static func bootstrap(voters: [NodeID], learners: [NodeID] = [], data: [UInt8] = []) -> RecoveredState {
        let conf = ConfState(voters: voters, learners: learners)
        return RecoveredState(
            hardState: HardState(term: 1, commit: 1),
            snapshot: Snapshot(metadata: SnapshotMetadata(index: 1, term: 1, confState: conf), data: data))
    }
}

/// Read side of the shell's stable storage (etcd's `Storage`). `RawNode` reads it once at start-up and then
/// keeps the uncompacted log in memory, so implementations need not be fast. Errors abort start-up.
public protocol RaftStorage {
    func initialState() throws(RaftError) -> (HardState, ConfState)
    /// Entries in `low..<high`; `compacted` below `firstIndex`, `unavailable` beyond `lastIndex`.
    func entries(_ low: UInt64, _ high: UInt64) throws(RaftError) -> [Entry]
    func term(at index: UInt64) throws(RaftError) -> UInt64
    func firstIndex() throws(RaftError) -> UInt64
    func lastIndex() throws(RaftError) -> UInt64
    func snapshot() throws(RaftError) -> Snapshot
}

extension RaftStorage {
    /// Reads the whole durable state; `RawNode.init(config:storage:)` uses this.
    public func recoveredState() throws(RaftError) -> RecoveredState {
        let (hardState, confState) = try initialState()
        var snapshot = try snapshot()
        snapshot.metadata.confState = snapshot.isEmpty ? confState : snapshot.metadata.confState
        // Entries the snapshot covers are already part of the application state.
        let first = max(try firstIndex(), snapshot.metadata.index + 1)
        let last = try lastIndex()
        let entries = last >= first ? try self.entries(first, last + 1) : []
        return RecoveredState(hardState: hardState, snapshot: snapshot, entries: entries)
    }
}

/// In-memory stable storage, like etcd's `MemoryStorage`: the shell appends what `Ready` hands it and the
/// simulation uses it as the "disk" that survives a crash. A value type: copying it is a consistent backup.
///
/// The snapshot and the compaction point are separate on purpose: a shell snapshots every
/// `--snapshot-count` entries but keeps some entries behind the snapshot so slightly lagging followers can
/// catch up from the log instead of receiving a whole snapshot.
public struct MemoryRaftStorage: RaftStorage, Hashable, Sendable {
    public private(set) var hardState: HardState
    public private(set) var latestSnapshot: Snapshot
    /// Index and term of the last discarded entry; entries start right after it.
    public private(set) var compactedIndex: UInt64
    private var compactedTerm: UInt64
    /// Entries after `compactedIndex`.
    public private(set) var storedEntries: [Entry]

    public init(_ state: RecoveredState = RecoveredState()) {
        hardState = state.hardState
        latestSnapshot = state.snapshot
        compactedIndex = state.snapshot.metadata.index
        compactedTerm = state.snapshot.metadata.term
        storedEntries = state.entries
    }

    /// What a restarted member is built from: entries the snapshot covers are left out.
    public var recovered: RecoveredState {
        let snapshotIndex = latestSnapshot.metadata.index
        return RecoveredState(
            hardState: hardState, snapshot: latestSnapshot,
            entries: storedEntries.filter { $0.index > snapshotIndex })
    }

    public func initialState() -> (HardState, ConfState) { (hardState, latestSnapshot.metadata.confState) }

    public func firstIndex() -> UInt64 { compactedIndex + 1 }

    public func lastIndex() -> UInt64 { compactedIndex + UInt64(storedEntries.count) }

    public func snapshot() -> Snapshot { latestSnapshot }

    public func term(at index: UInt64) throws(RaftError) -> UInt64 {
        if index == compactedIndex { return compactedTerm }
        if index < compactedIndex { throw .compacted }
        if index > lastIndex() { throw .unavailable }
        return storedEntries[Int(index - compactedIndex - 1)].term
    }

    public func entries(_ low: UInt64, _ high: UInt64) throws(RaftError) -> [Entry] {
        if low <= compactedIndex { throw .compacted }
        if high > lastIndex() + 1 || low > high { throw .unavailable }
        return Array(storedEntries[Int(low - compactedIndex - 1)..<Int(high - compactedIndex - 1)])
    }

    public mutating func setHardState(_ state: HardState) { hardState = state }

    /// Appends `Ready.entries`, replacing any existing suffix they conflict with (a follower's log being
    /// overwritten by a new leader, §5.3). Entries already compacted away are skipped.
    public mutating func append(_ newEntries: [Entry]) {
        let fresh = newEntries.drop(while: { $0.index <= compactedIndex })
        guard let start = fresh.first?.index else { return }
        precondition(start <= lastIndex() + 1, "gap in log: appending \(start) after \(lastIndex())")
        storedEntries.removeSubrange(Int(start - compactedIndex - 1)...)
        storedEntries.append(contentsOf: fresh)
    }

    /// Replaces everything with a snapshot received from the leader (`Ready.snapshot`).
    public mutating func applySnapshot(_ snapshot: Snapshot) throws(RaftError) {
        guard snapshot.metadata.index > latestSnapshot.metadata.index else { throw .snapshotOutOfDate }
        latestSnapshot = snapshot
        compactedIndex = snapshot.metadata.index
        compactedTerm = snapshot.metadata.term
        storedEntries = []
        hardState.commit = max(hardState.commit, snapshot.metadata.index)
    }

    /// Records a snapshot of the application state at `index` (which must already be applied). Entries are
    /// kept; trim them with `compact(upTo:)`. Pass the result to `RawNode.compact(upTo:snapshot:)`.
    @discardableResult
    public mutating func createSnapshot(index: UInt64, confState: ConfState, data: [UInt8]) throws(RaftError)
        -> Snapshot
    {
        guard index > latestSnapshot.metadata.index else { throw .snapshotOutOfDate }
        guard index <= lastIndex() else { throw .unavailable }
        let snapshot = Snapshot(
            metadata: SnapshotMetadata(index: index, term: try term(at: index), confState: confState), data: data)
        latestSnapshot = snapshot
        return snapshot
    }

    /// Discards entries up to and including `index`; only entries a snapshot covers may go.
    public mutating func compact(upTo index: UInt64) throws(RaftError) {
        guard index > compactedIndex else { throw .compacted }
        guard index <= latestSnapshot.metadata.index else { throw .unavailable }
        compactedTerm = try term(at: index)
        storedEntries.removeFirst(Int(index - compactedIndex))
        compactedIndex = index
    }
}
