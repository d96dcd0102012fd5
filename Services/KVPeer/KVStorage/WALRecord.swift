/// One record of a segment or snapshot file. On disk (all integers little-endian):
///
///     length  UInt32   bytes of type + payload (≥ 1)
///     crc     UInt32   CRC-32C of type + payload
///     type    UInt8    1 segment header, 2 entry, 3 hard state, 4 snapshot
///     payload length − 1 bytes:
///         segment header  sequence UInt64, firstIndex UInt64
///         entry           term UInt64, index UInt64, data (the rest)
///         hard state      term UInt64, vote UInt64, commit UInt64
///         snapshot        term UInt64, index UInt64, data (the rest)
enum WALRecord: Equatable, Sendable {
    case segmentHeader(SegmentHeader)
    case entry(WALEntry)
    case hardState(HardState)
    case snapshot(Snapshot)

    static let headerBytes = 8
    /// Keeps `length` within UInt32 with room for the fixed fields.
    static let maxDataBytes = Int(UInt32.max) - 64

    private enum RecordType: UInt8 {
        case segmentHeader = 1, entry = 2, hardState = 3, snapshot = 4
    }

    /// Appends the encoded record to `bytes`.
    func encode(into bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: Self.headerBytes))
        switch self {
        case .segmentHeader(let header):
            bytes.append(RecordType.segmentHeader.rawValue)
            Self.append(header.sequence, to: &bytes)
            Self.append(header.firstIndex, to: &bytes)
        case .entry(let entry):
            bytes.append(RecordType.entry.rawValue)
            Self.append(entry.term, to: &bytes)
            Self.append(entry.index, to: &bytes)
            bytes.append(contentsOf: entry.data)
        case .hardState(let state):
            bytes.append(RecordType.hardState.rawValue)
            Self.append(state.term, to: &bytes)
            Self.append(state.vote, to: &bytes)
            Self.append(state.commit, to: &bytes)
        case .snapshot(let snapshot):
            bytes.append(RecordType.snapshot.rawValue)
            Self.append(snapshot.term, to: &bytes)
            Self.append(snapshot.index, to: &bytes)
            bytes.append(contentsOf: snapshot.data)
        }
        let bodyStart = start + Self.headerBytes
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[bodyStart...])) }
        let length = UInt32(bytes.count - bodyStart)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length.littleEndian, toByteOffset: start, as: UInt32.self)
            raw.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// The result of reading one record at an offset.
    enum Decoded: Equatable {
        case record(WALRecord, end: Int)
        /// The record runs past the end of the buffer (what a torn append leaves).
        case truncated(String)
        /// Bad length, checksum or layout.
        case invalid(String)
    }

    /// Reads the record starting at `offset`. Never traps on any input.
    static func decode(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> Decoded {
        let remaining = buffer.count - offset
        guard remaining >= headerBytes else {
            return .truncated("record header needs \(headerBytes) bytes, \(remaining) left")
        }
        let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        let crc = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        guard length >= 1 else { return .invalid("record length 0") }
        guard length <= remaining - headerBytes else {
            return .truncated("record of \(length) bytes, \(remaining - headerBytes) left")
        }
        let body = UnsafeRawBufferPointer(rebasing: buffer[(offset + headerBytes)..<(offset + headerBytes + length)])
        let actual = CRC32C.checksum(body)
        guard actual == crc else {
            return .invalid("checksum mismatch (stored \(hex(crc)), computed \(hex(actual)))")
        }
        let end = offset + headerBytes + length
        let payload = UnsafeRawBufferPointer(rebasing: body.dropFirst())
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        switch RecordType(rawValue: body[0]) {
        case .segmentHeader where payload.count == 16:
            return .record(.segmentHeader(SegmentHeader(sequence: u64(0), firstIndex: u64(8))), end: end)
        case .entry where payload.count >= 16:
            return .record(.entry(WALEntry(term: u64(0), index: u64(8), data: Array(payload.dropFirst(16)))), end: end)
        case .hardState where payload.count == 24:
            return .record(.hardState(HardState(term: u64(0), vote: u64(8), commit: u64(16))), end: end)
        case .snapshot where payload.count >= 16:
            return .record(.snapshot(Snapshot(index: u64(8), term: u64(0), data: Array(payload.dropFirst(16)))), end: end)
        case .some(let type):
            return .invalid("record type \(type) with a payload of \(payload.count) bytes")
        case .none:
            return .invalid("unknown record type \(body[0])")
        }
    }

    /// Whether an intact record starts anywhere in `buffer` after `offset`: tells a torn tail (garbage up
    /// to the end) from damage followed by data that was written, and maybe acknowledged, later.
    static func intactRecordExists(_ buffer: UnsafeRawBufferPointer, after offset: Int) -> Bool {
        var candidate = offset + 1
        while candidate + headerBytes < buffer.count {
            if case .record = decode(buffer, at: candidate) { return true }
            candidate += 1
        }
        return false
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}

/// The first record of every segment, repeated in its file name.
struct SegmentHeader: Equatable, Sendable {
    /// Position of the segment in the log: 0, 1, 2, … without gaps.
    var sequence: UInt64
    /// `lastIndex + 1` when the segment was started (entries in it may overwrite lower indexes), or
    /// `snapshot.index + 1` for `installSnapshot`; recovery discards whatever earlier segments hold after
    /// `firstIndex - 1` once a snapshot covers it.
    var firstIndex: UInt64
}

/// File names: fixed-width lowercase hex, so names sort like the numbers in them (etcd's scheme).
enum FileName {
    static func segment(_ header: SegmentHeader) -> String {
        "wal-\(hex16(header.sequence))-\(hex16(header.firstIndex)).wal"
    }

    static func snapshot(term: UInt64, index: UInt64) -> String { "snap-\(hex16(term))-\(hex16(index)).snap" }

    static func parseSegment(_ name: String) -> SegmentHeader? {
        guard let (sequence, firstIndex) = parse(name, prefix: "wal-", suffix: ".wal") else { return nil }
        return SegmentHeader(sequence: sequence, firstIndex: firstIndex)
    }

    static func parseSnapshot(_ name: String) -> (term: UInt64, index: UInt64)? {
        parse(name, prefix: "snap-", suffix: ".snap")
    }

    private static func parse(_ name: String, prefix: String, suffix: String) -> (UInt64, UInt64)? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let middle = name.dropFirst(prefix.count).dropLast(suffix.count)
            .split(separator: "-", omittingEmptySubsequences: false)
        guard middle.count == 2, let first = UInt64(middle[0], radix: 16), let second = UInt64(middle[1], radix: 16),
            "\(prefix)\(hex16(first))-\(hex16(second))\(suffix)" == name
        else { return nil }
        return (first, second)
    }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
