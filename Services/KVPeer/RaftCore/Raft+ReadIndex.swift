// Linearizable reads without writing to the log (thesis §6.4, "ReadIndex"): the leader records its commit
// index, confirms with a round of heartbeats that it is still leader, and then the read may be served once
// the application has applied up to that index.

/// Outstanding read requests in arrival order, each waiting for heartbeat acknowledgements from a quorum.
struct ReadOnlyQueue: Sendable {
    struct Request: Sendable {
        var index: UInt64
        var message: Message
        var acks: Set<NodeID>
    }

    private(set) var requests: [Request] = []

    /// The newest request's context; heartbeats carry it so that one round confirms every request.
    var lastContext: [UInt8]? { requests.last?.message.context }

    mutating func add(index: UInt64, message: Message) {
        guard !requests.contains(where: { $0.message.context == message.context }) else { return }
        requests.append(Request(index: index, message: message, acks: []))
    }

    mutating func acknowledge(from id: NodeID, context: [UInt8]) -> Set<NodeID>? {
        guard let i = requests.firstIndex(where: { $0.message.context == context }) else { return nil }
        requests[i].acks.insert(id)
        return requests[i].acks
    }

    /// A quorum acknowledged `context`: it and every older request are confirmed (heartbeats are ordered
    /// after the older requests were registered).
    mutating func release(through context: [UInt8]) -> [Request] {
        guard let i = requests.firstIndex(where: { $0.message.context == context }) else { return [] }
        let released = Array(requests[...i])
        requests.removeFirst(i + 1)
        return released
    }
}

extension Raft {
    mutating func handleReadIndexRequest(_ m: Message) {
        // Step 1 of §6.4: until an entry of our term is committed we do not know the latest commit index. This
        // holds for a single voter too: appends and heartbeats may tell learners a commit index before our own
        // hard state records it, so after a crash in that window our recovered commit index can be behind what
        // a learner has applied. Our first entry of the new term commits only once durable, and with it
        // everything anyone saw committed before.
        guard committedEntryInCurrentTerm else {
            pendingReadIndexMessages.append(m)
            return
        }
        if tracker.voters == [id] {
            // Alone in the cluster, and the commit index is current: no heartbeat round needed.
            respondToReadIndex(m, index: log.committed)
            return
        }
        readOnly.add(index: log.committed, message: m)
        _ = readOnly.acknowledge(from: id, context: m.context)
        broadcastHeartbeat(context: m.context)
    }

    mutating func handleReadIndexAck(from peer: NodeID, context: [UInt8]) {
        guard let acks = readOnly.acknowledge(from: peer, context: context),
            acks.filter({ tracker.isVoter($0) }).count >= tracker.quorum
        else { return }
        for request in readOnly.release(through: context) {
            respondToReadIndex(request.message, index: request.index)
        }
    }

    mutating func respondToReadIndex(_ request: Message, index: UInt64) {
        if request.from == id || request.from == 0 {
            readStates.append(ReadState(index: index, context: request.context))
        } else {
            send(Message(kind: .readIndexResponse, to: request.from, index: index, context: request.context))
        }
    }

    /// Called when commitment advances: requests parked until our first commit can proceed now.
    mutating func releasePendingReadIndexMessages() {
        guard !pendingReadIndexMessages.isEmpty, committedEntryInCurrentTerm else { return }
        let pending = pendingReadIndexMessages
        pendingReadIndexMessages = []
        for m in pending { handleReadIndexRequest(m) }
    }
}
