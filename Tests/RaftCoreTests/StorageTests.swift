import RaftCore
import Testing

@Suite("MemoryRaftStorage")
struct StorageTests {
    static func storage(entries: ClosedRange<UInt64>) -> MemoryRaftStorage {
        var s = MemoryRaftStorage(RecoveredState(snapshot: membership([1, 2, 3])))
        s.append(entries.map { Entry(term: $0 < 3 ? 1 : 2, index: $0) })
        return s
    }

    @Test func appendReplacesConflictingSuffix() throws {
        var s = Self.storage(entries: 1...5)
        s.append([Entry(term: 3, index: 4), Entry(term: 3, index: 5), Entry(term: 3, index: 6)])
        #expect(s.lastIndex() == 6)
        #expect(try s.entries(1, 7).map(\.term) == [1, 1, 2, 3, 3, 3])
    }

    @Test func readsOutsideTheLogThrowTypedErrors() throws {
        var s = Self.storage(entries: 1...5)
        #expect(throws: RaftError.unavailable) { try s.entries(4, 8) }
        #expect(throws: RaftError.unavailable) { try s.term(at: 6) }
        try s.createSnapshot(index: 3, confState: ConfState(voters: [1, 2, 3]), data: [1])
        try s.compact(upTo: 3)
        #expect(throws: RaftError.compacted) { try s.entries(3, 4) }
        #expect(throws: RaftError.compacted) { try s.term(at: 2) }
        #expect(try s.term(at: 3) == 2)
        #expect(s.firstIndex() == 4)
        #expect(throws: RaftError.snapshotOutOfDate) {
            try s.createSnapshot(index: 2, confState: ConfState(voters: [1]), data: [])
        }
        #expect(throws: RaftError.unavailable) { try s.compact(upTo: 5) }
    }

    @Test func recoveredStateSkipsEntriesCoveredBySnapshot() throws {
        var s = Self.storage(entries: 1...6)
        s.setHardState(HardState(term: 2, vote: 1, commit: 6))
        try s.createSnapshot(index: 4, confState: ConfState(voters: [1, 2, 3]), data: [4])
        try s.compact(upTo: 2)
        let state = try s.recoveredState()
        #expect(state.entries.map(\.index) == [5, 6])
        #expect(state.snapshot.metadata.index == 4)
        let node = try RawNode(config: RaftConfig(id: 1), storage: s)
        #expect(node.status().lastIndex == 6)
        #expect(node.status().hardState == HardState(term: 2, vote: 1, commit: 6))
    }

    @Test func applyingASnapshotReplacesTheLog() throws {
        var s = Self.storage(entries: 1...3)
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 10, term: 4, confState: ConfState(voters: [1])), data: [])
        try s.applySnapshot(snapshot)
        #expect(s.firstIndex() == 11 && s.lastIndex() == 10)
        #expect(try s.term(at: 10) == 4)
        #expect(throws: RaftError.snapshotOutOfDate) { try s.applySnapshot(snapshot) }
    }
}
