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
    /// replacing a unit's configuration is unload (stop) + load, as fleet does.
    @discardableResult
    public func load(_ configuration: ServiceConfiguration) -> UnitSupervisor {
        let (unit, isNew) = units.withLock { units in
            if let existing = units[configuration.unitName] { return (existing, false) }
            let unit = UnitSupervisor(
                configuration: configuration, managerEnvironment: managerEnvironment, logDirectory: directories.logs,
                runtimeDirectory: directories.runtime, logger: logger
            )
            units[configuration.unitName] = unit
            return (unit, true)
        }
        if isNew { commandSink.yield(unit) }
        return unit
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
        units.withLock { $0.removeValue(forKey: name) }?.shutdown(mode)
    }

    /// Unloads every unit with `mode`; `run()` returns once all their loops have ended.
    public func shutdown(_ mode: UnitSupervisor.ShutdownMode) {
        let all = units.withLock { units in
            defer { units = [:] }
            return Array(units.values)
        }
        for unit in all { unit.shutdown(mode) }
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
