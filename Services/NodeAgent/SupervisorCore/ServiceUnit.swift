/// The supervisor of one `.service` unit as a pure state machine: events in, effects out (STYLE §1.6/§3.1).
/// It never forks, signals or reads a clock; the node agent's shell interprets `SupervisorEffect`s and feeds
/// back `ServiceEvent`s with the current time.
///
/// The transitions follow systemd's `service.c` (`service_enter_*`), including its results and restart
/// rules, with these simplifications: the whole observable status is reported once per `handle` call;
/// environment files are read once per activation rather than before each command; a missing PID file
/// after a forking start fails the unit (`protocol`) instead of waiting for the file to appear.
public struct ServiceUnit: Sendable {
    public let configuration: ServiceConfiguration
    /// The agent's own environment for children (`PATH`, `LANG`, …), below everything the unit sets.
    public var managerEnvironment: [String: String]

    struct Control: Sendable {
        var id: SpawnID
        var pid: Int32?
        var role: CommandRole
        var index: Int
        var command: ExecCommand
    }

    var phase = SubState.dead
    var result = ServiceResult.success
    var mainPID: Int32?
    /// A main process requested but not yet reported spawned.
    var mainSpawn: SpawnID?
    var mainCommandIndex = 0
    var control: Control?
    /// A forking service whose main pid could not be found: it is alive as long as the unit has processes.
    var mainPIDUnknown = false
    var awaitingEnvironment = false
    var awaitingMainPID = false
    var unitEmpty = true
    /// The main exit of the current run: what `Restart*=` and `$EXIT_*` look at.
    var runMainExit: ProcessExitStatus?
    var lastExit: ProcessExitStatus?
    var statusText: String?
    var restarts = 0
    /// Set by manager stops: systemd never restarts those.
    var forbidRestart = false
    /// A start (or the start half of a restart) waiting for a stop to finish.
    var pendingStart = false
    var fileVariables: [String: String] = [:]
    var timer: TimerToken?
    var timerCounter: UInt64 = 0
    var spawnCounter: UInt64 = 0
    var startLimitBegin: SupervisorInstant?
    var startLimitCount = 0
    var now = SupervisorInstant.zero
    var effects: [SupervisorEffect] = []
    var reported: ServiceStatus

    public init(configuration: ServiceConfiguration, managerEnvironment: [String: String] = [:]) {
        self.configuration = configuration
        self.managerEnvironment = managerEnvironment
        reported = ServiceStatus(subState: .dead, result: .success, restarts: 0)
    }

    public var status: ServiceStatus {
        ServiceStatus(
            subState: phase, mainPID: mainPID, controlPID: control?.pid, result: result, lastExit: lastExit,
            statusText: statusText, restarts: restarts
        )
    }

    public mutating func handle(_ event: ServiceEvent, now: SupervisorInstant) -> [SupervisorEffect] {
        self.now = now
        effects = []
        switch event {
        case .request(let request): handle(request)
        case .environmentFilesRead(let contents): environmentFilesRead(contents)
        case .processSpawned(let id, let pid): processSpawned(id, pid: pid)
        case .spawnFailed(let id, _): spawnFailed(id)
        case .processExited(let pid, let status, let empty):
            unitEmpty = empty
            if pid == mainPID {
                lastExit = status
                runMainExit = status
                mainFinished(mainResult(status))
            } else if let control, control.pid == pid {
                controlFinished(status == .exited(0) || control.command.ignoreFailure ? .success : Self.failure(status))
            } else {
                unitEmptyChanged()
            }
        case .unitEmpty:
            unitEmpty = true
            unitEmptyChanged()
        case .notify(let pid, let message): notify(from: pid, message)
        case .mainPIDDiscovered(let pid): mainPIDDiscovered(pid)
        case .timerFired(let token):
            guard token == timer else { break }
            timer = nil
            timerFired()
        }
        let current = status
        if current != reported {
            reported = current
            effects.append(.stateChanged(current))
        }
        return effects
    }

