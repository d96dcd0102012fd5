import Testing
@testable import SupervisorCore

@Test func simpleServiceStartsWhenSpawnedAndStopsWithSIGTERM() throws {
    let h = try ServiceHarness("ExecStart=/bin/app --port ${PORT}\nEnvironment=PORT=80\nUser=web")
    h.request(.start)
    #expect(h.state == "activating/start")
    let (request, pid) = try #require(h.spawn())
    #expect(request.argv == ["/bin/app", "--port", "80"])
    #expect(request.environment == ["PATH": "/usr/bin", "PORT": "80"])
    #expect(request.user == "web")
    #expect(request.newProcessGroup)
    #expect(h.state == "active/running")
    #expect(h.status.mainPID == pid)
    #expect(h.effects.last == .stateChanged(h.status))

    h.request(.stop)
    #expect(h.state == "deactivating/stop-sigterm")
    #expect(h.signals == [.signal(.term, .process(pid)), .signal(.cont, .process(pid))])
    #expect(h.timer?.at == .at(.seconds(90)))
    h.exit(pid, .signaled(.term))
    #expect(h.state == "inactive/dead")
    #expect(h.status.result == .success)
    #expect(h.timer == nil)
}

@Test func stopTimeoutEscalatesToSIGKILLAndFails() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nTimeoutStopSec=5\nRestart=always")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.advance(to: .at(.seconds(100)))
    h.request(.stop)
    #expect(h.timer?.at == .at(.seconds(105)))
    h.send(.processExited(pid: 999, status: .exited(0), unitEmpty: false))
    #expect(h.state == "deactivating/stop-sigterm")
    h.fireTimer()
    #expect(h.state == "deactivating/stop-sigkill")
    #expect(h.signals == [.signal(.kill, .process(pid)), .signal(.kill, .unit)])
    h.exit(pid, .signaled(.kill))
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .timeout)
    #expect(h.effects.contains(.failed(.timeout)))
}

@Test func sendSIGKILLNoSkipsEscalation() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nTimeoutStopSec=5\nSendSIGKILL=no\nExecStopPost=/bin/post")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.request(.stop)
    h.fireTimer()
    #expect(h.state == "deactivating/stop-post")
    #expect(h.signals.isEmpty)
    let post = h.run()
    #expect(post?.environment["SERVICE_RESULT"] == "timeout")
    // The main process ignored SIGTERM and still runs: the final phase signals it once more, never kills.
    #expect(h.state == "deactivating/final-sigterm")
    #expect(h.signals == [.signal(.term, .process(pid)), .signal(.cont, .process(pid))])
    h.fireTimer()
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .timeout)
}

@Test("KillMode decides who gets which signal", arguments: [
    (KillMode.controlGroup, ["TERM main", "CONT main", "TERM unit", "CONT unit"], ["KILL main", "KILL unit"]),
    (KillMode.process, ["TERM main", "CONT main"], ["KILL main"]),
    (KillMode.mixed, ["TERM main", "CONT main"], ["KILL main", "KILL unit"]),
    (KillMode.none, [], []),
])
func killModes(mode: KillMode, terminate: [String], kill: [String]) throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nKillMode=\(mode.rawValue)")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.send(.processExited(pid: 7, status: .exited(0), unitEmpty: false))  // a child left behind
    h.request(.stop)
    let describe = { (effects: [SupervisorEffect]) in
        effects.compactMap { effect -> String? in
            guard case .signal(let signal, let target) = effect else { return nil }
            return "\(signal.name) " + (target == .unit ? "unit" : target == .process(pid) ? "main" : "?")
        }
    }
    #expect(describe(h.effects) == terminate)
    if mode == .none {
        #expect(h.state == "inactive/dead")
        return
    }
    h.fireTimer()
    #expect(describe(h.effects) == kill)
}

@Test func mixedModeKillsLeftoversAfterMainExits() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nKillMode=mixed")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.request(.stop)
    h.exit(pid, .signaled(.term), unitEmpty: false)
    #expect(h.state == "deactivating/final-sigkill")
    #expect(h.signals == [.signal(.kill, .unit)])
    h.send(.unitEmpty)
    #expect(h.state == "inactive/dead")
}

