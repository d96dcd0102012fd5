import RaftCore
import Testing

/// Thesis §10.2.1: "the leader can write to its disk in parallel with replicating to followers". Appends leave
/// before the leader's own write (`Message.mayLeaveBeforePersist`); the leader counts its copy towards a
/// quorum only once `advance` reports it durable, so an entry commits only when durable on a majority.
@Suite("Early sending: the leader writes in parallel with replication (thesis §10.2.1)")
struct EarlySendTests {
    /// A three-member cluster led by 1 whose disk holds its writes until the test completes them.
    static func slowLeader() -> Cluster {
        var cluster = ReplicationTests.elected()
        cluster.holdWrites = [1]
        return cluster
    }

    static func commit(_ cluster: Cluster, _ id: NodeID) -> UInt64 { cluster[id].node!.status().hardState.commit }

    /// Delivers the first queued message matching `predicate`, which must exist.
    static func deliver(
        _ cluster: inout Cluster, _ predicate: (Message) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let delivered = cluster.deliverFirst(where: predicate)
        #expect(delivered, "no such message queued", sourceLocation: sourceLocation)
    }

    static func isAppend(of index: UInt64, to peer: NodeID) -> (Message) -> Bool {
        { $0.kind == .append && $0.to == peer && $0.entries.contains { $0.index == index } }
    }

    static func isAck(of index: UInt64, from peer: NodeID) -> (Message) -> Bool {
        { $0.kind == .appendResponse && $0.from == peer && !$0.reject && $0.index >= index }
    }

    @Test func messageKindsThatMayLeaveBeforePersist() {
        let early: Set<MessageKind> = [
            .append, .heartbeat, .snapshot, .timeoutNow, .propose, .readIndex, .readIndexResponse, .transferLeader,
        ]
        for kind in MessageKind.allCases {
            #expect(Message(kind: kind).mayLeaveBeforePersist == early.contains(kind), "\(kind)")
        }
    }

    enum ThirdCopy: String, CaseIterable, Sendable {
        case leaderFinishesItsWrite
        case secondFollowerAcknowledges
    }

