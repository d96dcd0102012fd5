import Glibc
@testable import ProcessSupervisor
import SupervisorCore
import Testing

/// An agent restart: the supervisor detaches, a new one on the same directories adopts the unit — same
/// processes, same output pipes, same log.
@Suite struct Readoption {
    /// Runs a `Supervisor` around `body` and ends it with `onExit` (with `.stop` if `body` throws).
    static func withSupervisor<T: Sendable>(
        _ directories: Supervisor.Directories, onExit: UnitSupervisor.ShutdownMode, _ body: (Supervisor) async throws -> T
    ) async throws -> T {
        let supervisor = Supervisor(directories: directories)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await supervisor.run() }
            do {
                let result = try await body(supervisor)
                supervisor.shutdown(onExit)
                try await group.waitForAll()
                return result
            } catch {
                supervisor.shutdown(.stop)
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Starts `service` in a first supervisor and detaches from it; returns its directories, configuration
    /// and running status.
    static func startAndDetach(_ service: String) async throws -> (Supervisor.Directories, ServiceConfiguration, ServiceStatus) {
        let directory = makeTemporaryDirectory()
        let config = try configuration(service.replacingDirectory(directory), directory: directory)
        let directories = Supervisor.Directories(logs: directory + "/logs", runtime: directory)
        let running = try await withSupervisor(directories, onExit: .detach) { supervisor in
            let unit = supervisor.load(config)
            unit.start()
            return try await unit.waitFor("running") { $0.subState == .running && $0.mainPID != nil }
        }
        return (directories, config, running)
    }

    static func ticks(_ log: UnitLog) -> [Int] {
        log.lastLines(10_000).filter { $0.stream == .stdout }.compactMap { Int($0.text.split(separator: " ").last ?? "") }
    }

    @Test func adoptedUnitKeepsItsPIDAndItsOutputFlowsIntoTheSameLog() async throws {
        let (directories, config, running) = try await Self.startAndDetach(
            "ExecStart=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.02; done'"
        )
        defer { Supervisor(directories: directories).discard(config.unitName) }
        let pid = try #require(running.mainPID)
        let record = try #require(RuntimeStore(runtimeDirectory: directories.runtime).read(config.unitName))
        #expect(record.mainPID == pid && record.subState == "running")
        let holder = try #require(record.holderPID)
        #expect(isAlive(pid), "detaching left the unit running")

        try await Self.withSupervisor(directories, onExit: .stop) { supervisor in
            #expect(supervisor.savedUnits().map(\.unit) == [config.unitName])
            let unit = try #require(supervisor.adopt(config), "the unit was not adopted")
            #expect(unit.status.subState == .running)
            #expect(unit.status.mainPID == pid)
            #expect(supervisor.unitNames == [config.unitName])
            // Output keeps flowing: lines written after adoption, and none lost while no one read the pipe.
            let adoptedAt = Self.ticks(unit.log).last ?? 0
            try await eventually("output written after adoption in the log") { (Self.ticks(unit.log).last ?? 0) > adoptedAt + 10 }
            #expect(isAlive(pid), "same process, no SIGPIPE")
            let ticks = Self.ticks(unit.log)
            #expect(ticks == Array(1...(ticks.last ?? 0)), "every line exactly once, in order")
            #expect(unit.log.lastLines(10_000).contains { $0.text.hasPrefix("flotilla: re-adopted") })

            // A start request does nothing to a running unit; a stop kills all of it, though it is not our child.
            unit.start()
            unit.stop()
            let dead = try await unit.waitFor("dead") { $0.subState == .dead }
            #expect(dead.result == .success)
            try await eventually("the unit's processes gone") { !isAlive(pid) && sessionMembers(pid).isEmpty }
        }
        try await eventually("unloading with .stop to end the pipe holder") { !isAlive(holder) }
        #expect(RuntimeStore(runtimeDirectory: directories.runtime).read(config.unitName) == nil, "record removed")
    }

    @Test func adoptedMainProcessDyingIsNoticedAndRestarted() async throws {
        let (directories, config, running) = try await Self.startAndDetach("ExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=50ms")
        defer { Supervisor(directories: directories).discard(config.unitName) }
        let pid = try #require(running.mainPID)
        try await Self.withSupervisor(directories, onExit: .stop) { supervisor in
            let unit = try #require(supervisor.adopt(config))
            #expect(unit.status.mainPID == pid)
            kill(pid, SIGKILL)
            let restarted = try await unit.waitFor("restarted") { $0.subState == .running && $0.mainPID != nil && $0.mainPID != pid }
            #expect(restarted.restarts == 1)
            #expect(unit.log.lastLines(100).contains { $0.text.contains("exit status is unknown") })
            let newPID = try #require(restarted.mainPID)
            // The new process writes into the same, reopened pipes.
            #expect(isAlive(newPID))
        }
    }

    @Test func unitThatDiedWhileDetachedIsNotAdoptedAndItsLeftoversAreKilled() async throws {
        let (directories, config, running) = try await Self.startAndDetach("ExecStart=/bin/sh -c 'sleep 1000 & exec sleep 1000'")
        defer { Supervisor(directories: directories).discard(config.unitName) }
        let pid = try #require(running.mainPID)
        let holder = try #require(RuntimeStore(runtimeDirectory: directories.runtime).read(config.unitName)?.holderPID)
        // Running means the main process exists, not that the shell has started its background sleep yet.
        try await eventually("the background sleep started") { sessionMembers(pid).count >= 2 }
        kill(pid, SIGKILL)
        try await eventually("main gone") { !isAlive(pid) }
        #expect(!sessionMembers(pid).isEmpty, "the background sleep is still there")
        try await Self.withSupervisor(directories, onExit: .stop) { supervisor in
            #expect(supervisor.adopt(config) == nil)
            #expect(supervisor.unitNames.isEmpty)
        }
        try await eventually("leftovers and holder killed") { sessionMembers(pid).isEmpty && !isAlive(holder) }
        #expect(RuntimeStore(runtimeDirectory: directories.runtime).read(config.unitName) == nil)
    }
}