@Test func execStopRunsWithMainPIDThenSignals() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nExecStop=/bin/app-stop $MAINPID\nExecStopPost=/bin/post $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.request(.stop)
    #expect(h.state == "deactivating/stop")
    let (stop, stopPID) = try #require(h.spawn())
    #expect(stop.argv == ["/bin/app-stop", "\(pid)"])
    #expect(h.status.controlPID == stopPID)
    h.exit(pid, .exited(0))
    #expect(h.state == "deactivating/stop")
    h.exit(stopPID)
    #expect(h.state == "deactivating/stop-post")
    let post = try #require(h.run())
    #expect(post.argv == ["/bin/post", "success", "exited", "0"])
    #expect(h.state == "inactive/dead")
}

@Test func execStartPreFailureSkipsStartAndExecStopButRunsExecStopPost() throws {
    let h = try ServiceHarness("ExecStartPre=/bin/one\nExecStartPre=/bin/two\nExecStartPre=/bin/three\nExecStart=/bin/app\nExecStop=/bin/stop\nExecStopPost=/bin/post")
    h.request(.start)
    #expect(h.state == "activating/start-pre")
    #expect(h.run()?.path == "/bin/one")
    #expect(h.run(.exited(3))?.path == "/bin/two")
    #expect(h.state == "deactivating/stop-post")
    let post = try #require(h.run())
    #expect(post.path == "/bin/post")
    #expect(post.environment["SERVICE_RESULT"] == "exit-code")
    #expect(post.environment["EXIT_CODE"] == nil)
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .exitCode)
    #expect(h.pendingSpawns.isEmpty)
}

@Test func ignoredExecStartPreFailureContinues() throws {
    let h = try ServiceHarness("ExecStartPre=-/bin/one\nExecStart=/bin/app")
    h.request(.start)
    _ = h.run(.exited(1))
    #expect(h.state == "activating/start")
    _ = h.spawn()
    #expect(h.state == "active/running")
}

@Test func ignoredSpawnFailureContinuesAndUnignoredFailsWithResources() throws {
    let h = try ServiceHarness("ExecStartPre=-/bin/missing\nExecStartPre=/bin/missing2\nExecStart=/bin/app")
    h.request(.start)
    h.send(.spawnFailed(h.pendingSpawns.removeFirst().id, reason: "ENOENT"))
    #expect(h.state == "activating/start-pre")
    h.send(.spawnFailed(h.pendingSpawns.removeFirst().id, reason: "ENOENT"))
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .resources)
}

@Test func execStartPreLeftoversAreKilledBeforeExecStart() throws {
    let h = try ServiceHarness("ExecStartPre=/bin/daemonize-something\nExecStart=/bin/app")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.exit(pid, .exited(0), unitEmpty: false)
    #expect(h.signals == [.signal(.kill, .unit)])
    #expect(h.state == "activating/start")
}

@Test func execStartPostRunsAfterStartAndGetsMainPID() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nExecStartPost=/bin/announce $MAINPID")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    #expect(h.state == "activating/start-post")
    #expect(h.run()?.argv == ["/bin/announce", "\(pid)"])
    #expect(h.state == "active/running")
}

@Test func forkingServiceReadsPIDFile() throws {
    let h = try ServiceHarness("Type=forking\nPIDFile=/run/app.pid\nExecStart=/bin/app --daemon\nTimeoutStartSec=20")
    h.request(.start)
    #expect(h.timer?.at == .at(.seconds(20)))
    let (_, launcher) = try #require(h.spawn())
    #expect(h.status.controlPID == launcher)
    h.exit(launcher, .exited(0), unitEmpty: false)
    #expect(h.effects.contains(.discoverMainPID(pidFile: "/run/app.pid")))
    #expect(h.state == "activating/start")
    h.send(.mainPIDDiscovered(4242))
    #expect(h.state == "active/running")
    #expect(h.status.mainPID == 4242)
    h.exit(4242, .exited(0))
    #expect(h.state == "inactive/dead")
}

@Test func forkingWithoutPIDFileFailsWithProtocol() throws {
    let h = try ServiceHarness("Type=forking\nPIDFile=/run/app.pid\nExecStart=/bin/app")
    h.request(.start)
    let launcher = try #require(h.spawn()).pid
    h.exit(launcher)
    h.send(.mainPIDDiscovered(nil))
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .protocol)
}

@Test func forkingWithUnknownMainPIDRunsWhileUnitHasProcesses() throws {
    let h = try ServiceHarness("Type=forking\nGuessMainPID=no\nExecStart=/bin/app")
    h.request(.start)
    let launcher = try #require(h.spawn()).pid
    h.exit(launcher, .exited(0), unitEmpty: false)
    #expect(h.state == "active/running")
    #expect(h.status.mainPID == nil)
    h.send(.unitEmpty)
    #expect(h.state == "inactive/dead")
}

