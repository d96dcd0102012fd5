import SeededRandom
import Testing

@testable import KVStorage

@Suite("WALRecord and CRC32C")
struct WALRecordTests {
    @Test("CRC-32C matches the published check values")
    func crcVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)  // RFC 3720 B.4
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0...31)) == 0x46DD_794E)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test("CRC-32C is the same computed in one go or in pieces of any size")
    func crcIncremental() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32C.checksum(bytes)
        for split in [1, 7, 8, 9, 500, 999] {
            let crc = bytes.withUnsafeBytes { raw in
                let first = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[..<split]))
                return CRC32C.update(first, UnsafeRawBufferPointer(rebasing: raw[split...]))
            }
            #expect(crc == whole, "split at \(split)")
        }
    }

    static let samples: [WALRecord] = [
        .segmentHeader(SegmentHeader(sequence: 3, firstIndex: 1_000_001)),
        .entry(WALEntry(term: 5, index: 42, data: Array("set /a 1".utf8))),
        .entry(WALEntry(term: .max, index: .max - 1, data: [])),
        .hardState(HardState(term: 9, vote: 2, commit: 40)),
        .snapshot(Snapshot(index: 77, term: 4, data: [0, 1, 2, 255])),
    ]

    @Test("every record type round-trips", arguments: samples)
    func roundTrip(_ record: WALRecord) {
        var bytes: [UInt8] = [0xAA]  // records are decoded at any offset
        record.encode(into: &bytes)
        let decoded = bytes.withUnsafeBytes { WALRecord.decode($0, at: 1) }
        #expect(decoded == .record(record, end: bytes.count))
    }

    @Test("the layout is length, CRC-32C over type and payload, type, little-endian payload")
    func layout() {
        var bytes: [UInt8] = []
        WALRecord.hardState(HardState(term: 1, vote: 2, commit: 3)).encode(into: &bytes)
        let body: [UInt8] = [3] + [1, 0, 0, 0, 0, 0, 0, 0] + [2, 0, 0, 0, 0, 0, 0, 0] + [3, 0, 0, 0, 0, 0, 0, 0]
        let crc = CRC32C.checksum(body)
        let crcBytes = [UInt8(crc & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8((crc >> 16) & 0xFF), UInt8(crc >> 24)]
        let header: [UInt8] = [25, 0, 0, 0] + crcBytes
        #expect(bytes == header + body)
    }

    @Test("every prefix of a record is reported truncated, never decoded", arguments: samples)
    func prefixes(_ record: WALRecord) {
        var bytes: [UInt8] = []
        record.encode(into: &bytes)
        for count in 0..<bytes.count {
            let decoded = Array(bytes[..<count]).withUnsafeBytes { WALRecord.decode($0, at: 0) }
            guard case .truncated = decoded else {
                Issue.record("prefix of \(count) bytes decoded as \(decoded)")
                continue
            }
        }
    }

    @Test("random bytes never decode and never trap")
    func garbage() {
        var generator = SplitMix64(seed: 0x5EED)
        for round in 0..<2000 {
            let count = Int(generator.next() % 64)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if count >= 4 && round % 2 == 0 {  // a plausible length, so the checksum is what rejects it
                bytes.replaceSubrange(0..<4, with: [UInt8(max(count - 8, 1)), 0, 0, 0])
            }
            let decoded = bytes.withUnsafeBytes { WALRecord.decode($0, at: 0) }
            if case .record = decoded { Issue.record("round \(round): \(bytes) decoded as a record") }
            _ = bytes.withUnsafeBytes { WALRecord.intactRecordExists($0, after: 0) }
        }
    }

    @Test("file names sort like their numbers and parse back; others are ignored")
    func fileNames() {
        let header = SegmentHeader(sequence: 0x1F, firstIndex: 0x10000)
        #expect(FileName.segment(header) == "wal-000000000000001f-0000000000010000.wal")
        #expect(FileName.parseSegment(FileName.segment(header)) == header)
        #expect(FileName.snapshot(term: 2, index: 255) == "snap-0000000000000002-00000000000000ff.snap")
        #expect(FileName.parseSnapshot("snap-0000000000000002-00000000000000ff.snap")! == (2, 255))
        for name in ["wal-1f-10000.wal", "wal-000000000000001F-0000000000010000.wal", "LOCK", "snap-x-y.snap",
            "wal-000000000000001f-0000000000010000.wal.tmp", "wal--.wal"] {
            #expect(FileName.parseSegment(name) == nil, "\(name)")
            #expect(FileName.parseSnapshot(name) == nil, "\(name)")
        }
    }
}

extension WALRecord: CustomTestStringConvertible {
    var testDescription: String { "\(kind)" }
}

