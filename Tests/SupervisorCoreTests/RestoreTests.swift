import Testing
@testable import SupervisorCore

/// `ServiceUnit(configuration:restoring:)`: an agent restart takes a running unit back without touching it.
@Suite struct RestoreTests {
    static func restored(_ service: String, _ state: RestoredState) throws -> ServiceHarness {
        let h = try ServiceHarness(service)
        h.unit = try #require(ServiceUnit(configuration: h.unit.configuration, managerEnvironment: ["PATH": "/usr/bin"], restoring: state))
        return h
    }

    @Test func runningUnitIsRestoredWithItsMainPIDAndNoEffects() throws {
        let h = try Self.restored("ExecStart=/bin/app", RestoredState(subState: .running, mainPID: 4242, unitEmpty: true, restarts: 2))
        #expect(h.state == "active/running")
        #expect(h.status.mainPID == 4242)
        #expect(h.status.restarts == 2)
        #expect(h.status.result == .success)
        // A start request for a running unit does nothing: the agent's reconcile may send one.
        #expect(h.send(.request(.start)).isEmpty)
        #expect(h.timer == nil)
    }

    @Test func stoppingARestoredUnitSignalsItsMainPIDAndTheUnit() throws {
        let h = try Self.restored("ExecStart=/bin/app", RestoredState(subState: .running, mainPID: 4242, unitEmpty: false))
        h.request(.stop)
        #expect(h.state == "deactivating/stop-sigterm")
        #expect(h.signals.contains(.signal(.term, .process(4242))))
        #expect(h.signals.contains(.signal(.term, .unit)))
        h.exit(4242, .exited(0))
        #expect(h.state == "inactive/dead")
        #expect(h.status.mainPID == nil)
    }

    @Test func restoredMainDyingIsRestartedPerRestartPolicy() throws {
        let h = try Self.restored("ExecStart=/bin/app\nRestart=always\nRestartSec=1", RestoredState(subState: .running, mainPID: 4242, unitEmpty: true))
        h.exit(4242, .exited(0))
        #expect(h.state == "activating/auto-restart")
        h.fireTimer()
        let (request, pid) = try #require(h.spawn())
        #expect(request.role == .start)
        #expect(h.state == "active/running")
        #expect(h.status.mainPID == pid)
        #expect(h.status.restarts == 1)
    }

    @Test func restoredMainDyingWithoutRestartEndsDead() throws {
        let h = try Self.restored("ExecStart=/bin/app\nRestart=on-failure", RestoredState(subState: .running, mainPID: 4242, unitEmpty: true))
        h.exit(4242, .exited(0))
        #expect(h.state == "inactive/dead")
    }

    @Test func forkingUnitWithoutMainPIDRunsWhileItHasProcesses() throws {
        let h = try Self.restored("Type=forking\nGuessMainPID=no\nExecStart=/bin/daemon", RestoredState(subState: .running, mainPID: nil, unitEmpty: false))
        #expect(h.state == "active/running")
        h.send(.unitEmpty)
        #expect(h.state == "inactive/dead")
    }

    @Test func remainAfterExitUnitIsRestoredExited() throws {
        let h = try Self.restored("Type=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true", RestoredState(subState: .exited, mainPID: nil, unitEmpty: true))
        #expect(h.state == "active/exited")
        h.request(.stop)
        #expect(h.state == "inactive/dead")
    }

    @Test(arguments: [SubState.dead, .start, .startPost, .reload, .stopSigterm, .autoRestart, .failed])
    func transitionalOrInactiveStatesAreNotRestored(_ subState: SubState) throws {
        let config = try configuration("ExecStart=/bin/app")
        #expect(ServiceUnit(configuration: config, restoring: RestoredState(subState: subState, mainPID: 4242, unitEmpty: false)) == nil)
    }

    @Test func runningWithNothingLeftOrExitedWithoutRemainAfterExitIsNotRestored() throws {
        let config = try configuration("ExecStart=/bin/app")
        #expect(ServiceUnit(configuration: config, restoring: RestoredState(subState: .running, mainPID: nil, unitEmpty: true)) == nil)
        #expect(ServiceUnit(configuration: config, restoring: RestoredState(subState: .exited, mainPID: nil, unitEmpty: true)) == nil)
        #expect(ServiceUnit(configuration: config, restoring: RestoredState(subState: .running, mainPID: 0, unitEmpty: false)) == nil)
    }
}
