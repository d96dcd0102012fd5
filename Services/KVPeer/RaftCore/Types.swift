/// Identifies a member of the cluster. Zero is reserved: the wire format uses it for "nobody".
public typealias NodeID = UInt64

/// One slot of the replicated log (Raft paper §5.3). `index` and `term` together identify an entry
/// uniquely across the cluster (the Log Matching Property), which is what the simulation checks.
public struct Entry: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        /// Application data, or empty: a new leader appends an empty entry to commit its term (§5.4.2, §8).
        case normal = 0
        /// `data` is an encoded `ConfChange`; the shell applies it with `RawNode.applyConfChange(_:)`.
        case confChange = 1
    }

    public var term: UInt64
    public var index: UInt64
    public var kind: Kind
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: Kind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Rough payload size used for flow control (`RaftConfig.maxSizePerMessage`).
    var approximateSize: Int { data.count + 24 }
}

/// The state that must be on stable storage before any message of the same `Ready` is sent (§5.1, Figure 2
/// "Persistent state on all servers"). `commit` is persisted too so a restart does not have to relearn it.
public struct HardState: Hashable, Sendable {
    public var term: UInt64
    public var vote: NodeID?
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID? = nil, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    public var isEmpty: Bool { term == 0 && vote == nil && commit == 0 }
}

public enum RaftRole: UInt8, Hashable, Sendable, CustomStringConvertible {
    case follower, preCandidate, candidate, leader

    public var description: String {
        switch self {
        case .follower: "follower"
        case .preCandidate: "pre-candidate"
        case .candidate: "candidate"
        case .leader: "leader"
        }
    }
}

/// Volatile state the shell may want to observe (who leads, our role). Never persisted.
public struct SoftState: Hashable, Sendable {
    public var leader: NodeID?
    public var role: RaftRole

    public init(leader: NodeID?, role: RaftRole) {
        self.leader = leader
        self.role = role
    }
}

/// The cluster membership at some log position. Kept sorted so iteration (and therefore message order) is
/// deterministic; Swift's `Set`/`Dictionary` order is seeded per process and would break seed replay.
public struct ConfState: Hashable, Sendable {
    public var voters: [NodeID]
    public var learners: [NodeID]

    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners).subtracting(voters)).sorted()
    }
}

/// A single-step membership change (Raft thesis §4.1): one server added or removed per committed entry, which
/// keeps every pair of majorities of the old and new configuration overlapping without joint consensus.
public struct ConfChange: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        case addNode = 0
        case removeNode = 1
        /// Non-voting member that receives the log (catch up before promotion with `addNode`).
        case addLearner = 2
    }

    public var kind: Kind
    public var nodeID: NodeID
    /// Opaque to Raft; kv-peer puts the member's peer URLs here.
    public var context: [UInt8]

    public init(kind: Kind, nodeID: NodeID, context: [UInt8] = []) {
        self.kind = kind
        self.nodeID = nodeID
        self.context = context
    }
}

public struct SnapshotMetadata: Hashable, Sendable {
    public var index: UInt64
    public var term: UInt64
    public var confState: ConfState

    public init(index: UInt64 = 0, term: UInt64 = 0, confState: ConfState = ConfState()) {
        self.index = index
        self.term = term
        self.confState = confState
    }
}

/// A compacted prefix of the log (§7): the application state up to `metadata.index` plus the membership at
/// that point. An index of zero means "no snapshot"; it may still carry the bootstrap `ConfState`.
public struct Snapshot: Hashable, Sendable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata = SnapshotMetadata(), data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }

    public var isEmpty: Bool { metadata.index == 0 }
}

/// The answer to `RawNode.readIndex(context:)`: once the application has applied up to `index`, a read
/// tagged with `context` is linearizable (thesis §6.4).
public struct ReadState: Hashable, Sendable {
    public var index: UInt64
    public var context: [UInt8]

    public init(index: UInt64, context: [UInt8]) {
        self.index = index
        self.context = context
    }
}

/// Every way the core refuses an input. Storage errors are shared with `RaftStorage` so the shell can tell
/// "ask again later" (`unavailable`) from "too old, send/load a snapshot" (`compacted`).
public enum RaftError: Error, Hashable, Sendable {
    /// No leader is known, we are transferring leadership, or we are not part of the configuration.
    case proposalDropped
    /// A configuration change is already pending; single-step changes must be applied one at a time.
    case confChangePending
    /// The requested index precedes the first available entry.
    case compacted
    /// The requested index is beyond the last available entry.
    case unavailable
    /// The snapshot is older than what storage already has.
    case snapshotOutOfDate
    /// A response from a node that is not in the configuration.
    case peerNotFound
    /// `RaftConfig` failed validation; the string names the offending field.
    case invalidConfig(String)
    /// Bytes that do not decode as a message, entry or snapshot.
    case malformedEncoding(String)
}
