/// The `service_enter_*` functions of systemd's service.c. Every `result` update keeps the first failure:
/// a later success (or a later, consequential failure) must not hide why the run went wrong.
extension ServiceUnit {
    mutating func record(_ f: ServiceResult) {
        if result == .success { result = f }
    }

    mutating func beginStart(automatic: Bool) {
        guard consumeStartLimit() else {
            disarmTimer()
            result = .startLimitHit
            phase = .failed
            effects.append(.failed(.startLimitHit))
            return
        }
        if automatic { restarts += 1 }
        result = .success
        runMainExit = nil
        forbidRestart = false
        mainPIDUnknown = false
        mainCommandIndex = 0
        fileVariables = [:]
        if configuration.environmentFiles.isEmpty {
            enterStartPre()
        } else {
            // Read at every start, as systemd does, so an edited file takes effect on restart.
            phase = .startPre
            awaitingEnvironment = true
            armTimer(configuration.timeoutStart)
            effects.append(.readEnvironmentFiles(configuration.environmentFiles.map(\.path)))
        }
    }

    mutating func enterStartPre() {
        guard !configuration.execStartPre.isEmpty else {
            enterStart()
            return
        }
        phase = .startPre
        armTimer(configuration.timeoutStart)
        spawnControl(.startPre, index: 0)
    }

    mutating func enterStart() {
        // ExecStartPre= must not leave daemons behind; systemd kills what is left before ExecStart=.
        if !configuration.execStartPre.isEmpty && !unitEmpty && configuration.killMode != .none {
            send(.kill, to: .unit)
        }
        guard !configuration.execStart.isEmpty else {
            enterStartPost()
            return
        }
        phase = .start
        mainCommandIndex = 0
        switch configuration.type {
        case .simple, .exec:
            disarmTimer()
            spawnMain()
        case .forking:
            armTimer(configuration.timeoutStart)
            spawnControl(.start, index: 0)
        case .oneshot, .notify:
            armTimer(configuration.timeoutStart)
            spawnMain()
        }
    }

    mutating func enterStartPost() {
        guard !configuration.execStartPost.isEmpty else {
            enterRunning(.success)
            return
        }
        phase = .startPost
        armTimer(configuration.timeoutStart)
        spawnControl(.startPost, index: 0)
    }

    mutating func enterRunning(_ f: ServiceResult) {
        record(f)
        if result != .success {
            enterSignal(.stopSigterm, .success)
        } else if mainPID != nil || mainSpawn != nil || (mainPIDUnknown && !unitEmpty) {
            phase = .running
            disarmTimer()
        } else if configuration.remainAfterExit {
            phase = .exited
            disarmTimer()
        } else {
            enterStop(.success)
        }
    }

    mutating func enterStop(_ f: ServiceResult) {
        record(f)
        guard !configuration.execStop.isEmpty else {
            enterSignal(.stopSigterm, .success)
            return
        }
        phase = .stop
        armTimer(configuration.timeoutStop)
        spawnControl(.stop, index: 0)
    }

    /// One kill phase. When nothing is left to wait for it falls through to the next phase at once, as
    /// systemd's `service_enter_signal` does: that is how `KillMode=mixed` reaches its SIGKILL of leftovers.
    mutating func enterSignal(_ next: SubState, _ f: ServiceResult) {
        record(f)
        let kill = next == .stopSigkill || next == .finalSigkill
        if signalProcesses(kill: kill) {
            phase = next
            armTimer(configuration.timeoutStop)
        } else if next == .stopSigterm && configuration.sendSIGKILL {
            enterSignal(.stopSigkill, .success)
        } else if next == .stopSigterm || next == .stopSigkill {
            enterStopPost(.success)
        } else if next == .finalSigterm && configuration.sendSIGKILL {
            enterSignal(.finalSigkill, .success)
        } else {
            enterDead(.success, allowRestart: true)
        }
    }

    /// `unit_kill_context`: main and control process always (unless `KillMode=none`), the rest of the unit
    /// with `control-group`, or with `mixed` in the SIGKILL phase only. Returns whether anything must be
    /// waited for.
    mutating func signalProcesses(kill: Bool) -> Bool {
        let mode = configuration.killMode
        guard mode != .none else { return false }
        let signal = kill ? Signal.kill : configuration.killSignal
        var wait = mainSpawn != nil || (control != nil && control?.pid == nil)
        if let mainPID {
            send(signal, to: .process(mainPID))
            wait = true
        }
        if let pid = control?.pid {
            send(signal, to: .process(pid))
            wait = true
        }
        if (mode == .controlGroup || (mode == .mixed && kill)) && !unitEmpty {
            send(signal, to: .unit)
            wait = true
        }
        return wait
    }

    /// Whether a final kill phase still has something to wait for.
    var hasProcessesToReap: Bool {
        let waitsForUnit = configuration.killMode == .controlGroup || (configuration.killMode == .mixed && phase == .finalSigkill)
        return mainPID != nil || control != nil || (waitsForUnit && !unitEmpty)
    }

    mutating func enterStopPost(_ f: ServiceResult) {
        record(f)
        guard !configuration.execStopPost.isEmpty else {
            enterSignal(.finalSigterm, .success)
            return
        }
        phase = .stopPost
        armTimer(configuration.timeoutStop)
        spawnControl(.stopPost, index: 0)
    }

