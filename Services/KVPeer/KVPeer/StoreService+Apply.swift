import KVStorage
import KeysStore
import Logging
import NIOPosix
import RaftCore
import Synchronization

/// Why a membership request was refused, with etcd's status and message.
public enum MembershipError: Error, Equatable {
    case notFound(UInt64)
    case removed(UInt64)
    case peerURLExists
    case unhealthy
    case notEnoughStarted
    /// Single-step changes go one at a time; etcd answers a second one while the first is pending like this.
    case changePending

    var status: Int {
        switch self {
        case .notFound: 404
        case .removed: 410
        case .peerURLExists: 409
        // etcd answers both with a bare 500 (its WriteError for these errors).
        case .unhealthy, .notEnoughStarted, .changePending: 500
        }
    }

    var message: String {
        switch self {
        case .notFound(let id): "No such member: \(String(id, radix: 16))"
        case .removed(let id): "Member permanently removed: \(String(id, radix: 16))"
        case .peerURLExists: "membership: peerURL exists"
        case .unhealthy, .notEnoughStarted, .changePending: "Internal Server Error"
        }
    }
}

extension StoreService {
    // MARK: Applying committed entries

    func apply(_ entries: [Entry]) {
        var answers: [(UInt64, Result<Mailbox.Answer, any Error>)] = []
        var peerChanges: [(id: UInt64, urls: [String]?)] = []
        let now = clock()
        state.withLock { state in
            for entry in entries {
                switch entry.kind {
                case .normal where entry.data.isEmpty:
                    break  // A new leader's empty entry.
                case .normal:
                    do {
                        switch try ReplicatedEntry(decoding: entry.data) {
                        case .command(let id, let command):
                            let (result, deliveries) = state.store.apply(command, now: now)
                            Self.deliver(deliveries, in: &state)
                            let event = result.map { $0.first ?? StoreEvent(action: .expire, node: NodeExtern(key: "/", modifiedIndex: 0, createdIndex: 0), etcdIndex: state.store.currentIndex) }
                            answers.append((id, .success(.write(AppliedWrite(result: event, raftIndex: entry.index)))))
                        case .attributes(let id, let memberID, let name, let clientURLs):
                            if var member = state.members.members[memberID] {
                                member.name = name
                                member.clientURLs = clientURLs
                                state.members.members[memberID] = member
                            }
                            answers.append((id, .success(.done)))
                        case .peerURLs(let id, let memberID, let urls):
                            if var member = state.members.members[memberID] {
                                member.peerURLs = urls
                                state.members.members[memberID] = member
                                peerChanges.append((memberID, urls))
                                answers.append((id, .success(.member(member))))
                            } else {
                                answers.append((id, .failure(MembershipError.notFound(memberID))))
                            }
                        }
                    } catch {
                        // Every member decodes the same bytes, so skipping is consistent; it means a bug or a
                        // newer kv-peer in the cluster, worth an error line.
                        logger.error("committed entry does not decode; skipped", metadata: ["kvpeer.raft_index": "\(entry.index)", "error": "\(error)"])
                    }
                case .confChange:
                    guard let change = try? ConfChange(decoding: entry.data), let context = try? MembershipChangeContext(decoding: change.context) else {
                        logger.error("committed membership change does not decode; skipped", metadata: ["kvpeer.raft_index": "\(entry.index)"])
                        break
                    }
                    switch change.kind {
                    case .addNode, .addLearner:
                        if state.members.removed.contains(change.nodeID) {
                            answers.append((context.requestID, .failure(MembershipError.removed(change.nodeID))))
                            break
                        }
                        driver.confState = driver.node.applyConfChange(change)
                        state.members.members[change.nodeID] = context.member
                        peerChanges.append((change.nodeID, context.member.peerURLs))
                        answers.append((context.requestID, .success(.member(context.member))))
                    case .removeNode:
                        driver.confState = driver.node.applyConfChange(change)
                        state.members.members[change.nodeID] = nil
                        state.members.removed.insert(change.nodeID)
                        peerChanges.append((change.nodeID, nil))
                        if change.nodeID == memberID { driver.removed = true }
                        answers.append((context.requestID, .success(.done)))
                    }
                }
                driver.appliedTerm = entry.term
                applied.store(entry.index, ordering: .relaxed)
            }
        }
        for (id, urls) in peerChanges where id != memberID {
            if let urls { transport.addPeer(id: id, urls: urls) } else { transport.removePeer(id: id) }
        }
        for (id, result) in answers { answer(id, with: result) }
    }

    func answer(_ id: UInt64, with result: Result<Mailbox.Answer, any Error>) {
        guard let waiter = mailbox.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.continuation.resume(with: result)
    }

    // MARK: Reads

    func answered(_ readState: ReadState) {
        guard let batch = driver.readBatches.removeValue(forKey: readState.context) else { return }
        driver.readsAwaitingApply.append((readState.index, batch.readers))
    }

    /// Answers the quorum reads whose read index has been applied.
    func releaseReads() {
        guard !driver.readsAwaitingApply.isEmpty else { return }
        let applied = appliedIndex
        var waiting: [(index: UInt64, readers: [Mailbox.Reader])] = []
        for batch in driver.readsAwaitingApply {
            if batch.index <= applied {
                for reader in batch.readers { reader.continuation.resume() }
            } else {
                waiting.append(batch)
            }
        }
        driver.readsAwaitingApply = waiting
    }

    // MARK: Snapshots

