public import Foundation
import Subprocess
import SystemPackage
import Synchronization

/// A real `kv-peer` process for a test: the built binary, started on a free loopback port with a fresh data
/// directory, and always stopped when the test ends, even when it fails (every incarnation, newest first:
/// SIGTERM, then SIGKILL if it lingers).
///
///     try await KVPeerProcess.with { peer in
///         … peer.clientURL …
///         try await peer.kill()        // SIGKILL, as a crash would
///         try await peer.restart()     // same data dir, new port
///     }
public final class KVPeerProcess: Sendable {
    public let name: String
    /// Temp directory holding the data dir and the log; removed at the end.
    public let directory: URL
    public let dataDirectory: String
    /// stderr of every incarnation, appended.
    public let logPath: String
    private let binary: String
    private let extraArguments: [String]
    private let incarnations = Mutex<[Incarnation]>([])

    /// How long a start may take before the ready line must have appeared.
    public static let readyTimeout: Duration = .seconds(60)
    /// How long SIGTERM gets before SIGKILL.
    public static let gracePeriod: Duration = .seconds(10)

    private init(name: String, binary: String, extraArguments: [String]) throws {
        self.name = name
        self.binary = binary
        self.extraArguments = extraArguments
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kv-peer-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        dataDirectory = directory.appendingPathComponent("\(name).etcd").path
        logPath = directory.appendingPathComponent("\(name).log").path
    }

    // MARK: Finding the binary

    /// `$KV_PEER_BIN`, else the `kv-peer` SwiftPM built next to this test bundle (`swift build --show-bin-path`).
    /// `swift test` builds it: the test build includes every product of the package.
    public static func binaryPath() throws -> String {
        let fileManager = FileManager.default
        if let path = ProcessInfo.processInfo.environment["KV_PEER_BIN"], !path.isEmpty {
            guard fileManager.isExecutableFile(atPath: path) else {
                throw KVPeerProcessError("KV_PEER_BIN=\(path) is not an executable file")
            }
            return path
        }
        var looked: [String] = []
        let starts = [CommandLine.arguments.first, Bundle.main.executablePath, Bundle.main.bundlePath].compactMap { $0 }
        for start in starts {
            var directory = URL(fileURLWithPath: start).resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("kv-peer").path
                looked.append(candidate)
                if fileManager.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw KVPeerProcessError(
            "kv-peer binary not found (looked at \(looked.joined(separator: ", "))). Build it with "
                + "`swift build --product kv-peer` (or `swift build --build-tests`), or set KV_PEER_BIN."
        )
    }

    // MARK: Life cycle

    /// Runs `body` with a started kv-peer and stops it afterwards, also when `body` throws.
    public static func with<Result: Sendable>(
        name: String = "kv", arguments: [String] = [],
        _ body: @Sendable (KVPeerProcess) async throws -> Result
    ) async throws -> Result {
        let peer = try KVPeerProcess(name: name, binary: binaryPath(), extraArguments: arguments)
        let result: Result
        do {
            try await peer.launch()
            result = try await body(peer)
        } catch {
            await peer.stopAll()
            peer.removeDirectory()
            throw error
        }
        await peer.stopAll()
        peer.removeDirectory()
        return result
    }

    /// The running incarnation's client URL (`http://127.0.0.1:PORT`).
    public var clientURL: String {
        get throws {
            guard case .running(let url) = current?.phase.value else { throw KVPeerProcessError("kv-peer is not running") }
            return url
        }
    }

    public var port: Int {
        get throws {
            guard let port = try clientURL.split(separator: ":").last.flatMap({ Int($0) }) else { throw KVPeerProcessError("no port") }
            return port
        }
    }

    /// How many times the process was started so far.
    public var starts: Int { incarnations.withLock { $0.count } }

    /// Sends `signal` to the running process; by default (and always for SIGKILL) waits until it has exited.
    /// Returns how it ended, e.g. `signaled(9)`.
    @discardableResult
    public func kill(_ signal: Int32? = nil, waitForExit: Bool = true) async throws -> String {
        let signal = signal ?? SIGKILL
        guard let incarnation = current, let pid = incarnation.pid.value else {
            throw KVPeerProcessError("kv-peer is not running")
        }
        _ = Foundation.kill(pid, signal)
        guard waitForExit || signal == SIGKILL else { return "signal \(signal) sent" }
        return try await incarnation.waitForExit(timeout: Self.gracePeriod * 2)
    }

    /// Stops the running process gracefully (if any) and starts a new one on the same data directory.
    public func restart() async throws {
        if let incarnation = current { await incarnation.stop() }
        try await launch()
    }

    /// The tail of the log (stderr of every incarnation), for failure messages.
    public func logTail(_ characters: Int = 3000) -> String {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "no log").suffix(characters).description
    }

