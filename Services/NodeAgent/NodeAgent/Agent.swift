import FleetLayout
import Foundation
public import KeysClient
public import Logging
import ProcessSupervisor
import SchedulerCore
import ServiceLifecycle
import SupervisorCore
import Synchronization
import UnitFile

/// One machine's agent: keeps its presence, follows its own schedule, runs the units placed on it through
/// the process supervisor and publishes their state where the scheduler's API reads it.
public final class Agent: Sendable {
    public let configuration: AgentConfiguration
    let keys: KeysAPI
    let logger: Logger
    let supervisor: Supervisor
    let states: UnitStatePublisher
    private let units = Mutex<[String: AgentUnit]>([:])

    struct AgentUnit {
        var loaded: LoadedUnit
        var publisher: Task<Void, Never>?
    }

    public init(configuration: AgentConfiguration, keys: KeysAPI, logger: Logger) {
        self.configuration = configuration
        self.keys = keys
        self.logger = logger
        let data = configuration.dataDirectory
        supervisor = Supervisor(
            directories: .init(logs: data + "/logs", runtime: data + "/run"),
            logger: logger
        )
        states = UnitStatePublisher(keys: keys, layout: configuration.layout, machineID: configuration.identity.id, ttl: configuration.ttl, logger: logger)
    }

    var machineID: String { configuration.identity.id }

    /// Runs until cancelled: presence (once `agentURL` is known), the supervisor, the schedule and the states.
    /// On the way out every unit is stopped: without re-adoption a restarted agent could not take them back.
    public func run(agentURL: @escaping @Sendable () async -> String?) async throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory + "/logs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory + "/run", withIntermediateDirectories: true)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.supervisor.run(onCancel: .stop) }
            group.addTask {
                let url = await agentURL()
                let identity = self.configuration.identity
                let object = MachineObjectJSON(ID: identity.id, PublicIP: identity.publicIP, Metadata: identity.metadata, AgentURL: url, Version: "flotilla-0.1")
                try await MachinePresence(keys: self.keys, layout: self.configuration.layout, object: object, ttl: self.configuration.ttl, logger: self.logger).keepAlive()
            }
            group.addTask {
                let follower = ScheduleFollower(keys: self.keys, layout: self.configuration.layout, machineID: self.machineID, logger: self.logger)
                try await follower.follow { schedule in await self.reconcile(schedule) }
            }
            group.addTask { try await self.states.keepFresh { self.units.withLock { $0.mapValues(\.loaded) } } }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Brings the supervisor to `schedule`, in fleet's order (unload, load, stop, start).
    func reconcile(_ schedule: MachineSchedule) async {
        let desired = schedule.units.mapValues { (hash: $0.hash, state: $0.desiredState) }
        let current = units.withLock { $0.mapValues(\.loaded) }
        for action in ReconcilePlan.actions(desired: desired, current: current) {
            switch action {
            case .unload(let name):
                supervisor.unload(name, .stop)
                units.withLock { $0.removeValue(forKey: name) }?.publisher?.cancel()
                await states.remove(name)
                logger.info("unloaded", metadata: ["unit": "\(name)"])
            case .load(let name, let hash):
                load(name, hash: hash, contents: schedule.units[name]?.contents)
            case .start(let name):
                units.withLock { $0[name]?.loaded.launched = true }
                supervisor.start(name)
                logger.info("started", metadata: ["unit": "\(name)"])
            case .stop(let name):
                units.withLock { $0[name]?.loaded.launched = false }
                supervisor.stop(name)
                logger.info("stopped", metadata: ["unit": "\(name)"])
            }
        }
    }

    private func load(_ name: String, hash: String, contents: String?) {
        guard let contents else {
            logger.warning("unit file not readable yet", metadata: ["unit": "\(name)", "hash": "\(hash)"])
            return
        }
        let configuration: ServiceConfiguration
        do {
            let unit = try UnitFile(parsing: contents)
            configuration = try ServiceConfiguration(unit: unit, unitName: name, specifiers: specifiers(for: name))
        } catch {
            // Kept as loaded so it is not retried on every change; its state tells why it does not run.
            logger.error("unit cannot be loaded", metadata: ["unit": "\(name)", "error": "\(error)"])
            units.withLock { $0[name] = AgentUnit(loaded: LoadedUnit(hash: hash, launched: false)) }
            let states = self.states
            Task { await states.publishUnloadable(name, hash: hash, error: "\(error)") }
            return
        }
        let supervised = supervisor.load(configuration)
        let states = self.states
        let publisher = Task { [weak self] in
            for await status in supervised.statusUpdates() {
                let launched = self?.units.withLock { $0[name]?.loaded.launched ?? false } ?? false
                await states.publish(name, hash: hash, status: status, launched: launched)
            }
        }
        units.withLock { $0[name] = AgentUnit(loaded: LoadedUnit(hash: hash, launched: false), publisher: publisher) }
        logger.info("loaded", metadata: ["unit": "\(name)", "hash": "\(hash)"])
    }

    private func specifiers(for unit: String) -> SpecifierContext {
        var system = utsname()
        uname(&system)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let bootID = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-", with: "") ?? ""
        return SpecifierContext(
            unitName: unit, machineID: machineID, bootID: bootID, hostName: field(system.nodename), kernelRelease: field(system.release),
            userName: ProcessInfo.processInfo.userName, userID: getuid(), groupName: "", groupID: getgid(),
            homeDirectory: NSHomeDirectory()
        )
    }

    /// The log of a loaded unit, for the journal API.
    func log(of unit: String) -> UnitLog? { supervisor.unit(named: unit)?.log }

    /// Loaded units and their current status, for the agent's own API.
    func statuses() -> [(name: String, loaded: LoadedUnit, status: ServiceStatus?)] {
        units.withLock { $0 }.sorted { $0.key < $1.key }.map { name, unit in
            (name, unit.loaded, supervisor.unit(named: name)?.status)
        }
    }
}
