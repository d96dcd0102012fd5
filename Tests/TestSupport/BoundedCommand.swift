import Foundation
import Subprocess
import SystemPackage
import Synchronization

/// What a command printed and how it ended.
public struct CommandOutput: Sendable, CustomStringConvertible {
    /// The exit code, or nil when a signal ended it.
    public let exitCode: Int32?
    public let stdout: String
    public let stderr: String
    /// The deadline passed and the command was SIGKILLed.
    public let timedOut: Bool

    public var description: String {
        "exit \(exitCode.map(String.init) ?? "signal")\(timedOut ? " (timed out)" : "")\nstdout: \(stdout)\nstderr: \(stderr)"
    }
}

/// Runs real tools (etcdctl, python) for a bounded time: a command that outlives its deadline is SIGKILLed,
/// so a hung client fails the test instead of hanging it.
public enum BoundedCommand {
    /// Runs `executable` to completion. `environment` adds (or, with nil, removes) variables.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String?] = [:], timeout: Duration = .seconds(30)
    ) async throws -> CommandOutput {
        let watchdog = Watchdog(timeout: timeout)
        let result = try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(arguments), environment: env(environment),
            input: .none, output: .string(limit: 16 << 20), error: .string(limit: 16 << 20)
        ) { execution in
            watchdog.arm(execution.processIdentifier.value)
        }
        watchdog.disarm()
        return CommandOutput(
            exitCode: code(result.terminationStatus), stdout: result.standardOutput, stderr: result.standardError,
            timedOut: watchdog.fired
        )
    }

    /// Runs a long-lived command (a watch) and reads its stdout line by line; once `stopWhen` holds for the
    /// lines so far, sends `signal` (SIGINT: etcdctl exits 0 on it) and collects what remains.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String?] = [:], timeout: Duration = .seconds(30),
        stopWhen: @escaping @Sendable ([String]) -> Bool, signal: Int32? = nil
    ) async throws -> CommandOutput {
        let watchdog = Watchdog(timeout: timeout)
        let result = try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(arguments), environment: env(environment),
            input: .none, output: .sequence, error: .string(limit: 16 << 20)
        ) { execution in
            let pid = execution.processIdentifier.value
            watchdog.arm(pid)
            var lines: [String] = []
            var signalled = false
            for try await line in execution.standardOutput.strings() {
                lines.append(line)
                if !signalled, stopWhen(lines) {
                    signalled = true
                    _ = kill(pid, signal ?? SIGINT)
                }
            }
            return lines
        }
        watchdog.disarm()
        return CommandOutput(
            exitCode: code(result.terminationStatus), stdout: result.closureResult.map { $0 + "\n" }.joined(),
            stderr: result.standardError, timedOut: watchdog.fired
        )
    }

    private static func env(_ changes: [String: String?]) -> Environment {
        var overrides: [Environment.Key: String?] = [:]
        for (key, value) in changes { overrides[Environment.Key(stringLiteral: key)] = .some(value) }
        return .inherit.updating(overrides)
    }

    private static func code(_ status: TerminationStatus) -> Int32? {
        if case .exited(let code) = status { return code }
        return nil
    }
}

/// SIGKILLs a process that outlives its deadline.
private final class Watchdog: Sendable {
    private let timeout: Duration
    private let state = Mutex<(pid: Int32?, task: Task<Void, Never>?, fired: Bool, done: Bool)>((nil, nil, false, false))

    init(timeout: Duration) { self.timeout = timeout }

    var fired: Bool { state.withLock { $0.fired } }

    func arm(_ pid: Int32) {
        let timeout = self.timeout
        let task = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self.state.withLock { state in
                guard !state.done, let pid = state.pid else { return }
                state.fired = true
                _ = kill(pid, SIGKILL)
            }
        }
        state.withLock {
            $0.pid = pid
            $0.task = task
        }
    }

    /// The process was reaped: never signal its (reusable) pid again.
    func disarm() {
        let task = state.withLock { state in
            state.done = true
            return state.task
        }
        task?.cancel()
    }
}