    private var current: Incarnation? { incarnations.withLock { $0.last } }

    private func launch() async throws {
        var arguments = [
            "--name", name, "--data-dir", dataDirectory,
            "--listen-client-urls", "http://127.0.0.1:0", "--advertise-client-urls", "http://127.0.0.1:0",
        ]
        arguments += extraArguments
        // Flags only: stray ETCD_* variables of the test environment must not configure the member.
        var overrides: [Environment.Key: String?] = [:]
        for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("ETCD_") {
            overrides[Environment.Key(stringLiteral: key)] = .some(nil)
        }
        let incarnation = Incarnation()
        incarnations.withLock { $0.append(incarnation) }
        incarnation.start(binary: binary, arguments: arguments, environment: .inherit.updating(overrides), logPath: logPath)
        let phase: Incarnation.Phase
        do {
            phase = try await incarnation.phase.wait(for: "kv-peer's ready line", timeout: Self.readyTimeout) { !$0.isStarting }
        } catch {
            await incarnation.stop()
            throw KVPeerProcessError("kv-peer printed no ready line within \(Self.readyTimeout): \(error)\nlog tail:\n\(logTail())")
        }
        if case .exited(let how) = phase {
            throw KVPeerProcessError("kv-peer exited before it was ready (\(how))\nlog tail:\n\(logTail())")
        }
    }

    /// Stops every incarnation still running, newest first. Runs unstructured so a cancelled test still waits.
    private func stopAll() async {
        let all = incarnations.withLock { $0 }
        await Task {
            for incarnation in all.reversed() { await incarnation.stop() }
        }.value
    }

    private func removeDirectory() {
        try? FileManager.default.removeItem(at: directory)
    }
}

public struct KVPeerProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One run of the binary: from spawn to exit.
private final class Incarnation: Sendable {
    enum Phase: Sendable {
        case starting
        case running(url: String)
        case exited(String)

        var isStarting: Bool { if case .starting = self { true } else { false } }
        var hasExited: Bool { if case .exited = self { true } else { false } }
    }

    let phase = Observed(Phase.starting)
    /// Set once spawned, cleared once reaped.
    let pid = Observed<Int32?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    func start(binary: String, arguments: [String], environment: Environment, logPath: String) {
        let handle = Task.detached { [self] in
            do {
                let log = try FileDescriptor.open(
                    FilePath(logPath), .writeOnly, options: [.create, .append], permissions: [.ownerReadWrite, .groupRead, .otherRead]
                )
                let result = try await Subprocess.run(
                    .path(FilePath(binary)), arguments: Arguments(arguments), environment: environment,
                    input: .none, output: .sequence, error: .fileDescriptor(log, closeAfterSpawningProcess: true)
                ) { execution in
                    self.pid.set(execution.processIdentifier.value)
                    var other: [String] = []
                    // kv-peer prints exactly one line on stdout; read to EOF so the pipe never fills.
                    for try await line in execution.standardOutput.strings() {
                        if phase.value.isStarting, let url = Self.readyURL(in: line) {
                            phase.set(.running(url: url))
                        } else {
                            other.append(line)
                        }
                    }
                    return other
                }
                pid.set(nil)
                let extra = result.closureResult.isEmpty ? "" : "; other stdout: \(result.closureResult.joined(separator: " | "))"
                phase.set(.exited("\(result.terminationStatus)\(extra)"))
            } catch {
                pid.set(nil)
                phase.set(.exited("could not run \(binary): \(error)"))
            }
        }
        task.withLock { $0 = handle }
    }

    /// `listening client=http://127.0.0.1:PORT` → the first client URL.
    static func readyURL(in line: String) -> String? {
        guard line.hasPrefix("listening ") else { return nil }
        return line.split(separator: " ").first { $0.hasPrefix("client=") }.map { String($0.dropFirst("client=".count)) }
    }

    func waitForExit(timeout: Duration) async throws -> String {
        let phase = try await phase.wait(for: "kv-peer to exit", timeout: timeout) { $0.hasExited }
        guard case .exited(let how) = phase else { return "?" }
        return how
    }

    /// SIGTERM, then SIGKILL after the grace period; returns once the process is reaped.
    func stop() async {
        if !phase.value.hasExited {
            // A spawn may still be under way; it sets the pid or ends in `.exited`.
            _ = try? await pid.wait(for: "kv-peer to be spawned", timeout: .seconds(10)) { $0 != nil }
        }
        if !phase.value.hasExited, let pid = pid.value {
            _ = kill(pid, SIGTERM)
            if (try? await waitForExit(timeout: KVPeerProcess.gracePeriod)) == nil, let pid = self.pid.value {
                _ = kill(pid, SIGKILL)
            }
        }
        await task.withLock { $0 }?.value
    }
}