@Test func forkingLauncherFailure() throws {
    let h = try ServiceHarness("Type=forking\nExecStart=/bin/app")
    h.request(.start)
    _ = h.run(.exited(1))
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .exitCode)
}

@Test func notifyServiceIsStartedByREADY() throws {
    let h = try ServiceHarness("Type=notify\nExecStart=/bin/app")
    h.request(.start)
    let (request, pid) = try #require(h.spawn())
    #expect(request.notifySocket)
    #expect(h.state == "activating/start")
    h.send(.notify(pid: 555, NotifyMessage(parsing: "READY=1")))
    #expect(h.state == "activating/start")
    h.send(.notify(pid: pid, NotifyMessage(parsing: "STATUS=warming up\nMAINPID=\(pid)")))
    #expect(h.status.statusText == "warming up")
    h.send(.notify(pid: pid, NotifyMessage(parsing: "READY=1\nSTATUS=serving")))
    #expect(h.state == "active/running")
    #expect(h.status.statusText == "serving")
    #expect(h.timer == nil)
}

@Test func notifyStartTimeoutFailsAndKills() throws {
    let h = try ServiceHarness("Type=notify\nExecStart=/bin/app\nTimeoutStartSec=3")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    #expect(h.timer?.at == .at(.seconds(3)))
    h.fireTimer()
    #expect(h.state == "deactivating/stop-sigterm")
    #expect(h.signals.first == .signal(.term, .process(pid)))
    h.exit(pid, .signaled(.term))
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .timeout)
}

@Test func notifyMainExitBeforeReadyIsProtocolError() throws {
    let h = try ServiceHarness("Type=notify\nExecStart=/bin/app")
    h.request(.start)
    _ = h.run(.exited(0))
    #expect(h.status.result == .protocol)
}

@Test func notifySTOPPINGWaitsWithoutSignals() throws {
    let h = try ServiceHarness("Type=notify\nExecStart=/bin/app")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.send(.notify(pid: pid, NotifyMessage(ready: true)))
    h.send(.notify(pid: pid, NotifyMessage(stopping: true)))
    #expect(h.state == "deactivating/stop-sigterm")
    #expect(h.signals.isEmpty)
    h.exit(pid)
    #expect(h.state == "inactive/dead")
}

@Test func oneshotRunsExecStartsInSequence() throws {
    let h = try ServiceHarness("Type=oneshot\nExecStart=/bin/a\nExecStart=/bin/b\nExecStart=/bin/c")
    h.request(.start)
    #expect(h.timer == nil)
    #expect(h.run()?.path == "/bin/a")
    #expect(h.state == "activating/start")
    #expect(h.run()?.path == "/bin/b")
    #expect(h.run()?.path == "/bin/c")
    #expect(h.state == "inactive/dead")
    #expect(h.status.result == .success)
}

@Test func oneshotStopsAtFirstFailure() throws {
    let h = try ServiceHarness("Type=oneshot\nExecStart=/bin/a\nExecStart=/bin/b\nExecStart=/bin/c")
    h.request(.start)
    _ = h.run()
    _ = h.run(.exited(2))
    #expect(h.pendingSpawns.isEmpty)
    #expect(h.state == "failed/failed")
    #expect(h.status.lastExit == .exited(2))
}

@Test func oneshotSIGTERMIsNotClean() throws {
    let h = try ServiceHarness("Type=oneshot\nExecStart=/bin/a")
    h.request(.start)
    _ = h.run(.signaled(.term))
    #expect(h.status.result == .signal)
}

@Test func oneshotRemainAfterExitStaysActiveUntilStopped() throws {
    let h = try ServiceHarness("Type=oneshot\nRemainAfterExit=yes\nExecStart=/bin/setup\nExecStop=/bin/teardown")
    h.request(.start)
    _ = h.run()
    #expect(h.state == "active/exited")
    h.request(.stop)
    #expect(h.run()?.path == "/bin/teardown")
    #expect(h.state == "inactive/dead")
}

@Test func oneshotWithoutExecStartNeedsNothing() throws {
    let h = try ServiceHarness("RemainAfterExit=yes")
    h.request(.start)
    #expect(h.state == "active/exited")
}

