#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import KVStorage

/// Damage that is not a torn tail: recovery must stop with a `StorageError` naming the file and
/// offset (fail-stop), never crash and never return a guess.
@Suite("WriteAheadLog corruption")
struct CorruptionTests {
    /// Several segments of single-entry batches.
    private func makeSegments(_ directory: String) throws -> [String] {
        try withLog(directory, segmentBytes: 200) { log, _ in
            for index in UInt64(1)...30 { try log.append(makeEntries(index...index), hardState: nil, sync: false) }
        }
        let names = try segmentNames(directory)
        try #require(names.count >= 3)
        return names.map { directory + "/" + $0 }
    }

    private func expectCorruption(_ directory: String, file: String, offset: Int?, _ what: String) {
        let error = openError(directory)
        #expect(error?.kind == .corruption, "\(what): \(String(describing: error))")
        #expect(error?.file == file, "\(what)")
        if let offset { #expect(error?.offset == offset, "\(what)") }
        #expect(error?.description.contains(file) == true, "\(what)")
    }

    @Test("a flipped byte in the middle of a segment that is not the last")
    func flippedByteInOlderSegment() throws {
        try withTemporaryDirectory { directory in
            let segments = try makeSegments(directory)
            let offsets = try recordOffsets(segments[0])
            var bytes = try readBytes(segments[0])
            bytes[offsets[2] + 12] ^= 0x01
            try writeBytes(segments[0], bytes)
            expectCorruption(directory, file: segments[0], offset: offsets[2], "flip")
        }
    }

    @Test("an older segment cut short")
    func truncatedOlderSegment() throws {
        try withTemporaryDirectory { directory in
            let segments = try makeSegments(directory)
            let bytes = try readBytes(segments[1])
            let offsets = try recordOffsets(segments[1])
            try writeBytes(segments[1], Array(bytes.dropLast(3)))
            expectCorruption(directory, file: segments[1], offset: offsets.last!, "truncated")
        }
    }

    @Test("damage in the last segment followed by intact records is not a torn tail")
    func damageBeforeGoodRecordsInLastSegment() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                for index in UInt64(1)...5 { try log.append(makeEntries(index...index), hardState: nil, sync: true) }
            }
            let path = directory + "/" + (try segmentNames(directory)).last!
            let offsets = try recordOffsets(path)
            var bytes = try readBytes(path)
            bytes[offsets[2] + 20] ^= 0xFF
            try writeBytes(path, bytes)
            expectCorruption(directory, file: path, offset: offsets[2], "flip before intact records")
            #expect(try readBytes(path) == bytes, "a corrupt log is left as found")
        }
    }

    @Test("a missing segment in the middle of the sequence")
    func missingSegment() throws {
        try withTemporaryDirectory { directory in
            let segments = try makeSegments(directory)
            try FileIO.remove(segments[1])
            expectCorruption(directory, file: segments[2], offset: 0, "gap in sequence")
        }
    }

    @Test("a missing first segment without a snapshot covering it")
    func missingFirstSegment() throws {
        try withTemporaryDirectory { directory in
            let segments = try makeSegments(directory)
            try FileIO.remove(segments[0])
            expectCorruption(directory, file: segments[1], offset: 0, "entries missing")
        }
    }

    @Test("a damaged snapshot file")
    func damagedSnapshot() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...5), hardState: nil, sync: true)
                try log.saveSnapshot(Snapshot(index: 4, term: 1, data: Array("the store".utf8)))
            }
            let path = directory + "/" + (try snapshotNames(directory))[0]
            var bytes = try readBytes(path)
            bytes[bytes.count - 2] ^= 0x10
            try writeBytes(path, bytes)
            expectCorruption(directory, file: path, offset: 0, "snapshot")
        }
    }

    @Test("a segment whose header disagrees with its file name")
    func renamedSegment() throws {
        try withTemporaryDirectory { directory in
            let segments = try makeSegments(directory)
            let header = FileName.parseSegment(String(segments[0].split(separator: "/").last!))!
            let renamed = directory + "/" + FileName.segment(SegmentHeader(sequence: header.sequence, firstIndex: 0))
            try FileIO.rename(segments[0], to: renamed)
            expectCorruption(directory, file: renamed, offset: 0, "renamed")
        }
    }
}
