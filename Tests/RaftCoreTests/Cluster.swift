import RaftCore
import SeededRandom

/// A simulated cluster in the style of etcd's raft_test.go `network` and raft-rs's harness: every member is
/// a `RawNode` plus a shell that follows the `Ready` contract against an in-memory "disk"; messages sit in
/// one queue until the test delivers, drops, duplicates or reorders them. Everything is synchronous and
/// all randomness comes from one `SplitMix64`, so a seed fully determines a run.
///
/// The shell sends a `Ready`'s early messages (`mayLeaveBeforePersist`) as soon as it takes the `Ready`, then
/// hands the `Ready` to the member's disk. By default the disk writes it at once; `holdWrites` and
/// `writeAtOncePercent` keep writes in flight instead, while the member goes on stepping messages and producing
/// further `Ready`s (pipelined, as thesis §10.2.1 allows) until `completeWrite` finishes the oldest. A crash
/// loses the writes in flight, after their early messages may already have been delivered.
struct Cluster {
    struct Options {
        var voters: [NodeID] = [1, 2, 3]
        var learners: [NodeID] = []
        /// Members that exist but start outside the configuration (to be added by a conf change).
        var spares: [NodeID] = []
        var electionTicks = 10
        var heartbeatTicks = 1
        var preVote = true
        var checkQuorum = false
        var maxSizePerMessage = 1 << 20
        var maxInflight = 256
        var seed: UInt64 = 0
        /// Take a snapshot every this many applied entries (kv-peer's `--snapshot-count`).
        var snapshotEvery: UInt64?
        /// Entries kept behind a snapshot for slightly lagging followers.
        var keepAfterSnapshot: UInt64 = 2
    }

    /// One member: the node (nil while crashed), its durable storage and its application state.
    struct Peer {
        let id: NodeID
        var config: RaftConfig
        var node: RawNode?
        var storage: MemoryRaftStorage
        var confState: ConfState
        var appliedIndex: UInt64 = 0
        /// The application: a running hash over applied data, plus the data for assertions.
        var stateHash: UInt64 = 0
        var appliedData: [[UInt8]] = []
        var readStates: [ReadState] = []
        var softState = SoftState(leader: nil, role: .follower)
        /// `Ready`s whose early messages left but which the disk has not written yet, oldest first.
        var writesInFlight: [Ready] = []
        /// The commit index last checked for durability (`checkCommitDurability`).
        var checkedCommit: UInt64 = 0

        var isAlive: Bool { node != nil }
    }

    private struct Link: Hashable {
        var from: NodeID
        var to: NodeID
    }

    let options: Options
    private(set) var peers: [Peer] = []
    var queue: [Message] = []
    private var cut: Set<Link> = []
    /// Drop probability for newly sent messages, in percent (random simulation only).
    var dropPercent: UInt64 = 0
    /// Members whose disks write only when the test calls `completeWrite` (or `maxWritesInFlight` is exceeded).
    var holdWrites: Set<NodeID> = []
    /// Chance, in percent, that a disk writes a `Ready` as soon as it gets it (random simulation); otherwise
    /// the write waits for `completeWrite` or until `maxWritesInFlight` are queued.
    var writeAtOncePercent: UInt64 = 100
    var maxWritesInFlight = 16
    /// How often the early-send window was exercised, for `RAFT_STATS`: crashes that lost writes in flight,
    /// and commits by a leader whose own copy of the entry was not durable yet.
    private(set) var crashesLosingWrites = 0
    private(set) var commitsAheadOfLeaderDisk = 0
    var rng: SplitMix64
    var checker = SafetyChecker()

    init(_ options: Options = Options()) {
        self.options = options
        rng = SplitMix64(seed: options.seed)
        let all = (options.voters + options.learners + options.spares).sorted()
        let bootstrap = RecoveredState.bootstrap(voters: options.voters, learners: options.learners)
        for id in all {
            let config = RaftConfig(
                id: id, electionTicks: options.electionTicks, heartbeatTicks: options.heartbeatTicks,
                maxSizePerMessage: options.maxSizePerMessage, maxInflight: options.maxInflight,
                preVote: options.preVote, checkQuorum: options.checkQuorum, seed: options.seed &+ id)
            // A spare starts empty, like a new member given `--initial-cluster-state existing`.
            let state = options.spares.contains(id) ? RecoveredState() : bootstrap
            let storage = MemoryRaftStorage(state)
            peers.append(
                Peer(
                    id: id, config: config, node: try! RawNode(config: config, storage: storage), storage: storage,
                    confState: state.snapshot.metadata.confState, appliedIndex: state.snapshot.metadata.index))
        }
    }

