import Glibc
public import Logging
public import SupervisorCore
import Synchronization

/// Runs one `.service` unit: the shell around `ServiceUnit` (STYLE §2.3). One task — `run()` — owns the
/// `ServiceUnit` value and the process bookkeeping and handles an inbox of inputs strictly in order; every
/// other task (process waiters, timers, watchers, the notify thread) only posts to that inbox. There is no
/// actor and no `await` between reading and writing the state, so no reentrancy.
///
/// Process model: every command leads its own session/process group; the unit's processes are everything
/// in those groups/sessions (found through `/proc`) plus a main pid learnt from `PIDFile=`/`MAINPID=`.
/// cgroup v2 would be tighter (it also catches daemons that `setsid`); see the report for that step.
public final class UnitSupervisor: Sendable {
    /// What `run()` does when it ends: stop the unit gracefully first, or leave its processes running.
    public enum ShutdownMode: Sendable, Hashable {
        case stop
        /// Leave the unit running for the next agent to `adopt`.
        case detach
    }

    enum Input: Sendable {
        case request(ServiceRequest)
        case spawned(SpawnID, pid: Int32)
        case spawnFailed(SpawnID, reason: String)
        case exited(pid: Int32, ProcessExitStatus)
        /// A main process that is not our child (forking daemon, `MAINPID=`) is gone.
        case foreignExited(pid: Int32)
        case groupsEmpty
        case notify(pid: Int32, String)
        case timerFired(TimerToken)
        case shutdown(ShutdownMode)
    }

    public let name: String
    public let configuration: ServiceConfiguration
    public let log: UnitLog
    /// `NOTIFY_SOCKET` for the unit's processes, when `NotifyAccess=` is not `none`.
    public let notifySocketPath: String?
    let managerEnvironment: [String: String]
    let logger: Logger
    let inbox: AsyncStream<Input>.Continuation
    private let inputs: AsyncStream<Input>
    let statusHub: StatusHub
    /// Kept in the unit's runtime record (see `UnitRuntimeRecord.annotations`).
    public let annotations: [String: String]
    let store: RuntimeStore
    /// Set when this supervisor takes back a unit an earlier agent left running.
    let restored: Adoption.Restored?
    /// Once retired (stopped for good) this supervisor no longer writes the unit's runtime record, which from
    /// then on belongs to whatever is loaded under the name next.
    private let retired = Mutex(false)

    /// - Parameters:
    ///   - logDirectory: where `<unit>.log` and its rotations live.
    ///   - runtimeDirectory: where `<unit>.notify` (the notify socket) is created; keep it short, a socket
    ///     path is limited to 107 bytes. The unit's runtime record goes to `units/<unit>.json` below it.
    ///   - annotations: kept as given in the unit's runtime record, for whoever adopts the unit later.
    public convenience init(
        configuration: ServiceConfiguration,
        managerEnvironment: [String: String] = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        logDirectory: String,
        runtimeDirectory: String,
        annotations: [String: String] = [:],
        logFileBytes: Int = 1 << 20,
        logFiles: Int = 3,
        logger: Logger = Logger(label: "flotilla.node-agent.supervisor")
    ) {
        self.init(
            configuration: configuration, managerEnvironment: managerEnvironment, logDirectory: logDirectory, runtimeDirectory: runtimeDirectory,
            annotations: annotations, restoring: nil, logFileBytes: logFileBytes, logFiles: logFiles, logger: logger
        )
    }

    /// Takes back the unit an earlier supervisor left running with the same `runtimeDirectory` (see
    /// `UnitSupervisor.ShutdownMode.detach`), keeping its processes, pids and output pipes: nil — after
    /// SIGKILLing any leftovers and removing the record — unless its recorded processes are still alive and
    /// in a state that can be resumed (active/running or active/exited). Call `run()` as usual; `start()` on
    /// an adopted running unit does nothing.
    public static func adopt(
        configuration: ServiceConfiguration,
        managerEnvironment: [String: String] = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        logDirectory: String,
        runtimeDirectory: String,
        logFileBytes: Int = 1 << 20,
        logFiles: Int = 3,
        logger: Logger = Logger(label: "flotilla.node-agent.supervisor")
    ) -> UnitSupervisor? {
        let store = RuntimeStore(runtimeDirectory: runtimeDirectory)
        guard let record = store.read(configuration.unitName) else { return nil }
        guard let restored = Adoption.restore(record, configuration: configuration, managerEnvironment: managerEnvironment) else {
            logger.notice("not re-adopting unit: its processes are gone or it was in transition", metadata: ["unit": "\(configuration.unitName)"])
            Adoption.killLeftovers(record)
            store.remove(configuration.unitName)
            return nil
        }
        return UnitSupervisor(
            configuration: configuration, managerEnvironment: managerEnvironment, logDirectory: logDirectory, runtimeDirectory: runtimeDirectory,
            annotations: record.annotations, restoring: restored, logFileBytes: logFileBytes, logFiles: logFiles, logger: logger
        )
    }

