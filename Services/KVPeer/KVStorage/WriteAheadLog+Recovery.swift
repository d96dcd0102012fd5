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
        if let first = segments.first, first.firstIndex > base &+ 1 {
            throw .corruption(
                directory + "/" + FileName.segment(first), offset: 0,
                "log starts at index \(first.firstIndex) but the latest snapshot ends at \(base): entries are missing")
        }

        var log = LogReplay(base: base)
        var hardState: HardState?
        for (position, segment) in segments.enumerated() {
            let path = directory + "/" + FileName.segment(segment)
            let isLast = position == segments.count - 1
            let bytes = try FileIO.readAll(path)
            let parsed = bytes.withUnsafeBytes { parse($0) }

            for (offset, record) in parsed.records {
                switch record {
                case .segmentHeader(let header) where offset == 0:
                    guard header == segment else {
                        throw .corruption(
                            path, offset: 0, "header says sequence \(header.sequence), first index \(header.firstIndex)")
                    }
                case .entry(let entry) where offset > 0:
                    guard log.apply(entry) else {
                        throw .corruption(
                            path, offset: offset, "entry \(entry.index) leaves a gap after index \(log.lastIndex)")
                    }
                case .hardState(let state) where offset > 0:
                    hardState = state
                default:
                    let reason = offset == 0 ? "segment does not start with its header" : "unexpected \(record.kind) record"
                    throw .corruption(path, offset: offset, reason)
                }
            }

            guard let failure = parsed.failure else { continue }
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

        recovery.segments = segments
        if let last = segments.last { recovery.nextSequence = last.sequence + 1 }
        recovery.lastIndex = log.lastIndex
        recovery.state.entries = log.entries
        recovery.hardStateRecorded = hardState != nil
        recovery.state.hardState = hardState ?? HardState()
        return recovery
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
