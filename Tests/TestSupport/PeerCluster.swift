public import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import Subprocess
import Synchronization

/// A Raft cluster of real server processes (etcd 3.4 or kv-peer) for fault tests: members `m0`, `m1`, … with
/// their own data directories under one temp directory, on reserved loopback ports or in the project's own
/// network namespaces. Members can be killed, stopped, restarted, isolated, added and removed; everything is
/// killed and removed when `with` returns, also when the test fails.
///
///     try await PeerCluster.with(backend: .etcd, size: 3) { cluster in
///         let leader = try await cluster.leader()
///         try await cluster.kill(leader)                       // SIGKILL, as a crash
///         _ = try await cluster.leader()                       // bounded: a new one, agreed by a majority
///         try await cluster.start(leader)                      // same data dir and ports
///         try await cluster.waitUntilHealthy()
///     }
public final class PeerCluster: Sendable {
    /// Where members run and listen.
    public enum Placement: Sendable {
        /// On 127.0.0.1, ports from `LoopbackPorts`.
        case loopback
        /// Each in its own namespace of a `NetworkNamespaces` network, on its own address (ports 2379/2380),
        /// so that `isolate` can partition it.
        case namespaces
    }

    public struct Member: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        public let clientURL: String
        public let peerURL: String
        public let dataDir: String
        /// The member's log: etcd's zap log, or kv-peer's stdout and stderr (every incarnation, appended).
        public let logFile: String
        /// The member's node in `network`; nil on loopback.
        public let node: Int?