    init(
        configuration: ServiceConfiguration,
        managerEnvironment: [String: String],
        logDirectory: String,
        runtimeDirectory: String,
        annotations: [String: String],
        restoring restored: Adoption.Restored?,
        logFileBytes: Int,
        logFiles: Int,
        logger: Logger
    ) {
        name = configuration.unitName
        self.configuration = configuration
        self.managerEnvironment = managerEnvironment
        log = UnitLog(directory: logDirectory, unitName: configuration.unitName, maxFileBytes: logFileBytes, maxFiles: logFiles)
        notifySocketPath = configuration.effectiveNotifyAccess == .none ? nil : runtimeDirectory + "/" + configuration.unitName + ".notify"
        var logger = logger
        logger[metadataKey: "unit"] = "\(configuration.unitName)"
        self.logger = logger
        (inputs, inbox) = AsyncStream.makeStream(of: Input.self)
        self.annotations = annotations
        store = RuntimeStore(runtimeDirectory: runtimeDirectory)
        self.restored = restored
        statusHub = StatusHub(restored?.unit.status ?? ServiceUnit(configuration: configuration).status)
    }

    // MARK: Requests (any thread; handled in order by `run()`)

    public func start() { inbox.yield(.request(.start)) }
    public func stop() { inbox.yield(.request(.stop)) }
    public func restart() { inbox.yield(.request(.restart)) }
    public func reload() { inbox.yield(.request(.reload)) }
    public func resetFailed() { inbox.yield(.request(.resetFailed)) }
    /// Ends `run()`: `.stop` stops the unit first (bounded by its `TimeoutStopSec=` escalation) and removes
    /// its runtime record; `.detach` returns at once and leaves the processes running, their output pipes
    /// held open and their runtime record written, for `adopt` in the next agent.
    public func shutdown(_ mode: ShutdownMode) { inbox.yield(.shutdown(mode)) }

    /// Writes the unit's runtime record unless retired.
    func writeRecord(_ record: UnitRuntimeRecord) throws {
        try retired.withLock { retired in
            if !retired { try store.write(record) }
        }
    }

    /// Removes the unit's runtime record (once) and stops writing it: the unit is being stopped for good.
    func retire() {
        retired.withLock { retired in
            if !retired { store.remove(name) }
            retired = true
        }
    }

    /// The latest status (as last reported by the core).
    public var status: ServiceStatus { statusHub.current }

    /// The current status, then every change, until `run()` ends. Each call is an independent subscription.
    public func statusUpdates() -> AsyncStream<ServiceStatus> { statusHub.subscribe() }

    /// Call once per supervisor. Requests that arrived before `run()` starts are kept and handled first.
    ///
    /// Cancelling the calling task is a `shutdown(onCancel)` request, then `run()` still waits for it to
    /// complete: the loop runs in an unstructured task so that a graceful stop is not cut short by the very
    /// cancellation that asked for it.
    public func run(onCancel: ShutdownMode = .detach) async {
        let loop = Task { await self.loop() }
        await withTaskCancellationHandler {
            await loop.value
        } onCancel: {
            self.inbox.yield(.shutdown(onCancel))
        }
    }

    private func loop() async {
        var shell = Shell(supervisor: self)
        await shell.open()
        for await input in inputs {
            if shell.process(input) == .finished { break }
        }
        shell.close()
        statusHub.finish()
        inbox.finish()
    }
}

/// Fans the status out to any number of subscribers, each starting with the current value.
final class StatusHub: Sendable {
    private struct State {
        var current: ServiceStatus
        var subscribers: [UInt64: AsyncStream<ServiceStatus>.Continuation] = [:]
        var next: UInt64 = 0
        var finished = false
    }

    private let state: Mutex<State>

    init(_ initial: ServiceStatus) {
        state = Mutex(State(current: initial))
    }

    var current: ServiceStatus { state.withLock { $0.current } }

    func publish(_ status: ServiceStatus) {
        state.withLock { state in
            state.current = status
            for subscriber in state.subscribers.values { subscriber.yield(status) }
        }
    }

    func subscribe() -> AsyncStream<ServiceStatus> {
        let (stream, continuation) = AsyncStream.makeStream(of: ServiceStatus.self, bufferingPolicy: .bufferingNewest(256))
        let id: UInt64? = state.withLock { state in
            continuation.yield(state.current)
            guard !state.finished else { return nil }
            state.next += 1
            state.subscribers[state.next] = continuation
            return state.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func finish() {
        let subscribers = state.withLock { state in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }
}
