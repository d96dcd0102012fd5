import Foundation
import Linearizability
import SeededRandom
import Synchronization
import Testing
import TestSupport

typealias KeyedCASInput = KeyedInput<CASRegisterModel.Input>

/// How big the fault tests' loads and faults are. The default ("ci") keeps the whole suite quick;
/// `FLOTILLA_FAULT_PROFILE=long` runs more clients and keys, far more operations around each fault, and a
/// longer stop.
struct FaultProfile: Sendable {
    var name: String
    var clients: Int
    var keys: Int
    /// Operations the load must have answered before a fault is injected, and again once the fault is over
    /// (proof the cluster recovered).
    var before: Int
    var after: Int
    /// Bounds on the load, whatever happens: operations per client and wall time.
    var maxOperationsPerClient: Int
    var loadDeadline: Duration
    /// How long the cluster may take to answer `before` or `after` operations.
    var progressTimeout: Duration
    /// One request's bound; a request still unanswered then is indeterminate.
    var requestTimeout: Duration
    /// How long the SIGSTOP test keeps the leader stopped, in election timeouts.
    var stopElectionTimeouts: Int

    static let ci = FaultProfile(
        name: "ci", clients: 6, keys: 3, before: 60, after: 60, maxOperationsPerClient: 2_000, loadDeadline: .seconds(60),
        progressTimeout: .seconds(20), requestTimeout: .seconds(2), stopElectionTimeouts: 3
    )
    static let long = FaultProfile(
        name: "long", clients: 12, keys: 5, before: 4_000, after: 4_000, maxOperationsPerClient: 20_000, loadDeadline: .seconds(240),
        progressTimeout: .seconds(90), requestTimeout: .seconds(2), stopElectionTimeouts: 10
    )

    static var current: FaultProfile {
        ProcessInfo.processInfo.environment["FLOTILLA_FAULT_PROFILE"] == "long" ? .long : .ci
    }
}

/// Concurrent clients reading, writing and compare-and-swapping a few keys (`/lin/k<i>`) on random running
/// members of a cluster, every operation recorded for the linearizability checker, while a test injects
/// faults. They also create unique keys under `/acked/`, which must all be there afterwards when acknowledged.
///
/// Answers are recorded as etcd means them: 2xx is `ok` (or the value read), 412/101 `casFailed` and 404/100
/// `notFound` are real outputs. Any other answer, a timeout or a broken connection leaves the operation
/// pending: it may or may not have taken effect, and the checker considers both. Only a request that provably
/// never left (connection refused or not made, `PeerCluster.wasNotSent`) is dropped from the history
/// (`HistoryRecorder.fail`). A client whose operation is left pending continues as a new process, as in
/// Jepsen: a process with a pending operation issues no further ones.
final class ClusterLoad: Sendable {
    enum Outcome: Sendable {
        case answered(CASRegisterModel.Output)
        case indeterminate(String)
        case notSent
    }

    private struct Books {
        var answered = 0
        var indeterminate = 0
        var notSent = 0
        var lastIndeterminate = ""
        var createsAttempted: Set<String> = []
        var createsAcknowledged: Set<String> = []
    }

    let cluster: PeerCluster
    let profile: FaultProfile
    let seed: UInt64
    let recorder = HistoryRecorder<KeyedCASInput, CASRegisterModel.Output>()
    /// Operations answered with a definite output (creates included).
    let answered = Observed(0)
    private let books = Mutex(Books())

