/// What `WriteAheadLog.open` found on disk: restore `snapshot`, then replay `entries` (all after it).
public struct RecoveredState: Equatable, Sendable {
    /// The latest snapshot, if one was ever saved.
    public var snapshot: Snapshot?
    /// The last hard state recorded, or all zeros.
    public var hardState: HardState
    /// The live log after the snapshot index, consecutive, overwritten suffixes already resolved.
    public var entries: [WALEntry]
    /// Set when the last segment ended in a torn write that recovery cut off (worth a warning log line).
    public var repairedTail: TailRepair?

    public init(
        snapshot: Snapshot? = nil, hardState: HardState = HardState(), entries: [WALEntry] = [],
        repairedTail: TailRepair? = nil
    ) {
        self.snapshot = snapshot
        self.hardState = hardState
        self.entries = entries
        self.repairedTail = repairedTail
    }
}

/// A torn write removed from the end of the last segment during recovery.
public struct TailRepair: Equatable, Sendable {
    /// Path of the segment.
    public var file: String
    /// The segment now ends here (0: the segment had no intact header and was removed).
    public var offset: Int
    public var discardedBytes: Int

    public init(file: String, offset: Int, discardedBytes: Int) {
        self.file = file
        self.offset = offset
        self.discardedBytes = discardedBytes
    }
}
