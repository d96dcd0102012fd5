// Leader behaviour: log replication with flow control (§5.3), commitment (§5.3, §5.4.2), heartbeats and
// check-quorum (§5.2, thesis §6.2), snapshots to lagging followers (§7), leadership transfer (thesis §3.10).

extension Raft {
    /// Stamps `entries` with our term and consecutive indices and appends them to our own log.
    mutating func appendEntries(_ entries: [Entry]) {
        var next = log.lastIndex + 1
        let stamped = entries.map { entry -> Entry in
            var e = entry
            e.term = term
            e.index = next
            next += 1
            return e
        }
        log.append(stamped)
        // Not counted towards the quorum yet: the shell may send the appends for these entries before it has
        // written them to our own disk (thesis §10.2.1), so followers' acknowledgements can arrive first. Our
        // own copy counts once `advance` reports it durable (`entriesStable`), like a follower's acknowledgement;
        // counting it now could commit an entry held durably by a minority only. Appending alone therefore
        // never advances the commit index, not even in a cluster of one.
    }

    /// The shell made our entries up to `index` durable (`RawNode.advance`). On a leader this is our own
    /// acknowledgement, handled like a follower's: if it completes a quorum, followers learn the new commit
    /// index; otherwise entries held back by `canSendUnstableEntries` may go now.
    mutating func entriesStable(to index: UInt64, term: UInt64) {
        let before = log.stableIndex
        log.stable(to: index, term: term)
        guard role == .leader, log.stableIndex > before else { return }
        _ = tracker.progress[id]?.maybeUpdate(log.stableIndex)
        if maybeCommit() {
            broadcastAppend()
        } else if !canSendUnstableEntries {
            for peer in tracker.members where peer != id { _ = maybeSendAppend(to: peer, sendIfEmpty: false) }
        }
    }

    /// Whether appends may carry entries our own disk does not hold yet (thesis §10.2.1). Followers may then
    /// keep entries we lose in a crash, and a member whose log is longer than ours refuses us its vote. Raft
    /// copes as long as such a member can campaign itself. With membership applied on commit it may not: a
    /// member that learned from us that its removal committed stops campaigning, and if we crash before our
    /// own hard state records that commit, our restarted self still counts the member's vote and never gets
    /// it — no leader is ever elected. So while a membership change in our log (`pendingConfIndex`, which
    /// after an election covers the whole inherited log) is not committed in our durable hard state, we send
    /// only durable entries, as without early sending. (The opposite gap cannot occur: the append carrying
    /// an entry we may lose also carries our commit index, which covers whatever we could recover.)
    var canSendUnstableEntries: Bool { durableCommit >= pendingConfIndex }

    /// Advances the commit index to the highest index on a majority — but only by counting replicas of an
    /// entry from the current term (§5.4.2, Figure 8): older entries are committed indirectly.
    mutating func maybeCommit() -> Bool {
        guard let index = tracker.committedIndex(), index > log.committed, log.term(at: index) == term else {
            return false
        }
        log.commit(to: index)
        releasePendingReadIndexMessages()
        return true
    }

    var committedEntryInCurrentTerm: Bool { log.term(at: log.committed) == term }