    var ids: [NodeID] { peers.map(\.id) }

    private func slot(_ id: NodeID) -> Int { peers.firstIndex { $0.id == id }! }

    subscript(id: NodeID) -> Peer { peers[slot(id)] }

    /// The leader with the highest term among live members, if any.
    var leader: NodeID? {
        peers.filter { $0.isAlive && $0.softState.role == .leader }
            .max { ($0.node?.status().hardState.term ?? 0) < ($1.node?.status().hardState.term ?? 0) }?.id
    }

    // MARK: Inputs

    mutating func tick(_ id: NodeID, times: Int = 1) {
        for _ in 0..<times {
            peers[slot(id)].node?.tick()
            processReady(id)
        }
    }

    mutating func tickAll(times: Int = 1) {
        for _ in 0..<times { for id in ids { tick(id) } }
    }

    mutating func campaign(_ id: NodeID) {
        peers[slot(id)].node?.campaign()
        processReady(id)
    }

    @discardableResult
    mutating func propose(_ id: NodeID, _ data: [UInt8]) -> RaftError? {
        let i = slot(id)
        guard peers[i].node != nil else { return .proposalDropped }
        do {
            try peers[i].node!.propose(data)
        } catch {
            return error
        }
        processReady(id)
        return nil
    }

    @discardableResult
    mutating func proposeConfChange(_ id: NodeID, _ change: ConfChange) -> RaftError? {
        let i = slot(id)
        guard peers[i].node != nil else { return .proposalDropped }
        do {
            try peers[i].node!.proposeConfChange(change)
        } catch {
            return error
        }
        processReady(id)
        return nil
    }

    mutating func readIndex(_ id: NodeID, context: [UInt8]) {
        try? peers[slot(id)].node?.readIndex(context: context)
        processReady(id)
    }

    mutating func transferLeadership(from id: NodeID, to transferee: NodeID) {
        peers[slot(id)].node?.transferLeadership(to: transferee)
        processReady(id)
    }

    // MARK: Faults

    mutating func isolate(_ id: NodeID) {
        for other in ids where other != id {
            cut.insert(Link(from: id, to: other))
            cut.insert(Link(from: other, to: id))
        }
    }

    /// Splits the members into two sides that cannot talk to each other.
    mutating func partition(_ side: [NodeID]) {
        for a in side { for b in ids where !side.contains(b) {
            cut.insert(Link(from: a, to: b))
            cut.insert(Link(from: b, to: a))
        } }
    }

    mutating func heal() { cut = [] }

    /// Loses all volatile state (node, application, writes in flight); storage survives. Early messages of
    /// the lost writes may already be on their way.
    mutating func crash(_ id: NodeID) {
        let i = slot(id)
        peers[i].node = nil
        peers[i].readStates = []
        peers[i].softState = SoftState(leader: nil, role: .follower)
        if !peers[i].writesInFlight.isEmpty { crashesLosingWrites += 1 }
        peers[i].writesInFlight = []
    }

    /// Rebuilds the node from its storage and the application from the storage's snapshot. Committed
    /// entries after the snapshot are re-applied through `Ready`, as a real shell would.
    mutating func restart(_ id: NodeID) {
        let i = slot(id)
        let storage = peers[i].storage
        peers[i].node = try! RawNode(config: peers[i].config, storage: storage)
        peers[i].checkedCommit = storage.hardState.commit
        let snapshot = storage.snapshot()
        peers[i].confState = snapshot.metadata.confState
        peers[i].appliedData = []
        restoreApplication(i, from: snapshot)
        processReady(id)
    }

    // MARK: Delivery

    /// Delivers queued messages in FIFO order (including those generated meanwhile) until none are left.
    mutating func stabilize(limit: Int = 100_000) {
        var delivered = 0
        while !queue.isEmpty && delivered < limit {
            deliver(queue.removeFirst())
            delivered += 1
        }
    }

