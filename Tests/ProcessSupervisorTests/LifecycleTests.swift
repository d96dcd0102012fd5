import Glibc
@testable import ProcessSupervisor
import SupervisorCore
import Testing

@Suite struct SimpleAndOneshot {
    @Test func simpleServiceRunsAndStops() async throws {
        try await withUnit("ExecStart=/bin/sleep 1000") { unit, _ in
            unit.start()
            let running = try await unit.waitFor("running") { $0.subState == .running }
            let pid = try #require(running.mainPID)
            #expect(isAlive(pid))
            unit.stop()
            let dead = try await unit.waitFor("dead") { $0.subState == .dead }
            #expect(dead.result == .success)
            #expect(!isAlive(pid))
        }
    }

    @Test func missingExecutableFailsWithResources() async throws {
        try await withUnit("ExecStart=/nonexistent/program") { unit, _ in
            unit.start()
            let failed = try await unit.waitFor("failed") { $0.subState == .failed }
            #expect(failed.result == .resources)
        }
    }

    @Test func oneshotRemainAfterExitStaysActive() async throws {
        try await withUnit("Type=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'echo once >> @DIR@/runs'") { unit, directory in
            unit.start()
            let exited = try await unit.waitFor("active (exited)") { $0.subState == .exited }
            #expect(exited.activeState == .active)
            #expect(exited.mainPID == nil)
            #expect(readFile(directory + "/runs") == "once\n")
            unit.stop()
            try await unit.waitFor("dead") { $0.subState == .dead }
        }
    }

    @Test func oneshotWithoutRemainAfterExitEndsDead() async throws {
        try await withUnit("Type=oneshot\nExecStart=/bin/true\nExecStart=/bin/sh -c 'touch @DIR@/second'") { unit, directory in
            unit.start()
            try await unit.waitFor("activating") { $0.activeState == .activating }
            let dead = try await unit.waitFor("dead after run") { $0.subState == .dead }
            #expect(dead.result == .success)
            #expect(readFile(directory + "/second") != nil)
        }
    }

    @Test func failingOneshotReportsExitCode() async throws {
        try await withUnit("Type=oneshot\nExecStart=/bin/sh -c 'exit 7'") { unit, _ in
            unit.start()
            let failed = try await unit.waitFor("failed") { $0.subState == .failed }
            #expect(failed.result == .exitCode)
            #expect(failed.lastExit == .exited(7))
        }
    }
}

@Suite struct RestartPolicies {
    /// A script whose n-th run exits with the n-th of `codes` (and 0 after), counting runs in a file.
    static func script(_ codes: [Int]) -> String {
        let cases = codes.enumerated().map { "\($0.offset + 1)) exit \($0.element) ;;" }.joined(separator: " ")
        return "ExecStart=/bin/sh -c 'echo run >> @DIR@/runs; n=$(wc -l < @DIR@/runs); case $n in \(cases) esac; exit 0'"
    }

    @Test func restartNoLeavesFailedUnitAlone() async throws {
        try await withUnit(Self.script([3]) + "\nRestart=no") { unit, directory in
            unit.start()
            let failed = try await unit.waitFor("failed") { $0.subState == .failed }
            #expect(failed.result == .exitCode)
            #expect(failed.lastExit == .exited(3))
            #expect(failed.restarts == 0)
            #expect(readFile(directory + "/runs") == "run\n")
        }
    }

    @Test func restartAlwaysRestartsCleanExits() async throws {
        try await withUnit("ExecStart=/bin/sh -c 'echo run >> @DIR@/runs'\nRestart=always\nRestartSec=50ms") { unit, _ in
            unit.start()
            let restarted = try await unit.waitFor("two restarts") { $0.restarts >= 2 }
            #expect(restarted.lastExit == .exited(0))
            unit.stop()
            let dead = try await unit.waitFor("dead") { $0.subState == .dead }
            #expect(dead.restarts >= 2)
        }
    }

    @Test func restartOnFailureRestartsOnlyFailures() async throws {
        try await withUnit(Self.script([1]) + "\nRestart=on-failure\nRestartSec=50ms") { unit, directory in
            unit.start()
            // Run 1 fails and is restarted; run 2 exits 0 and is not.
            let dead = try await unit.waitFor("dead after a clean exit") { $0.subState == .dead && $0.restarts == 1 }
            #expect(dead.result == .success)
            #expect(readFile(directory + "/runs") == "run\nrun\n")
        }
    }

