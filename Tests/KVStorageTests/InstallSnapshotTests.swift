#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

@testable import KVStorage

/// `installSnapshot`: a follower replacing its log with the leader's snapshot. What must hold after any
/// crash is either the old state or the installed one; a crash is simulated by reopening a directory put
/// together from the files the log had at that moment.
@Suite("WriteAheadLog installSnapshot")
struct InstallSnapshotTests {
    private let hardState = HardState(term: 1, vote: 2, commit: 12)

    /// Entries 1...40 of term 1 in several segments of `segmentBytes`, with `hardState` recorded first.
    private func makeLongLog(_ directory: String, segmentBytes: Int) throws {
        try withLog(directory, segmentBytes: segmentBytes) { log, _ in
            try log.append([], hardState: hardState, sync: true)
            for index in UInt64(1)...40 { try log.append(makeEntries(index...index), hardState: nil, sync: false) }
            try log.append([], hardState: nil, sync: true)
        }
        try #require(try segmentNames(directory).count >= 4)
    }

    private func copyFile(_ name: String, from source: String, to destination: String) throws {
        FileIO.close(try FileIO.open(destination + "/" + name, O_WRONLY | O_CREAT))
        try writeBytes(destination + "/" + name, try readBytes(source + "/" + name))
    }

    /// The log's files in `source` (segments and snapshots), copied into a new directory `destination`.
    private func copyLog(from source: String, to destination: String) throws {
        try FileIO.makeDirectories(destination)
        for name in try segmentNames(source) + snapshotNames(source) {
            try copyFile(name, from: source, to: destination)
        }
    }

    /// A segment written by hand: its header, then `records`.
    @discardableResult
    private func writeSegment(_ directory: String, _ header: SegmentHeader, _ records: [WALRecord]) throws -> String {
        var bytes: [UInt8] = []
        WALRecord.segmentHeader(header).encode(into: &bytes)
        for record in records { record.encode(into: &bytes) }
        let path = directory + "/" + FileName.segment(header)
        FileIO.close(try FileIO.open(path, O_WRONLY | O_CREAT))
        try writeBytes(path, bytes)
        return path
    }

