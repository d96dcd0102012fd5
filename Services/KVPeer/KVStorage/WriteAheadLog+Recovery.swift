#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading the directory back: latest snapshot, then every segment in order.
extension WriteAheadLog {
    struct Recovery {
        var state = RecoveredState()
        /// Segments still on disk, oldest first; the last one is where appends continue.
        var segments: [SegmentHeader] = []
        /// Sequence number for a new segment when `segments` is empty.
        var nextSequence: UInt64 = 0
        var lastIndex: UInt64 = 0
        /// Snapshots on disk, oldest first.
        var snapshots: [(term: UInt64, index: UInt64)] = []
        var hardStateRecorded = false
    }

    static func recover(directory: String) throws(StorageError) -> Recovery {
        var recovery = Recovery()
        let names = try FileIO.list(directory)

        // A crash can leave a half-written snapshot or segment under its temporary name: never used.
        let leftovers = names.filter { name in
            guard name.hasSuffix(".tmp") else { return false }
            let target = String(name.dropLast(4))
            return FileName.parseSegment(target) != nil || FileName.parseSnapshot(target) != nil
        }
        for name in leftovers { try FileIO.remove(directory + "/" + name) }
        if !leftovers.isEmpty { try FileIO.syncDirectory(directory) }

        recovery.snapshots = names.compactMap(FileName.parseSnapshot).sorted { ($0.index, $0.term) < ($1.index, $1.term) }
        if let latest = recovery.snapshots.last {
            recovery.state.snapshot = try loadSnapshot(directory: directory, term: latest.term, index: latest.index)
        }
        let base = recovery.state.snapshot?.index ?? 0

        var segments = names.compactMap(FileName.parseSegment).sorted { $0.sequence < $1.sequence }
        for (previous, next) in zip(segments, segments.dropFirst()) where next.sequence != previous.sequence + 1 {
            throw .corruption(
                directory + "/" + FileName.segment(next), offset: 0,
                "segment \(previous.sequence + 1) is missing (previous segment is \(previous.sequence))")
        }
        // Segments before `start` are dead (see `firstReplayedSegment`); they are left for
        // `releaseCoveredSegments` to delete and not read.
        let start = firstReplayedSegment(segments, snapshotIndex: base)
        if start < segments.count, segments[start].firstIndex > base &+ 1 {
            throw .corruption(
                directory + "/" + FileName.segment(segments[start]), offset: 0,
                "log starts at index \(segments[start].firstIndex) but the latest snapshot ends at \(base): entries are missing")
        }

        var log = LogReplay(base: base)
        var hardState: HardState?
        for (position, segment) in segments.enumerated().dropFirst(start) {
            let path = directory + "/" + FileName.segment(segment)
            let isLast = position == segments.count - 1
            let bytes = try FileIO.readAll(path)
            let parsed = bytes.withUnsafeBytes { parse($0) }
            // Set for the segment of an installSnapshot whose snapshot never became durable.
            var unfinishedInstall = false

            for (offset, record) in parsed.records {
                switch record {
                case .segmentHeader(let header) where offset == 0:
                    guard header == segment else {
                        throw .corruption(
                            path, offset: 0, "header says sequence \(header.sequence), first index \(header.firstIndex)")
                    }
                    // Past `start`, a segment starts above `base + 1`. A cut starts it at the end of the log; only
                    // installSnapshot starts one elsewhere, and then a snapshot at `firstIndex - 1` or later exists
                    // once the install has happened. So a mismatch here is an install cut short before its
                    // snapshot, which must be the last segment (the log is unusable after a failed install)
                    // and is checked to hold no entries; anything else would hide a gap.
                    if position > start, header.firstIndex - 1 != log.lastIndex {
                        guard isLast else {
                            throw .corruption(
                                path, offset: 0,
                                "segment starts at index \(header.firstIndex) but the log before it ends at "
                                    + "\(log.lastIndex) and the latest snapshot at \(base): entries are missing")
                        }
                        unfinishedInstall = true
                    }
                case .entry(let entry) where offset > 0:
                    guard !unfinishedInstall else {
                        throw .corruption(
                            path, offset: offset,
                            "entry \(entry.index) in a segment starting at index \(segment.firstIndex), which does not "
                                + "follow the log's end at \(log.lastIndex) and which no snapshot (latest \(base)) covers")
                    }
                    guard log.apply(entry) else {
                        throw .corruption(
                            path, offset: offset, "entry \(entry.index) leaves a gap after index \(log.lastIndex)")
                    }
                case .hardState(let state) where offset > 0:
                    // An unfinished install's hard state repeats the one the log already ends with; keeping it
                    // would make this recovery differ from the next, after the segment is gone.
                    if !unfinishedInstall { hardState = state }
                default:
                    let reason = offset == 0 ? "segment does not start with its header" : "unexpected \(record.kind) record"
                    throw .corruption(path, offset: offset, reason)
                }
            }

            if let failure = parsed.failure {
                let tornTail = isLast && !bytes.withUnsafeBytes { WALRecord.intactRecordExists($0, after: failure.offset) }
                guard tornTail else { throw .corruption(path, offset: failure.offset, failure.reason) }

                // A torn write: the append was never acknowledged (its fdatasync did not return). Cut it off so
                // the next append starts at a record boundary.
                recovery.state.repairedTail = TailRepair(
                    file: path, offset: failure.offset, discardedBytes: bytes.count - failure.offset)
                if failure.offset == 0 {
                    // Not even the header survived: the segment holds nothing. Drop it; a new one takes its place.
                    try FileIO.remove(path)
                    try FileIO.syncDirectory(directory)
                    segments.removeLast()
                    recovery.nextSequence = segment.sequence
                } else {
                    let descriptor = try FileIO.open(path, O_WRONLY)
                    defer { FileIO.close(descriptor) }
                    try FileIO.truncate(descriptor, to: failure.offset, path: path)
                    try FileIO.sync(descriptor, path: path)
                }
            }

            if unfinishedInstall {
                // The install did not happen, so the old log stands and appends continue after it. They must
                // not go into this segment: once a later snapshot covered its `firstIndex - 1`, recovery would
                // start there and lose them. The segment holds nothing else, and its predecessor was sealed
                // before it was created, so appending to the predecessor again is safe.
                try FileIO.remove(path)
                try FileIO.syncDirectory(directory)
                segments.removeLast()
            }
        }

        recovery.segments = segments
        if let last = segments.last { recovery.nextSequence = last.sequence + 1 }
        recovery.lastIndex = log.lastIndex
        recovery.state.entries = log.entries
        recovery.hardStateRecorded = hardState != nil
        recovery.state.hardState = hardState ?? HardState()
        return recovery
    }

