import RaftCore
import Testing

@Suite("Snapshots (§7), membership (thesis §4.1), leadership transfer (thesis §3.10)")
struct SnapshotAndMembershipTests {
    static func settle(_ cluster: inout Cluster, rounds: Int = 5) {
        for _ in 0..<rounds {
            cluster.tickAll()
            cluster.stabilize()
        }
    }

    // Reference: §7 — "the leader must occasionally send snapshots to followers that lag behind".
    @Test(arguments: [0, 2] as [UInt64])
    func laggingFollowerIsCaughtUpWithASnapshot(keep: UInt64) {
        var cluster = ReplicationTests.elected(.init(snapshotEvery: 5, keepAfterSnapshot: keep))
        cluster.crash(3)
        for i in 0..<20 { cluster.propose(1, [UInt8(i)]) }
        cluster.stabilize()
        Self.settle(&cluster)
        #expect(cluster[1].storage.compactedIndex > 0, "leader compacted its log")
        cluster.restart(3)
        Self.settle(&cluster)
        #expect(cluster[3].storage.snapshot().metadata.index > 0, "follower installed a snapshot")
        #expect(cluster[3].appliedIndex == cluster[1].appliedIndex)
        #expect(cluster[3].stateHash == cluster[1].stateHash)
        #expect(cluster.checker.violation == nil)
    }

    @Test func snapshotSendFailureFallsBackToProbing() {
        var cluster = ReplicationTests.elected(.init(snapshotEvery: 3, keepAfterSnapshot: 0))
        cluster.crash(3)
        for i in 0..<10 { cluster.propose(1, [UInt8(i)]) }
        cluster.stabilize()
        cluster.restart(3)
        cluster.isolate(3)  // snapshot sends fail and are reported as such
        Self.settle(&cluster)
        #expect(cluster[1].node!.status().progress[3]?.state != .snapshot)
        cluster.heal()
        Self.settle(&cluster)
        #expect(cluster[3].appliedIndex == cluster[1].appliedIndex)
    }

    @Test func addedMemberCatchesUpAndVotes() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3], spares: [4]))
        for i in 0..<3 { cluster.propose(1, [UInt8(i)]) }
        #expect(cluster.proposeConfChange(1, ConfChange(kind: .addNode, nodeID: 4)) == nil)
        cluster.stabilize()
        Self.settle(&cluster)
        for id in cluster.ids { #expect(cluster[id].confState.voters == [1, 2, 3, 4], "node \(id)") }
        #expect(cluster[4].appliedData == [[0], [1], [2]])
        // With 4 voters the quorum is 3: two members down stop commitment.
        cluster.crash(3)
        cluster.crash(4)
        cluster.propose(1, [9])
        Self.settle(&cluster)
        #expect(!cluster[1].appliedData.contains([9]))
    }

    @Test func removedMemberNoLongerCountsTowardsQuorum() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3]))
        cluster.proposeConfChange(1, ConfChange(kind: .removeNode, nodeID: 3))
        Self.settle(&cluster)
        #expect(cluster[1].confState.voters == [1, 2])
        cluster.crash(3)
        cluster.propose(1, [5])
        Self.settle(&cluster)
        #expect(cluster[2].appliedData == [[5]])
    }

    @Test func removedLeaderHandsOverToACaughtUpVoter() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3]))
        cluster.proposeConfChange(1, ConfChange(kind: .removeNode, nodeID: 1))
        // Until the followers apply the removal they cannot campaign, so the hand-over may need retries
        // (one per election timeout).
        Self.settle(&cluster, rounds: 25)
        #expect(cluster[1].softState.role == .follower)
        #expect(cluster.leader == 2)
        for id: NodeID in [2, 3] { #expect(cluster[id].confState.voters == [2, 3]) }
        #expect(cluster.propose(2, [1]) == nil)
        Self.settle(&cluster)
        #expect(cluster[3].appliedData == [[1]])
    }

    @Test func onlyOneConfChangeMayBePending() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3], spares: [4, 5]))
        #expect(cluster.proposeConfChange(1, ConfChange(kind: .addNode, nodeID: 4)) == nil)
        #expect(cluster.proposeConfChange(1, ConfChange(kind: .addNode, nodeID: 5)) == .confChangePending)
        Self.settle(&cluster)
        #expect(cluster.proposeConfChange(1, ConfChange(kind: .addNode, nodeID: 5)) == nil)
    }

    @Test func learnersReplicateButNeverCampaign() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3], spares: [4]))
        cluster.proposeConfChange(1, ConfChange(kind: .addLearner, nodeID: 4))
        cluster.propose(1, [1])
        Self.settle(&cluster)
        #expect(cluster[4].appliedData == [[1]])
        #expect(cluster[1].confState.learners == [4])
        cluster.isolate(4)
        cluster.tick(4, times: 100)
        #expect(cluster[4].softState.role == .follower)
    }

    // Thesis §3.10: the leader brings the target up to date, then sends `timeoutNow`.
    @Test(arguments: [false, true])
    func leadershipTransfer(targetLags: Bool) {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3], checkQuorum: true))
        if targetLags {
            cluster.isolate(3)
            cluster.propose(1, [1])
            cluster.stabilize()
            cluster.heal()
        }
        cluster.transferLeadership(from: 1, to: 3)
        if targetLags {
            // While the transfer is in progress the old leader refuses proposals.
            #expect(cluster.propose(1, [2]) == .proposalDropped)
        }
        cluster.stabilize()
        #expect(cluster.leader == 3)
        #expect(cluster[1].softState.role == .follower)
    }

    @Test func transferToUnreachableMemberIsAbortedAfterAnElectionTimeout() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3]))
        cluster.crash(3)
        cluster.transferLeadership(from: 1, to: 3)
        #expect(cluster[1].node!.status().leadTransferee == 3)
        cluster.tick(1, times: 10)
        #expect(cluster[1].node!.status().leadTransferee == nil)
        #expect(cluster.propose(1, [1]) == nil)
    }

    // Thesis §6.4: a read index is the leader's commit index, confirmed by a heartbeat round.
    @Test(arguments: [1, 2] as [NodeID])
    func readIndexReturnsCommitIndex(at id: NodeID) {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3]))
        cluster.propose(1, [1])
        cluster.stabilize()
        cluster.readIndex(id, context: [7, 7])
        cluster.stabilize()
        #expect(cluster[id].readStates == [ReadState(index: 3, context: [7, 7])])
    }

    @Test func readIndexWaitsForQuorumConfirmation() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3]))
        cluster.isolate(1)
        cluster.readIndex(1, context: [1])
        cluster.stabilize()
        #expect(cluster[1].readStates.isEmpty, "a partitioned leader must not answer reads")
    }

    @Test func readIndexBeforeFirstCommitOfTermIsDeferred() throws {
        var node = try RawNode(config: RaftConfig(id: 1, preVote: false), recovered: .bootstrap(voters: [1, 2, 3]))
        node.campaign()
        try node.step(Message(kind: .voteResponse, from: 2, to: 1, term: 2))
        drain(&node)
        try node.readIndex(context: [9])
        #expect(drain(&node).flatMap(\.messages).allSatisfy { $0.kind != .heartbeat })
        try node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 2, index: 2))
        let heartbeats = drain(&node).flatMap(\.messages).filter { $0.kind == .heartbeat }
        #expect(heartbeats.map(\.context) == [[9], [9]])
        try node.step(Message(kind: .heartbeatResponse, from: 2, to: 1, term: 2, context: [9]))
        #expect(drain(&node).flatMap(\.readStates) == [ReadState(index: 2, context: [9])])
    }
}