@Test func successExitStatusCountsAsClean() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nSuccessExitStatus=3 SIGUSR2\nRestart=on-failure")
    h.request(.start)
    h.exit(h.spawn()?.pid, .exited(3))
    #expect(h.state == "inactive/dead")
    h.request(.start)
    h.exit(h.spawn()?.pid, .signaled(.usr2))
    #expect(h.state == "inactive/dead")
}

@Test func reloadRunsExecReloadAndReturnsToRunning() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nExecReload=/bin/kill -HUP $MAINPID")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.request(.reload)
    #expect(h.state == "reloading/reload")
    #expect(h.run(.exited(1))?.argv == ["/bin/kill", "-HUP", "\(pid)"])
    #expect(h.state == "active/running")
    #expect(h.status.result == .success)
}

@Test func reloadIsRejectedWithoutExecReloadOrWhenInactive() throws {
    let h = try ServiceHarness("ExecStart=/bin/app")
    h.request(.reload)
    #expect(h.effects == [.requestRejected(.reload, reason: "unit is inactive (dead)")])
    h.request(.start)
    _ = h.spawn()
    h.request(.reload)
    #expect(h.effects == [.requestRejected(.reload, reason: "unit has no ExecReload=")])
}

@Test func environmentFilesAreReadAtEveryStart() throws {
    let h = try ServiceHarness("ExecStart=/bin/app $OPTS\nEnvironment=OPTS=-v MODE=env\nEnvironmentFile=/etc/app.env\nEnvironmentFile=-/etc/app.local")
    h.request(.start)
    #expect(h.effects.contains(.readEnvironmentFiles(["/etc/app.env", "/etc/app.local"])))
    #expect(h.state == "activating/start-pre")
    h.send(.environmentFilesRead(["/etc/app.env": "OPTS=\"--a --b\"\nFILE=1"]))
    let request = try #require(h.spawn()).request
    #expect(request.argv == ["/bin/app", "--a", "--b"])
    #expect(request.environment["MODE"] == "env")
    #expect(request.environment["FILE"] == "1")
}

@Test func missingEnvironmentFileFailsWithResources() throws {
    let h = try ServiceHarness("ExecStart=/bin/app\nEnvironmentFile=/etc/app.env")
    h.request(.start)
    h.send(.environmentFilesRead([:]))
    #expect(h.state == "failed/failed")
    #expect(h.status.result == .resources)
    #expect(h.pendingSpawns.isEmpty)
}

@Test func plusPrefixDropsCredentials() throws {
    let h = try ServiceHarness("ExecStartPre=+/bin/prepare\nExecStart=/bin/app\nUser=web\nGroup=web\nWorkingDirectory=/srv")
    h.request(.start)
    let pre = try #require(h.run())
    #expect(pre.user == nil && pre.group == nil)
    let main = try #require(h.spawn()).request
    #expect(main.user == "web" && main.group == "web")
    #expect(main.workingDirectory == WorkingDirectory(.path("/srv")))
}

@Test func staleTimersAreIgnored() throws {
    let h = try ServiceHarness("Type=notify\nExecStart=/bin/app")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    let stale = try #require(h.timer).token
    h.send(.notify(pid: pid, NotifyMessage(ready: true)))
    #expect(h.effects.contains(.cancelTimer(stale)))
    h.send(.timerFired(stale))
    #expect(h.state == "active/running")
    #expect(h.effects.isEmpty)
}

@Test func stopDuringStartKillsWithoutExecStop() throws {
    let h = try ServiceHarness("Type=notify\nExecStart=/bin/app\nExecStop=/bin/stop\nRestart=always")
    h.request(.start)
    let pid = try #require(h.spawn()).pid
    h.request(.stop)
    #expect(h.state == "deactivating/stop-sigterm")
    h.exit(pid, .signaled(.term))
    #expect(h.state == "inactive/dead")
    #expect(h.pendingSpawns.isEmpty)
}

@Test func restartRequestStopsThenStarts() throws {
    let h = try ServiceHarness("ExecStart=/bin/app")
    h.request(.start)
    let first = try #require(h.spawn()).pid
    h.request(.restart)
    #expect(h.state == "deactivating/stop-sigterm")
    h.exit(first, .signaled(.term))
    #expect(h.state == "activating/start")
    let second = try #require(h.spawn()).pid
    #expect(second != first)
    #expect(h.state == "active/running")
    #expect(h.status.restarts == 0)
}