    mutating func deliver(_ m: Message) {
        let to = slot(m.to)
        guard peers[to].isAlive, !cut.contains(Link(from: m.from, to: m.to)) else {
            if m.kind == .snapshot { peers[slot(m.from)].node?.reportSnapshot(m.to, success: false) }
            return
        }
        _ = try? peers[to].node?.step(m)
        processReady(m.to)
        if m.kind == .snapshot {
            // The transport reports a completed snapshot stream (etcd's ReportSnapshot).
            peers[slot(m.from)].node?.reportSnapshot(m.to, success: true)
            processReady(m.from)
        }
    }

    /// Removes queued messages matching `predicate` (e.g. to make a test drop one kind).
    mutating func drop(where predicate: (Message) -> Bool) { queue.removeAll(where: predicate) }

    /// Delivers the first queued message matching `predicate`; false if there is none.
    @discardableResult
    mutating func deliverFirst(where predicate: (Message) -> Bool) -> Bool {
        guard let i = queue.firstIndex(where: predicate) else { return false }
        deliver(queue.remove(at: i))
        return true
    }

    // MARK: The shell

    /// Takes every `Ready` the node has, as the contract says: early messages go out at once; the rest of each
    /// `Ready` (persist, then the other messages, then apply, then advance) happens when the disk has written
    /// it — at once, or later in `completeWrite`.
    mutating func processReady(_ id: NodeID) {
        let i = slot(id)
        checkCommitDurability(i)
        while peers[i].node?.hasReady == true {
            let rd = peers[i].node!.ready()
            if let soft = rd.softState {
                peers[i].softState = soft
                if soft.role == .leader {
                    // A new leader's log is durable: its vote requests waited for it, and a single voter
                    // becomes leader only in `advance`.
                    let term = peers[i].node!.status().hardState.term
                    checker.leaderElected(id, term: term)
                    checker.checkLeaderCompleteness(id, term: term, storage: peers[i].storage)
                }
            }
            send(rd.messages.filter(\.mayLeaveBeforePersist), from: i)
            peers[i].writesInFlight.append(rd)
            let writeNow =
                peers[i].writesInFlight.count > maxWritesInFlight
                || (!holdWrites.contains(id) && (writeAtOncePercent >= 100 || rng.next() % 100 < writeAtOncePercent))
            if writeNow { writeOldest(i) }
        }
    }

    /// The disk of `id` finished its oldest write in flight; the member then handles whatever `Ready`s that
    /// produced (which may be held again).
    mutating func completeWrite(_ id: NodeID) {
        let i = slot(id)
        guard !peers[i].writesInFlight.isEmpty else { return }
        writeOldest(i)
        processReady(id)
    }

    /// Completes every write in flight of `id`, and those the completions lead to.
    mutating func completeAllWrites(_ id: NodeID) {
        while !self[id].writesInFlight.isEmpty { completeWrite(id) }
    }

    /// Steps 1, 2 (the messages that had to wait), 3 and 4 of the oldest `Ready` in flight at `peers[i]`.
    private mutating func writeOldest(_ i: Int) {
        let id = peers[i].id
        let rd = peers[i].writesInFlight.removeFirst()

        // 1. Persist.
        if let snapshot = rd.snapshot {
            try! peers[i].storage.applySnapshot(snapshot)
            peers[i].confState = snapshot.metadata.confState
            restoreApplication(i, from: snapshot)
        }
        peers[i].storage.append(rd.entries)
        if let hard = rd.hardState { peers[i].storage.setHardState(hard) }
        checker.persisted(rd.entries, by: id, storage: peers[i].storage)

        // 2. Send what had to wait for step 1.
        send(rd.messages.filter { !$0.mayLeaveBeforePersist }, from: i)

        // 3. Apply.
        guard var node = peers[i].node else { return }
        for entry in rd.committedEntries {
            if entry.index != peers[i].appliedIndex + 1 {
                checker.fail("node \(id) applied \(entry.index) after \(peers[i].appliedIndex)")
            }
            peers[i].appliedIndex = entry.index
            peers[i].stateHash = Self.mix(peers[i].stateHash, entry)
            checker.applied(entry, by: id, stateHash: peers[i].stateHash)
            switch entry.kind {
            case .normal:
                if !entry.data.isEmpty { peers[i].appliedData.append(entry.data) }
            case .confChange:
                let change = try! ConfChange(decoding: entry.data)
                peers[i].confState = node.applyConfChange(change)
            }
        }
        peers[i].readStates.append(contentsOf: rd.readStates)
        // 4. Advance: on a leader this is where its own entries start counting towards the quorum.
        node.advance(rd)

        // Housekeeping: snapshot and compact every `snapshotEvery` applied entries.
        if let every = options.snapshotEvery,
            peers[i].appliedIndex >= peers[i].storage.snapshot().metadata.index + every
        {
            let index = peers[i].appliedIndex
            let snapshot = try! peers[i].storage.createSnapshot(
                index: index, confState: peers[i].confState,
                data: Self.encodeState(index: index, hash: peers[i].stateHash))
            let compactTo = index > options.keepAfterSnapshot ? index - options.keepAfterSnapshot : 0
            if compactTo > peers[i].storage.compactedIndex { try! peers[i].storage.compact(upTo: compactTo) }
            try! node.compact(upTo: compactTo, snapshot: snapshot)
        }
        peers[i].node = node
        checkCommitDurability(i)
    }