    private mutating func handle(_ request: ServiceRequest) {
        switch request {
        case .start:
            switch phase {
            case .dead, .failed: beginStart(automatic: false)
            case .stop, .stopSigterm, .stopSigkill, .stopPost, .finalSigterm, .finalSigkill: pendingStart = true
            // Already activating or active; during auto-restart the restart is the pending start.
            default: break
            }
        case .stop:
            pendingStart = false
            stop()
        case .restart:
            switch phase {
            case .dead, .failed: beginStart(automatic: false)
            case .autoRestart:
                disarmTimer()
                beginStart(automatic: false)
            default:
                stop()
                pendingStart = true
            }
        case .reload:
            guard phase == .running || phase == .exited else {
                effects.append(.requestRejected(.reload, reason: "unit is \(phase.activeState.rawValue) (\(phase.rawValue))"))
                return
            }
            guard !configuration.execReload.isEmpty else {
                effects.append(.requestRejected(.reload, reason: "unit has no ExecReload="))
                return
            }
            phase = .reload
            armTimer(configuration.timeoutStart)
            spawnControl(.reload, index: 0)
        case .resetFailed:
            startLimitBegin = nil
            startLimitCount = 0
            if phase == .failed {
                phase = .dead
                result = .success
            }
        }
    }

    private mutating func stop() {
        switch phase {
        case .dead, .failed: break
        case .autoRestart:
            disarmTimer()
            phase = .dead
        case .startPre, .start, .startPost:
            forbidRestart = true
            awaitingEnvironment = false
            awaitingMainPID = false
            enterSignal(.stopSigterm, .success)
        case .reload:
            forbidRestart = true
            if let pid = control?.pid { effects.append(.signal(.kill, .process(pid))) }
            control = nil
            enterStop(.success)
        case .running, .exited:
            forbidRestart = true
            enterStop(.success)
        case .stop, .stopSigterm, .stopSigkill, .stopPost, .finalSigterm, .finalSigkill:
            forbidRestart = true
        }
    }

    private mutating func environmentFilesRead(_ contents: [String: String]) {
        guard awaitingEnvironment else { return }
        awaitingEnvironment = false
        do {
            fileVariables = try ServiceEnvironment.resolve(
                base: [:], environment: [:], files: configuration.environmentFiles, fileContents: contents
            )
        } catch {
            enterDead(.resources, allowRestart: true)
            return
        }
        enterStartPre()
    }

    private mutating func processSpawned(_ id: SpawnID, pid: Int32) {
        if id == mainSpawn {
            mainSpawn = nil
            mainPID = pid
            if phase == .start && (configuration.type == .simple || configuration.type == .exec) {
                enterStartPost()
            } else {
                signalIfStopping(pid)
            }
        } else if id == control?.id {
            control?.pid = pid
            signalIfStopping(pid)
        }
    }

    /// A process that appeared after its unit started dying gets the current phase's signal at once.
    private mutating func signalIfStopping(_ pid: Int32) {
        guard configuration.killMode != .none else { return }
        switch phase {
        case .stopSigterm, .finalSigterm: send(configuration.killSignal, to: .process(pid))
        case .stopSigkill, .finalSigkill: send(.kill, to: .process(pid))
        default: break
        }
    }

    private mutating func spawnFailed(_ id: SpawnID) {
        if id == mainSpawn {
            mainSpawn = nil
            let ignore = configuration.execStart[mainCommandIndex].ignoreFailure
            mainFinished(ignore && configuration.type == .oneshot ? .success : .resources)
        } else if let control, id == control.id {
            controlFinished(control.command.ignoreFailure ? .success : .resources)
        }
    }

    private mutating func notify(from pid: Int32, _ message: NotifyMessage) {
        switch configuration.effectiveNotifyAccess {
        case .none: return
        case .main: guard pid == mainPID else { return }
        case .exec: guard pid == mainPID || pid == control?.pid else { return }
        case .all: break
        }
        if let newMain = message.mainPID, [.start, .startPost, .running, .reload].contains(phase) {
            mainPID = newMain
            mainSpawn = nil
        }
        if let text = message.status { statusText = text }
        if message.stopping && (phase == .running || phase == .reload) {
            // The service announced its own shutdown: wait for it like a stop, without signalling.
            phase = .stopSigterm
            armTimer(configuration.timeoutStop)
        } else if message.ready && configuration.type == .notify && phase == .start {
            enterStartPost()
        }
    }

    private mutating func mainPIDDiscovered(_ pid: Int32?) {
        guard awaitingMainPID, phase == .start else { return }
        awaitingMainPID = false
        if let pid {
            mainPID = pid
        } else if configuration.pidFile != nil {
            enterSignal(.stopSigterm, .protocol)
            return
        } else {
            mainPIDUnknown = true
        }
        enterStartPost()
    }

    /// `is_clean_exit`: daemons may also die cleanly by SIGHUP/INT/TERM/PIPE, oneshot commands may not.
    func mainResult(_ status: ProcessExitStatus) -> ServiceResult {
        if status == .exited(0) || configuration.successExitStatus.contains(status) { return .success }
        if case .signaled(let signal, _) = status, configuration.type != .oneshot, [.hup, .int, .term, .pipe].contains(signal) {
            return .success
        }
        return Self.failure(status)
    }

