import Glibc
import Logging
import SupervisorCore

/// The state owned by `UnitSupervisor`'s loop: the core value and what the shell knows about processes.
/// A plain struct mutated only by that loop; the tasks it starts post back through `inbox`.
struct Shell {
    enum Progress { case running, finished }

    let supervisor: UnitSupervisor
    var unit: ServiceUnit
    /// Where `SupervisorInstant.zero` is; the core only ever sees durations since then.
    let epoch = ContinuousClock.now
    /// Process groups/sessions of the unit: one per spawned command, plus those of foreign main pids.
    var groups: Set<Int32> = []
    /// Our children that have not been reaped yet.
    var children: Set<Int32> = []
    /// Spawns whose pid has not come back yet. A child can notify (READY=1) before its pid reaches this loop;
    /// such messages wait in `deferredNotifications` until the spawn is known, so `NotifyAccess=main` holds.
    var spawnsInFlight = 0
    var deferredNotifications: [(pid: Int32, datagram: String)] = []
    /// Main pids that are not our children, polled for liveness.
    var foreignWatched: Set<Int32> = []
    var watchers: [Int32: Task<Void, Never>] = [:]
    var emptinessWatcher: Task<Void, Never>?
    /// What the core was last told about the unit's remaining processes.
    var reportedEmpty = true
    var timer: (token: TimerToken, task: Task<Void, Never>)?
    var shutdown: UnitSupervisor.ShutdownMode?
    var pump: OutputPump?
    var notifySocket: NotifySocket?
    /// The `PipeHolder` keeping `pump`'s pipes open for the next agent.
    var holder: (pid: Int32, startTime: UInt64)?
    /// The main pid's start time, for the runtime record.
    var mainStartTime: (pid: Int32, time: UInt64)?
    /// What the runtime record on disk says.
    var written: UnitRuntimeRecord?

    init(supervisor: UnitSupervisor) {
        self.supervisor = supervisor
        if let restored = supervisor.restored {
            unit = restored.unit
            groups = restored.groups
            reportedEmpty = restored.unitEmpty
            if let pid = restored.record.mainPID, let time = restored.record.mainStartTime { mainStartTime = (pid, time) }
        } else {
            unit = ServiceUnit(configuration: supervisor.configuration, managerEnvironment: supervisor.managerEnvironment)
        }
    }

    var now: SupervisorInstant { SupervisorInstant(sinceEpoch: epoch.duration(to: .now)) }

    mutating func open() async {
        if let restored = supervisor.restored {
            pump = OutputPump(reopening: restored.pipes, log: supervisor.log)
            if let pid = restored.record.holderPID, let time = restored.record.holderStartTime { holder = (pid, time) }
            let main = restored.record.mainPID.map { "main pid \($0)" } ?? "no main pid"
            supervisor.log.note("flotilla: re-adopted by a restarted agent (\(restored.record.subState), \(main))")
            supervisor.logger.info("re-adopted", metadata: ["subState": "\(restored.record.subState)", "mainPID": "\(main)"])
        } else {
            pump = OutputPump(log: supervisor.log)
            if let pump {
                if let pid = await PipeHolder.start(holding: pump), let time = ProcessTable.startTime(of: pid) {
                    holder = (pid, time)
                } else {
                    supervisor.logger.warning("cannot start the pipe holder: the unit will not survive an agent restart")
                }
            }
        }
        if pump == nil { supervisor.logger.error("cannot create output pipes: \(errnoDescription())") }
        if let path = supervisor.notifySocketPath {
            let inbox = supervisor.inbox
            do {
                notifySocket = try NotifySocket(path: path) { pid, datagram in inbox.yield(.notify(pid: pid, datagram)) }
            } catch {
                supervisor.logger.error("\(error)")
            }
        }
        // An adopted main process is not our child: watch it like any foreign main pid.
        watchForeignMain()
        if !reportedEmpty { watchEmptiness() }
        persist()
    }

    mutating func close() {
        timer?.task.cancel()
        emptinessWatcher?.cancel()
        for watcher in watchers.values { watcher.cancel() }
        notifySocket?.close()
        if shutdown == .detach {
            persist()
            // Without a holder, closing our read ends would kill the detached processes with SIGPIPE.
            if holder != nil { pump?.finish() }
        } else {
            pump?.finish()
            if let holder, ProcessTable.isSameProcess(holder.pid, startTime: holder.startTime) { kill(holder.pid, SIGKILL) }
            supervisor.retire()
        }
    }

