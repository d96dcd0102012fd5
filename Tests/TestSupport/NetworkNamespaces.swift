import Foundation
import Synchronization

/// A private network of Linux network namespaces for partition tests: one namespace per node and a hub
/// namespace holding a bridge, every node on a veth pair to the bridge, and one veth pair from the root
/// namespace (where the test runs) to the bridge, all in a free `10.213.<k>.0/24`.
///
///     root ns: <prefix>r 10.213.k.1 ──┐
///                                     hub ns: br0 ── <prefix>h<i> ══ <prefix>n<i> 10.213.k.(10+i)  (node ns)
///
/// Names carry a random prefix (`flt` + 4 hex digits), so parallel runs never meet. `destroy()` deletes the
/// namespaces; the veths vanish with them. Processes started in a node's namespace must have ended first, or
/// the namespace (and its veth) lives on until they do.
///
///     try await NetworkNamespaces.with(nodes: 3) { net in
///         let node = try net.node(0)          // node.namespace, node.address
///         try await net.isolate(0)            // cut node 0 off from everyone, the test process included
///         try await net.heal(0)
///     }
public final class NetworkNamespaces: Sendable {
    public struct Node: Sendable, Hashable {
        public let index: Int
        public let namespace: String
        public let address: String
        /// The veth end in the node's namespace.
        let interface: String
        /// The veth end plugged into the hub's bridge; its link state is what `isolate` and `heal` flip.
        let hubInterface: String
    }

    /// `flt` + 4 hex digits; every namespace and interface name starts with it.
    public let prefix: String
    /// The `k` of `10.213.k.0/24`.
    public let subnet: Int
    /// The root namespace's address on the private network.
    public var rootAddress: String { "10.213.\(subnet).1" }

    private let hub: String
    private let rootInterface: String
    private let nodes = Mutex<[Int: Node]>([:])
    private let destroyed = Mutex(false)

    /// Subnets taken by networks of this process; another process's are seen in `ip -o addr`.
    private static let subnetsInUse = Mutex<Set<Int>>([])

    private init(prefix: String, subnet: Int) {
        self.prefix = prefix
        self.subnet = subnet
        hub = "\(prefix)-hub"
        rootInterface = "\(prefix)r"
    }

    // MARK: Availability

    /// Whether this process may build namespaces: root, and `ip netns add/del` and a bridge work.
    public static func available() -> Bool { unavailableReason == nil }

    /// Why namespaces cannot be built here, or nil when they can. Probed once per process.
    public static let unavailableReason: String? = {
        guard geteuid() == 0 else { return "network namespaces need root (euid is \(geteuid()))" }
        guard let ip = ipTool else { return "no `ip` tool (iproute2) in /usr/sbin, /sbin, /usr/bin or /bin" }
        let probe = "fltprobe\(String(UInt16.random(in: 0...UInt16.max), radix: 16))"
        defer { _ = spawnAndWait(ip, ["netns", "del", probe]) }
        let steps = [["netns", "add", probe], ["-n", probe, "link", "add", "br0", "type", "bridge"]]
        for step in steps {
            let status = spawnAndWait(ip, step)
            if status != 0 { return "`ip \(step.joined(separator: " "))` failed (status \(status))" }
        }
        return nil
    }()

    /// The iproute2 `ip` binary.
    public static let ipTool: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    // MARK: Life cycle

    /// Runs `body` with a network of `nodes` nodes (0..<nodes) and destroys it afterwards, also on failure.
    public static func with<Result: Sendable>(
        nodes count: Int,
        _ body: @Sendable (NetworkNamespaces) async throws -> Result
    ) async throws -> Result {
        let network = try await create(nodes: count)
        let result: Result
        do {
            result = try await body(network)
        } catch {
            await network.destroy()
            throw error
        }
        await network.destroy()
        return result
    }

    /// Builds the hub, the root link and nodes 0..<count. On failure whatever was built is removed again.
    public static func create(nodes count: Int) async throws -> NetworkNamespaces {
        if let reason = unavailableReason { throw NetworkNamespacesError("network namespaces unavailable: \(reason)") }
        let prefix = "flt" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        let network = NetworkNamespaces(prefix: prefix, subnet: try await freeSubnet())
        do {
            try await network.buildHub()
            for index in 0..<count { _ = try await network.addNode(index) }
        } catch {
            await network.destroy()
            throw error
        }
        return network
    }

    /// Adds node `index` (its namespace, veth pair and address), e.g. for a member joining later.
    @discardableResult
    public func addNode(_ index: Int) async throws -> Node {
        precondition((0..<240).contains(index), "node index \(index) out of range")
        let node = Node(
            index: index, namespace: "\(prefix)-n\(index)", address: "10.213.\(subnet).\(10 + index)",
            interface: "\(prefix)n\(index)", hubInterface: "\(prefix)h\(index)"
        )
        let fresh = nodes.withLock { nodes in
            guard nodes[index] == nil else { return false }
            nodes[index] = node
            return true
        }
        guard fresh else { throw NetworkNamespacesError("node \(index) already exists in \(prefix)") }
        try await Self.ip(batch: [
            "netns add \(node.namespace)",
            "link add \(node.interface) netns \(node.namespace) type veth peer name \(node.hubInterface) netns \(hub)",
        ])
        try await Self.ip(in: hub, batch: ["link set \(node.hubInterface) master br0", "link set \(node.hubInterface) up"])
        try await Self.ip(in: node.namespace, batch: [
            "link set lo up", "addr add \(node.address)/24 dev \(node.interface)", "link set \(node.interface) up",
        ])
        return node
    }

