import Foundation
import Subprocess
import SystemPackage
import Synchronization

/// One run of a member's binary, from spawn to exit; stdout and stderr are appended to the member's log.
final class MemberProcess: Sendable {
    enum Phase: Sendable {
        case spawning
        case running(pid: Int32)
        case exited(String)
    }

    let phase = Observed(Phase.spawning)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(executable: String, arguments: [String], environment: Environment, logFile: String) {
        let phase = self.phase
        let handle = Task.detached {
            do {
                let output = try FileDescriptor.open(
                    FilePath(logFile), .writeOnly, options: [.create, .append], permissions: [.ownerReadWrite, .groupRead, .otherRead]
                )
                let error = try output.duplicate()
                let result = try await Subprocess.run(
                    .path(FilePath(executable)), arguments: Arguments(arguments), environment: environment,
                    input: .none, output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                    error: .fileDescriptor(error, closeAfterSpawningProcess: true)
                ) { execution in
                    phase.set(.running(pid: execution.processIdentifier.value))
                }
                phase.set(.exited("\(result.terminationStatus)"))
            } catch {
                phase.set(.exited("could not run \(executable): \(error)"))
            }
        }
        task.withLock { $0 = handle }
    }

    var isRunning: Bool {
        switch phase.value {
        case .spawning, .running: true
        case .exited: false
        }
    }

    var exitStatus: String? {
        if case .exited(let how) = phase.value { return how }
        return nil
    }

    /// False when the process is not (or not yet) running.
    func signal(_ signal: Int32) -> Bool {
        guard case .running(let pid) = phase.value else { return false }
        return Foundation.kill(pid, signal) == 0
    }

    func waitForSpawn() async throws {
        try await phase.wait(for: "the member process to be spawned", timeout: .seconds(10)) {
            if case .spawning = $0 { return false }
            return true
        }
    }

    func waitForExit(timeout: Duration) async throws {
        try await phase.wait(for: "the member process to exit", timeout: timeout) {
            if case .exited = $0 { return true }
            return false
        }
    }

    /// SIGKILL (a stopped process dies too) and wait until it is reaped.
    func terminate() async {
        _ = try? await waitForSpawn()
        _ = signal(SIGKILL)
        await task.withLock { $0 }?.value
    }
}