    mutating func tickHeartbeat() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTicks {
            electionElapsed = 0
            if config.checkQuorum && !tracker.quorumActive(selfID: id) {
                // Thesis §6.2: a leader cut off from a majority steps down instead of accepting writes it
                // can never commit (and serving reads that may be stale).
                becomeFollower(term: term, leader: nil)
                return
            }
            // A transfer that did not finish within an election timeout is abandoned — unless we are no
            // longer a voter, in which case we keep trying (see `applyConfChange`).
            leadTransferee = nil
            if !tracker.isVoter(id) { handOverToSuccessor() }
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat(context: readOnly.lastContext)
        }
    }

    mutating func broadcastAppend() {
        for peer in tracker.members where peer != id { sendAppend(to: peer) }
    }

    mutating func broadcastHeartbeat(context: [UInt8]?) {
        for peer in tracker.members where peer != id {
            // Never tell a follower to commit beyond what it is known to have.
            let commit = min(tracker.progress[peer]?.match ?? 0, log.committed)
            send(Message(kind: .heartbeat, to: peer, commit: commit, context: context ?? []))
        }
    }

    mutating func sendAppend(to peer: NodeID) { _ = maybeSendAppend(to: peer, sendIfEmpty: true) }

    /// Sends the next batch of entries (or a snapshot) to `peer` unless its progress is paused. Returns
    /// whether a message was sent, so callers can keep filling the inflight window.
    mutating func maybeSendAppend(to peer: NodeID, sendIfEmpty: Bool) -> Bool {
        guard var pr = tracker.progress[peer], !pr.isPaused else { return false }
        defer { tracker.progress[peer] = pr }
        let prevIndex = pr.next - 1
        let last = canSendUnstableEntries ? log.lastIndex : log.stableIndex
        guard let prevTerm = log.term(at: prevIndex),
            let entries = log.entries(from: pr.next, through: last, maxSize: config.maxSizePerMessage)
        else {
            // The entries the follower needs are compacted: ship the snapshot instead (§7). Only to members
            // that answered recently, so a dead member does not make us serialize snapshots forever.
            guard pr.recentActive, !log.snapshot.isEmpty else { return false }
            send(Message(kind: .snapshot, to: peer, snapshot: log.snapshot))
            pr.becomeSnapshot(log.snapshot.metadata.index)
            return true
        }
        if entries.isEmpty && !sendIfEmpty { return false }
        send(
            Message(
                kind: .append, to: peer, logTerm: prevTerm, index: prevIndex, entries: entries,
                commit: log.committed))
        if let last = entries.last?.index { pr.sentEntries(last: last) }
        return true
    }

    mutating func stepLeader(_ m: Message) throws(RaftError) {
        switch m.kind {
        case .propose:
            try handleProposal(m)
            return
        case .readIndex:
            handleReadIndexRequest(m)
            return
        case .transferLeader:
            handleTransferLeader(to: m.from)
            return
        default:
            break
        }
        guard tracker.progress[m.from] != nil else { return }
        tracker.progress[m.from]?.recentActive = true
        switch m.kind {
        case .appendResponse:
            handleAppendResponse(m)
        case .heartbeatResponse:
            // The follower is alive: unblock a paused probe and retry if it is behind.
            tracker.progress[m.from]?.flowPaused = false
            if let pr = tracker.progress[m.from], pr.match < log.lastIndex || pr.state == .probe {
                sendAppend(to: m.from)
            }
            if !m.context.isEmpty { handleReadIndexAck(from: m.from, context: m.context) }
        default:
            break
        }
    }

    private mutating func handleProposal(_ m: Message) throws(RaftError) {
        guard !m.entries.isEmpty else { throw .proposalDropped }
        // Removed from the configuration, or handing over leadership: refuse rather than append entries
        // that the next leader might truncate.
        guard tracker.progress[id] != nil, leadTransferee == nil else { throw .proposalDropped }
        var entries = m.entries
        for i in entries.indices where entries[i].kind == .confChange {
            if pendingConfIndex > log.applied {
                // Single-step changes must take effect one at a time (thesis §4.1). A local proposal gets a
                // clear error; a forwarded batch keeps its other entries, the change becomes a no-op entry.
                if m.from == id && entries.count == 1 { throw .confChangePending }
                entries[i] = Entry(term: 0, index: 0)
            } else {
                pendingConfIndex = log.lastIndex + UInt64(i) + 1
            }
        }
        appendEntries(entries)
        broadcastAppend()
    }

    private mutating func handleAppendResponse(_ m: Message) {
        guard var pr = tracker.progress[m.from] else { return }
        if m.reject {
            // Fast backtracking: jump to the follower's hint, or past the whole conflicting term.
            var probe = m.rejectHint
            if m.logTerm > 0 { probe = log.findConflictByTerm(index: m.rejectHint, term: m.logTerm).index }
            if pr.maybeDecrement(rejected: m.index, hint: probe) {
                if pr.state == .replicate { pr.becomeProbe() }
                tracker.progress[m.from] = pr
                sendAppend(to: m.from)
            }
            return
        }
        let wasPaused = pr.isPaused
        guard pr.maybeUpdate(m.index) else { return }
        switch pr.state {
        case .probe:
            pr.becomeReplicate()
        case .snapshot where pr.match + 1 >= log.firstIndex:
            // Caught up through the snapshot: the log can take it from here.
            pr.becomeProbe()
            pr.becomeReplicate()
        case .replicate:
            pr.inflights.free(upTo: m.index)
        case .snapshot:
            break
        }
        tracker.progress[m.from] = pr
        if maybeCommit() {
            broadcastAppend()
        } else if wasPaused {
            sendAppend(to: m.from)
        }
        // Fill the window: in replicate state several appends may be outstanding.
        while maybeSendAppend(to: m.from, sendIfEmpty: false) {}
        if m.from == leadTransferee, tracker.progress[m.from]?.match == log.lastIndex {
            send(Message(kind: .timeoutNow, to: m.from))
        }
    }

    /// Thesis §3.10: stop accepting proposals, bring the target up to date, then tell it to campaign.
    mutating func handleTransferLeader(to transferee: NodeID) {
        guard let pr = tracker.progress[transferee], !pr.isLearner else { return }
        if let current = leadTransferee {
            if current == transferee { return }
            leadTransferee = nil
        }
        guard transferee != id else { return }
        // The transfer must finish within one election timeout (checked in tickHeartbeat).
        electionElapsed = 0
        leadTransferee = transferee
        if pr.match == log.lastIndex {
            send(Message(kind: .timeoutNow, to: transferee))
        } else {
            sendAppend(to: transferee)
        }
    }

    /// The shell could not deliver to `peer`: stop streaming optimistically and probe again.
    mutating func reportUnreachable(_ peer: NodeID) {
        guard role == .leader, tracker.progress[peer]?.state == .replicate else { return }
        tracker.progress[peer]?.becomeProbe()
    }

    /// The transport finished (or failed) sending a snapshot to `peer`.
    mutating func reportSnapshot(_ peer: NodeID, success: Bool) {
        guard role == .leader, var pr = tracker.progress[peer], pr.state == .snapshot else { return }
        if !success { pr.pendingSnapshot = 0 }
        pr.becomeProbe()
        // Wait for the next heartbeat response before probing, rather than flooding a struggling peer.
        pr.flowPaused = true
        tracker.progress[peer] = pr
    }
}
