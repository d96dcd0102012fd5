// Single-server membership changes (Raft thesis §4.1). A change takes effect when the shell applies the
// committed entry; the leader allows only one unapplied change at a time (`pendingConfIndex`), so any two
// consecutive configurations differ by one server and their majorities always overlap.

extension Raft {
    mutating func applyConfChange(_ change: ConfChange) -> ConfState {
        var voters = tracker.voters
        var learners = tracker.learners
        let node = change.nodeID
        switch change.kind {
        case .addNode:
            learners.removeAll { $0 == node }
            if !voters.contains(node) { voters.append(node) }
        case .addLearner:
            voters.removeAll { $0 == node }
            if !learners.contains(node) { learners.append(node) }
        case .removeNode:
            voters.removeAll { $0 == node }
            learners.removeAll { $0 == node }
        }
        let conf = ConfState(voters: voters, learners: learners)
        tracker.apply(conf, next: log.lastIndex + 1)
        guard role == .leader else { return tracker.confState }

        if !tracker.isVoter(id) {
            // We removed (or demoted) ourselves. Simply stepping down can deadlock: followers may not know
            // the removal is committed (so they still need our vote) while lacking entries we have (so we
            // refuse it). Instead keep leading without counting ourselves, refuse proposals, and hand over
            // to a caught-up voter, which then needs nothing from us but a vote we will grant.
            handOverToSuccessor()
            return tracker.confState
        }
        // A smaller quorum may commit entries right away; new members need their first append.
        if maybeCommit() {
            broadcastAppend()
        } else {
            for peer in tracker.members where peer != id { _ = maybeSendAppend(to: peer, sendIfEmpty: false) }
        }
        if let transferee = leadTransferee, !tracker.isVoter(transferee) { leadTransferee = nil }
        return tracker.confState
    }

    /// Transfers leadership to the most up-to-date voter (lowest id on ties, for determinism).
    mutating func handOverToSuccessor() {
        let successor = tracker.voters.filter { $0 != id }
            .max { (tracker.progress[$0]?.match ?? 0, $1) < (tracker.progress[$1]?.match ?? 0, $0) }
        if let successor { handleTransferLeader(to: successor) }
    }
}
