public import Foundation
import Subprocess
import SystemPackage
import Synchronization

/// A real service process for a test (kv-peer, scheduler, …): the built binary, started with the caller's
/// arguments, ready once it prints `listening name=url …`, and always stopped when the test ends, even when it
/// fails (every incarnation, newest first: SIGTERM, then SIGKILL if it lingers).
///
///     try await ServiceProcess.with(product: "scheduler", arguments: ["--endpoints", url]) { scheduler in
///         … try scheduler.url("api") …
///         try await scheduler.kill()      // SIGKILL, as a crash would
///         try await scheduler.restart()   // same arguments
///     }
public final class ServiceProcess: Sendable {
    public let product: String
    /// Temp directory for the process's data and log; removed at the end.
    public let directory: URL
    /// stderr of every incarnation, appended.
    public let logPath: String
    private let binary: String
    private let arguments: [String]
    private let environment: [String: String?]
    private let incarnations = Mutex<[Incarnation]>([])

    /// How long a start may take before the ready line must have appeared.
    public static let readyTimeout: Duration = .seconds(60)
    /// How long SIGTERM gets before SIGKILL.
    public static let gracePeriod: Duration = .seconds(10)

    /// `arguments` may contain `{dir}`, replaced by `directory`.
    init(product: String, binary: String, arguments: [String], environment: [String: String?]) throws {
        self.product = product
        self.binary = binary
        self.environment = environment
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(product)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logPath = directory.appendingPathComponent("\(product).log").path
        let path = directory.path
        self.arguments = arguments.map { $0.replacingOccurrences(of: "{dir}", with: path) }
    }

    // MARK: Finding the binary

    /// `$<PRODUCT>_BIN` (e.g. `KV_PEER_BIN`), else the product SwiftPM built next to this test bundle.
    /// `swift test` builds it: the test build includes every product of the package.
    public static func binaryPath(product: String) throws -> String {
        let fileManager = FileManager.default
        let variable = product.uppercased().replacingOccurrences(of: "-", with: "_") + "_BIN"
        if let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty {
            guard fileManager.isExecutableFile(atPath: path) else {
                throw ServiceProcessError("\(variable)=\(path) is not an executable file")
            }
            return path
        }
        var looked: [String] = []
        let starts = [CommandLine.arguments.first, Bundle.main.executablePath, Bundle.main.bundlePath].compactMap { $0 }
        for start in starts {
            var directory = URL(fileURLWithPath: start).resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent(product).path
                looked.append(candidate)
                if fileManager.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw ServiceProcessError(
            "\(product) binary not found (looked at \(looked.joined(separator: ", "))). Build it with "
                + "`swift build --product \(product)` (or `swift build --build-tests`), or set \(variable)."
        )
    }

    // MARK: Life cycle

    /// Runs `body` with the started process and stops it afterwards, also when `body` throws. `environment`
    /// entries set (or, with nil, remove) variables of the inherited environment.
    public static func with<Result: Sendable>(
        product: String, arguments: [String], environment: [String: String?] = [:],
        _ body: @Sendable (ServiceProcess) async throws -> Result
    ) async throws -> Result {
        let process = try ServiceProcess(product: product, binary: binaryPath(product: product), arguments: arguments, environment: environment)
        let result: Result
        do {
            try await process.launch()
            result = try await body(process)
        } catch {
            await process.stopAll()
            process.removeDirectory()
            throw error
        }
        await process.stopAll()
        process.removeDirectory()
        return result
    }

    /// The running incarnation's URL for `name` in its ready line (`listening name=url`).
    public func url(_ name: String) throws -> String {
        guard case .running(let endpoints) = current?.phase.value else { throw ServiceProcessError("\(product) is not running") }
        guard let url = endpoints.first(where: { $0.name == name })?.url else {
            throw ServiceProcessError("\(product)'s ready line has no \(name)= URL")
        }
        return url
    }

    /// How many times the process was started so far.
    public var starts: Int { incarnations.withLock { $0.count } }

    /// Whether the newest incarnation is still running.
    public var isRunning: Bool {
        if case .running = current?.phase.value { return true }
        return false
    }

    /// Sends `signal` to the running process; by default (and always for SIGKILL) waits until it has exited.
    /// Returns how it ended, e.g. `signaled(9)`.
    @discardableResult
    public func kill(_ signal: Int32? = nil, waitForExit: Bool = true) async throws -> String {
        let signal = signal ?? SIGKILL
        guard let incarnation = current, let pid = incarnation.pid.value else {
            throw ServiceProcessError("\(product) is not running")
        }
        _ = Foundation.kill(pid, signal)
        guard waitForExit || signal == SIGKILL else { return "signal \(signal) sent" }
        return try await incarnation.waitForExit(timeout: Self.gracePeriod * 2)
    }

    /// Stops the running process gracefully (if any) and starts it again with the same arguments.
    public func restart() async throws {
        if let incarnation = current { await incarnation.stop() }
        try await launch()
    }

    /// Stops the running process gracefully (SIGTERM, then SIGKILL after the grace period).
    public func stop() async {
        if let incarnation = current { await incarnation.stop() }
    }

    /// The tail of the log (stderr of every incarnation), for failure messages.
    public func logTail(_ characters: Int = 3000) -> String {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "no log").suffix(characters).description
    }