    /// Rewrites the runtime record when anything in it changed (`UnitRuntimeRecord`).
    mutating func persist() {
        let status = unit.status
        if let pid = status.mainPID {
            if mainStartTime?.pid != pid { mainStartTime = ProcessTable.startTime(of: pid).map { (pid, $0) } }
        } else {
            mainStartTime = nil
        }
        let exit = UnitRuntimeRecord.encode(status.lastExit)
        let record = UnitRuntimeRecord(
            unit: supervisor.name, annotations: supervisor.annotations, holderPID: holder?.pid, holderStartTime: holder?.startTime,
            subState: status.subState.rawValue, mainPID: status.mainPID, mainStartTime: mainStartTime?.time, groups: groups.sorted(),
            restarts: status.restarts, lastExitCode: exit.0, lastExitStatus: exit.1, statusText: status.statusText
        )
        guard record != written else { return }
        do {
            try supervisor.writeRecord(record)
            written = record
        } catch {
            supervisor.logger.warning("cannot write the runtime record: \(error)")
        }
    }

    mutating func process(_ input: UnitSupervisor.Input) -> Progress {
        switch input {
        case .request(let request):
            handle(.request(request))
        case .spawned(let id, let pid):
            children.insert(pid)
            groups.insert(pid)
            spawnsInFlight = max(0, spawnsInFlight - 1)
            handle(.processSpawned(id, pid: pid))
            replayDeferredNotifications()
        case .spawnFailed(let id, let reason):
            supervisor.log.note("flotilla: \(reason)")
            spawnsInFlight = max(0, spawnsInFlight - 1)
            handle(.spawnFailed(id, reason: reason))
            replayDeferredNotifications()
        case .exited(let pid, let status):
            children.remove(pid)
            handle(.processExited(pid: pid, status: status, unitEmpty: checkEmpty()))
        case .foreignExited(let pid):
            foreignWatched.remove(pid)
            watchers[pid] = nil
            // Not our child: its exit status went to init. Reported as a clean exit (see the report).
            supervisor.log.note("flotilla: main process \(pid) is gone; not a child of this agent, so its exit status is unknown (taken as 0)")
            handle(.processExited(pid: pid, status: .exited(0), unitEmpty: checkEmpty()))
        case .groupsEmpty:
            emptinessWatcher = nil
            if checkEmpty() { handle(.unitEmpty) } else { watchEmptiness() }
        case .notify(let pid, let datagram):
            if spawnsInFlight > 0 && !children.contains(pid) {
                deferredNotifications.append((pid, datagram))
            } else {
                handle(.notify(pid: pid, NotifyMessage(parsing: datagram)))
            }
        case .timerFired(let token):
            if timer?.token == token { timer = nil }
            handle(.timerFired(token))
        case .shutdown(let mode):
            switch mode {
            case .detach:
                shutdown = .detach
                return .finished
            case .stop:
                shutdown = .stop
                supervisor.retire()
                handle(.request(.stop))
            }
        }
        persist()
        if shutdown == .stop && [.inactive, .failed].contains(unit.status.activeState) { return .finished }
        return .running
    }

    /// Feeds one event to the core and interprets the effects; answers the core needs at once
    /// (environment files, the main pid) are fed back before the next inbox input.
    private mutating func handle(_ first: ServiceEvent) {
        var events = [first]
        while !events.isEmpty {
            let event = events.removeFirst()
            if case .processExited(_, _, let empty) = event { reportedEmpty = empty }
            if case .unitEmpty = event { reportedEmpty = true }
            for effect in unit.handle(event, now: now) {
                if let answer = perform(effect) { events.append(answer) }
            }
        }
        watchForeignMain()
        if !reportedEmpty { watchEmptiness() }
    }

    private mutating func perform(_ effect: SupervisorEffect) -> ServiceEvent? {
        switch effect {
        case .spawn(let request):
            spawnsInFlight += 1
            spawn(request)
        case .signal(let signal, .process(let pid)):
            if pid > 0 { kill(pid, signal.rawValue) }
        case .signal(let signal, .unit):
            signalUnit(signal)
        case .armTimer(let token, let at):
            timer?.task.cancel()
            let inbox = supervisor.inbox
            let deadline = epoch.advanced(by: at.sinceEpoch)
            timer = (token, Task {
                do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
                inbox.yield(.timerFired(token))
            })
        case .cancelTimer(let token):
            if timer?.token == token {
                timer?.task.cancel()
                timer = nil
            }
        case .readEnvironmentFiles(let paths):
            var contents: [String: String] = [:]
            for path in paths { contents[path] = ProcessTable.readSmallFile(path) }
            return .environmentFilesRead(contents)
        case .discoverMainPID(let pidFile):
            return .mainPIDDiscovered(discoverMainPID(pidFile))
        case .stateChanged(let status):
            supervisor.logger.debug("state \(status.activeState.rawValue) (\(status.subState.rawValue))")
            supervisor.statusHub.publish(status)
        case .failed(let result):
            supervisor.logger.notice("unit failed: \(result.rawValue)")
            supervisor.log.note("flotilla: unit entered failed state, result \(result.rawValue)")
        case .requestRejected(let request, let reason):
            supervisor.logger.notice("\(request.rawValue) rejected: \(reason)")
        }
        return nil
    }

