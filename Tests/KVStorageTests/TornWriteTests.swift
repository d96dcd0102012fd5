#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import KVStorage

/// Recovery from what a crash during an append leaves: the last record of the last segment cut short
/// or damaged. Recovery must return exactly the entries before it, cut the file back to a record
/// boundary, and accept appends after that.
@Suite("WriteAheadLog torn writes")
struct TornWriteTests {
    /// A log with entries 1...4 and then entry 5 as the very last record; returns the segment path, its
    /// bytes, and where the last record starts.
    private func makeLog(_ directory: String) throws -> (path: String, bytes: [UInt8], lastRecord: Int) {
        try withLog(directory) { log, _ in
            try log.append(makeEntries(1...4), hardState: HardState(term: 1, vote: 1, commit: 2), sync: true)
            try log.append(makeEntries(5...5), hardState: nil, sync: true)
        }
        let path = directory + "/" + (try segmentNames(directory)).last!
        return (path, try readBytes(path), try recordOffsets(path).last!)
    }

    /// Recovery sees entries 1...4, then the log takes a new entry 5 and keeps it across a reopen.
    private func expectRepaired(
        _ directory: String, path: String, lastRecord: Int, damagedBytes: Int, _ what: String
    ) throws {
        try withLog(directory) { log, state in
            #expect(state.entries == makeEntries(1...4), "\(what)")
            #expect(state.hardState == HardState(term: 1, vote: 1, commit: 2), "\(what)")
            let repair = damagedBytes == 0 ? nil : TailRepair(file: path, offset: lastRecord, discardedBytes: damagedBytes)
            #expect(state.repairedTail == repair, "\(what)")
            #expect(try fileSize(path) == lastRecord, "\(what)")
            try log.append(makeEntries(5...5, tag: "again"), hardState: nil, sync: true)
        }
        let state = try recovered(directory)
        #expect(state.entries == makeEntries(1...4) + makeEntries(5...5, tag: "again"), "\(what)")
        #expect(state.repairedTail == nil, "\(what)")
    }

    @Test("a last record cut at every byte offset is dropped and the file truncated before it")
    func truncatedAtEveryOffset() throws {
        try withTemporaryDirectory { directory in
            let (path, original, lastRecord) = try makeLog(directory)
            #expect(original.count - lastRecord > 20)
            for cut in lastRecord..<original.count {
                try writeBytes(path, Array(original[..<cut]))
                try expectRepaired(
                    directory, path: path, lastRecord: lastRecord, damagedBytes: cut - lastRecord, "cut at \(cut)")
            }
        }
    }

    @Test("a flipped byte anywhere in the last record is a torn write")
    func flippedByteInLastRecord() throws {
        try withTemporaryDirectory { directory in
            let (path, original, lastRecord) = try makeLog(directory)
            for position in lastRecord..<original.count {
                var damaged = original
                damaged[position] ^= 0x5A
                try writeBytes(path, damaged)
                try expectRepaired(
                    directory, path: path, lastRecord: lastRecord, damagedBytes: original.count - lastRecord,
                    "flip at \(position)")
            }
        }
    }

    @Test("zeros after the last record (file size extended, data never written) are a torn write")
    func zeroFilledTail() throws {
        try withTemporaryDirectory { directory in
            let (path, original, lastRecord) = try makeLog(directory)
            try writeBytes(path, Array(original[..<lastRecord]) + [UInt8](repeating: 0, count: 4096))
            try expectRepaired(directory, path: path, lastRecord: lastRecord, damagedBytes: 4096, "zero-filled tail")
        }
    }

    @Test("a last segment whose header is torn is dropped and a new segment takes its place")
    func tornSegmentHeader() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentBytes: 100) { log, _ in
                for index in UInt64(1)...6 { try log.append(makeEntries(index...index), hardState: nil, sync: true) }
            }
            let names = try segmentNames(directory)
            let last = directory + "/" + names.last!
            let lastFirstIndex = FileName.parseSegment(names.last!)!.firstIndex
            try writeBytes(last, Array(try readBytes(last).prefix(5)))
            try withLog(directory, segmentBytes: 100) { log, state in
                #expect(state.entries == makeEntries(1...(lastFirstIndex - 1)))
                #expect(state.repairedTail == TailRepair(file: last, offset: 0, discardedBytes: 5))
                try log.append(makeEntries(lastFirstIndex...lastFirstIndex, tag: "again"), hardState: nil, sync: true)
            }
            let state = try recovered(directory, segmentBytes: 100)
            let again = makeEntries(lastFirstIndex...lastFirstIndex, tag: "again")
            #expect(state.entries == makeEntries(1...(lastFirstIndex - 1)) + again)
        }
    }

    @Test("a torn batch keeps its intact leading records, like any record before the tear")
    func tornBatch() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...2), hardState: nil, sync: true)
                try log.append(makeEntries(3...6), hardState: HardState(term: 1, vote: 0, commit: 6), sync: true)
            }
            let path = directory + "/" + (try segmentNames(directory)).last!
            let offsets = try recordOffsets(path)  // header, 1, 2, 3, 4, 5, 6, hard state
            try writeBytes(path, Array(try readBytes(path)[..<(offsets[5] + 3)]))
            let state = try recovered(directory)
            #expect(state.entries == makeEntries(1...4))
            #expect(state.hardState == HardState())
        }
    }
}