    private var current: Incarnation? { incarnations.withLock { $0.last } }

    private func launch() async throws {
        var overrides: [Environment.Key: String?] = [:]
        for (key, value) in environment { overrides[Environment.Key(stringLiteral: key)] = .some(value) }
        let incarnation = Incarnation()
        incarnations.withLock { $0.append(incarnation) }
        incarnation.start(binary: binary, arguments: arguments, environment: .inherit.updating(overrides), logPath: logPath)
        let phase: Incarnation.Phase
        do {
            phase = try await incarnation.phase.wait(for: "\(product)'s ready line", timeout: Self.readyTimeout) { !$0.isStarting }
        } catch {
            await incarnation.stop()
            throw ServiceProcessError("\(product) printed no ready line within \(Self.readyTimeout): \(error)\nlog tail:\n\(logTail())")
        }
        if case .exited(let how) = phase {
            throw ServiceProcessError("\(product) exited before it was ready (\(how))\nlog tail:\n\(logTail())")
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

public struct ServiceProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One run of the binary: from spawn to exit.
final class Incarnation: Sendable {
    enum Phase: Sendable {
        case starting
        case running(endpoints: [(name: String, url: String)])
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
                    // Services print one ready line on stdout; read to EOF so the pipe never fills.
                    for try await line in execution.standardOutput.strings() {
                        if phase.value.isStarting, let endpoints = Self.readyEndpoints(in: line) {
                            phase.set(.running(endpoints: endpoints))
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

    /// `listening client=http://127.0.0.1:PORT api=…` → its name=URL pairs, in order.
    static func readyEndpoints(in line: String) -> [(name: String, url: String)]? {
        guard line.hasPrefix("listening ") else { return nil }
        return line.split(separator: " ").dropFirst().compactMap { pair in
            guard let equals = pair.firstIndex(of: "=") else { return nil }
            return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
        }
    }

    func waitForExit(timeout: Duration) async throws -> String {
        let phase = try await phase.wait(for: "the process to exit", timeout: timeout) { $0.hasExited }
        guard case .exited(let how) = phase else { return "?" }
        return how
    }

    /// SIGTERM, then SIGKILL after the grace period; returns once the process is reaped.
    func stop() async {
        if !phase.value.hasExited {
            // A spawn may still be under way; it sets the pid or ends in `.exited`.
            _ = try? await pid.wait(for: "the process to be spawned", timeout: .seconds(10)) { $0 != nil }
        }
        if !phase.value.hasExited, let pid = pid.value {
            _ = kill(pid, SIGTERM)
            if (try? await waitForExit(timeout: ServiceProcess.gracePeriod)) == nil, let pid = self.pid.value {
                _ = kill(pid, SIGKILL)
            }
        }
        await task.withLock { $0 }?.value
    }
}
