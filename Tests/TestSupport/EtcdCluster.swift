public import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Subprocess
import SystemPackage
import Synchronization

/// Real etcd 3.4 members (`--enable-v2=true`) started for a test on free loopback ports, in a temp dir,
/// and always stopped afterwards, even when the test fails.
public final class EtcdCluster: Sendable {
    public struct Member: Sendable {
        public let name: String
        public let clientURL: String
        public let peerURL: String
        let dataDir: String
        let logFile: String
    }

    public let members: [Member]
    public let directory: URL
    private let pids = Mutex<[String: Int32]>([:])
    private let killed = Mutex<Set<String>>([])

    /// Client URLs of all members, for a `KeysClientConfiguration`.
    public var clientURLs: [String] { members.map(\.clientURL) }

    init(members: [Member], directory: URL) {
        self.members = members
        self.directory = directory
    }

    /// Path of the etcd binary: `$ETCD_BIN`, else Debian's `/usr/bin/etcd`.
    public static var binary: String {
        ProcessInfo.processInfo.environment["ETCD_BIN"] ?? "/usr/bin/etcd"
    }

    /// Runs `body` against a fresh cluster of `size` members. Retries start-up (on new ports) a few times,
    /// since a free port can be taken between choosing it and etcd binding it.
    public static func with<Result: Sendable>(
        size: Int = 1,
        _ body: @Sendable (EtcdCluster) async throws -> Result
    ) async throws -> Result {
        var lastError: (any Error)?
        for _ in 0..<3 {
            let cluster = try make(size: size)
            do {
                return try await cluster.run(body)
            } catch let error as EtcdStartError {
                lastError = error
                continue
            }
        }
        throw lastError ?? EtcdStartError(detail: "etcd did not start")
    }

    private static func make(size: Int) throws -> EtcdCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ports = try LoopbackPorts.reserve(count: size * 2)
        let members = (0..<size).map { index in
            Member(
                name: "m\(index)",
                clientURL: "http://127.0.0.1:\(ports[index * 2])",
                peerURL: "http://127.0.0.1:\(ports[index * 2 + 1])",
                dataDir: directory.appendingPathComponent("m\(index).etcd").path,
                logFile: directory.appendingPathComponent("m\(index).log").path
            )
        }
        return EtcdCluster(members: members, directory: directory)
    }

    private func arguments(for member: Member) -> [String] {
        let initialCluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        return [
            "--name", member.name, "--data-dir", member.dataDir,
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", "flotilla-test-\(directory.lastPathComponent)",
            "--enable-v2=true", "--heartbeat-interval", "50", "--election-timeout", "500",
            "--logger", "zap", "--log-outputs", member.logFile,
        ]
    }

    private func run<Result: Sendable>(_ body: @Sendable (EtcdCluster) async throws -> Result) async throws -> Result {
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            for member in members {
                group.addTask {
                    _ = try await Subprocess.run(
                        .path(FilePath(Self.binary)), arguments: Arguments(self.arguments(for: member)),
                        input: .none, output: .discarded, error: .discarded
                    ) { execution in
                        self.pids.withLock { $0[member.name] = execution.processIdentifier.value }
                    }
                    return nil
                }
            }
            let result: Result
            do {
                try await waitUntilHealthy()
                result = try await body(self)
            } catch {
                stopAll()
                throw error
            }
            stopAll()
            try await group.waitForAll()
            return result
        }
    }

    /// Waits (bounded) until every member not killed answers `/health` with `{"health":"true"}`.
    public func waitUntilHealthy(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        let gone = killed.withLock { $0 }
        for member in members where !gone.contains(member.name) {
            while true {
                if await Self.isHealthy(member) { break }
                guard ContinuousClock.now < deadline else {
                    let log = (try? String(contentsOfFile: member.logFile, encoding: .utf8))?.suffix(2000) ?? "no log"
                    throw EtcdStartError(detail: "\(member.name) at \(member.clientURL) not healthy after \(timeout); log tail:\n\(log)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    static func isHealthy(_ member: Member) async -> Bool {
        var request = HTTPClientRequest(url: member.clientURL + "/health")
        request.method = .GET
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(1)),
            let body = try? await response.body.collect(upTo: 4096)
        else { return false }
        return response.status == .ok && String(buffer: body).contains("true")
    }

    /// SIGKILLs a member, as a crashed machine would disappear.
    public func kill(_ name: String) {
        _ = killed.withLock { $0.insert(name) }
        if let pid = pids.withLock({ $0.removeValue(forKey: name) }) {
            _ = Foundation.kill(pid, SIGKILL)
        }
    }

    private func stopAll() {
        let remaining = pids.withLock { pids in
            defer { pids = [:] }
            return Array(pids.values)
        }
        for pid in remaining { _ = Foundation.kill(pid, SIGKILL) }
    }
}

public struct EtcdStartError: Error, CustomStringConvertible {
    public let detail: String
    public var description: String { "etcd did not start: \(detail)" }
}

/// Loopback ports for servers that cannot bind port 0 themselves (etcd needs its URLs up front). They are
/// drawn below Linux's ephemeral range, so port-0 listeners of parallel tests never take them, checked free
/// by binding, and never handed out twice in one test process.
public enum LoopbackPorts {
    private static let issued = Mutex<Set<Int>>([])

    public static func reserve(count: Int) throws -> [Int] {
        var ports: [Int] = []
        var attempts = 0
        while ports.count < count {
            attempts += 1
            guard attempts < 10_000 else { throw EtcdStartError(detail: "no free loopback ports") }
            let candidate = Int.random(in: 20_000..<32_000)
            let fresh = issued.withLock { $0.insert(candidate).inserted }
            if fresh, canBind(candidate) { ports.append(candidate) }
        }
        return ports
    }

    private static func canBind(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
