/// The member's view of the replicated log. Unlike etcd (which reads stable entries back from `Storage`),
/// the whole uncompacted log lives here, so the core never performs I/O; `stableIndex` separates what the
/// shell has persisted from the rest, and `inProgressIndex` what it was handed in a `Ready` (and may still be
/// writing) from what the next `Ready` must hand it.
struct RaftLog: Sendable {
    /// Latest snapshot known to this member: what the leader sends to followers needing compacted entries.
    var snapshot: Snapshot
    /// Index and term of the last discarded entry (the snapshot's, or an older one if entries are retained).
    private(set) var offset: UInt64
    private(set) var offsetTerm: UInt64
    /// Entries `offset + 1 ... lastIndex`.
    private(set) var entries: [Entry]
    /// Entries up to here are on the shell's stable storage.
    private(set) var stableIndex: UInt64
    /// Entries up to here were handed to the shell in a `Ready`, whose write may still be in flight (never
    /// below `stableIndex`). A shell that pipelines its writes calls `ready()` again before `advance`; the
    /// next `Ready` must then not hand the same entries out twice.
    private(set) var inProgressIndex: UInt64
    /// A snapshot received from the leader that the shell has yet to persist and apply.
    private(set) var pendingSnapshot: Snapshot?
    /// `pendingSnapshot` was handed out in a `Ready` and is being installed.
    private(set) var snapshotInProgress = false
    /// Highest index known to be replicated on a quorum (§5.3).
    private(set) var committed: UInt64
    /// Highest index handed to the application (and acknowledged through `advance`).
    private(set) var applied: UInt64
    /// Highest index handed to the application in a `Ready`, acknowledged or not (never below `applied`).
    private(set) var applyingIndex: UInt64

    init(recovered state: RecoveredState) {
        snapshot = state.snapshot
        offset = state.snapshot.metadata.index
        offsetTerm = state.snapshot.metadata.term
        entries = state.entries
        stableIndex = offset + UInt64(entries.count)
        inProgressIndex = stableIndex
        // A persisted commit beyond the persisted log cannot happen with a well-behaved shell; clamp anyway.
        committed = min(max(state.hardState.commit, offset), stableIndex)
        applied = offset
        applyingIndex = offset
    }

    var firstIndex: UInt64 { offset + 1 }
    var lastIndex: UInt64 { offset + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? offsetTerm }

