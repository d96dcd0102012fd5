// Follower side of replication: AppendEntries (§5.3), heartbeats, InstallSnapshot (§7).

extension Raft {
    mutating func handleAppend(_ m: Message) {
        if m.index < log.committed {
            // Everything up to our commit index already matches any leader's log (Leader Completeness);
            // tell the leader where we are so it skips ahead.
            send(Message(kind: .appendResponse, to: m.from, index: log.committed))
            return
        }
        if let lastNew = log.maybeAppend(index: m.index, logTerm: m.logTerm, commit: m.commit, entries: m.entries) {
            send(Message(kind: .appendResponse, to: m.from, index: lastNew))
            return
        }
        // Consistency check failed. Hint the leader at the last entry that could still match: at most our last
        // index, and below any entries of a term newer than the leader's `logTerm` (§5.3 optimization).
        let hint = log.findConflictByTerm(index: min(m.index, log.lastIndex), term: m.logTerm)
        send(
            Message(
                kind: .appendResponse, to: m.from, logTerm: hint.term, index: m.index, reject: true,
                rejectHint: hint.index))
    }

    mutating func handleHeartbeat(_ m: Message) {
        // The leader sends min(match, commit), so this never exceeds what we share with it.
        log.commit(to: m.commit)
        send(Message(kind: .heartbeatResponse, to: m.from, context: m.context))
    }

    mutating func handleSnapshot(_ m: Message) {
        guard let snapshot = m.snapshot else { return }
        if restore(snapshot) {
            send(Message(kind: .appendResponse, to: m.from, index: log.lastIndex))
        } else {
            send(Message(kind: .appendResponse, to: m.from, index: log.committed))
        }
    }

    /// Installs a leader's snapshot unless our log already covers it. Returns whether the log was replaced.
    mutating func restore(_ snapshot: Snapshot) -> Bool {
        let meta = snapshot.metadata
        guard meta.index > log.committed else { return false }
        guard role == .follower else {
            // Only a leader of our term sends snapshots, and stepping it put us in follower state; anything
            // else is a bug elsewhere, so refuse conservatively and force a new election.
            becomeFollower(term: term + 1, leader: nil)
            return false
        }
        if log.matchTerm(meta.index, meta.term) {
            // We have the snapshot's last entry, hence (Log Matching) everything before it: just commit.
            log.commit(to: meta.index)
            return false
        }
        log.restore(snapshot)
        tracker.apply(meta.confState, next: log.lastIndex + 1)
        return true
    }
}