    mutating func enterDead(_ f: ServiceResult, allowRestart: Bool) {
        record(f)
        disarmTimer()
        control = nil
        mainPID = nil
        mainSpawn = nil
        mainPIDUnknown = false
        awaitingEnvironment = false
        awaitingMainPID = false
        if allowRestart && shallRestart() {
            phase = .autoRestart
            armTimer(configuration.restartDelay)
        } else {
            phase = result == .success ? .dead : .failed
            if phase == .failed { effects.append(.failed(result)) }
        }
        forbidRestart = false
        if pendingStart && phase != .autoRestart {
            pendingStart = false
            beginStart(automatic: false)
        }
    }

    mutating func mainFinished(_ f: ServiceResult) {
        mainPID = nil
        mainSpawn = nil
        switch phase {
        case .start where configuration.type == .oneshot:
            if f != .success {
                enterSignal(.stopSigterm, f)
            } else if mainCommandIndex + 1 < configuration.execStart.count {
                mainCommandIndex += 1
                spawnMain()
            } else {
                enterStartPost()
            }
        case .start:
            // simple/exec never get here after spawning; notify died before READY=1.
            enterSignal(.stopSigterm, f == .success ? .protocol : f)
        case .startPost, .reload, .stop, .stopPost:
            // The running operation decides; the death is remembered for when it completes.
            record(f)
        case .running:
            enterRunning(f)
        case .stopSigterm, .stopSigkill:
            if control == nil { enterStopPost(f) } else { record(f) }
        case .finalSigterm, .finalSigkill:
            record(f)
            if !hasProcessesToReap { enterDead(.success, allowRestart: true) }
        case .dead, .failed, .autoRestart, .startPre, .exited:
            break
        }
    }

    mutating func controlFinished(_ f: ServiceResult) {
        guard let finished = control else { return }
        control = nil
        let hasNext = f == .success && finished.index + 1 < commands(finished.role).count
        switch phase {
        case .startPre:
            if hasNext { spawnControl(.startPre, index: finished.index + 1) } else if f == .success { enterStart() } else { enterSignal(.stopSigterm, f) }
        case .start:
            // Type=forking: the ExecStart= process has exited.
            guard f == .success else {
                enterSignal(.stopSigterm, f)
                return
            }
            if configuration.pidFile != nil || configuration.guessMainPID {
                awaitingMainPID = true
                effects.append(.discoverMainPID(pidFile: configuration.pidFile))
            } else {
                mainPIDUnknown = true
                enterStartPost()
            }
        case .startPost:
            if hasNext { spawnControl(.startPost, index: finished.index + 1) } else if f == .success { enterRunning(.success) } else { enterStop(f) }
        case .reload:
            // A failed reload leaves the service running, as in systemd.
            if hasNext { spawnControl(.reload, index: finished.index + 1) } else { enterRunning(.success) }
        case .stop:
            if hasNext { spawnControl(.stop, index: finished.index + 1) } else { enterSignal(.stopSigterm, f) }
        case .stopSigterm, .stopSigkill:
            if mainPID == nil && mainSpawn == nil { enterStopPost(f) } else { record(f) }
        case .stopPost:
            if hasNext { spawnControl(.stopPost, index: finished.index + 1) } else { enterSignal(.finalSigterm, f) }
        case .finalSigterm, .finalSigkill:
            record(f)
            if !hasProcessesToReap { enterDead(.success, allowRestart: true) }
        case .dead, .failed, .autoRestart, .running, .exited:
            break
        }
    }

    /// A process the supervisor does not track went away, or the whole unit did.
    mutating func unitEmptyChanged() {
        switch phase {
        case .stopSigterm, .stopSigkill:
            if unitEmpty && mainPID == nil && control == nil { enterStopPost(.success) }
        case .finalSigterm, .finalSigkill:
            if !hasProcessesToReap { enterDead(.success, allowRestart: true) }
        case .running:
            if mainPIDUnknown && unitEmpty { enterRunning(.success) }
        default:
            break
        }
    }

    mutating func timerFired() {
        switch phase {
        case .startPre, .start:
            awaitingEnvironment = false
            awaitingMainPID = false
            enterSignal(.stopSigterm, .timeout)
        case .startPost:
            enterStop(.timeout)
        case .reload:
            if let pid = control?.pid { send(.kill, to: .process(pid)) }
            control = nil
            enterRunning(.success)
        case .stop:
            enterSignal(.stopSigterm, .timeout)
        case .stopSigterm:
            if configuration.sendSIGKILL { enterSignal(.stopSigkill, .timeout) } else { enterStopPost(.timeout) }
        case .stopSigkill:
            // systemd: "Processes still around after SIGKILL. Ignoring."
            enterStopPost(.timeout)
        case .stopPost:
            enterSignal(.finalSigterm, .timeout)
        case .finalSigterm:
            if configuration.sendSIGKILL { enterSignal(.finalSigkill, .timeout) } else { enterDead(.timeout, allowRestart: false) }
        case .finalSigkill:
            enterDead(.timeout, allowRestart: true)
        case .autoRestart:
            beginStart(automatic: true)
        case .dead, .failed, .running, .exited:
            break
        }
    }
}
