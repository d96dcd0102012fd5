/// How the leader currently replicates to one follower (etcd's tracker.StateType).
public enum ProgressState: UInt8, Hashable, Sendable {
    /// Unknown match: send one append at a time and wait for the answer (backtracking, §5.3).
    case probe
    /// Known match: stream appends optimistically, bounded by the inflight window.
    case replicate
    /// A snapshot is on its way; wait for `reportSnapshot` or the follower's response.
    case snapshot
}

/// Sliding window of unacknowledged appends to one follower, identified by their last index. Bounding it
/// bounds the memory a slow follower can pin in the transport.
struct Inflights: Hashable, Sendable {
    let capacity: Int
    private(set) var indices: [UInt64] = []

    init(capacity: Int) { self.capacity = capacity }

    var isFull: Bool { indices.count >= capacity }

    mutating func add(_ index: UInt64) { indices.append(index) }

    /// The follower acknowledged everything up to `index`.
    mutating func free(upTo index: UInt64) {
        let n = indices.prefix(while: { $0 <= index }).count
        indices.removeFirst(n)
    }

    mutating func reset() { indices.removeAll(keepingCapacity: true) }
}

/// The leader's knowledge of one member (Figure 2 `nextIndex[]`/`matchIndex[]`, plus flow control).
public struct Progress: Hashable, Sendable {
    /// Highest index known to be replicated on the member.
    public internal(set) var match: UInt64
    /// Next index to send.
    public internal(set) var next: UInt64
    public internal(set) var state: ProgressState = .probe
    /// In snapshot state: the index of the snapshot being sent.
    public internal(set) var pendingSnapshot: UInt64 = 0
    /// Heard from since the last check-quorum round (also gates snapshot sends to dead members).
    public internal(set) var recentActive: Bool
    public internal(set) var isLearner: Bool
    /// Probe state: an append is outstanding. Replicate state: the inflight window is full. Either way wait
    /// for an acknowledgement or the next heartbeat response, which clears it so that a window of appends
    /// that were all lost gets retried (the retry is rejected and sends us back to probing).
    var flowPaused = false
    var inflights: Inflights

    init(next: UInt64, maxInflight: Int, isLearner: Bool, recentActive: Bool = false) {
        match = 0
        self.next = next
        self.isLearner = isLearner
        self.recentActive = recentActive
        inflights = Inflights(capacity: maxInflight)
    }

    var isPaused: Bool {
        switch state {
        case .probe, .replicate: flowPaused
        case .snapshot: true
        }
    }

    private mutating func reset(to newState: ProgressState) {
        state = newState
        flowPaused = false
        pendingSnapshot = 0
        inflights.reset()
    }

    mutating func becomeProbe() {
        // After a snapshot the member has at least the snapshot's entries.
        if state == .snapshot {
            let snapshotIndex = pendingSnapshot
            reset(to: .probe)
            next = max(match + 1, snapshotIndex + 1)
        } else {
            reset(to: .probe)
            next = match + 1
        }
    }

    mutating func becomeReplicate() {
        reset(to: .replicate)
        next = match + 1
    }

    mutating func becomeSnapshot(_ index: UInt64) {
        reset(to: .snapshot)
        pendingSnapshot = index
    }

    /// A successful append response for `index`. Returns whether `match` advanced; stale responses do not.
    mutating func maybeUpdate(_ index: UInt64) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            flowPaused = false
        }
        next = max(next, index + 1)
        return updated
    }

    /// An append was sent ending at `last`: in replicate state assume it will succeed (pipelining).
    mutating func sentEntries(last: UInt64) {
        switch state {
        case .replicate:
            next = last + 1
            inflights.add(last)
            flowPaused = inflights.isFull
        case .probe:
            flowPaused = true
        case .snapshot:
            break
        }
    }

    /// A rejected append for `rejected`; `hint` is the follower's best guess of where logs may match.
    /// Returns false for stale rejections (which must not move `next` backwards twice).
    mutating func maybeDecrement(rejected: UInt64, hint: UInt64) -> Bool {
        if state == .replicate {
            // Rejections below match are stale: match is confirmed.
            guard rejected > match else { return false }
            next = match + 1
            return true
        }
        // In probe state only the answer to the outstanding probe (sent at next - 1) counts.
        guard next - 1 == rejected else { return false }
        next = max(min(rejected, hint + 1), match + 1)
        flowPaused = false
        return true
    }
}

/// Membership plus per-member progress and the votes of the current election.
struct ProgressTracker: Sendable {
    private(set) var voters: [NodeID] = []
    private(set) var learners: [NodeID] = []
    var progress: [NodeID: Progress] = [:]
    private(set) var votes: [NodeID: Bool] = [:]
    let maxInflight: Int

    init(confState: ConfState, maxInflight: Int, next: UInt64) {
        self.maxInflight = maxInflight
        apply(confState, next: next)
    }

    var confState: ConfState { ConfState(voters: voters, learners: learners) }

    /// Every member in a fixed order (voters then learners, each sorted): keeps message order deterministic.
    var members: [NodeID] { voters + learners }

    var quorum: Int { voters.count / 2 + 1 }

    func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }

    mutating func apply(_ conf: ConfState, next: UInt64) {
        voters = conf.voters
        learners = conf.learners
        var updated: [NodeID: Progress] = [:]
        for id in members {
            var pr = progress[id] ?? Progress(next: next, maxInflight: maxInflight, isLearner: false, recentActive: true)
            pr.isLearner = learners.contains(id)
            updated[id] = pr
        }
        progress = updated
    }

    /// The highest index replicated on a majority of voters (§5.3, "a log entry is committed once the leader
    /// that created the entry has replicated it on a majority"). Nil without voters.
    func committedIndex() -> UInt64? {
        guard !voters.isEmpty else { return nil }
        let matches = voters.map { progress[$0]?.match ?? 0 }.sorted(by: >)
        return matches[quorum - 1]
    }

    enum VoteResult { case pending, won, lost }

    mutating func resetVotes() { votes = [:] }

    /// Records the first vote of `id` in this election (duplicates are ignored) and tallies.
    mutating func recordVote(_ id: NodeID, granted: Bool) -> VoteResult {
        if votes[id] == nil, isVoter(id) { votes[id] = granted }
        let granted = voters.filter { votes[$0] == true }.count
        let rejected = voters.filter { votes[$0] == false }.count
        if granted >= quorum { return .won }
        if rejected > voters.count - quorum { return .lost }
        return .pending
    }

    /// Check-quorum (thesis §6.2): has a majority of voters been heard from since the last round? `selfID`
    /// always counts as active. Resets the activity flags for the next round.
    mutating func quorumActive(selfID: NodeID) -> Bool {
        let active = voters.filter { $0 == selfID || progress[$0]?.recentActive == true }.count
        for id in members where id != selfID { progress[id]?.recentActive = false }
        return active >= quorum
    }

    /// Leader (re)initialisation: nothing known about anyone (Figure 2, "Volatile state on leaders").
    mutating func resetProgress(next: UInt64) {
        for id in members {
            progress[id] = Progress(
                next: next, maxInflight: maxInflight, isLearner: learners.contains(id), recentActive: false)
        }
    }
}