    // Followers acknowledge before the leader's write: the leader's copy does not count until it is durable,
    // so one follower's acknowledgement is not a majority; either the leader's write or a second follower
    // completes it.
    @Test(arguments: ThirdCopy.allCases)
    func followersAcknowledgingFirstCommitOnlyWithADurableMajority(third: ThirdCopy) {
        var cluster = Self.slowLeader()
        cluster.propose(1, [7])
        let index = cluster[1].node!.status().lastIndex
        #expect(cluster[1].storage.lastIndex() < index, "the leader's write is still in flight")
        #expect(cluster.queue.filter { $0.kind == .append && !$0.entries.isEmpty }.map(\.to).sorted() == [2, 3])

        Self.deliver(&cluster, Self.isAppend(of: index, to: 2))
        #expect(cluster[2].storage.lastIndex() == index)
        Self.deliver(&cluster, Self.isAck(of: index, from: 2))
        #expect(Self.commit(cluster, 1) < index, "follower 2 and an undurable leader copy are no majority")

        switch third {
        case .leaderFinishesItsWrite:
            cluster.completeWrite(1)
            #expect(cluster[1].storage.lastIndex() == index)
        case .secondFollowerAcknowledges:
            Self.deliver(&cluster, Self.isAppend(of: index, to: 3))
            Self.deliver(&cluster, Self.isAck(of: index, from: 3))
            #expect(cluster[1].storage.lastIndex() < index, "committed without the leader's copy")
        }
        #expect(Self.commit(cluster, 1) == index)

        cluster.holdWrites = []
        cluster.completeAllWrites(1)
        cluster.stabilize()
        cluster.tickAll()
        cluster.stabilize()
        for id in cluster.ids { #expect(cluster[id].appliedData == [[7]], "node \(id)") }
        #expect(cluster.checker.violation == nil)
    }

    // The leader crashes after its appends left but before its own write: the entry is committed if both
    // followers hold it — a durable majority without the leader — and survives into the next term; with one
    // follower's copy it is not committed, and the next leader may overwrite it.
    @Test(arguments: [true, false])
    func leaderCrashBeforeItsWrite(bothFollowersHaveTheEntry: Bool) {
        var cluster = Self.slowLeader()
        cluster.propose(1, [7])
        let index = cluster[1].node!.status().lastIndex
        Self.deliver(&cluster, Self.isAppend(of: index, to: 2))
        Self.deliver(&cluster, Self.isAck(of: index, from: 2))
        if bothFollowersHaveTheEntry {
            Self.deliver(&cluster, Self.isAppend(of: index, to: 3))
            Self.deliver(&cluster, Self.isAck(of: index, from: 3))
            #expect(Self.commit(cluster, 1) == index)
        } else {
            cluster.drop(where: Self.isAppend(of: index, to: 3))
            #expect(Self.commit(cluster, 1) < index)
        }
        cluster.crash(1)
        #expect(cluster[1].storage.lastIndex() < index, "the crash lost the leader's write")

        cluster.holdWrites = []
        cluster.restart(1)
        cluster.queue.removeAll()
        if bothFollowersHaveTheEntry {
            // Any new leader holds the entry: 1 lacks it, so only 2 or 3 can win.
            cluster.campaign(3)
            cluster.stabilize()
            #expect(cluster.leader == 3)
        } else {
            // Only 2 holds it: 3 may win with 1's vote and overwrite it.
            cluster.isolate(2)
            cluster.campaign(3)
            cluster.stabilize()
            #expect(cluster.leader == 3)
            cluster.propose(3, [8])
            cluster.stabilize()
            cluster.heal()
        }
        SnapshotAndMembershipTests.settle(&cluster)
        let expected: [[UInt8]] = bothFollowersHaveTheEntry ? [[7]] : [[8]]
        for id in cluster.ids { #expect(cluster[id].appliedData == expected, "node \(id)") }
        #expect(cluster.checker.violation == nil)
    }

    // While a membership change is not committed in the leader's durable hard state, appends carry only
    // entries the leader holds durably: a member must never keep entries the leader could lose without
    // knowing the membership the leader would restart with (`Raft.canSendUnstableEntries`).
    @Test func membershipChangeHoldsBackUndurableEntries() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2, 3], spares: [4]))
        cluster.holdWrites = [1]
        #expect(cluster.proposeConfChange(1, ConfChange(kind: .addNode, nodeID: 4)) == nil)
        let index = cluster[1].node!.status().lastIndex
        #expect(!cluster.queue.contains { $0.kind == .append && $0.entries.contains { $0.index == index } })
        cluster.completeWrite(1)
        #expect(cluster.queue.filter { $0.kind == .append && $0.entries.contains { $0.index == index } }.count == 2)
        cluster.holdWrites = []
        SnapshotAndMembershipTests.settle(&cluster)
        for id in cluster.ids { #expect(cluster[id].confState.voters == [1, 2, 3, 4], "node \(id)") }
    }

    // Member 2 learns that its removal committed before the leader's hard state records the commit. Had the
    // leader then sent 2 an entry it goes on to lose in a crash, its restarted self — still counting 2 as a
    // voter — would need the vote of a member with a longer log that no longer campaigns: no leader, ever.
    // Held back, the entry never reaches 2, and 2 votes for the restarted leader.
    @Test func removedMemberCannotBlockTheRestartedLeader() {
        var cluster = ReplicationTests.elected(.init(voters: [1, 2]))
        cluster.holdWrites = [1]
        cluster.proposeConfChange(1, ConfChange(kind: .removeNode, nodeID: 2))
        let removal = cluster[1].node!.status().lastIndex
        cluster.completeWrite(1)
        Self.deliver(&cluster, Self.isAppend(of: removal, to: 2))
        Self.deliver(&cluster, Self.isAck(of: removal, from: 2))
        #expect(Self.commit(cluster, 1) == removal)
        #expect(cluster[1].storage.hardState.commit < removal, "the commit is not durable on the leader yet")
        Self.deliver(&cluster) { $0.kind == .append && $0.to == 2 && $0.commit >= removal }
        #expect(cluster[2].confState.voters == [1], "member 2 applied its removal")

        cluster.propose(1, [7])
        let entry = cluster[1].node!.status().lastIndex
        let sentEarly = cluster.deliverFirst(where: Self.isAppend(of: entry, to: 2))
        #expect(!sentEarly, "held back until durable")
        cluster.crash(1)
        cluster.holdWrites = []
        cluster.restart(1)
        #expect(cluster[1].confState.voters == [1, 2], "the restarted leader does not know the removal committed")
        cluster.queue.removeAll()
        cluster.campaign(1)
        cluster.stabilize()
        #expect(cluster.leader == 1)
        SnapshotAndMembershipTests.settle(&cluster)
        #expect(cluster[1].confState.voters == [1])
        #expect(cluster.propose(1, [8]) == nil)
        SnapshotAndMembershipTests.settle(&cluster)
        #expect(cluster[1].appliedData == [[8]])
    }

    // A cluster of one has nobody to wait for but its own disk: it becomes leader once its new term and vote
    // are durable, and commits an entry once the entry is — the committed entries come in the next `Ready`.
    @Test func singleVoterWaitsForItsOwnDisk() throws {
        var node = try RawNode(config: RaftConfig(id: 1), recovered: .bootstrap(voters: [1]))
        node.campaign()
        #expect(role(node) == .candidate)
        let vote = node.ready()
        #expect(vote.hardState == HardState(term: 2, vote: 1, commit: 1))
        node.advance(vote)
        #expect(role(node) == .leader)
        let append = node.ready()
        #expect(append.entries.map(\.index) == [2])
        #expect(append.committedEntries.isEmpty)
        node.advance(append)
        #expect(node.hasReady)
        let commit = node.ready()
        #expect(commit.hardState?.commit == 2)
        #expect(commit.committedEntries.map(\.index) == [2])
        node.advance(commit)
        #expect(!node.hasReady)

        try node.propose([9])
        let proposal = node.ready()
        #expect(proposal.entries.map(\.data) == [[9]] && proposal.committedEntries.isEmpty)
        node.advance(proposal)
        #expect(node.ready().committedEntries.map(\.data) == [[9]])
    }

    // Appends and heartbeats may tell a learner a commit index before a single voter's own hard state records
    // it; restarted after a crash in between, the voter answers reads only once an entry of its new term
    // commits, never from its older recovered commit index.
    @Test func singleVoterReadIndexWaitsForAnEntryOfItsTerm() throws {
        let recovered = RecoveredState(
            hardState: HardState(term: 2, vote: 1, commit: 1), snapshot: RecoveredState.bootstrap(voters: [1]).snapshot,
            entries: [Entry(term: 2, index: 2, data: [5])])
        var node = try RawNode(config: RaftConfig(id: 1), recovered: recovered)
        node.campaign()
        let vote = node.ready()
        node.advance(vote)
        #expect(role(node) == .leader)
        // Entry 2 may have been applied elsewhere; our commit index (1) does not know it yet.
        try node.readIndex(context: [1])
        #expect(drain(&node).flatMap(\.readStates) == [ReadState(index: 3, context: [1])])
    }

    // A shell that pipelines its writes takes the next `Ready` before advancing the previous one; nothing is
    // handed out twice, and the leader counts its entries only as each write is reported.
    @Test func pipelinedReadiesHandEachEntryOutOnce() throws {
        let cluster = ReplicationTests.elected()
        var leader = cluster[1].node!
        try leader.propose([1])
        let first = leader.ready()
        try leader.propose([2])
        let second = leader.ready()
        #expect(first.entries.map(\.data) == [[1]])
        #expect(second.entries.map(\.data) == [[2]])
        #expect(second.messages.contains { $0.kind == .append && $0.entries.map(\.data) == [[2]] })
        // Both followers acknowledge both entries before the leader's writes complete.
        let last = second.entries[0].index
        for peer: NodeID in [2, 3] {
            try leader.step(Message(kind: .appendResponse, from: peer, to: 1, term: 2, index: last))
        }
        #expect(leader.status().hardState.commit == last, "two durable follower copies are a majority")
        leader.advance(first)
        #expect(leader.status().progress[1]?.match == last - 1)
        leader.advance(second)
        #expect(leader.status().progress[1]?.match == last)
        #expect(!leader.hasReady || leader.ready().entries.isEmpty)
    }
}