    /// Position of the first segment that can hold live records: the last one (other than the first) that
    /// starts at or below `snapshotIndex + 1`, else 0. Such a segment was started when the log ended at its
    /// `firstIndex - 1` — the end of the log at a cut, the snapshot index at an install — which the snapshot
    /// covers; whatever came before is in the snapshot or was discarded, and its header repeats the hard state.
    /// Replaying from there is the same as truncating the log to `firstIndex - 1` at that header.
    static func firstReplayedSegment(_ segments: [SegmentHeader], snapshotIndex: UInt64) -> Int {
        segments.indices.dropFirst().last { segments[$0].firstIndex <= snapshotIndex &+ 1 } ?? 0
    }

    /// Records of one segment up to the first one that does not decode.
    static func parse(
        _ buffer: UnsafeRawBufferPointer
    ) -> (records: [(offset: Int, record: WALRecord)], failure: (offset: Int, reason: String)?) {
        var records: [(offset: Int, record: WALRecord)] = []
        var offset = 0
        if buffer.isEmpty { return ([], (0, "empty segment")) }
        while offset < buffer.count {
            switch WALRecord.decode(buffer, at: offset) {
            case .record(let record, let end):
                records.append((offset, record))
                offset = end
            case .truncated(let reason), .invalid(let reason):
                return (records, (offset, reason))
            }
        }
        return (records, nil)
    }

    static func loadSnapshot(directory: String, term: UInt64, index: UInt64) throws(StorageError) -> Snapshot {
        let path = directory + "/" + FileName.snapshot(term: term, index: index)
        let bytes = try FileIO.readAll(path)
        let decoded = bytes.withUnsafeBytes { WALRecord.decode($0, at: 0) }
        switch decoded {
        case .record(.snapshot(let snapshot), let end) where end == bytes.count:
            guard snapshot.term == term, snapshot.index == index else {
                throw .corruption(
                    path, offset: 0, "holds term \(snapshot.term) index \(snapshot.index), not what its name says")
            }
            return snapshot
        case .record(_, let end):
            let reason = end == bytes.count ? "not a snapshot record" : "trailing bytes after the snapshot"
            throw .corruption(path, offset: 0, reason)
        case .truncated(let reason), .invalid(let reason):
            throw .corruption(path, offset: 0, reason)
        }
    }
}

/// Replays entries in write order: an index at or below the last one replaces the suffix from there
/// (a Raft follower truncating a conflicting tail), so the last write for an index wins.
struct LogReplay {
    /// Everything up to here is covered by the snapshot.
    let base: UInt64
    private(set) var entries: [WALEntry] = []

    init(base: UInt64) { self.base = base }

    var lastIndex: UInt64 { base + UInt64(entries.count) }

    /// False for a gap (an index beyond `lastIndex + 1`).
    mutating func apply(_ entry: WALEntry) -> Bool {
        guard entry.index > base else { return true }  // already in the snapshot
        guard entry.index - 1 <= lastIndex else { return false }  // entry.index > base ≥ 0
        entries.removeLast(Int(lastIndex + 1 - entry.index))
        entries.append(entry)
        return true
    }
}

extension WALRecord {
    var kind: String {
        switch self {
        case .segmentHeader: "segment header"
        case .entry: "entry"
        case .hardState: "hard state"
        case .snapshot: "snapshot"
        }
    }
}
