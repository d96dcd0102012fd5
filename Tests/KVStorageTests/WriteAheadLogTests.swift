#if canImport(Glibc)
import Glibc
#endif

import Testing

@testable import KVStorage

@Suite("WriteAheadLog")
struct WriteAheadLogTests {
    @Test("an empty directory opens empty; a missing one is created with its parents")
    func emptyDirectory() throws {
        try withTemporaryDirectory { root in
            let directory = root + "/member/wal"
            try withLog(directory) { log, state in
                #expect(state == RecoveredState())
                #expect(log.lastIndex == 0)
                #expect(log.snapshotIndex == 0)
            }
            #expect(try recovered(directory) == RecoveredState())
            #expect(try segmentNames(directory) == ["wal-0000000000000000-0000000000000001.wal"])
            #expect { _ = try WriteAheadLog.open(directory: directory, segmentBytes: 0) } throws: {
                ($0 as? StorageError)?.kind == .invalidArgument
            }
        }
    }

    @Test("entries and the hard state survive reopening, synced or not")
    func roundTrip() throws {
        try withTemporaryDirectory { directory in
            let hardState = HardState(term: 2, vote: 3, commit: 4)
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...3), hardState: HardState(term: 1, vote: 1, commit: 0), sync: true)
                try log.append(makeEntries(4...5, term: 2), hardState: hardState, sync: false)
                try log.append([WALEntry(term: 2, index: 6, data: [])], hardState: nil, sync: true)
                #expect(log.lastIndex == 6)
            }
            let state = try recovered(directory)
            #expect(state.snapshot == nil)
            #expect(state.hardState == hardState)
            let expected = makeEntries(1...3) + makeEntries(4...5, term: 2) + [WALEntry(term: 2, index: 6, data: [])]
            #expect(state.entries == expected)
            #expect(state.repairedTail == nil)
        }
    }

    @Test("a hard state alone, and an empty synced append, are accepted")
    func hardStateOnly() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.append([], hardState: HardState(term: 7, vote: 1, commit: 0), sync: false)
                try log.append([], hardState: nil, sync: true)
            }
            #expect(try recovered(directory) == RecoveredState(hardState: HardState(term: 7, vote: 1, commit: 0)))
        }
    }

    @Test("segments roll over at segmentBytes and recovery reads them all in order")
    func segmentRollover() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentBytes: 200) { log, _ in
                for index in UInt64(1)...40 {
                    let hardState = HardState(term: 1, vote: 1, commit: index)
                    try log.append(makeEntries(index...index), hardState: hardState, sync: index % 3 == 0)
                }
            }
            let names = try segmentNames(directory)
            #expect(names.count > 5)
            let headers = names.compactMap(FileName.parseSegment)
            #expect(headers.map(\.sequence) == Array(0..<UInt64(names.count)))
            #expect(headers.map(\.firstIndex) == headers.map(\.firstIndex).sorted())
            for name in names.dropLast() { #expect(try fileSize(directory + "/" + name) < 200 + 100) }
            let state = try recovered(directory, segmentBytes: 200)
            #expect(state.entries == makeEntries(1...40))
            #expect(state.hardState == HardState(term: 1, vote: 1, commit: 40))
        }
    }

    @Test("after a snapshot, recovery starts from it, replays only later entries, and covered segments are gone")
    func snapshotThenRecovery() throws {
        try withTemporaryDirectory { directory in
            let snapshot = Snapshot(index: 60, term: 1, data: Array("state at 60".utf8))
            try withLog(directory, segmentBytes: 256) { log, _ in
                for index in UInt64(1)...100 { try log.append(makeEntries(index...index), hardState: nil, sync: false) }
                try log.append([], hardState: HardState(term: 1, vote: 1, commit: 90), sync: true)
                let before = try segmentNames(directory).count
                try log.saveSnapshot(snapshot)
                #expect(log.snapshotIndex == 60)
                #expect(log.lastIndex == 100)
                let after = try segmentNames(directory).compactMap(FileName.parseSegment)
                #expect(after.count < before)
                // The oldest remaining segment holds entry 61; the one after it starts beyond.
                #expect(after[0].firstIndex <= 61)
                #expect(after[1].firstIndex > 61)
            }
            #expect(try snapshotNames(directory) == ["snap-0000000000000001-000000000000003c.snap"])
            try withLog(directory, segmentBytes: 256) { log, state in
                #expect(state.snapshot == snapshot)
                #expect(state.entries == makeEntries(61...100))
                #expect(state.hardState == HardState(term: 1, vote: 1, commit: 90))
                try log.append(makeEntries(101...101), hardState: nil, sync: true)
            }
            #expect(try recovered(directory).entries == makeEntries(61...101))
        }
    }

    @Test("only the latest two snapshots are kept, and an older snapshot is refused")
    func snapshotRetention() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...30), hardState: nil, sync: true)
                for index in [UInt64(10), 20, 30] {
                    try log.saveSnapshot(Snapshot(index: index, term: 1, data: [UInt8(index)]))
                }
                #expect(throws: StorageError.self) { try log.saveSnapshot(Snapshot(index: 30, term: 1, data: [])) }
                try log.append(makeEntries(31...31), hardState: nil, sync: true)  // still usable after a refused call
            }
            #expect(try snapshotNames(directory) == [
                "snap-0000000000000001-0000000000000014.snap", "snap-0000000000000001-000000000000001e.snap",
            ])
            let state = try recovered(directory)
            #expect(state.snapshot == Snapshot(index: 30, term: 1, data: [30]))
            #expect(state.entries == makeEntries(31...31))
        }
    }

    @Test("the hard state survives when the segment that recorded it is released")
    func hardStateOutlivesItsSegment() throws {
        try withTemporaryDirectory { directory in
            let hardState = HardState(term: 3, vote: 2, commit: 0)
            try withLog(directory, segmentBytes: 128) { log, _ in
                try log.append([], hardState: hardState, sync: true)
                for index in UInt64(1)...50 {
                    try log.append(makeEntries(index...index, term: 3), hardState: nil, sync: false)
                }
                try log.saveSnapshot(Snapshot(index: 45, term: 3, data: []))
            }
            #expect(try segmentNames(directory).first != "wal-0000000000000000-0000000000000001.wal")
            let state = try recovered(directory)
            #expect(state.hardState == hardState)
            #expect(state.entries == makeEntries(46...50, term: 3))
        }
    }

    @Test("a snapshot beyond the last index (a follower catching up) moves the log forward")
    func snapshotBeyondLog() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentBytes: 256) { log, _ in
                try log.append(makeEntries(1...5), hardState: nil, sync: true)
                try log.saveSnapshot(Snapshot(index: 100, term: 4, data: [1]))
                #expect(log.lastIndex == 100)
                #expect(throws: StorageError.self) { try log.append(makeEntries(6...6), hardState: nil, sync: true) }
                try log.append(makeEntries(101...110, term: 4), hardState: nil, sync: true)
            }
            let state = try recovered(directory, segmentBytes: 256)
            #expect(state.snapshot?.index == 100)
            #expect(state.entries == makeEntries(101...110, term: 4))
        }
    }

    @Test("an index at or below the last replaces the suffix from there; the last write wins")
    func overwrittenSuffix() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...10), hardState: nil, sync: true)
                try log.append(makeEntries(6...7, term: 2), hardState: nil, sync: true)
                #expect(log.lastIndex == 7)
            }
            #expect(try recovered(directory).entries == makeEntries(1...5) + makeEntries(6...7, term: 2))
            try withLog(directory) { log, _ in
                try log.append(makeEntries(7...8, term: 3), hardState: nil, sync: true)
                try log.append(makeEntries(1...1, term: 4), hardState: nil, sync: true)
                try log.append(makeEntries(2...2, term: 4), hardState: nil, sync: true)
            }
            #expect(try recovered(directory).entries == makeEntries(1...2, term: 4))
        }
    }

    @Test("overwriting across segment boundaries")
    func overwriteAcrossSegments() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentBytes: 150) { log, _ in
                for index in UInt64(1)...30 { try log.append(makeEntries(index...index), hardState: nil, sync: false) }
                try log.append(makeEntries(3...4, term: 2), hardState: nil, sync: true)
                for index in UInt64(5)...20 {
                    try log.append(makeEntries(index...index, term: 2), hardState: nil, sync: false)
                }
                try log.append(makeEntries(18...18, term: 3), hardState: nil, sync: true)
            }
            let expected = makeEntries(1...2) + makeEntries(3...17, term: 2) + makeEntries(18...18, term: 3)
            #expect(try recovered(directory, segmentBytes: 150).entries == expected)
            // Snapshotting in the rewritten region keeps exactly the live suffix.
            try withLog(directory, segmentBytes: 150) { log, _ in
                try log.saveSnapshot(Snapshot(index: 10, term: 2, data: []))
            }
            #expect(try recovered(directory, segmentBytes: 150).entries == Array(expected.dropFirst(10)))
        }
    }

    @Test("appends that would leave a gap, skip an index or precede the snapshot are refused and write nothing")
    func invalidAppends() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.append(makeEntries(1...3), hardState: nil, sync: true)
                for bad in [makeEntries(5...5), [makeEntries(4...4)[0], makeEntries(6...6)[0]], makeEntries(0...0)] {
                    #expect {
                        try log.append(bad, hardState: HardState(term: 9), sync: true)
                    } throws: { ($0 as? StorageError)?.kind == .invalidArgument }
                }
                #expect(log.lastIndex == 3)
            }
            #expect(try recovered(directory) == RecoveredState(entries: makeEntries(1...3)))
        }
    }

    @Test("a second open of the same directory is refused until the first is closed")
    func exclusiveLock() throws {
        try withTemporaryDirectory { directory in
            let (first, _) = try WriteAheadLog.open(directory: directory)
            #expect { _ = try WriteAheadLog.open(directory: directory) } throws: { ($0 as? StorageError)?.kind == .locked }
            first.close()
            #expect { try first.append(makeEntries(1...1), hardState: nil, sync: true) } throws: {
                ($0 as? StorageError)?.kind == .closed
            }
            #expect(try recovered(directory) == RecoveredState())
        }
    }

    @Test("leftover temporary files of the log are removed; other files are left alone")
    func leftoverTemporaryFiles() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in try log.append(makeEntries(1...2), hardState: nil, sync: true) }
            let leftovers = ["snap-0000000000000001-0000000000000063.snap.tmp", "wal-0000000000000001-0000000000000003.wal.tmp"]
            for name in leftovers + ["notes.tmp"] {
                FileIO.close(try FileIO.open(directory + "/" + name, O_WRONLY | O_CREAT))
                try writeBytes(directory + "/" + name, [1, 2, 3])
            }
            #expect(try recovered(directory).entries == makeEntries(1...2))
            #expect(try FileIO.list(directory).filter { $0.hasSuffix(".tmp") } == ["notes.tmp"])
        }
    }
}