    private mutating func replayDeferredNotifications() {
        guard spawnsInFlight == 0, !deferredNotifications.isEmpty else { return }
        let pending = deferredNotifications
        deferredNotifications = []
        for (pid, datagram) in pending { handle(.notify(pid: pid, NotifyMessage(parsing: datagram))) }
    }

    private func spawn(_ request: SpawnRequest) {
        let inbox = supervisor.inbox
        guard let pump else {
            inbox.yield(.spawnFailed(request.id, reason: "no output pipes"))
            return
        }
        let (stdout, stderr, socket) = (pump.stdoutWriteEnd, pump.stderrWriteEnd, notifySocket?.path)
        // Unstructured and never cancelled: cancelling Subprocess.run SIGKILLs the child (see `Spawner`).
        Task {
            do {
                let outcome = try await Spawner.run(request, stdout: stdout, stderr: stderr, notifySocket: socket) { pid in
                    inbox.yield(.spawned(request.id, pid: pid))
                }
                inbox.yield(.exited(pid: outcome.pid, outcome.status))
            } catch {
                inbox.yield(.spawnFailed(request.id, reason: "\(request.role.rawValue)=\(request.path): \(error)"))
            }
        }
    }

    /// Each group at once, then any member that moved to another group within the session.
    private mutating func signalUnit(_ signal: SupervisorCore.Signal) {
        for group in groups { kill(-group, signal.rawValue) }
        for pid in ProcessTable.members(ofGroupOrSession: groups) { kill(pid, signal.rawValue) }
    }

    /// Whether nothing of the unit is left; forgets groups that have emptied.
    private mutating func checkEmpty() -> Bool {
        groups = groups.filter { children.contains($0) || ProcessTable.hasLiveMembers([$0]) }
        return groups.isEmpty && foreignWatched.isEmpty
    }

    /// Polls while the core waits for leftover processes (no child-exit event exists for them).
    private mutating func watchEmptiness() {
        guard emptinessWatcher == nil else { return }
        let inbox = supervisor.inbox
        let watched = groups
        emptinessWatcher = Task {
            while !Task.isCancelled {
                if !ProcessTable.hasLiveMembers(watched) {
                    inbox.yield(.groupsEmpty)
                    return
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// A main pid from `PIDFile=` or `MAINPID=` is usually not our child: poll it, and count its group
    /// and session as the unit's.
    private mutating func watchForeignMain() {
        guard let pid = unit.status.mainPID, pid > 0, !children.contains(pid), !foreignWatched.contains(pid) else { return }
        foreignWatched.insert(pid)
        if let stat = ProcessTable.stat(of: pid) {
            groups.insert(stat.pgid)
            groups.insert(stat.sid)
        }
        let inbox = supervisor.inbox
        watchers[pid] = Task {
            while !Task.isCancelled {
                if !ProcessTable.isAlive(pid) {
                    inbox.yield(.foreignExited(pid: pid))
                    return
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// `PIDFile=` (must name a live process), or systemd's guess: the only live process left in the unit.
    private mutating func discoverMainPID(_ pidFile: String?) -> Int32? {
        if let pidFile {
            guard let text = ProcessTable.readSmallFile(pidFile),
                let pid = Int32(text.trimmingPrefix(while: \.isWhitespace).prefix(while: \.isNumber)), ProcessTable.isAlive(pid)
            else { return nil }
            return pid
        }
        let members = ProcessTable.members(ofGroupOrSession: groups)
        return members.count == 1 ? members[0] : nil
    }
}

extension Substring {
    fileprivate func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        self[(firstIndex(where: { !predicate($0) }) ?? endIndex)...]
    }
}

extension String {
    fileprivate func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        self[...].trimmingPrefix(while: predicate)
    }
}