    static func failure(_ status: ProcessExitStatus) -> ServiceResult {
        switch status {
        case .exited: .exitCode
        case .signaled(_, let dumped): dumped ? .coreDump : .signal
        }
    }

    /// The `Restart=` table of systemd.service(5), after `RestartPreventExitStatus=` and
    /// `RestartForceExitStatus=`.
    func shallRestart() -> Bool {
        if forbidRestart { return false }
        if let exit = runMainExit {
            if configuration.restartPreventExitStatus.contains(exit) { return false }
            if configuration.restartForceExitStatus.contains(exit) { return true }
        }
        switch configuration.restart {
        case .no: return false
        case .always: return true
        case .onSuccess: return result == .success
        case .onFailure: return result != .success
        case .onAbnormal: return result != .success && result != .exitCode
        case .onWatchdog: return result == .watchdog
        case .onAbort: return result == .signal || result == .coreDump
        }
    }

    /// systemd's start rate limit: `burst` starts per `interval`, the window opening at the first start.
    mutating func consumeStartLimit() -> Bool {
        guard configuration.startLimitBurst > 0, configuration.startLimitInterval != .zero else { return true }
        if let begin = startLimitBegin, configuration.startLimitInterval.map({ now - begin <= $0 }) ?? true {
            guard startLimitCount < configuration.startLimitBurst else { return false }
            startLimitCount += 1
            return true
        }
        startLimitBegin = now
        startLimitCount = 1
        return true
    }

    // MARK: Effects

    mutating func armTimer(_ delay: Duration?) {
        guard let delay else {
            disarmTimer()
            return
        }
        timerCounter += 1
        let token = TimerToken(rawValue: timerCounter)
        timer = token
        effects.append(.armTimer(token, at: now + delay))
    }

    mutating func disarmTimer() {
        if let timer { effects.append(.cancelTimer(timer)) }
        timer = nil
    }

    mutating func send(_ signal: Signal, to target: SignalTarget) {
        effects.append(.signal(signal, target))
        // A stopped process cannot act on the signal; systemd always follows with SIGCONT.
        if signal != .kill && signal != .cont { effects.append(.signal(.cont, target)) }
    }

    func commands(_ role: CommandRole) -> [ExecCommand] {
        switch role {
        case .startPre: configuration.execStartPre
        case .start: configuration.execStart
        case .startPost: configuration.execStartPost
        case .reload: configuration.execReload
        case .stop: configuration.execStop
        case .stopPost: configuration.execStopPost
        }
    }

    mutating func spawnControl(_ role: CommandRole, index: Int) {
        let command = commands(role)[index]
        let id = nextSpawnID()
        control = Control(id: id, pid: nil, role: role, index: index, command: command)
        effects.append(.spawn(request(id, role: role, index: index, command: command, isControl: true)))
    }

    mutating func spawnMain() {
        let command = configuration.execStart[mainCommandIndex]
        let id = nextSpawnID()
        mainSpawn = id
        effects.append(.spawn(request(id, role: .start, index: mainCommandIndex, command: command, isControl: false)))
    }

    private mutating func nextSpawnID() -> SpawnID {
        spawnCounter += 1
        return SpawnID(rawValue: spawnCounter)
    }

    /// The environment order of systemd's `exec_spawn`: the agent's, then the built-ins, then
    /// `Environment=`, then the files, each overriding the one before.
    private func request(_ id: SpawnID, role: CommandRole, index: Int, command: ExecCommand, isControl: Bool) -> SpawnRequest {
        var environment = managerEnvironment
        if isControl, let mainPID { environment["MAINPID"] = String(mainPID) }
        if role == .stop || role == .stopPost {
            environment["SERVICE_RESULT"] = result.rawValue
            if let exit = runMainExit {
                environment["EXIT_CODE"] = exit.code
                environment["EXIT_STATUS"] = exit.status
            }
        }
        environment.merge(configuration.environment) { _, new in new }
        environment.merge(fileVariables) { _, new in new }
        let credentials = command.usesUnitCredentials
        return SpawnRequest(
            id: id, role: role, index: index, path: command.path, argv: command.argv(environment: environment),
            environment: environment, workingDirectory: configuration.workingDirectory,
            user: credentials ? configuration.user : nil, group: credentials ? configuration.group : nil,
            notifySocket: configuration.effectiveNotifyAccess != .none, newProcessGroup: true
        )
    }
}
