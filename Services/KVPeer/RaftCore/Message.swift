/// What a `Message` asks of its recipient. One flat struct with a kind (as in etcd's raftpb) keeps the wire
/// format and the simulation harness simple; fields a kind does not use stay zero/empty.
public enum MessageKind: UInt8, Hashable, Sendable, CaseIterable {
    /// A follower forwarding client proposals to the leader (`entries`). Term 0: not part of any election.
    case propose = 1
    /// AppendEntries RPC (§5.3): `index`/`logTerm` name the entry preceding `entries`; `commit` is the
    /// leader's commit index.
    case append
    /// `index` is the follower's last matching index; on `reject`, `rejectHint`/`logTerm` let the leader
    /// skip a whole term of conflicting entries at once (§5.3, "the leader can decrement nextIndex ... faster").
    case appendResponse
    /// RequestVote RPC (§5.2); `index`/`logTerm` describe the candidate's last entry (§5.4.1).
    case vote
    case voteResponse
    /// Pre-vote (thesis §9.6): asks "would you vote for me at `term`?" without anybody changing term, so a
    /// node rejoining after a partition cannot disrupt a healthy leader.
    case preVote
    case preVoteResponse
    /// InstallSnapshot RPC (§7), sent when the follower needs entries the leader has compacted.
    case snapshot
    /// Empty AppendEntries (§5.2) carrying `min(match, commit)` and a read-index `context`.
    case heartbeat
    case heartbeatResponse
    /// Asks the leader to hand leadership to `from` (thesis §3.10); followers forward it.
    case transferLeader
    /// Tells the transfer target to start an election immediately, bypassing pre-vote and leases.
    case timeoutNow
    /// A follower forwarding a linearizable-read request (thesis §6.4) to the leader.
    case readIndex
    /// The leader's answer: read at `index` once applied; `context` echoes the request.
    case readIndexResponse
}

public struct Message: Hashable, Sendable {
    public var kind: MessageKind
    public var from: NodeID
    public var to: NodeID
    public var term: UInt64
    public var logTerm: UInt64
    public var index: UInt64
    public var entries: [Entry]
    public var commit: UInt64
    public var snapshot: Snapshot?
    public var reject: Bool
    public var rejectHint: UInt64
    /// Set on `vote` messages caused by `timeoutNow`: voters must ignore their leader lease (thesis §3.10).
    public var isLeadershipTransfer: Bool
    /// Read-index request identifier (opaque to Raft).
    public var context: [UInt8]

