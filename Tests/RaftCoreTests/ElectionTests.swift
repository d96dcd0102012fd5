import RaftCore
import SeededRandom
import Testing

/// Handles every pending `Ready` of a standalone node like a shell would (storage is not needed here) and
/// returns them for inspection.
@discardableResult
func drain(_ node: inout RawNode) -> [Ready] {
    var readies: [Ready] = []
    while node.hasReady {
        let rd = node.ready()
        readies.append(rd)
        node.advance(rd)
    }
    return readies
}

func role(_ node: RawNode) -> RaftRole { node.status().softState.role }

/// An empty log whose membership is `voters` (unlike `RecoveredState.bootstrap`, which adds snapshot #1), for
/// tests that spell out their log from index 1.
func membership(_ voters: [NodeID]) -> Snapshot {
    Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: voters)))
}

@Suite("Leader election (§5.2, §5.4.1, thesis §9.6)")
struct ElectionTests {
    struct ElectionCase: Sendable, CustomTestStringConvertible {
        var size: Int
        var down: [NodeID]
        var elected: Bool
        var testDescription: String { "\(size) nodes, down \(down) → \(elected ? "leader" : "no leader")" }
    }

    // Reference: §5.2 — "a candidate wins an election if it receives votes from a majority of the servers".
    @Test(
        arguments: [
            ElectionCase(size: 1, down: [], elected: true),
            ElectionCase(size: 3, down: [], elected: true),
            ElectionCase(size: 3, down: [3], elected: true),
            ElectionCase(size: 3, down: [2, 3], elected: false),
            ElectionCase(size: 5, down: [4, 5], elected: true),
            ElectionCase(size: 5, down: [3, 4, 5], elected: false),
        ], [true, false])
    func electionNeedsMajority(_ c: ElectionCase, preVote: Bool) {
        var cluster = Cluster(.init(voters: Array(1...NodeID(c.size)), preVote: preVote))
        for id in c.down { cluster.crash(id) }
        cluster.campaign(1)
        cluster.stabilize()
        #expect((cluster[1].softState.role == .leader) == c.elected)
        if !c.elected {
            // Losing a real election leaves a candidate; losing a pre-vote leaves a pre-candidate at the old term.
            #expect(cluster[1].softState.role == (preVote ? .preCandidate : .candidate))
            #expect(cluster[1].node!.status().hardState.term == (preVote ? 1 : 2))
        }
    }

    // Reference: §5.2 — "election timeouts are chosen randomly from a fixed interval".
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func electionTimeoutIsRandomizedWithinBounds(seed: UInt64) throws {
        var timeouts: Set<Int> = []
        for id in 1...NodeID(20) {
            let config = RaftConfig(id: id, electionTicks: 10, preVote: false, seed: seed)
            var node = try RawNode(config: config, recovered: .bootstrap(voters: [id, id + 100]))
            var ticks = 0
            while role(node) == .follower && ticks < 100 {
                node.tick()
                ticks += 1
            }
            #expect((10..<20).contains(ticks), "timeout \(ticks) outside [10, 20)")
            timeouts.insert(ticks)
        }
        #expect(timeouts.count > 1, "timeouts should differ between members")
    }

    // Reference: §5.2 — "each server will vote for at most one candidate in a given term".
    @Test func votesAtMostOncePerTerm() throws {
        var node = try RawNode(config: RaftConfig(id: 1, preVote: false), recovered: .bootstrap(voters: [1, 2, 3]))
        try node.step(Message(kind: .vote, from: 2, to: 1, term: 2, logTerm: 1, index: 1))
        try node.step(Message(kind: .vote, from: 3, to: 1, term: 2, logTerm: 1, index: 1))
        let responses = drain(&node).flatMap(\.messages).filter { $0.kind == .voteResponse }
        #expect(responses.map(\.to) == [2, 3])
        #expect(responses.map(\.reject) == [false, true])
        #expect(node.status().hardState.vote == 2)
    }

