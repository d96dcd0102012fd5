import Glibc
@testable import ProcessSupervisor
import SupervisorCore
import Testing
import UnitFile

struct TimeoutError: Error, CustomStringConvertible {
    var description: String
}

/// A fresh, short directory per test (notify socket paths are limited to 107 bytes).
func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/psup-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    return path
}

func writeFile(_ path: String, _ contents: String, executable: Bool = false) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, executable ? 0o755 : 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    let bytes = Array(contents.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func readFile(_ path: String) -> String? {
    ProcessTable.readSmallFile(path)
}

func configuration(_ service: String, unit: String = "", name: String = "app.service", directory: String) throws -> ServiceConfiguration {
    let text = (unit.isEmpty ? "" : "[Unit]\n\(unit)\n") + "[Service]\n\(service)\n"
    var specifiers = SpecifierContext(unitName: name, machineID: "machine1", bootID: "boot1", hostName: "host1", kernelRelease: "6.1")
    specifiers.runtimeDirectory = directory
    return try ServiceConfiguration(unit: UnitFile(parsing: text), unitName: name, specifiers: specifiers)
}

/// Runs `UnitSupervisor.run()` around `body`, then stops the unit and waits for the loop to end, so no test
/// leaves processes behind even when it fails.
func withUnit<T: Sendable>(
    _ service: String,
    unit: String = "",
    name: String = "app.service",
    body: (UnitSupervisor, String) async throws -> T
) async throws -> T {
    let directory = makeTemporaryDirectory()
    let config = try configuration(service.replacingDirectory(directory), unit: unit, name: name, directory: directory)
    let supervisor = UnitSupervisor(configuration: config, logDirectory: directory + "/logs", runtimeDirectory: directory)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await supervisor.run() }
        do {
            let result = try await body(supervisor, directory)
            supervisor.shutdown(.stop)
            try await group.waitForAll()
            return result
        } catch {
            supervisor.shutdown(.stop)
            try? await group.waitForAll()
            throw error
        }
    }
}

extension String {
    /// Tests write `@DIR@` where the per-test directory goes.
    func replacingDirectory(_ directory: String) -> String {
        split(separator: "@DIR@", omittingEmptySubsequences: false).joined(separator: directory)
    }
}

extension UnitSupervisor {
    /// The first status (current or later) satisfying `predicate`; fails with the last status seen.
    @discardableResult
    func waitFor(
        _ what: String,
        timeout: Duration = .seconds(30),
        _ predicate: @escaping @Sendable (ServiceStatus) -> Bool
    ) async throws -> ServiceStatus {
        let updates = statusUpdates()
        return try await withThrowingTaskGroup(of: ServiceStatus?.self) { group in
            group.addTask {
                for await status in updates where predicate(status) { return status }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let first else {
                throw TimeoutError(description: "timed out after \(timeout) waiting for \(what); last status \(self.status)")
            }
            return first
        }
    }
}

/// Polls `condition` (for facts no status change reports, such as a file appearing).
func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TimeoutError(description: "timed out after \(timeout) waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

func isAlive(_ pid: Int32) -> Bool { ProcessTable.isAlive(pid) }

/// Live processes of the session `sid` (each unit command leads one).
func sessionMembers(_ sid: Int32) -> [Int32] { ProcessTable.members(ofGroupOrSession: [sid]) }
