/// One Raft log entry as the log stores it: the payload is opaque (encoded store commands).
/// Indexes are consecutive; appending an index at or below the last one replaces the suffix from there.
public struct WALEntry: Equatable, Sendable {
    public var term: UInt64
    public var index: UInt64
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, data: [UInt8]) {
        self.term = term
        self.index = index
        self.data = data
    }
}

/// Raft's persistent per-node state (etcd-io/raft `HardState`): must be durable before votes or
/// append responses are sent. All zeros means "nothing recorded yet", as in etcd.
public struct HardState: Equatable, Sendable {
    public var term: UInt64
    public var vote: UInt64
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: UInt64 = 0, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}