        public var description: String { name }
    }

    /// One HTTP answer of a member.
    public struct Reply: Sendable, CustomStringConvertible {
        public let status: Int
        /// Header names lowercased.
        public let headers: [String: String]
        public let body: String

        public init(status: Int, headers: [String: String], body: String) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public func json() -> [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        }

        /// etcd's `errorCode` in an error body.
        public var errorCode: Int? { json()?["errorCode"] as? Int }

        /// `node.value` of a keys answer.
        public var value: String? { (json()?["node"] as? [String: Any])?["value"] as? String }

        /// `X-Etcd-Index`.
        public var etcdIndex: UInt64? { headers["x-etcd-index"].flatMap { UInt64($0) } }

        public var description: String { "\(status) \(body.prefix(500))" }
    }

    public enum Body: Sendable {
        case form(String)
        case json(String)
    }

    public let backend: ClusterBackend
    public let placement: Placement
    /// Holds every member's data directory and log; removed at the end.
    public let directory: URL
    /// The namespaces the members run in, for `.namespaces`.
    public let network: NetworkNamespaces?

    private let binary: String
    private let extraArguments: [String]
    private let token: String
    private let client: HTTPClient
    private let state = Mutex(State())

    private struct State {
        /// The current membership, in order of joining.
        var members: [Member] = []
        /// The newest incarnation of each member.
        var processes: [String: MemberProcess] = [:]
        /// Every incarnation ever started, for the final teardown.
        var incarnations: [MemberProcess] = []
        /// Each member's command line from its first start (restarts reuse it; etcd ignores the initial-*
        /// flags once its data directory exists).
        var arguments: [String: [String]] = [:]
        var stopped: Set<String> = []
        var nextIndex = 0
    }

    /// etcd's `--election-timeout` given to every member, in milliseconds.
    public static let electionTimeoutMilliseconds = 500
    public static let heartbeatIntervalMilliseconds = 50

    private init(backend: ClusterBackend, placement: Placement, extraArguments: [String]) async throws {
        self.backend = backend
        self.placement = placement
        self.extraArguments = extraArguments
        binary = try backend.binary()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("peers-\(UUID().uuidString.prefix(8))")
        token = "flotilla-fault-\(directory.lastPathComponent)"
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            network = placement == .namespaces ? try await NetworkNamespaces.create(nodes: 0) : nil
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(1))
        // A refused or timed-out connect fails the request at once: such a request provably never left,
        // which fault tests tell apart from one that may have taken effect (see `wasNotSent`).
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 32
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    // MARK: Life cycle

    /// Runs `body` against a fresh cluster of `size` members, started with `--initial-cluster-state new` and
    /// healthy. Start-up is retried (on new ports) a few times, since a reserved port can be taken before the
    /// member binds it. Afterwards every member is killed and the directory (and network) removed.
    public static func with<Result: Sendable>(
        backend: ClusterBackend,
        size: Int,
        placement: Placement = .loopback,
        extraArguments: [String] = [],
        _ body: @Sendable (PeerCluster) async throws -> Result
    ) async throws -> Result {
        var failures: [String] = []
        for attempt in 1...3 {
            let cluster = try await PeerCluster(backend: backend, placement: placement, extraArguments: extraArguments)
            do {
                try await cluster.startInitialMembers(size)
            } catch let error as PeerClusterError {
                failures.append("attempt \(attempt): \(error)")
                await cluster.tearDown()
                continue
            } catch {
                await cluster.tearDown()
                throw error
            }
            let result: Result
            do {
                result = try await body(cluster)
            } catch {
                await cluster.tearDown()
                throw error
            }
            await cluster.tearDown()
            return result
        }
        throw PeerClusterError("\(size) \(backend) members did not start:\n\(failures.joined(separator: "\n"))")
    }

    private func startInitialMembers(_ size: Int) async throws {
        var initial: [Member] = []
        for _ in 0..<size { initial.append(try await makeMember(name: nil)) }
        for member in initial {
            let arguments = arguments(for: member, initialCluster: initial, state: "new")
            state.withLock {
                $0.members.append(member)
                $0.arguments[member.name] = arguments
            }
            try launch(member)
        }
        try await waitUntilHealthy(timeout: .seconds(30))
    }

    /// Kills every incarnation, then removes the network and the directory. Unstructured, so a cancelled test
    /// still cleans up.
    private func tearDown() async {
        let incarnations = state.withLock { $0.incarnations }
        await Task { [client, network, directory] in
            for incarnation in incarnations { await incarnation.terminate() }
            try? await client.shutdown()
            await network?.destroy()
            try? FileManager.default.removeItem(at: directory)
        }.value
    }

    private func makeMember(name: String?) async throws -> Member {
        let index = state.withLock { state in
            defer { state.nextIndex += 1 }
            return state.nextIndex
        }
        let name = name ?? "m\(index)"
        let host: String
        let clientPort: Int
        let peerPort: Int
        var node: Int?
        if let network {
            host = try await network.addNode(index).address
            (clientPort, peerPort, node) = (2379, 2380, index)
        } else {
            let ports = try LoopbackPorts.reserve(count: 2)
            (host, clientPort, peerPort) = ("127.0.0.1", ports[0], ports[1])
        }
        return Member(
            name: name, clientURL: "http://\(host):\(clientPort)", peerURL: "http://\(host):\(peerPort)",
            dataDir: directory.appendingPathComponent("\(name).etcd").path,
            logFile: directory.appendingPathComponent("\(name).log").path, node: node
        )
    }

    private func arguments(for member: Member, initialCluster: [Member], state: String) -> [String] {
        [
            "--name", member.name, "--data-dir", member.dataDir,
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", initialCluster.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","),
            "--initial-cluster-state", state, "--initial-cluster-token", token,
            "--heartbeat-interval", "\(Self.heartbeatIntervalMilliseconds)",
            "--election-timeout", "\(Self.electionTimeoutMilliseconds)",
        ] + backend.ownArguments(logFile: member.logFile) + extraArguments
    }

    private func launch(_ member: Member) throws {
        guard let arguments = state.withLock({ $0.arguments[member.name] }) else {
            throw PeerClusterError("\(member) was never configured")
        }
        var command = (executable: binary, arguments: arguments)
        if let network, let node = member.node {
            command = try network.command(in: node, executable: binary, arguments: arguments)
        }
        // Flags only: stray ETCD_* variables of the test environment must not configure a member.
        var overrides: [Environment.Key: String?] = [:]
        for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("ETCD_") {
            overrides[Environment.Key(stringLiteral: key)] = .some(nil)
        }
        let process = MemberProcess(
            executable: command.executable, arguments: command.arguments,
            environment: .inherit.updating(overrides), logFile: member.logFile
        )
        state.withLock {
            $0.processes[member.name] = process
            $0.incarnations.append(process)
            $0.stopped.remove(member.name)
        }
    }

    // MARK: Members

    /// The current membership, in order of joining.
    public var members: [Member] { state.withLock { $0.members } }

    /// Members whose process runs and is not stopped (SIGSTOP).
    public var running: [Member] {
        state.withLock { state in
            state.members.filter { state.processes[$0.name]?.isRunning == true && !state.stopped.contains($0.name) }
        }
    }

    public func member(_ name: String) throws -> Member {
        guard let member = members.first(where: { $0.name == name }) else { throw PeerClusterError("no member \(name)") }
        return member
    }

    /// How many members make a majority of the current membership.
    public var quorum: Int { members.count / 2 + 1 }

    /// Sends `signal` to the member's process (SIGSTOP / SIGCONT pause and resume it; a stopped member is left
    /// out of `running`).
    public func signal(_ member: Member, _ signal: Int32) throws {
        guard let process = state.withLock({ $0.processes[member.name] }), process.signal(signal) else {
            throw failure("\(member) is not running; cannot send signal \(signal)", [member])
        }
        state.withLock { state in
            if signal == SIGSTOP { state.stopped.insert(member.name) }
            if signal == SIGCONT { state.stopped.remove(member.name) }
        }
    }

    /// SIGKILLs the member, as a crashed machine, and waits until it is gone.
    public func kill(_ member: Member) async throws {
        guard let process = state.withLock({ $0.processes[member.name] }) else { throw PeerClusterError("\(member) never ran") }
        _ = process.signal(SIGKILL)
        do {
            try await process.waitForExit(timeout: .seconds(10))
        } catch {
            throw failure("\(member) did not exit after SIGKILL: \(error)", [member])
        }
        _ = state.withLock { $0.stopped.remove(member.name) }
    }

    /// Starts a member that is not running, with its data directory, ports and command line. Does not wait
    /// for it to be healthy (`waitUntilHealthy`).
    public func start(_ member: Member) async throws {
        if state.withLock({ $0.processes[member.name]?.isRunning == true }) { throw PeerClusterError("\(member) is already running") }
        try launch(member)
        try await state.withLock { $0.processes[member.name] }?.waitForSpawn()
    }

    /// `kill` (if running), then `start`.
    public func restart(_ member: Member) async throws {
        if state.withLock({ $0.processes[member.name]?.isRunning == true }) { try await kill(member) }
        try await start(member)
    }

    public func isRunning(_ member: Member) -> Bool { state.withLock { $0.processes[member.name]?.isRunning == true } }

    /// The tail of the member's log, for failure messages.
    public func logTail(_ member: Member, _ characters: Int = 2000) -> String {
        guard let text = try? String(contentsOfFile: member.logFile, encoding: .utf8) else { return "(no log at \(member.logFile))" }
        return String(text.suffix(characters))
    }

    /// An error whose message ends with the log tails of `members`.
    public func failure(_ message: String, _ members: [Member]? = nil) -> PeerClusterError {
        let tails = (members ?? self.members).map { "--- \($0.name) (\($0.clientURL)) log tail:\n\(logTail($0, 1500))" }
        return PeerClusterError(([message] + tails).joined(separator: "\n"))
    }

    // MARK: Health and leadership

    /// Waits (bounded) until each of `members` (default: all running) answers `GET /health` with
    /// `{"health":"true"}`. Fails at once when one of them exits.
    public func waitUntilHealthy(members: [Member]? = nil, timeout: Duration = .seconds(20)) async throws {
        let members = members ?? running
        let deadline = ContinuousClock.now + timeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            for member in members {
                group.addTask {
                    var last = "no answer yet"
                    while true {
                        if let exited = self.state.withLock({ $0.processes[member.name] })?.exitStatus {
                            throw self.failure("\(member) exited (\(exited)) while waiting for it to be healthy", [member])
                        }
                        do {
                            let reply = try await self.request(member, "GET", "/health", timeout: .seconds(1))
                            if reply.status == 200, reply.json()?["health"] as? String == "true" { return }
                            last = "\(reply)"
                        } catch {
                            last = "\(error)"
                        }
                        guard ContinuousClock.now < deadline else {
                            throw self.failure("\(member) not healthy within \(timeout); last /health answer: \(last)", [member])
                        }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The leader, once a majority of the membership agrees on it (bounded retry). Asks `among` (default: the
    /// running members) for `/v2/stats/self`: the leader is the member whose `state` is `StateLeader` and whose
    /// `id` is the `leaderInfo.leader` of a majority. Members that do not answer stats are asked
    /// `/v2/members/leader` instead (a member object; a majority must name the same one).
    public func leader(among candidates: [Member]? = nil, timeout: Duration = .seconds(15)) async throws -> Member {
        let deadline = ContinuousClock.now + timeout
        var views: [LeaderView] = []
        while true {
            let asked = candidates ?? running
            views = await withTaskGroup(of: LeaderView.self) { group in
                for member in asked { group.addTask { await self.leaderView(of: member) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            if let name = Self.agreedLeader(views, quorum: quorum), let leader = members.first(where: { $0.name == name }) {
                return leader
            }
            guard ContinuousClock.now < deadline else {
                let seen = views.map { "\($0.member): \($0.summary)" }.joined(separator: "; ")
                throw failure("no leader agreed by \(quorum) of \(members.count) members within \(timeout); views: \(seen)", candidates)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private struct LeaderView: Sendable {
        var member: String
        /// From `/v2/stats/self`.
        var id: String?
        var role: String?
        var leaderID: String?
        /// From `/v2/members/leader`, when stats gave no answer.
        var leaderName: String?
        var summary: String
    }

    private func leaderView(of member: Member) async -> LeaderView {
        var view = LeaderView(member: member.name, summary: "")
        if let stats = try? await request(member, "GET", "/v2/stats/self", timeout: .seconds(1)),
            stats.status == 200, let json = stats.json(), let role = json["state"] as? String
        {
            view.id = json["id"] as? String
            view.role = role
            view.leaderID = (json["leaderInfo"] as? [String: Any])?["leader"] as? String
            view.summary = "\(role), leader \(view.leaderID ?? "?")"
            return view
        }
        do {
            let reply = try await request(member, "GET", "/v2/members/leader", timeout: .seconds(1))
            view.leaderName = reply.status == 200 ? reply.json()?["name"] as? String : nil
            view.summary = "members/leader: \(reply)"
        } catch {
            view.summary = "\(error)"
        }
        return view
    }

    private static func agreedLeader(_ views: [LeaderView], quorum: Int) -> String? {
        for view in views where view.role == "StateLeader" {
            guard let id = view.id else { continue }
            if views.count(where: { $0.leaderID == id }) >= quorum { return view.member }
        }
        let named = Dictionary(grouping: views.compactMap(\.leaderName), by: { $0 })
        return named.first { !$0.key.isEmpty && $0.value.count >= quorum }?.key
    }

    // MARK: Membership

    /// Adds a member: `POST /v2/members` (201 with its `id`) to a running member, then starts it with
    /// `--initial-cluster-state existing` and every current member in `--initial-cluster`. Does not wait for
    /// it to be healthy.
    public func addMember(name: String? = nil, timeout: Duration = .seconds(20)) async throws -> Member {
        let member = try await makeMember(name: name)
        let body = Body.json(#"{"peerURLs":["\#(member.peerURL)"]}"#)
        let deadline = ContinuousClock.now + timeout
        var attempt = 0
        var last = ""
        while true {
            let asked = running
            if !asked.isEmpty {
                let target = asked[attempt % asked.count]
                attempt += 1
                do {
                    let reply = try await request(target, "POST", "/v2/members", body: body, timeout: .seconds(5))
                    if reply.status == 201, reply.json()?["id"] is String { break }
                    last = "\(target): \(reply)"
                    // 409: an earlier attempt that seemed to fail did add it.
                    if reply.status == 409, try await memberID(peerURL: member.peerURL) != nil { break }
                } catch {
                    last = "\(target): \(error)"
                }
            }
            guard ContinuousClock.now < deadline else {
                throw failure("POST /v2/members for \(member.name) (\(member.peerURL)) not answered 201 within \(timeout); last: \(last)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let initial = members + [member]
        let arguments = arguments(for: member, initialCluster: initial, state: "existing")
        state.withLock {
            $0.members.append(member)
            $0.arguments[member.name] = arguments
        }
        try launch(member)
        try await state.withLock { $0.processes[member.name] }?.waitForSpawn()
        return member
    }

    /// Removes a member: its id by name from `GET /v2/members`, `DELETE /v2/members/<id>` (204) on another
    /// running member, then waits (bounded) for its process to exit by itself, as etcd does once removed. A
    /// process still running after `exitTimeout` is killed. Returns whether it exited by itself (true when it
    /// was not running anyway).
    @discardableResult
    public func removeMember(_ member: Member, timeout: Duration = .seconds(20), exitTimeout: Duration = .seconds(15)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        var attempt = 0
        var last = "no attempt"
        var sentDelete = false
        while true {
            guard ContinuousClock.now < deadline else {
                throw failure("DELETE /v2/members for \(member) not answered 204 within \(timeout); last: \(last)")
            }
            if attempt > 0 { try await Task.sleep(for: .milliseconds(100)) }
            attempt += 1
            let asked = running.filter { $0 != member }
            guard !asked.isEmpty else {
                last = "no other running member to ask"
                continue
            }
            let target = asked[attempt % asked.count]
            let listedID: String?
            do {
                listedID = try await memberID(name: member.name, asking: target)
            } catch {
                last = "\(target): \(error)"
                continue
            }
            guard let id = listedID else {
                // No longer listed: a DELETE that seemed to fail went through.
                if sentDelete { break }
                throw failure("\(member) is not in \(target)'s /v2/members")
            }
            sentDelete = true
            do {
                let reply = try await request(target, "DELETE", "/v2/members/\(id)", timeout: .seconds(5))
                // 410: removed already, by an earlier attempt that seemed to fail.
                if reply.status == 204 || reply.status == 410 { break }
                last = "\(target): \(reply)"
            } catch {
                last = "\(target): \(error)"
            }
        }
        let process = state.withLock { state in
            state.members.removeAll { $0 == member }
            return state.processes[member.name]
        }
        guard let process, process.isRunning else { return true }
        do {
            try await process.waitForExit(timeout: exitTimeout)
            return true
        } catch {
            try await kill(member)
            return false
        }
    }

    /// The hex id under which `asking` lists the member named `name` in `/v2/members`.
    public func memberID(name: String, asking member: Member) async throws -> String? {
        try await listedMembers(asking: member).first { $0["name"] as? String == name }?["id"] as? String
    }

    private func memberID(peerURL: String) async throws -> String? {
        for member in running {
            guard let listed = try? await listedMembers(asking: member) else { continue }
            return listed.first { ($0["peerURLs"] as? [String])?.contains(peerURL) == true }?["id"] as? String
        }
        return nil
    }

    private func listedMembers(asking member: Member) async throws -> [[String: Any]] {
        let reply = try await request(member, "GET", "/v2/members", timeout: .seconds(2))
        guard reply.status == 200, let listed = reply.json()?["members"] as? [[String: Any]] else {
            throw failure("GET /v2/members on \(member): \(reply)", [member])
        }
        return listed
    }

    // MARK: Partitions

    /// Cuts the member off from every other member and from the test process (`.namespaces` only).
    public func isolate(_ member: Member) async throws {
        guard let network, let node = member.node else { throw PeerClusterError("isolate needs placement .namespaces") }
        try await network.isolate(node)
    }

    public func heal(_ member: Member) async throws {
        guard let network, let node = member.node else { throw PeerClusterError("heal needs placement .namespaces") }
        try await network.heal(node)
    }

    // MARK: Requests

    /// One request to `member` (`path` includes the query), bounded by `timeout`: a dead or stopped member
    /// never hangs a test.
    public func request(_ member: Member, _ method: String, _ path: String, body: Body? = nil, timeout: Duration = .seconds(2)) async throws -> Reply {
        var request = HTTPClientRequest(url: member.clientURL + path)
        request.method = HTTPMethod(rawValue: method)
        switch body {
        case .form(let form):
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        case .json(let json):
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        case nil:
            break
        }
        let (seconds, attoseconds) = timeout.components
        let deadline = NIODeadline.now() + .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let response = try await client.execute(request, deadline: deadline)
        let bytes = try await response.body.collect(upTo: 32 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), headers: headers, body: String(buffer: bytes))
    }

    /// Whether a failed `request` provably never reached the server: the connection was refused or could not
    /// be made in time (no request byte was sent). Anything else (reset, timeout after sending) may or may not
    /// have taken effect.
    public static func wasNotSent(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError, error == .connectTimeout { return true }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        if error is NIOConnectionError { return true }
        if let error = error as? IOError { return [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(error.errnoCode) }
        return false
    }
}

public struct PeerClusterError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