    init(cluster: PeerCluster, profile: FaultProfile = .current) {
        self.cluster = cluster
        self.profile = profile
        seed = ProcessInfo.processInfo.environment["FLOTILLA_FAULT_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
    }

    var keys: [String] { (0..<profile.keys).map { "k\($0)" } }

    // MARK: Running

    /// Runs the clients while `body` injects faults. After `body` the load goes on until the cluster has
    /// answered `profile.after` more operations, then stops; the clients are bounded by operations and time.
    func run<Result: Sendable>(during body: @Sendable () async throws -> Result) async throws -> Result {
        let stop = Observed(false)
        let deadline = ContinuousClock.now + profile.loadDeadline
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<profile.clients {
                group.addTask { await self.client(index, stop: stop, deadline: deadline) }
            }
            do {
                let result = try await body()
                try await progress(profile.after, "operations answered after the fault")
                stop.set(true)
                try await group.waitForAll()
                return result
            } catch {
                stop.set(true)
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Waits (bounded) until the load has answered `count` more operations.
    func progress(_ count: Int, _ what: String) async throws {
        let target = answered.value + count
        do {
            try await answered.wait(for: "\(count) \(what)", timeout: profile.progressTimeout) { $0 >= target }
        } catch {
            throw cluster.failure("\(error) (\(summary))")
        }
    }

    private func client(_ index: Int, stop: Observed<Bool>, deadline: ContinuousClock.Instant) async {
        var random = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        var process = index
        var seen: [String: String] = [:]
        for sequence in 0..<profile.maxOperationsPerClient {
            if stop.value || Task.isCancelled || ContinuousClock.now >= deadline { return }
            let members = cluster.running
            guard !members.isEmpty else {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            let member = random.element(members)
            let key = random.element(keys)
            let value = "c\(index).\(sequence)"
            let roll = random.below(100)
            if roll < 10 {
                await create("c\(index).\(sequence)", on: member)
                continue
            }
            let input: CASRegisterModel.Input =
                roll < 35 ? .write(value) : roll < 60 ? .compareAndSwap(expected: seen[key] ?? "none", new: value) : .read
            switch await perform(client: process, KeyedInput(key: key, input), on: member) {
            case .answered(let output):
                switch (input, output) {
                case (.read, .read(let current)): seen[key] = current
                case (.write(let written), .ok), (.compareAndSwap(_, let written), .ok): seen[key] = written
                default: break
                }
            case .indeterminate:
                process += profile.clients
            case .notSent:
                // A dead or unreachable member: do not spin on it.
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    // MARK: Operations

    /// Sends one recorded operation on `/lin/<key>` to `member`.
    @discardableResult
    func perform(client: Int, _ input: KeyedCASInput, on member: PeerCluster.Member) async -> Outcome {
        let path = "/v2/keys/lin/\(input.key)"
        let id = recorder.invoke(client: client, input: input)
        do {
            let reply: PeerCluster.Reply
            switch input.input {
            case .read:
                reply = try await cluster.request(member, "GET", path + "?quorum=true", timeout: profile.requestTimeout)
            case .write(let value):
                reply = try await cluster.request(member, "PUT", path, body: .form("value=\(value)"), timeout: profile.requestTimeout)
            case .compareAndSwap(let expected, let new):
                reply = try await cluster.request(
                    member, "PUT", path + "?prevValue=\(expected)", body: .form("value=\(new)"), timeout: profile.requestTimeout
                )
            case .delete:
                reply = try await cluster.request(member, "DELETE", path, timeout: profile.requestTimeout)
            }
            guard let output = Self.output(of: input.input, reply) else {
                return indeterminate("\(member) answered \(input) with \(reply)")
            }
            recorder.complete(id, output: output)
            books.withLock { $0.answered += 1 }
            answered.update { $0 += 1 }
            return .answered(output)
        } catch {
            if PeerCluster.wasNotSent(error) {
                recorder.fail(id)
                books.withLock { $0.notSent += 1 }
                return .notSent
            }
            return indeterminate("\(member) failed \(input): \(error)")
        }
    }

    /// A recorded quorum read of the key's value; the answer enters the history like any other, so a value
    /// read once the faults are over is checked against every acknowledged write.
    func read(_ key: String, on member: PeerCluster.Member, client: Int = -1) async -> Outcome {
        await perform(client: client, KeyedInput(key: key, .read), on: member)
    }

    private func indeterminate(_ what: String) -> Outcome {
        books.withLock {
            $0.indeterminate += 1
            $0.lastIndeterminate = what
        }
        return .indeterminate(what)
    }

    /// etcd's meaning of an answer, or nil when it does not say whether the operation took effect.
    static func output(of input: CASRegisterModel.Input, _ reply: PeerCluster.Reply) -> CASRegisterModel.Output? {
        switch (input, reply.status) {
        case (.read, 200): .read(reply.value)
        case (.read, 404) where reply.errorCode == 100: .read(nil)
        case (.write, 200), (.write, 201): .ok
        case (.compareAndSwap, 200), (.delete, 200): .ok
        case (.compareAndSwap, 412) where reply.errorCode == 101: .casFailed
        case (.compareAndSwap, 404), (.delete, 404): reply.errorCode == 100 ? .notFound : nil
        default: nil
        }
    }

    /// `PUT /v2/keys/acked/<name>?prevExist=false`: a key that exists only if this create took effect.
    private func create(_ name: String, on member: PeerCluster.Member) async {
        books.withLock { _ = $0.createsAttempted.insert(name) }
        do {
            let reply = try await cluster.request(
                member, "PUT", "/v2/keys/acked/\(name)?prevExist=false", body: .form("value=\(name)"), timeout: profile.requestTimeout
            )
            guard reply.status == 201 else {
                _ = indeterminate("\(member) answered create \(name) with \(reply)")
                return
            }
            books.withLock {
                $0.answered += 1
                _ = $0.createsAcknowledged.insert(name)
            }
            answered.update { $0 += 1 }
        } catch {
            if PeerCluster.wasNotSent(error) {
                books.withLock { $0.notSent += 1 }
            } else {
                _ = indeterminate("\(member) failed create \(name): \(error)")
            }
        }
    }

    // MARK: Verdicts

    /// Reads every key once more through a quorum (bounded retry), so the final state enters the history.
    func readBack(on members: [PeerCluster.Member]) async throws {
        for key in keys {
            try await eventually("a quorum read of /lin/\(key) answered by one of \(members)", timeout: .seconds(15)) {
                for member in members {
                    if case .answered = await self.read(key, on: member) { return true }
                }
                return false
            }
        }
    }

    /// Records an issue unless the history is linearizable for a store of CAS registers (one per key).
    func checkLinearizable(sourceLocation: SourceLocation = #_sourceLocation) {
        let history = recorder.history
        let pending = history.count(where: \.isPending)
        switch Linearizability.check(KeyedModel(CASRegisterModel()), history, timeout: .seconds(60)) {
        case .linearizable:
            break
        case .notLinearizable(let counterexample):
            Issue.record("history is not linearizable (seed \(seed)):\n\(counterexample)\n\(summary)", sourceLocation: sourceLocation)
        case .unknown:
            Issue.record(
                "the linearizability check of \(history.count) operations (\(pending) pending) timed out: make the load smaller",
                sourceLocation: sourceLocation
            )
        }
    }

    /// Records an issue unless every acknowledged create is under `/acked/` on a quorum read, and nothing
    /// that was never attempted is.
    func checkAcknowledgedCreates(on members: [PeerCluster.Member], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let present = Mutex<Set<String>?>(nil)
        try await eventually("a quorum read of /acked answered by one of \(members)", timeout: .seconds(15)) {
            for member in members {
                guard let reply = try? await self.cluster.request(member, "GET", "/v2/keys/acked?recursive=true&quorum=true", timeout: .seconds(5)),
                    reply.status == 200, let node = reply.json()?["node"] as? [String: Any]
                else { continue }
                let nodes = node["nodes"] as? [[String: Any]] ?? []
                present.withLock { $0 = Set(nodes.compactMap { ($0["key"] as? String)?.replacingOccurrences(of: "/acked/", with: "") }) }
                return true
            }
            return false
        }
        let found = present.withLock { $0 } ?? []
        let (attempted, acknowledged) = books.withLock { ($0.createsAttempted, $0.createsAcknowledged) }
        let lost = acknowledged.subtracting(found)
        let invented = found.subtracting(attempted)
        #expect(lost.isEmpty, "acknowledged creates missing after the faults: \(lost.sorted())", sourceLocation: sourceLocation)
        #expect(invented.isEmpty, "keys under /acked that no client created: \(invented.sorted())", sourceLocation: sourceLocation)
    }

    var acknowledgedCreates: Int { books.withLock { $0.createsAcknowledged.count } }

    var summary: String {
        let books = books.withLock { $0 }
        let recorded = recorder.history
        func answered(_ matches: (CASRegisterModel.Input, CASRegisterModel.Output) -> Bool) -> Int {
            recorded.count { operation in operation.output.map { matches(operation.input.input, $0) } ?? false }
        }
        let reads = answered { input, _ in input == .read }
        let writes = answered { input, _ in if case .write = input { true } else { false } }
        let swaps = answered { input, output in if case .compareAndSwap = input { output == .ok } else { false } }
        let refused = answered { input, output in if case .compareAndSwap = input { output != .ok } else { false } }
        return "\(profile.name) load, seed \(seed): \(books.answered) answered, \(books.indeterminate) indeterminate, "
            + "\(books.notSent) never sent; \(recorded.count) operations in the history (\(recorded.count(where: \.isPending)) pending: "
            + "\(reads) reads, \(writes) writes, \(swaps) swaps done, \(refused) refused), "
            + "\(books.createsAcknowledged.count) creates acknowledged"
            + (books.lastIndeterminate.isEmpty ? "" : "; last indeterminate: \(books.lastIndeterminate.prefix(300))")
    }
}
