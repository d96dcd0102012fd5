public import Foundation

/// A real `kv-peer` process for a test: the built binary, started on a free loopback port with a fresh data
/// directory, and always stopped when the test ends (see `ServiceProcess`).
///
///     try await KVPeerProcess.with { peer in
///         … peer.clientURL …
///         try await peer.kill()        // SIGKILL, as a crash would
///         try await peer.restart()     // same data dir, new port
///     }
public struct KVPeerProcess: Sendable {
    public let name: String
    public let process: ServiceProcess

    public var directory: URL { process.directory }
    public var dataDirectory: String { process.directory.appendingPathComponent("\(name).etcd").path }
    public var logPath: String { process.logPath }

    public static func binaryPath() throws -> String { try ServiceProcess.binaryPath(product: "kv-peer") }

    /// Runs `body` with a started kv-peer and stops it afterwards, also when `body` throws.
    public static func with<Result: Sendable>(
        name: String = "kv", arguments: [String] = [],
        _ body: @Sendable (KVPeerProcess) async throws -> Result
    ) async throws -> Result {
        let base = [
            "--name", name, "--data-dir", "{dir}/\(name).etcd",
            "--listen-client-urls", "http://127.0.0.1:0", "--advertise-client-urls", "http://127.0.0.1:0",
            // A member of its own still serves its peer URL; port 0 keeps parallel tests off etcd's 2380.
            "--listen-peer-urls", "http://127.0.0.1:0",
        ]
        // Flags only: stray ETCD_* variables of the test environment must not configure the member.
        var environment: [String: String?] = [:]
        for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("ETCD_") { environment[key] = .some(nil) }
        return try await ServiceProcess.with(product: "kv-peer", arguments: base + arguments, environment: environment) { process in
            try await body(KVPeerProcess(name: name, process: process))
        }
    }

    /// The running incarnation's client URL (`http://127.0.0.1:PORT`).
    public var clientURL: String {
        get throws { try process.url("client") }
    }

    public var port: Int {
        get throws {
            guard let port = try clientURL.split(separator: ":").last.flatMap({ Int($0) }) else { throw ServiceProcessError("no port") }
            return port
        }
    }

    public var starts: Int { process.starts }

    @discardableResult
    public func kill(_ signal: Int32? = nil, waitForExit: Bool = true) async throws -> String {
        try await process.kill(signal, waitForExit: waitForExit)
    }

    public func restart() async throws { try await process.restart() }

    public func logTail(_ characters: Int = 3000) -> String { process.logTail(characters) }
}
