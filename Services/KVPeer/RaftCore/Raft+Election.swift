// Terms, roles and leader election (Raft paper §5.2, §5.4.1; pre-vote from thesis §9.6).

extension Raft {
    enum CampaignKind {
        /// Pre-vote round at `term + 1`; nobody changes term until it is won.
        case preElection
        case election
        /// Election caused by `timeoutNow`: voters ignore their leader lease.
        case transfer
    }

    /// Clears per-term volatile state. Called on every role change that may change the term.
    mutating func reset(term newTerm: UInt64) {
        if term != newTerm {
            term = newTerm
            vote = nil
        }
        lead = nil
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        leadTransferee = nil
        tracker.resetVotes()
        tracker.resetProgress(next: log.lastIndex + 1)
        // A leader's own log is replicated on itself as far as it is durable; the rest counts once `advance`
        // reports it stable (`entriesStable`).
        tracker.progress[id]?.match = log.stableIndex
        tracker.progress[id]?.recentActive = true
        pendingConfIndex = 0
        readOnly = ReadOnlyQueue()
        pendingReadIndexMessages = []
    }

    /// §5.2: "election timeouts are chosen randomly from a fixed interval" — here
    /// `[electionTicks, 2 * electionTicks)`, drawn from the node's seeded generator.
    mutating func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout = config.electionTicks + Int(rng.next() % UInt64(config.electionTicks))
    }

    mutating func becomeFollower(term: UInt64, leader: NodeID?) {
        reset(term: term)
        lead = leader
        role = .follower
    }

    mutating func becomePreCandidate() {
        precondition(role != .leader, "leader cannot become pre-candidate")
        // Neither term nor vote change: a pre-candidate that loses leaves no trace (thesis §9.6).
        role = .preCandidate
        lead = nil
        tracker.resetVotes()
    }

    mutating func becomeCandidate() {
        precondition(role != .leader, "leader cannot become candidate")
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    mutating func becomeLeader() {
        precondition(role != .follower, "follower cannot become leader without an election")
        reset(term: term)
        lead = id
        role = .leader
        tracker.progress[id]?.becomeReplicate()
        // Conf changes in the uncommitted tail may be pending; refuse new ones until ours commits.
        pendingConfIndex = log.lastIndex
        // §5.4.2 / §8: a leader only knows what is committed once an entry of its own term is. Appending an
        // empty entry right away gets there without waiting for a client proposal.
        appendEntries([Entry(term: term, index: 0)])
    }

    /// The shell made `hardState` durable (`RawNode.advance`). Votes from other voters only arrive after our
    /// term and vote are durable (vote requests wait for them), so only a single voter, whose own vote decides
    /// its election, waits here to lead. A leader may now send entries it held back for a membership change
    /// (`canSendUnstableEntries`).
    mutating func hardStateStable(_ hardState: HardState) {
        let couldSend = canSendUnstableEntries
        durableCommit = max(durableCommit, hardState.commit)
        if role == .candidate, hardState.term == term, hardState.vote == id,
            tracker.recordVote(id, granted: true) == .won
        {
            becomeLeader()
            broadcastAppend()
        } else if role == .leader, !couldSend, canSendUnstableEntries {
            for peer in tracker.members where peer != id { _ = maybeSendAppend(to: peer, sendIfEmpty: false) }
        }
    }

    /// A conf change between applied and committed: campaigning now could use a stale configuration.
    var hasUnappliedConfChanges: Bool {
        guard log.committed > log.applied,
            let pending = log.slice(log.applied + 1, log.committed + 1)
        else { return false }
        return pending.contains { $0.kind == .confChange }
    }

    /// Election timeout elapsed (or `RawNode.campaign()`/`timeoutNow`): start an election if allowed.
    mutating func hup(transfer: Bool) {
        guard role != .leader, isPromotable, !hasUnappliedConfChanges else { return }
        if transfer {
            campaign(.transfer)
        } else {
            campaign(config.preVote ? .preElection : .election)
        }
    }

    mutating func campaign(_ kind: CampaignKind) {
        let voteTerm: UInt64
        let requestKind: MessageKind
        if kind == .preElection {
            becomePreCandidate()
            voteTerm = term + 1
            requestKind = .preVote
        } else {
            becomeCandidate()
            voteTerm = term
            requestKind = .vote
        }
        // Our own vote is recorded in `vote` (persisted with the next Ready) before any request leaves.
        if tracker.recordVote(id, granted: true) == .won {
            // Single-voter cluster: nothing to wait for in a pre-vote, which changes nothing durable. A real
            // election is won once our new term and vote are durable (`hardStateStable`), because a leader's
            // appends may leave before its writes complete: leading a term that a crash could erase would let
            // us lead it a second time after restarting and give two different entries one index and term.
            if kind == .preElection { campaign(.election) }
            return
        }
        for voter in tracker.voters where voter != id {
            send(
                Message(
                    kind: requestKind, to: voter, term: voteTerm, logTerm: log.lastTerm, index: log.lastIndex,
                    isLeadershipTransfer: kind == .transfer))
        }
    }

    /// RequestVote receiver (§5.2, §5.4.1). At most one vote per term: `vote` is persisted before the
    /// response leaves (the response goes out through the same `Ready`).
    mutating func handleVoteRequest(_ m: Message) {
        let responseKind: MessageKind = m.kind == .vote ? .voteResponse : .preVoteResponse
        let canVote =
            vote == m.from
            // Not voted and no leader known in this term.
            || (vote == nil && lead == nil)
            // A pre-vote for a future term does not bind us to anything.
            || (m.kind == .preVote && m.term > term)
        if canVote && log.isUpToDate(lastIndex: m.index, term: m.logTerm) {
            // Reply in the requested term: for pre-votes it is the future term the candidate will use.
            send(Message(kind: responseKind, to: m.from, term: m.term))
            if m.kind == .vote {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            send(Message(kind: responseKind, to: m.from, term: term, reject: true))
        }
    }
}
