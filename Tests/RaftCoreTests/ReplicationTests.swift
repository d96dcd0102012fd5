import RaftCore
import Testing

@Suite("Log replication and commitment (§5.3, §5.4.2)")
struct ReplicationTests {
    static func elected(_ options: Cluster.Options = .init()) -> Cluster {
        var cluster = Cluster(options)
        cluster.campaign(1)
        cluster.stabilize()
        return cluster
    }

    // Reference: §5.3 — the leader appends the command, replicates it, and applies it once committed; every
    // member applies the same entries in the same order.
    @Test(arguments: [1, 3, 5])
    func proposalsCommitEverywhereInOrder(size: Int) {
        var cluster = Self.elected(.init(voters: Array(1...NodeID(size))))
        for i in 0..<10 { #expect(cluster.propose(1, [UInt8(i)]) == nil) }
        cluster.stabilize()
        cluster.tickAll()  // heartbeat carries the final commit index
        cluster.stabilize()
        for id in cluster.ids {
            #expect(cluster[id].appliedData == (0..<10).map { [UInt8($0)] }, "node \(id)")
        }
    }

    @Test func followersForwardProposalsToTheLeader() {
        var cluster = Self.elected()
        #expect(cluster.propose(3, [42]) == nil)
        #expect(cluster.queue.contains { $0.kind == .propose && $0.from == 3 && $0.to == 1 })
        cluster.stabilize()
        #expect(cluster[1].appliedData == [[42]])
    }

    @Test func proposalsWithoutLeaderAreDropped() {
        var cluster = Cluster()
        #expect(cluster.propose(1, [1]) == .proposalDropped)
    }

    // Reference: §5.4.2, Figure 8 — "Raft never commits log entries from previous terms by counting replicas".
    @Test func leaderOnlyCommitsEntriesOfItsOwnTermByCounting() throws {
        let state = RecoveredState(
            hardState: HardState(term: 2), snapshot: membership([1, 2, 3]),
            entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)])
        var node = try RawNode(config: RaftConfig(id: 1, preVote: false), recovered: state)
        node.campaign()
        try node.step(Message(kind: .voteResponse, from: 2, to: 1, term: 3))
        #expect(role(node) == .leader)
        drain(&node)
        // A majority (1 and 2) now holds index 2 from term 2: not enough.
        try node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 2))
        #expect(node.status().hardState.commit == 0)
        // Index 3 is the leader's empty entry of term 3: committing it commits everything before it.
        try node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 3))
        #expect(node.status().hardState.commit == 3)
    }

    // Reference: §5.3 — a follower's conflicting entries are overwritten by the leader's, and the logs match.
    @Test func conflictingFollowerLogIsOverwritten() {
        var cluster = Self.elected(.init(voters: [1, 2, 3], preVote: false))
        cluster.propose(1, [1])
        cluster.stabilize()
        // Old leader appends entries nobody else receives.
        cluster.isolate(1)
        for i in 0..<5 { cluster.propose(1, [100 + UInt8(i)]) }
        cluster.campaign(2)
        cluster.stabilize()
        #expect(cluster[2].softState.role == .leader)
        for i in 0..<3 { cluster.propose(2, [200 + UInt8(i)]) }
        cluster.stabilize()
        cluster.heal()
        for _ in 0..<3 {
            cluster.tickAll()
            cluster.stabilize()
        }
        #expect(cluster[1].storage.storedEntries == cluster[2].storage.storedEntries)
        #expect(cluster[1].appliedData == [[1], [200], [201], [202]])
        #expect(cluster.checker.violation == nil)
    }

    // Fast backtracking: one rejection skips the follower's whole conflicting term.
    @Test func rejectionHintSkipsConflictingTerm() throws {
        let bootstrap = membership([1, 2])
        let follower = RecoveredState(
            hardState: HardState(term: 3), snapshot: bootstrap,
            entries: [Entry(term: 1, index: 1)] + (2...8).map { Entry(term: 2, index: $0) })
        var node = try RawNode(config: RaftConfig(id: 2), recovered: follower)
        // The leader (term 4) probes at index 9 with log term 3.
        try node.step(Message(kind: .append, from: 1, to: 2, term: 4, logTerm: 3, index: 9))
        let reject = try #require(drain(&node).flatMap(\.messages).first { $0.kind == .appendResponse })
        #expect(reject.reject)
        // Our last entry (8, term 2) is the last that could match a log whose entry 9 has term 3.
        #expect(reject.rejectHint == 8 && reject.logTerm == 2)
    }

    // Flow control: in replicate state at most `maxInflight` appends are outstanding per follower.
    @Test(arguments: [1, 2, 4])
    func inflightWindowBoundsOutstandingAppends(maxInflight: Int) {
        var cluster = Self.elected(.init(voters: [1, 2], maxSizePerMessage: 1, maxInflight: maxInflight))
        for i in 0..<10 { cluster.propose(1, [UInt8(i)]) }
        let appends = cluster.queue.filter { $0.kind == .append && !$0.entries.isEmpty }
        #expect(appends.count == maxInflight)
        cluster.stabilize()
        #expect(cluster[2].node!.status().lastIndex == 12)
    }

    // Persist-before-send: the vote and the entries a message depends on are in the same Ready.
    @Test func readyCarriesStateToPersistWithTheMessagesThatDependOnIt() throws {
        var node = try RawNode(config: RaftConfig(id: 2, preVote: false), recovered: .bootstrap(voters: [1, 2, 3]))
        try node.step(Message(kind: .vote, from: 1, to: 2, term: 2, logTerm: 1, index: 1))
        let rd = node.ready()
        #expect(rd.hardState == HardState(term: 2, vote: 1, commit: 1))
        #expect(rd.mustSync)
        #expect(rd.messages.map(\.kind) == [.voteResponse])
        node.advance(rd)
        try node.step(
            Message(
                kind: .append, from: 1, to: 2, term: 2, logTerm: 1, index: 1, entries: [Entry(term: 2, index: 2, data: [7])],
                commit: 1))
        let rd2 = node.ready()
        #expect(rd2.entries.map(\.data) == [[7]])
        #expect(rd2.mustSync)
        #expect(rd2.messages.first?.kind == .appendResponse && rd2.messages.first?.index == 2)
        node.advance(rd2)
        #expect(!node.hasReady)
    }

    @Test func restartReappliesCommittedEntriesFromStorage() {
        var cluster = Self.elected()
        for i in 0..<5 { cluster.propose(1, [UInt8(i)]) }
        cluster.stabilize()
        cluster.tickAll()
        cluster.stabilize()
        cluster.crash(2)
        cluster.restart(2)
        #expect(cluster[2].appliedData == (0..<5).map { [UInt8($0)] })
        #expect(cluster[2].node!.status().hardState.term == 2)
    }
}