    // Reference: §5.4.1 — voters deny candidates whose log is less up-to-date than their own.
    @Test(arguments: [
        (logTerm: UInt64(1), index: UInt64(5), granted: false),  // older last term
        (logTerm: 2, index: 1, granted: false),  // same term, shorter
        (logTerm: 2, index: 2, granted: true),  // identical
        (logTerm: 2, index: 3, granted: true),  // same term, longer
        (logTerm: 3, index: 1, granted: true),  // newer last term
    ])
    func voteRequiresUpToDateLog(logTerm: UInt64, index: UInt64, granted: Bool) throws {
        let state = RecoveredState(
            hardState: HardState(term: 2), snapshot: membership([1, 2]),
            entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)])
        var node = try RawNode(config: RaftConfig(id: 1, preVote: false), recovered: state)
        try node.step(Message(kind: .vote, from: 2, to: 1, term: 3, logTerm: logTerm, index: index))
        let response = try #require(drain(&node).flatMap(\.messages).first { $0.kind == .voteResponse })
        #expect(response.reject == !granted)
    }

    // Thesis §9.6: a partitioned member running pre-votes does not inflate its term, so rejoining does not
    // depose the leader.
    @Test func preVoteKeepsPartitionedMemberFromDisruptingLeader() {
        var cluster = Cluster(.init(voters: [1, 2, 3], preVote: true))
        cluster.campaign(1)
        cluster.stabilize()
        cluster.isolate(3)
        cluster.tick(3, times: 100)
        #expect(cluster[3].node!.status().hardState.term == 2)
        cluster.heal()
        cluster.tickAll(times: 3)
        cluster.stabilize()
        #expect(cluster.leader == 1)
        #expect(cluster[1].node!.status().hardState.term == 2)
    }

    /// The counterpart: without pre-vote (and without check-quorum) the returning member forces an election.
    @Test func withoutPreVoteAPartitionedMemberDisruptsTheLeader() {
        var cluster = Cluster(.init(voters: [1, 2, 3], preVote: false))
        cluster.campaign(1)
        cluster.stabilize()
        cluster.isolate(3)
        cluster.tick(3, times: 100)
        #expect(cluster[3].node!.status().hardState.term > 2)
        cluster.heal()
        for _ in 0..<25 {
            cluster.tickAll()
            cluster.stabilize()
        }
        #expect(cluster[1].node!.status().hardState.term > 2, "old leader was deposed by the higher term")
    }

    // Thesis §6.2: a leader that cannot reach a quorum for an election timeout steps down.
    @Test func checkQuorumStepsDownPartitionedLeader() {
        var cluster = Cluster(.init(voters: [1, 2, 3], checkQuorum: true))
        cluster.campaign(1)
        cluster.stabilize()
        #expect(cluster.leader == 1)
        cluster.isolate(1)
        cluster.tick(1, times: 2 * 10 + 1)
        #expect(cluster[1].softState.role == .follower)
        // The majority side elects a new leader once its members' leases expire.
        for _ in 0..<30 {
            cluster.tick(2)
            cluster.tick(3)
            cluster.stabilize()
        }
        #expect(cluster[2].softState.role == .leader || cluster[3].softState.role == .leader)
    }

    // Leader lease: with check-quorum, a follower that recently heard from its leader ignores vote requests.
    @Test func followersInLeaseIgnoreVoteRequests() throws {
        var cluster = Cluster(.init(voters: [1, 2, 3], preVote: false, checkQuorum: true))
        cluster.campaign(1)
        cluster.stabilize()
        var follower = cluster[2].node!
        try follower.step(Message(kind: .vote, from: 3, to: 2, term: 5, logTerm: 1, index: 1))
        #expect(follower.status().hardState.term == 2)
        #expect(drain(&follower).flatMap(\.messages).isEmpty)
    }

    @Test func restartedNodeRemembersItsVote() throws {
        var cluster = Cluster(.init(voters: [1, 2, 3], preVote: false))
        cluster.campaign(1)
        // Node 2 votes for 1 in term 2; the vote is persisted before the response is sent.
        let request = try #require(cluster.queue.first { $0.to == 2 && $0.kind == .vote })
        cluster.deliver(request)
        #expect(cluster[2].storage.hardState.vote == 1)
        cluster.crash(2)
        cluster.restart(2)
        var node = cluster[2].node!
        try node.step(Message(kind: .vote, from: 3, to: 2, term: 2, logTerm: 1, index: 1))
        let response = try #require(drain(&node).flatMap(\.messages).first { $0.kind == .voteResponse })
        #expect(response.reject)
    }

    @Test func invalidConfigIsRejected() {
        #expect(throws: RaftError.invalidConfig("id must not be 0")) {
            try RawNode(config: RaftConfig(id: 0), recovered: RecoveredState())
        }
        #expect(throws: RaftError.self) {
            try RawNode(config: RaftConfig(id: 1, electionTicks: 1, heartbeatTicks: 1), recovered: RecoveredState())
        }
    }
}
