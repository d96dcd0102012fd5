public import Logging
public import SupervisorCore
import Synchronization

/// All units of one node agent, by unit name: what the agent's reconcile loop drives.
///
/// `run()` owns one child task per loaded unit (each running `UnitSupervisor.run()`), so every unit's loop
/// ends before `run()` returns. Load/unload/start/stop may be called from any task.
public final class Supervisor: Sendable {
    public struct Directories: Sendable, Hashable {
        /// `<unit>.log` files.
        public var logs: String
        /// Notify sockets; keep short (socket paths are limited to 107 bytes).
        public var runtime: String

        public init(logs: String, runtime: String) {
            self.logs = logs
            self.runtime = runtime
        }
    }

    public let directories: Directories
    public let managerEnvironment: [String: String]
    let logger: Logger
    private let units = Mutex<[String: UnitSupervisor]>([:])
    /// Names loaded or adopted by this supervisor: their runtime records are this supervisor's own.
    private let known = Mutex<Set<String>>([])
    private let commands: AsyncStream<UnitSupervisor>
    private let commandSink: AsyncStream<UnitSupervisor>.Continuation

    public init(
        directories: Directories,
        managerEnvironment: [String: String] = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        logger: Logger = Logger(label: "flotilla.node-agent.supervisor")
    ) {
        self.directories = directories
        self.managerEnvironment = managerEnvironment
        self.logger = logger
        (commands, commandSink) = AsyncStream.makeStream(of: UnitSupervisor.self)
    }

    /// Adds a unit (not started). Loading a name that is already loaded returns the existing supervisor:
    /// replacing a unit's configuration is unload (stop) + load, as fleet does. `annotations` are kept in
    /// the unit's runtime record and handed back by `savedUnits()` after an agent restart.
    ///
    /// What an earlier agent left of a unit of this name and was not `adopt`ed is killed first.
    @discardableResult
    public func load(_ configuration: ServiceConfiguration, annotations: [String: String] = [:]) -> UnitSupervisor {
        let (unit, isNew) = units.withLock { units in
            if let existing = units[configuration.unitName] { return (existing, false) }
            if known.withLock({ $0.insert(configuration.unitName).inserted }) { discard(configuration.unitName) }
            let unit = UnitSupervisor(
                configuration: configuration, managerEnvironment: managerEnvironment, logDirectory: directories.logs,
                runtimeDirectory: directories.runtime, annotations: annotations, logger: logger
            )
            units[configuration.unitName] = unit
            return (unit, true)
        }
        if isNew { commandSink.yield(unit) }
        return unit
    }

    // MARK: Re-adoption after an agent restart

    /// The runtime records an earlier supervisor on the same directories left (units it detached from, or
    /// had loaded when it died), by unit name. Each should be `adopt`ed or `discard`ed.
    public func savedUnits() -> [UnitRuntimeRecord] {
        let loaded = Set(unitNames)
        return RuntimeStore(runtimeDirectory: directories.runtime).all().filter { !loaded.contains($0.unit) }
    }

    /// Takes back a unit an earlier supervisor left running (see `UnitSupervisor.adopt`): loaded, with the
    /// same processes and pids, as active as it was. nil (leftovers killed, record removed) if it cannot be.
    /// `configuration` must be the one the unit was started with (the caller keeps what identifies it in
    /// the annotations).
    @discardableResult
    public func adopt(_ configuration: ServiceConfiguration) -> UnitSupervisor? {
        let adopted: UnitSupervisor? = units.withLock { units in
            guard units[configuration.unitName] == nil else { return nil }
            let unit = UnitSupervisor.adopt(
                configuration: configuration, managerEnvironment: managerEnvironment, logDirectory: directories.logs,
                runtimeDirectory: directories.runtime, logger: logger
            )
            if let unit { units[configuration.unitName] = unit }
            known.withLock { _ = $0.insert(configuration.unitName) }
            return unit
        }
        if let adopted { commandSink.yield(adopted) }
        return adopted
    }

    /// Kills (SIGKILL, by recorded pid, session and process group) whatever an earlier supervisor left of
    /// `unit` and removes its runtime record: for saved units that cannot or should not be taken back.
    public func discard(_ unit: String) {
        let store = RuntimeStore(runtimeDirectory: directories.runtime)
        guard let record = store.read(unit) else { return }
        Adoption.killLeftovers(record)
        store.remove(unit)
    }

    public func unit(named name: String) -> UnitSupervisor? {
        units.withLock { $0[name] }
    }

    public var unitNames: [String] {
        units.withLock { Array($0.keys) }.sorted()
    }

    public func start(_ name: String) { unit(named: name)?.start() }
    public func stop(_ name: String) { unit(named: name)?.stop() }
    public func restart(_ name: String) { unit(named: name)?.restart() }

    /// Removes a unit; `.stop` stops it first, `.detach` leaves its processes running. Returns at once; the
    /// unit's loop finishes inside `run()`.
    public func unload(_ name: String, _ mode: UnitSupervisor.ShutdownMode = .stop) {
        guard let unit = units.withLock({ $0.removeValue(forKey: name) }) else { return }
        // At once, not when its loop gets to it: a unit loaded next under the name owns the record.
        if mode == .stop { unit.retire() }
        unit.shutdown(mode)
    }

    /// Unloads every unit with `mode`; `run()` returns once all their loops have ended.
    public func shutdown(_ mode: UnitSupervisor.ShutdownMode) {
        let all = units.withLock { units in
            defer { units = [:] }
            return Array(units.values)
        }
        for unit in all {
            if mode == .stop { unit.retire() }
            unit.shutdown(mode)
        }
        commandSink.finish()
    }

    /// Runs until `shutdown(_:)` has been called and every unit's loop has ended. Cancellation is
    /// `shutdown(onCancel)`: `.stop` for a node leaving the cluster, `.detach` for an agent restart.
    public func run(onCancel: UnitSupervisor.ShutdownMode = .detach) async {
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for await unit in commands {
                    // The unit's own cancellation handling would duplicate the one below.
                    group.addTask { await unit.run(onCancel: onCancel) }
                }
            }
        } onCancel: {
            self.shutdown(onCancel)
        }
    }
}