    public init(
        kind: MessageKind, from: NodeID = 0, to: NodeID = 0, term: UInt64 = 0, logTerm: UInt64 = 0,
        index: UInt64 = 0, entries: [Entry] = [], commit: UInt64 = 0, snapshot: Snapshot? = nil,
        reject: Bool = false, rejectHint: UInt64 = 0, isLeadershipTransfer: Bool = false, context: [UInt8] = []
    ) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.snapshot = snapshot
        self.reject = reject
        self.rejectHint = rejectHint
        self.isLeadershipTransfer = isLeadershipTransfer
        self.context = context
    }

    /// Whether the shell may send this message before the hard state and entries of the same `Ready` are
    /// durable (`Ready` step 2). True where nothing the message promises depends on that write:
    ///
    /// - `append`, `heartbeat`, `snapshot`, `timeoutNow`: sent by a leader, whose term and vote were durable
    ///   before it could win (vote requests wait for them; a single voter waits for them in `advance`). The
    ///   entries an `append` carries need not be on the leader's disk: the leader counts its own copy towards
    ///   a quorum only once `advance` reports it durable, so the `commit` these messages carry is always
    ///   durable on a majority. If the leader crashes before its write, followers may hold entries it lost,
    ///   which Raft allows: it never leads that term again, and a later leader keeps or overwrites them (for
    ///   liveness the leader holds such entries back while a membership change is not durably committed,
    ///   `Raft.canSendUnstableEntries`). A `snapshot` is the application's state at an applied index, written
    ///   before the shell handed it to the node; a `timeoutNow` goes only to a member that holds everything
    ///   the leader has.
    /// - `propose`, `readIndex`, `transferLeader`: requests forwarded to the leader, carrying no term of their
    ///   own and promising nothing.
    /// - `readIndexResponse`: a commit index confirmed by a quorum of heartbeats; commits only count durable
    ///   copies, so whatever happens to the leader's pending write, the index stays committed.
    ///
    /// False for `vote` and `preVote` (the candidate's new term and own vote must be durable first, or after a
    /// crash it could campaign again in the same term and vote differently), and for every response —
    /// `voteResponse` and `preVoteResponse` promise a vote, `appendResponse` acknowledges entries as durable,
    /// `heartbeatResponse` confirms a term we must not forget — so they wait for step 1.
    public var mayLeaveBeforePersist: Bool {
        switch kind {
        case .append, .heartbeat, .snapshot, .timeoutNow, .propose, .readIndex, .readIndexResponse, .transferLeader:
            true
        case .vote, .preVote, .voteResponse, .preVoteResponse, .appendResponse, .heartbeatResponse:
            false
        }
    }

    /// Responses from unknown peers are ignored (`RaftError.peerNotFound`), requests are not: a new member
    /// must be able to receive appends before it learns about its own membership.
    public var isResponse: Bool {
        switch kind {
        case .appendResponse, .voteResponse, .preVoteResponse, .heartbeatResponse, .readIndexResponse: true
        default: false
        }
    }
}

/// Tunables of one Raft member. Time is counted in ticks: the shell decides how long a tick is.
public struct RaftConfig: Hashable, Sendable {
    public var id: NodeID
    /// A follower that hears nothing from a leader for a random number of ticks in
    /// `[electionTicks, 2 * electionTicks)` starts an election (§5.2, randomized timeouts).
    public var electionTicks: Int
    /// Leader heartbeat period; must be well below `electionTicks` (§5.6 timing requirement).
    public var heartbeatTicks: Int
    /// Upper bound on the payload bytes of entries in one `append` message (at least one entry is sent).
    public var maxSizePerMessage: Int
    /// Maximum `append` messages in flight to one follower in replicate state (flow control).
    public var maxInflight: Int
    /// Pre-vote phase before real elections (thesis §9.6).
    public var preVote: Bool
    /// A leader that has not heard from a quorum within an election timeout steps down (thesis §6.2), and
    /// followers that heard from a leader recently refuse votes (leader lease).
    public var checkQuorum: Bool
    /// Seed for the randomized election timeout; distinct per node in production, fixed in tests.
    public var seed: UInt64

    public init(
        id: NodeID, electionTicks: Int = 10, heartbeatTicks: Int = 1, maxSizePerMessage: Int = 1 << 20,
        maxInflight: Int = 256, preVote: Bool = true, checkQuorum: Bool = true, seed: UInt64 = 0
    ) {
        self.id = id
        self.electionTicks = electionTicks
        self.heartbeatTicks = heartbeatTicks
        self.maxSizePerMessage = maxSizePerMessage
        self.maxInflight = maxInflight
        self.preVote = preVote
        self.checkQuorum = checkQuorum
        self.seed = seed
    }

    func validate() throws(RaftError) {
        if id == 0 { throw .invalidConfig("id must not be 0") }
        if heartbeatTicks <= 0 { throw .invalidConfig("heartbeatTicks must be positive") }
        if electionTicks <= heartbeatTicks { throw .invalidConfig("electionTicks must exceed heartbeatTicks") }
        if maxInflight <= 0 { throw .invalidConfig("maxInflight must be positive") }
        if maxSizePerMessage <= 0 { throw .invalidConfig("maxSizePerMessage must be positive") }
    }
}