    @Test("installing below the end of a longer, diverged log discards the entries after the snapshot, durably")
    func installOverDivergedLog() throws {
        try withTemporaryDirectory { directory in
            try makeLongLog(directory, segmentBytes: 200)
            let snapshot = Snapshot(index: 20, term: 2, data: Array("leader at 20".utf8))
            try withLog(directory, segmentBytes: 200) { log, _ in
                try log.installSnapshot(snapshot)
                #expect(log.snapshotIndex == 20)
                #expect(log.lastIndex == 20)
                for bad in [makeEntries(20...20, term: 2), makeEntries(22...22, term: 2)] {
                    #expect { try log.append(bad, hardState: nil, sync: true) } throws: {
                        ($0 as? StorageError)?.kind == .invalidArgument
                    }
                }
            }
            // Every older segment is released, including those that start beyond the snapshot; the one
            // left starts right after it and carries the hard state.
            #expect(try segmentNames(directory).compactMap(FileName.parseSegment).map(\.firstIndex) == [21])
            #expect(try snapshotNames(directory) == ["snap-0000000000000002-0000000000000014.snap"])
            try withLog(directory, segmentBytes: 200) { log, state in
                #expect(state == RecoveredState(snapshot: snapshot, hardState: hardState))
                #expect(log.lastIndex == 20)
                try log.append(makeEntries(21...25, term: 2), hardState: nil, sync: true)
            }
            #expect(try recovered(directory).entries == makeEntries(21...25, term: 2))
            // Later snapshots work as usual on top of it.
            try withLog(directory, segmentBytes: 200) { log, _ in
                try log.saveSnapshot(Snapshot(index: 23, term: 2, data: []))
            }
            let state = try recovered(directory, segmentBytes: 200)
            #expect(state.entries == makeEntries(24...25, term: 2))
            #expect(state.hardState == hardState)
        }
    }

    @Test("installing beyond the end of the log (a follower that is behind) leaves the snapshot and no entries")
    func installAheadOfLog() throws {
        try withTemporaryDirectory { directory in
            let snapshot = Snapshot(index: 100, term: 3, data: [7])
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...5), hardState: hardState, sync: true)
                try log.installSnapshot(snapshot)
                #expect(log.lastIndex == 100)
            }
            try withLog(directory) { log, state in
                #expect(state == RecoveredState(snapshot: snapshot, hardState: hardState))
                #expect(log.lastIndex == 100)
                #expect(log.snapshotIndex == 100)
                try log.append(makeEntries(101...103, term: 3), hardState: nil, sync: true)
            }
            #expect(try recovered(directory).entries == makeEntries(101...103, term: 3))
            #expect(try segmentNames(directory).compactMap(FileName.parseSegment).map(\.firstIndex) == [101])
        }
    }

    @Test("an install that is not newer than the latest snapshot is refused and changes nothing")
    func staleInstallRefused() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...10), hardState: nil, sync: true)
                try log.saveSnapshot(Snapshot(index: 6, term: 1, data: []))
                for index in [UInt64(3), 6, .max] {
                    #expect { try log.installSnapshot(Snapshot(index: index, term: 1, data: [])) } throws: {
                        ($0 as? StorageError)?.kind == .invalidArgument
                    }
                }
                #expect(log.lastIndex == 10)
                try log.append(makeEntries(11...11), hardState: nil, sync: true)
            }
            #expect(try recovered(directory).entries == makeEntries(7...11))
        }
    }

    @Test(
        "a crash after the install's segment but before its snapshot leaves the old log, which takes appends",
        arguments: [UInt64(5), 37, 60])
    func crashBeforeSnapshot(installAt index: UInt64) throws {
        try withTemporaryDirectory { root in
            let live = root + "/live"
            let crashed = root + "/crashed"
            try makeLongLog(live, segmentBytes: 200)
            try withLog(live, segmentBytes: 200) { log, _ in try log.saveSnapshot(Snapshot(index: 3, term: 1, data: [3])) }
            let before = try recovered(live, segmentBytes: 200)
            try copyLog(from: live, to: crashed)
            let oldSegments = try segmentNames(crashed)

            // What the disk holds once `installSnapshot` has made its new segment durable: everything as
            // before plus that segment, taken from a real install.
            try withLog(live, segmentBytes: 200) { log, _ in
                try log.installSnapshot(Snapshot(index: index, term: 2, data: []))
            }
            let installSegment = try #require(
                try segmentNames(live).first { FileName.parseSegment($0)?.firstIndex == index + 1 })
            #expect(try snapshotNames(crashed).count == 1)
            try copyFile(installSegment, from: live, to: crashed)

            try withLog(crashed, segmentBytes: 200) { log, state in
                #expect(state == before)
                #expect(log.lastIndex == 40)
                #expect(try segmentNames(crashed) == oldSegments, "the unfinished install's segment is removed")
                try log.append(makeEntries(41...42), hardState: nil, sync: true)
            }
            #expect(try recovered(crashed, segmentBytes: 200).entries == makeEntries(4...42))
            // Installing again, after more snapshots and appends, still works.
            try withLog(crashed, segmentBytes: 200) { log, _ in
                try log.saveSnapshot(Snapshot(index: 4, term: 1, data: []))
                try log.installSnapshot(Snapshot(index: index, term: 2, data: [9]))
            }
            let state = try recovered(crashed, segmentBytes: 200)
            #expect(state.snapshot == Snapshot(index: index, term: 2, data: [9]))
            #expect(state.entries.isEmpty)
            #expect(state.hardState == hardState)
        }
    }

    @Test(
        "a crash after the install's snapshot, before or while old segments are released, finishes the install at open",
        arguments: [0, 1, 2])
    func crashBeforeRelease(releasedBeforeCrash: Int) throws {
        try withTemporaryDirectory { root in
            let live = root + "/live"
            let crashed = root + "/crashed"
            try makeLongLog(live, segmentBytes: 200)
            try copyLog(from: live, to: crashed)
            let oldSegments = try segmentNames(crashed)
            let snapshot = Snapshot(index: 3, term: 2, data: [3])
            try withLog(live, segmentBytes: 200) { log, _ in try log.installSnapshot(snapshot) }
            // Old segments 1 and later start beyond the snapshot: once the oldest is gone, the first segment
            // left does not connect to the snapshot, and only the install's segment makes sense of it.
            #expect(oldSegments.compactMap(FileName.parseSegment)[1].firstIndex > 4)
            for name in try segmentNames(live) + snapshotNames(live) { try copyFile(name, from: live, to: crashed) }
            for name in oldSegments.prefix(releasedBeforeCrash) { try FileIO.remove(crashed + "/" + name) }

            try withLog(crashed, segmentBytes: 200) { log, state in
                #expect(state == RecoveredState(snapshot: snapshot, hardState: hardState))
                #expect(log.lastIndex == 3)
                #expect(try segmentNames(crashed) == segmentNames(live))
                try log.append(makeEntries(4...4, term: 2), hardState: nil, sync: true)
            }
            #expect(try recovered(crashed).entries == makeEntries(4...4, term: 2))
        }
    }

    @Test("a segment that does not continue the log is corruption unless a snapshot covers the difference")
    func segmentGaps() throws {
        try withTemporaryDirectory { root in
            func makeBase(_ name: String) throws -> String {
                let directory = root + "/" + name
                try withLog(directory) { log, _ in try log.append(makeEntries(1...3), hardState: hardState, sync: true) }
                return directory
            }
            let next = [WALRecord.entry(makeEntries(10...10)[0]), .entry(makeEntries(11...11)[0])]

            // Entries after a segment that starts beyond the log's end, with nothing to cover 4...9.
            let ahead = try makeBase("ahead")
            let aheadPath = try writeSegment(ahead, SegmentHeader(sequence: 1, firstIndex: 10), next)
            var error = openError(ahead)
            #expect(error?.kind == .corruption)
            #expect(error?.file == aheadPath)
            #expect(error?.offset == (try recordOffsets(aheadPath))[1])

            // The same with a snapshot at 9: the gap is covered, and the old segment is released.
            let covered = try makeBase("covered")
            try writeSegment(covered, SegmentHeader(sequence: 1, firstIndex: 10), next)
            var snapshotBytes: [UInt8] = []
            WALRecord.snapshot(Snapshot(index: 9, term: 1, data: [])).encode(into: &snapshotBytes)
            let snapshotPath = covered + "/" + FileName.snapshot(term: 1, index: 9)
            FileIO.close(try FileIO.open(snapshotPath, O_WRONLY | O_CREAT))
            try writeBytes(snapshotPath, snapshotBytes)
            let state = try recovered(covered)
            #expect(state.snapshot?.index == 9)
            #expect(state.entries == makeEntries(10...11))
            #expect(try segmentNames(covered) == [FileName.segment(SegmentHeader(sequence: 1, firstIndex: 10))])

            // Entries after a segment that starts inside the log, with no snapshot at its first index - 1.
            let inside = try makeBase("inside")
            let insidePath = try writeSegment(
                inside, SegmentHeader(sequence: 1, firstIndex: 3), [.entry(makeEntries(3...3, term: 2)[0])])
            error = openError(inside)
            #expect(error?.kind == .corruption)
            #expect(error?.file == insidePath)
            #expect(error?.offset == (try recordOffsets(insidePath))[1])

            // A segment that does not continue the log, followed by another segment.
            let middle = try makeBase("middle")
            let middlePath = try writeSegment(middle, SegmentHeader(sequence: 1, firstIndex: 10), [])
            try writeSegment(middle, SegmentHeader(sequence: 2, firstIndex: 10), next)
            error = openError(middle)
            #expect(error?.kind == .corruption)
            #expect(error?.file == middlePath)
            #expect(error?.offset == 0)

            // A gap between entries within a segment.
            let within = try makeBase("within")
            let withinPath = within + "/" + (try segmentNames(within))[0]
            var bytes = try readBytes(withinPath)
            let gapOffset = bytes.count
            WALRecord.entry(makeEntries(5...5)[0]).encode(into: &bytes)
            try writeBytes(withinPath, bytes)
            error = openError(within)
            #expect(error?.kind == .corruption)
            #expect(error?.file == withinPath)
            #expect(error?.offset == gapOffset)
        }
    }
}
