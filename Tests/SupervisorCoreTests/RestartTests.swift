import Testing
@testable import SupervisorCore

/// The causes of the `Restart=` table in systemd.service(5) (fleet.md e.3), each driven through a real
/// sequence of events. (`watchdog` is not a cause here: WatchdogSec= is not implemented.)
enum RestartCause: String, CaseIterable, Sendable {
    case cleanExitCode, cleanSignal, uncleanExitCode, uncleanSignal, coreDump, timeout

    /// Restart= modes that restart on this cause, straight from the table.
    var restartingModes: Set<RestartPolicy> {
        switch self {
        case .cleanExitCode, .cleanSignal: [.always, .onSuccess]
        case .uncleanExitCode: [.always, .onFailure]
        case .uncleanSignal, .coreDump: [.always, .onFailure, .onAbnormal, .onAbort]
        case .timeout: [.always, .onFailure, .onAbnormal]
        }
    }

    var result: ServiceResult {
        switch self {
        case .cleanExitCode, .cleanSignal: .success
        case .uncleanExitCode: .exitCode
        case .uncleanSignal: .signal
        case .coreDump: .coreDump
        case .timeout: .timeout
        }
    }

    func drive(_ h: ServiceHarness) throws {
        h.request(.start)
        let pid = try #require(h.spawn()).pid
        switch self {
        case .cleanExitCode: h.exit(pid, .exited(0))
        case .cleanSignal: h.exit(pid, .signaled(.hup))
        case .uncleanExitCode: h.exit(pid, .exited(1))
        case .uncleanSignal: h.exit(pid, .signaled(.segv))
        case .coreDump: h.exit(pid, .signaled(.abrt, coreDumped: true))
        case .timeout:
            h.fireTimer()
            h.exit(pid, .signaled(.term))
        }
    }
}

struct RestartCase: Sendable, CustomTestStringConvertible {
    var mode: RestartPolicy
    var cause: RestartCause
    var testDescription: String { "Restart=\(mode.rawValue), \(cause.rawValue)" }
}

let restartMatrix = RestartPolicy.allCases.flatMap { mode in RestartCause.allCases.map { RestartCase(mode: mode, cause: $0) } }

@Test("Restart= matrix", arguments: restartMatrix)
func restartMatrixCase(_ testCase: RestartCase) throws {
    let type = testCase.cause == .timeout ? "notify" : "simple"
    let h = try ServiceHarness("Type=\(type)\nExecStart=/bin/app\nRestart=\(testCase.mode.rawValue)\nRestartSec=2")
    h.advance(to: .at(.seconds(10)))
    try testCase.cause.drive(h)
    #expect(h.status.result == testCase.cause.result)
    if testCase.cause.restartingModes.contains(testCase.mode) {
        #expect(h.state == "activating/auto-restart")
        #expect(h.timer?.at == h.now + .seconds(2))
        h.fireTimer()
        #expect(h.state == "activating/start")
        #expect(h.status.restarts == 1)
        #expect(h.status.result == .success)
        #expect(h.pendingSpawns.count == 1)
    } else {
        #expect(h.state == (testCase.cause.result == .success ? "inactive/dead" : "failed/failed"))
        #expect(h.timer == nil)
    }
}

@Test func manualStopNeverRestarts() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nRestart=always")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.request(.stop)
    h.exit(pid, .signaled(.kill))
    #expect(h.state == "failed/failed")
    #expect(h.timer == nil)
}

@Test("RestartPreventExitStatus= and RestartForceExitStatus= override the mode", arguments: [
    ("Restart=always\nRestartPreventExitStatus=3", ProcessExitStatus.exited(3), false),
    ("Restart=always\nRestartPreventExitStatus=SIGTERM", .signaled(.term), false),
    ("Restart=on-failure\nRestartPreventExitStatus=3", .exited(4), true),
    ("Restart=no\nRestartForceExitStatus=0", .exited(0), true),
    ("Restart=on-success\nRestartForceExitStatus=SIGKILL", .signaled(.kill), true),
    ("Restart=always\nRestartPreventExitStatus=5\nRestartForceExitStatus=5", .exited(5), false),
])
func restartOverrides(settings: String, exit: ProcessExitStatus, restarts: Bool) throws {
    let h = try ServiceHarness("ExecStart=/bin/app\n" + settings)
    h.request(.start)
    h.exit(h.spawn()?.pid, exit)
    #expect((h.state == "activating/auto-restart") == restarts)
}

@Test func stopDuringAutoRestartCancelsIt() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nRestart=always")
    h.request(.start)
    h.exit(h.spawn()?.pid, .exited(1))
    let token = try #require(h.timer).token
    h.request(.stop)
    #expect(h.effects.contains(.cancelTimer(token)))
    #expect(h.state == "inactive/dead")
}

@Test func startLimitHitAfterBurstOfRestarts() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nRestart=always\nRestartSec=1", unit: "StartLimitIntervalSec=10\nStartLimitBurst=3")
    h.request(.start)
    for attempt in 1...3 {
        h.exit(h.spawn()?.pid, .exited(1))
        #expect(h.state == "activating/auto-restart", "attempt \(attempt)")
        h.fireTimer()
    }
    // Starts at t=0, 1, 2 used the burst; the fourth within 10 s is refused.
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .startLimitHit)
    #expect(h.effects.contains(.failed(.startLimitHit)))
    #expect(h.pendingSpawns.isEmpty)

    h.request(.start)
    #expect(h.status.result == .startLimitHit)
    h.advance(to: .at(.seconds(11)))
    h.request(.start)
    #expect(h.state == "activating/start")
}

@Test func manualStartsCountAgainstTheLimitAndResetFailedClearsIt() throws {
    let h = try ServiceHarness("ExecStart=/bin/app", unit: "StartLimitBurst=2")
    for second in 0..<2 {
        h.advance(to: .at(.seconds(Int64(second))))
        h.request(.start)
        h.exit(h.spawn()?.pid, .exited(0))
    }
    h.request(.start)
    #expect(h.status.result == .startLimitHit)
    h.request(.resetFailed)
    #expect(h.state == "inactive/dead")
    h.request(.start)
    #expect(h.state == "activating/start")
}

@Test func startLimitZeroIntervalDisablesIt() throws {
    let h = try ServiceHarness("ExecStart=/bin/app", unit: "StartLimitIntervalSec=0\nStartLimitBurst=1")
    for _ in 0..<5 {
        h.request(.start)
        h.exit(h.spawn()?.pid, .exited(0))
    }
    #expect(h.state == "inactive/dead")
}