    public func node(_ index: Int) throws -> Node {
        guard let node = nodes.withLock({ $0[index] }) else { throw NetworkNamespacesError("no node \(index) in \(prefix)") }
        return node
    }

    /// Cuts node `index` off from every other node and from the test process.
    ///
    /// Setting the hub-side veth down is symmetric and immediate: the bridge stops forwarding to and from that
    /// port and the node's own end loses carrier, so packets in both directions are dropped (established TCP
    /// connections stall, new ones time out), as with a pulled cable. `tc netem loss 100%` would only drop a
    /// device's egress, so both ends would need a qdisc (ingress through an ifb device) to cut both directions.
    public func isolate(_ index: Int) async throws {
        try await Self.ip(in: hub, batch: ["link set \(try node(index).hubInterface) down"])
    }

    /// Reconnects node `index` (the bridge has STP off, so its port forwards again at once).
    public func heal(_ index: Int) async throws {
        try await Self.ip(in: hub, batch: ["link set \(try node(index).hubInterface) up"])
    }

    /// Runs a command inside node `index`'s namespace (e.g. curl, as a client on the node's side of a partition).
    public func run(in index: Int, _ command: [String], timeout: Duration = .seconds(10)) async throws -> CommandOutput {
        guard let ip = Self.ipTool else { throw NetworkNamespacesError("no ip tool") }
        return try await BoundedCommand.run(ip, ["netns", "exec", try node(index).namespace] + command, timeout: timeout)
    }

    /// The command line that runs `executable` inside node `index`'s namespace (`ip netns exec` execs in place,
    /// so the process id is the executable's own).
    public func command(in index: Int, executable: String, arguments: [String]) throws -> (executable: String, arguments: [String]) {
        guard let ip = Self.ipTool else { throw NetworkNamespacesError("no ip tool") }
        return (ip, ["netns", "exec", try node(index).namespace, executable] + arguments)
    }

    /// Deletes every namespace (and so every veth) of this network. Idempotent; errors are ignored, since a
    /// half-built network is torn down the same way.
    public func destroy() async {
        let first = destroyed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let namespaces = nodes.withLock { $0.values.map(\.namespace) } + [hub]
        // Unstructured, so a cancelled test still tears the network down.
        await Task {
            _ = try? await Self.ip(batch: ["link del \(rootInterface)"] + namespaces.map { "netns del \($0)" }, force: true)
            _ = Self.subnetsInUse.withLock { $0.remove(subnet) }
        }.value
    }

    // MARK: Building

    private func buildHub() async throws {
        try await Self.ip(batch: [
            "netns add \(hub)",
            "link add \(rootInterface) type veth peer name \(rootInterface)h netns \(hub)",
            "addr add \(rootAddress)/24 dev \(rootInterface)",
            "link set \(rootInterface) up",
        ])
        try await Self.ip(in: hub, batch: [
            "link set lo up", "link add br0 type bridge", "link set br0 up",
            "link set \(rootInterface)h master br0", "link set \(rootInterface)h up",
        ])
    }

    /// A `k` whose `10.213.k.0/24` no interface or route of the root namespace uses.
    private static func freeSubnet() async throws -> Int {
        guard let ip = ipTool else { throw NetworkNamespacesError("no ip tool") }
        let addresses = try await BoundedCommand.run(ip, ["-o", "addr"], timeout: .seconds(10)).stdout
        let routes = try await BoundedCommand.run(ip, ["route"], timeout: .seconds(10)).stdout
        for _ in 0..<200 {
            let k = Int.random(in: 1...254)
            let used = addresses.contains("10.213.\(k).") || routes.contains("10.213.\(k).")
            if !used, subnetsInUse.withLock({ $0.insert(k).inserted }) { return k }
        }
        throw NetworkNamespacesError("no free 10.213.k.0/24 subnet")
    }

    /// Runs `lines` with one `ip [-n namespace] -batch` (one process for many steps); stops at the first
    /// failing line unless `force`.
    private static func ip(in namespace: String? = nil, batch lines: [String], force: Bool = false) async throws {
        guard let ip = ipTool else { throw NetworkNamespacesError("no ip tool") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ip-batch-\(UUID().uuidString)")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let arguments = (namespace.map { ["-n", $0] } ?? []) + (force ? ["-force"] : []) + ["-batch", file.path]
        let output = try await BoundedCommand.run(ip, arguments, timeout: .seconds(20))
        guard output.exitCode == 0 || force else {
            throw NetworkNamespacesError("`ip \(arguments.dropLast().joined(separator: " "))` failed for\n\(lines.joined(separator: "\n"))\n\(output)")
        }
    }

    /// For the synchronous availability probe only (a few milliseconds, once per process).
    private static func spawnAndWait(_ executable: String, _ arguments: [String]) -> Int32 {
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Quiet: the probe's failures are reported through `unavailableReason`.
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let spawned = (argv + [nil]).withUnsafeBufferPointer { pointer in
            posix_spawn(&pid, executable, &actions, nil, pointer.baseAddress!, environ)
        }
        guard spawned == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        // WIFEXITED / WEXITSTATUS by hand: the macros are not imported.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }
}

public struct NetworkNamespacesError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