    /// The term of the entry at `index`, or nil if it was compacted away or does not exist yet.
    func term(at index: UInt64) -> UInt64? {
        if index == offset { return offsetTerm }
        guard index > offset, index <= lastIndex else { return nil }
        return entries[Int(index - offset - 1)].term
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool { self.term(at: index) == term }

    /// §5.4.1: vote only for candidates whose log is at least as up-to-date as ours.
    func isUpToDate(lastIndex index: UInt64, term: UInt64) -> Bool {
        term > lastTerm || (term == lastTerm && index >= lastIndex)
    }

    /// Entries in `low..<high`; nil if any of them were compacted.
    func slice(_ low: UInt64, _ high: UInt64) -> [Entry]? {
        guard low > offset else { return nil }
        let hi = min(high, lastIndex + 1)
        guard low < hi else { return [] }
        return Array(entries[Int(low - offset - 1)..<Int(hi - offset - 1)])
    }

    /// Entries from `low` through `high`, cut off at `maxSize` bytes but always at least one entry so a single
    /// large entry cannot stall replication.
    func entries(from low: UInt64, through high: UInt64, maxSize: Int) -> [Entry]? {
        guard var result = slice(low, high + 1) else { return nil }
        var size = 0
        for (i, entry) in result.enumerated() {
            size += entry.approximateSize
            if size > maxSize && i > 0 {
                result.removeSubrange(i...)
                break
            }
        }
        return result
    }

    /// Appends after truncating anything from `entries.first.index` on. Returns the new last index.
    @discardableResult
    mutating func append(_ newEntries: [Entry]) -> UInt64 {
        guard let first = newEntries.first?.index else { return lastIndex }
        precondition(first > committed, "cannot overwrite committed entry \(first) (committed \(committed))")
        precondition(first <= lastIndex + 1, "gap in log: \(first) after \(lastIndex)")
        entries.removeSubrange(Int(first - offset - 1)...)
        entries.append(contentsOf: newEntries)
        // Persisted (or in-flight) entries that were overwritten must be persisted again.
        stableIndex = min(stableIndex, first - 1)
        inProgressIndex = min(inProgressIndex, first - 1)
        return lastIndex
    }

    /// First entry whose term disagrees with ours (or that we lack), or nil if all match.
    func findConflict(_ candidates: [Entry]) -> UInt64? {
        candidates.first(where: { !matchTerm($0.index, $0.term) })?.index
    }

    /// The follower side of AppendEntries (§5.3): if our log contains `(index, logTerm)`, append the new
    /// entries (dropping a conflicting suffix) and learn the leader's commit. Returns the last index known to
    /// match the leader, or nil if the consistency check fails.
    mutating func maybeAppend(index: UInt64, logTerm: UInt64, commit: UInt64, entries newEntries: [Entry])
        -> UInt64?
    {
        guard matchTerm(index, logTerm) else { return nil }
        let lastNew = index + UInt64(newEntries.count)
        if let conflict = findConflict(newEntries) {
            append(Array(newEntries[Int(conflict - index - 1)...]))
        }
        // Only entries known to match the leader may be committed, hence `lastNew`, not `lastIndex`.
        self.commit(to: min(commit, lastNew))
        return lastNew
    }

    /// Largest `(index, term)` with index ≤ `index` and term ≤ `term`: the fast-backtracking hint (§5.3).
    /// Entries above it cannot match a log whose entry at `index` has term `term`.
    func findConflictByTerm(index: UInt64, term: UInt64) -> (index: UInt64, term: UInt64) {
        if index > lastIndex { return (index, 0) }
        var i = index
        while true {
            guard let t = self.term(at: i) else { return (i, 0) }
            if t <= term { return (i, t) }
            i -= 1
        }
    }

    mutating func commit(to index: UInt64) {
        if index > committed { committed = min(index, lastIndex) }
    }

    /// Entries not yet handed to the shell: what the next `Ready` asks it to persist.
    var unstableEntries: [Entry] {
        let from = max(inProgressIndex, offset) + 1
        return from > lastIndex ? [] : Array(entries[Int(from - offset - 1)...])
    }

    var hasUnstableEntries: Bool { max(inProgressIndex, offset) < lastIndex }

    /// Committed entries the application has not been given. None while a snapshot is pending: the
    /// application must restore the snapshot before applying anything after it.
    var nextCommittedEntries: [Entry] {
        guard pendingSnapshot == nil else { return [] }
        let low = max(applyingIndex, offset) + 1
        let high = min(committed, lastIndex)
        guard low <= high else { return [] }
        return Array(entries[Int(low - offset - 1)...Int(high - offset - 1)])
    }

    var hasNextCommittedEntries: Bool {
        pendingSnapshot == nil && max(applyingIndex, offset) < min(committed, lastIndex)
    }

    /// A snapshot to hand out in the next `Ready`, if one is pending and not handed out already.
    var snapshotToPersist: Snapshot? { snapshotInProgress ? nil : pendingSnapshot }

    /// `ready()` handed the shell everything through `lastIndex`, the committed entries through `applying`, and
    /// the pending snapshot if any: later `Ready`s start after them.
    mutating func handedOut(applying: UInt64?) {
        inProgressIndex = lastIndex
        if let applying { applyingIndex = max(applyingIndex, applying) }
        if pendingSnapshot != nil { snapshotInProgress = true }
    }

    /// The shell persisted entries up to `index`; ignore if the log changed in between (the overwriting
    /// entries come in a later `Ready`, and their write will report them).
    mutating func stable(to index: UInt64, term: UInt64) {
        if matchTerm(index, term), index > stableIndex {
            stableIndex = index
            inProgressIndex = max(inProgressIndex, index)
        }
    }

    mutating func snapshotStable(_ snapshot: Snapshot) {
        if pendingSnapshot == snapshot {
            pendingSnapshot = nil
            snapshotInProgress = false
            applied = max(applied, snapshot.metadata.index)
            applyingIndex = max(applyingIndex, applied)
        }
    }

    /// The application applied the entries through `index` (`RawNode.advance`).
    mutating func appliedTo(_ index: UInt64) {
        applied = max(applied, index)
        applyingIndex = max(applyingIndex, applied)
    }

    /// Installs a snapshot from the leader (§7), discarding the whole log.
    mutating func restore(_ snapshot: Snapshot) {
        self.snapshot = snapshot
        offset = snapshot.metadata.index
        offsetTerm = snapshot.metadata.term
        entries = []
        stableIndex = offset
        inProgressIndex = offset
        pendingSnapshot = snapshot
        snapshotInProgress = false
        committed = offset
    }

    /// Records `snapshot` (taken by the application at an applied index) as the one to send to lagging
    /// followers, and drops entries up to `index`, which the snapshot must cover. Already-dropped prefixes
    /// are not an error: after a restart the log starts at the snapshot while storage may keep more.
    mutating func compact(upTo index: UInt64, snapshot: Snapshot) throws(RaftError) {
        let snapshotIndex = snapshot.metadata.index
        guard snapshotIndex <= applied, index <= snapshotIndex else { throw .unavailable }
        if snapshotIndex > self.snapshot.metadata.index {
            // offset <= current snapshot index < snapshotIndex, so the term is known.
            guard matchTerm(snapshotIndex, snapshot.metadata.term) else { throw .snapshotOutOfDate }
            self.snapshot = snapshot
        }
        guard index > offset else { return }
        offsetTerm = term(at: index) ?? offsetTerm
        entries.removeFirst(Int(index - offset))
        offset = index
    }
}