    @Test func restartOnSuccessRestartsOnlyCleanExits() async throws {
        try await withUnit(Self.script([0, 4]) + "\nRestart=on-success\nRestartSec=50ms") { unit, directory in
            unit.start()
            let failed = try await unit.waitFor("failed after exit 4") { $0.subState == .failed }
            #expect(failed.restarts == 1)
            #expect(failed.lastExit == .exited(4))
            #expect(readFile(directory + "/runs") == "run\nrun\n")
        }
    }

    @Test func startLimitStopsARestartLoop() async throws {
        try await withUnit(
            "ExecStart=/bin/sh -c 'exit 1'\nRestart=always\nRestartSec=20ms",
            unit: "StartLimitIntervalSec=10s\nStartLimitBurst=3"
        ) { unit, _ in
            unit.start()
            let failed = try await unit.waitFor("start-limit-hit") { $0.subState == .failed }
            #expect(failed.result == .startLimitHit)
            #expect(failed.restarts == 2)
        }
    }
}

@Suite struct StartPreAndStop {
    @Test func failingExecStartPreFailsTheUnit() async throws {
        try await withUnit("ExecStartPre=/bin/false\nExecStart=/bin/sh -c 'touch @DIR@/started; exec sleep 1000'") { unit, directory in
            unit.start()
            let failed = try await unit.waitFor("failed") { $0.subState == .failed }
            #expect(failed.result == .exitCode)
            #expect(readFile(directory + "/started") == nil)
        }
    }

    @Test func ignoredExecStartPreFailureStillStarts() async throws {
        try await withUnit("ExecStartPre=-/bin/false\nExecStart=/bin/sh -c 'touch @DIR@/started; exec sleep 1000'") { unit, directory in
            unit.start()
            try await unit.waitFor("running") { $0.subState == .running }
            try await eventually("ExecStart ran") { readFile(directory + "/started") != nil }
        }
    }

    @Test func stopTimeoutEscalatesToSIGKILL() async throws {
        let script = "trap '' TERM; echo trapped > @DIR@/ready; while :; do sleep 0.05; done"
        try await withUnit("ExecStart=/bin/sh -c \"\(script)\"\nTimeoutStopSec=600ms") { unit, directory in
            unit.start()
            let running = try await unit.waitFor("running") { $0.subState == .running }
            let pid = try #require(running.mainPID)
            try await eventually("trap installed") { readFile(directory + "/ready") != nil }
            let began = ContinuousClock.now
            unit.stop()
            try await unit.waitFor("stop-sigkill") { $0.subState == .stopSigkill }
            let failed = try await unit.waitFor("failed") { $0.subState == .failed }
            #expect(ContinuousClock.now - began >= .milliseconds(600))
            #expect(failed.result == .timeout)
            #expect(failed.lastExit == .signaled(.kill))
            #expect(!isAlive(pid))
        }
    }

    @Test func wholeProcessTreeIsStopped() async throws {
        try await withUnit("ExecStart=/bin/sh -c 'sleep 1000 & sleep 1000 & wait'") { unit, _ in
            unit.start()
            let running = try await unit.waitFor("running") { $0.subState == .running }
            let pid = try #require(running.mainPID)
            try await eventually("two grandchildren") { sessionMembers(pid).count == 3 }
            let tree = sessionMembers(pid)
            unit.stop()
            try await unit.waitFor("dead") { $0.subState == .dead }
            for member in tree { #expect(!isAlive(member), "process \(member) survived") }
        }
    }

    @Test func leftoverProcessesAreKilledWhenMainExits() async throws {
        // The main process exits, its background child does not: the unit stops and the child is killed.
        try await withUnit("ExecStart=/bin/sh -c 'sleep 1000 & echo $! > @DIR@/child; sleep 0.2; exit 0'") { unit, directory in
            unit.start()
            try await eventually("child pid written") { readFile(directory + "/child") != nil }
            let child = try #require(Int32(readFile(directory + "/child")!.filter(\.isNumber)))
            let dead = try await unit.waitFor("dead") { $0.subState == .dead }
            #expect(dead.result == .success)
            #expect(!isAlive(child))
        }
    }
}