    /// Every `--snapshot-count` applied entries: snapshot the store and membership, make it durable, let the
    /// log go up to it but keep a tail of entries so slightly lagging followers catch up from the log (etcd keeps
    /// 5000; we keep as many as the snapshot interval if that is smaller).
    func snapshotIfDue() async throws {
        let appliedIndex = self.appliedIndex
        guard appliedIndex >= driver.snapshot.index + snapshotCount else { return }
        let data = state.withLock { state in StateMachineSnapshot(members: state.members, store: state.store.snapshot()).encoded }
        let metadata = SnapshotMetadata(index: appliedIndex, term: driver.appliedTerm, confState: driver.confState)
        let snapshot = RaftCore.Snapshot(metadata: metadata, data: data)
        let bytes = snapshot.encoded()
        // The driver, not the log: the log is not Sendable; the loop awaits this hop, so nobody else touches it.
        let driver = self.driver
        try await NIOThreadPool.singleton.runIfActive {
            try driver.wal.saveSnapshot(KVStorage.Snapshot(index: metadata.index, term: metadata.term, data: bytes))
        }
        let retained = min(5000, snapshotCount)
        let compactTo = appliedIndex > retained ? appliedIndex - retained : 0
        // Metadata only: the data is on disk, read back if a follower ever needs it (`withSnapshotData`).
        try? driver.node.compact(upTo: max(compactTo, 1), snapshot: RaftCore.Snapshot(metadata: metadata))
        driver.snapshot = metadata
        logger.info("snapshot saved", metadata: ["kvpeer.raft_index": "\(appliedIndex)", "kvpeer.bytes": "\(data.count)"])
    }

    // MARK: Membership

    /// `POST /v2/members`: adds a voting member for `peerURLs`; answers once the change is applied here.
    public func addMember(peerURLs: [String]) async throws -> ClusterMember {
        let current = members
        if configuration.strictReconfigCheck {
            // etcd's mayAddMember: a quorum of the grown cluster must have started (published its name) — except
            // when a one-member cluster gets its second member, as when restoring from a backup — and this member
            // must have been connected to every other member for a health interval.
            let started = current.filter { !$0.name.isEmpty }.count
            let grown = current.count + 1
            if !(started == 1 && grown == 2) && started < grown / 2 + 1 { throw MembershipError.notEnoughStarted }
            let others = Set(current.map(\.id)).subtracting([memberID])
            if !others.isSubset(of: transport.peersConnectedForHealthInterval()) { throw MembershipError.unhealthy }
        }
        if current.contains(where: { !Set($0.peerURLs).isDisjoint(with: peerURLs) }) { throw MembershipError.peerURLExists }
        let id = ClusterMember.id(peerURLs: peerURLs, clusterToken: configuration.clusterToken, addedAt: clock().nanoseconds)
        let member = ClusterMember(id: id, peerURLs: peerURLs)
        let requestID = requestIDs.make()
        let change = ConfChange(kind: .addNode, nodeID: id, context: MembershipChangeContext(requestID: requestID, member: member).encoded)
        guard case .member(let added) = try await submit(.confChange(requestID: requestID, change), id: requestID) else { return member }
        return added
    }

    /// `DELETE /v2/members/<id>`.
    public func removeMember(id: UInt64) async throws {
        if isRemoved(id) { throw MembershipError.removed(id) }
        let current = members
        guard let member = current.first(where: { $0.id == id }) else { throw MembershipError.notFound(id) }
        let connected = transport.peersConnectedForHealthInterval()
        if configuration.strictReconfigCheck, id == memberID || connected.contains(id) {
            // etcd's mayRemoveMember: removing a running member must leave a quorum of members this one has been
            // connected to for a health interval. A member that is down is safe to remove: it is not part of the
            // active quorum anyway.
            let active = 1 + connected.intersection(current.map(\.id)).count
            if active - 1 < 1 + (current.count - 1) / 2 { throw MembershipError.unhealthy }
        }
        let requestID = requestIDs.make()
        let change = ConfChange(kind: .removeNode, nodeID: id, context: MembershipChangeContext(requestID: requestID, member: member).encoded)
        _ = try await submit(.confChange(requestID: requestID, change), id: requestID)
    }

    /// `PUT /v2/members/<id>`: new peer URLs for a member.
    public func updateMember(id: UInt64, peerURLs: [String]) async throws {
        if isRemoved(id) { throw MembershipError.removed(id) }
        let current = members
        guard current.contains(where: { $0.id == id }) else { throw MembershipError.notFound(id) }
        if current.contains(where: { $0.id != id && !Set($0.peerURLs).isDisjoint(with: peerURLs) }) { throw MembershipError.peerURLExists }
        let requestID = requestIDs.make()
        _ = try await submit(.entry(requestID: requestID, data: ReplicatedEntry.peerURLs(requestID: requestID, memberID: id, urls: peerURLs).encoded), id: requestID)
    }

    /// etcd's publish: once the client listeners are bound, this member's name and client URLs go through the
    /// log so every member (and every proxy reading `/members`) lists them. Retried until applied.
    func publish(name: String, clientURLs: @escaping @Sendable () -> [String]) async {
        while !Task.isCancelled {
            let requestID = requestIDs.make()
            let entry = ReplicatedEntry.attributes(requestID: requestID, memberID: memberID, name: name, clientURLs: clientURLs())
            do {
                _ = try await submit(.entry(requestID: requestID, data: entry.encoded), id: requestID)
                markReady()
                logger.info("published member attributes", metadata: ["kvpeer.name": "\(name)", "kvpeer.client_urls": "\(clientURLs())"])
                return
            } catch {
                logger.debug("publishing member attributes failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