    /// Puts messages on the network; partitions and loss apply at send time too (messages to oneself never
    /// occur).
    private mutating func send(_ messages: [Message], from i: Int) {
        for m in messages {
            if cut.contains(Link(from: m.from, to: m.to)) || (dropPercent > 0 && rng.next() % 100 < dropPercent) {
                if m.kind == .snapshot { peers[i].node?.reportSnapshot(m.to, success: false) }
                continue
            }
            queue.append(m)
        }
    }

    /// The property early sending must not break: whenever a leader's commit index advances, the entry there
    /// is durable — in storage, or covered by a snapshot — on a majority of the voters it counted. The
    /// leader's term is the entry's term (§5.4.2: a leader only commits by counting entries of its term).
    private mutating func checkCommitDurability(_ i: Int) {
        guard let status = peers[i].node?.status() else { return }
        let commit = status.hardState.commit
        defer { peers[i].checkedCommit = max(peers[i].checkedCommit, commit) }
        guard status.softState.role == .leader, commit > peers[i].checkedCommit else { return }
        let voters = status.confState.voters
        let durable = voters.filter { voter in
            let storage = self[voter].storage
            return storage.snapshot().metadata.index >= commit
                || (try? storage.term(at: commit)) == status.hardState.term
        }
        if (try? peers[i].storage.term(at: commit)) != status.hardState.term { commitsAheadOfLeaderDisk += 1 }
        if durable.count < voters.count / 2 + 1 {
            checker.fail(
                "commit durability: leader \(peers[i].id) of term \(status.hardState.term) committed \(commit) "
                    + "but only \(durable) of voters \(voters) hold it durably")
        }
    }

    private mutating func restoreApplication(_ i: Int, from snapshot: Snapshot) {
        // The bootstrap snapshot carries no application data: the empty state.
        let (index, hash) = snapshot.data.isEmpty ? (snapshot.metadata.index, 0) : Self.decodeState(snapshot.data)
        peers[i].appliedIndex = snapshot.metadata.index
        peers[i].stateHash = hash
        if index != snapshot.metadata.index {
            checker.fail("node \(peers[i].id) snapshot at \(snapshot.metadata.index) holds state of \(index)")
        }
        checker.restoredSnapshot(index: index, stateHash: hash, by: peers[i].id)
    }

    // MARK: Application state encoding (the "state machine" is a hash chain over applied entries)

    static func mix(_ hash: UInt64, _ entry: Entry) -> UInt64 {
        var h = hash ^ 0xCBF2_9CE4_8422_2325
        for byte in entry.data + [UInt8(truncatingIfNeeded: entry.index)] {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return h
    }

    static func encodeState(index: UInt64, hash: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: index >> ($0 * 8)) } + (0..<8).map { UInt8(truncatingIfNeeded: hash >> ($0 * 8)) }
    }

    static func decodeState(_ data: [UInt8]) -> (index: UInt64, hash: UInt64) {
        guard data.count == 16 else { return (0, 0) }
        let index = (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[$1]) << ($1 * 8) }
        let hash = (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[8 + $1]) << ($1 * 8) }
        return (index, hash)
    }
}
