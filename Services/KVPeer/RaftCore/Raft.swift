import SeededRandom

/// The Raft state machine proper. Every input is a method call (`tick`, `step`), every output is data
/// appended to `messages`/`readStates` or visible through `log`, so the same inputs always produce the
/// same outputs — the property the simulation relies on for replaying a seed.
///
/// Role-specific behaviour lives in extensions: `Raft+Election.swift` (terms, votes, pre-vote),
/// `Raft+Leader.swift` (replication, commit, heartbeats, transfer), `Raft+Follower.swift` (AppendEntries,
/// snapshots), `Raft+ReadIndex.swift` and `Raft+Membership.swift`.
struct Raft: Sendable {
    let id: NodeID
    let config: RaftConfig

    // Persistent state (Figure 2); surfaces in `Ready.hardState`.
    var term: UInt64 = 0
    var vote: NodeID?
    var log: RaftLog
    /// The commit index our durable hard state records (`advance` reports it); see `canSendUnstableEntries`.
    var durableCommit: UInt64

    // Volatile state.
    var role: RaftRole = .follower
    var lead: NodeID?
    var tracker: ProgressTracker
    var messages: [Message] = []
    var readStates: [ReadState] = []

    /// Ticks since the last reset; meaning depends on role (leader: since the last check-quorum round).
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var rng: SplitMix64

    /// Index of the last conf change the leader appended; a new one waits until this is applied.
    var pendingConfIndex: UInt64 = 0
    /// Target of an ongoing leadership transfer; proposals are refused meanwhile (thesis §3.10).
    var leadTransferee: NodeID?
    var readOnly = ReadOnlyQueue()
    /// Read requests that arrived before this leader committed an entry of its term (thesis §6.4 step 1).
    var pendingReadIndexMessages: [Message] = []

    init(config: RaftConfig, recovered: RecoveredState) throws(RaftError) {
        try config.validate()
        id = config.id
        self.config = config
        // Mix in the id so members configured with the same seed still time out at different moments.
        rng = SplitMix64(seed: config.seed ^ (config.id &* 0x9E37_79B9_7F4A_7C15))
        log = RaftLog(recovered: recovered)
        durableCommit = log.committed
        tracker = ProgressTracker(
            confState: recovered.snapshot.metadata.confState, maxInflight: config.maxInflight,
            next: log.lastIndex + 1)
        term = recovered.hardState.term
        vote = recovered.hardState.vote
        becomeFollower(term: term, leader: nil)
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    var softState: SoftState { SoftState(leader: lead, role: role) }

    /// Only voters without a pending snapshot may campaign; learners and removed members never do.
    var isPromotable: Bool { tracker.isVoter(id) && log.pendingSnapshot == nil }

    /// Queues a message. Everything queued leaves through `Ready.messages`: votes and responses only after
    /// the hard state and entries of the same `Ready` are durable — the persist-before-send rule of §5.1 —
    /// the rest possibly before (`Message.mayLeaveBeforePersist`).
    mutating func send(_ message: Message) {
        var m = message
        m.from = id
        switch m.kind {
        case .vote, .preVote:
            // Pre-vote messages carry the *proposed* term, so the caller sets it explicitly.
            precondition(m.term != 0, "vote requests need an explicit term")
        case .voteResponse, .preVoteResponse:
            break  // The caller chose the term (the request's when granting, ours when rejecting).
        case .propose, .readIndex:
            // Forwarded requests are not tied to a term: the leader answers in its own.
            m.term = 0
        default:
            m.term = term
        }
        messages.append(m)
    }

    mutating func tick() {
        switch role {
        case .leader: tickHeartbeat()
        case .follower, .preCandidate, .candidate: tickElection()
        }
    }

    private mutating func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            hup(transfer: false)
        }
    }

    /// Entry point for every message from a peer (and the local requests `RawNode` turns into messages).
    /// Term handling comes first and is shared by all roles (§5.1: "if one server's current term is smaller
    /// than the other's, then it updates its current term").
    mutating func step(_ m: Message) throws(RaftError) {
        if m.term > term {
            if m.kind == .vote || m.kind == .preVote {
                // Leader lease (thesis §4.2.3 / §9.6): while we hear from a leader, ignore candidates, so a
                // member that was partitioned away cannot depose a healthy leader. Transfers are exempt.
                let inLease = config.checkQuorum && lead != nil && electionElapsed < config.electionTicks
                if inLease && !m.isLeadershipTransfer { return }
            }
            switch m.kind {
            case .preVote:
                break  // Pre-votes never change our term.
            case .preVoteResponse where !m.reject:
                break  // Granted pre-votes carry the future term; we bump it ourselves on winning.
            case .append, .heartbeat, .snapshot:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: nil)
            }
        } else if m.term != 0 && m.term < term {
            if (config.checkQuorum || config.preVote) && (m.kind == .heartbeat || m.kind == .append) {
                // A stale leader: with check-quorum or pre-vote we may never send it a higher-term vote
                // request, so tell it our term explicitly or it would stay leader of its minority forever.
                send(Message(kind: .appendResponse, to: m.from))
            } else if m.kind == .preVote {
                // Rejecting with our term lets a lagging pre-candidate catch up on terms.
                send(Message(kind: .preVoteResponse, to: m.from, term: term, reject: true))
            }
            return
        }

        switch m.kind {
        case .vote, .preVote:
            handleVoteRequest(m)
        default:
            switch role {
            case .leader: try stepLeader(m)
            case .candidate, .preCandidate: try stepCandidate(m)
            case .follower: try stepFollower(m)
            }
        }
    }

    mutating func stepCandidate(_ m: Message) throws(RaftError) {
        switch m.kind {
        case .propose, .readIndex:
            throw .proposalDropped
        case .append:
            // Another server established itself as leader of this term (§5.2).
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .snapshot:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case .preVoteResponse where role == .preCandidate, .voteResponse where role == .candidate:
            switch tracker.recordVote(m.from, granted: !m.reject) {
            case .won:
                if role == .preCandidate {
                    campaign(.election)
                } else {
                    becomeLeader()
                    broadcastAppend()
                }
            case .lost:
                // Stay at this term, wait for a leader or for the next timeout.
                becomeFollower(term: term, leader: nil)
            case .pending:
                break
            }
        default:
            break
        }
    }

    mutating func stepFollower(_ m: Message) throws(RaftError) {
        switch m.kind {
        case .propose:
            guard let lead else { throw .proposalDropped }
            var forwarded = m
            forwarded.to = lead
            send(forwarded)
        case .append:
            electionElapsed = 0
            lead = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            lead = m.from
            handleHeartbeat(m)
        case .snapshot:
            electionElapsed = 0
            lead = m.from
            handleSnapshot(m)
        case .transferLeader:
            guard let lead else { return }
            var forwarded = m
            forwarded.to = lead
            forwarded.term = 0
            messages.append(forwarded)  // Not `send`: keep `from`, it names the transferee.
        case .timeoutNow:
            // The leader chose us as its successor: campaign now, skipping pre-vote (thesis §3.10).
            hup(transfer: true)
        case .readIndex:
            guard let lead else { throw .proposalDropped }
            var forwarded = m
            forwarded.to = lead
            send(forwarded)
        case .readIndexResponse:
            readStates.append(ReadState(index: m.index, context: m.context))
        default:
            break
        }
    }
}
