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
        var announcer: Task<Void, Never>?
        /// `[Unit]` Requires=/Wants=/BindsTo=/After=/Before=, for ordering jobs among this machine's units.
        var dependencies: UnitDependencies?

        func cancel() {
            publisher?.cancel()
            announcer?.cancel()
        }
    }

    /// The latest of the two things that decide what runs here: this machine's schedule (nil until first
    /// read — nothing is reconciled before, or re-adopted units would be dropped) and the cluster's globals.
    private struct Inputs {
        var schedule: MachineSchedule?
        var globals = MachineSchedule()
    }

    private let inputs = Mutex(Inputs())
    /// The machine's facts for specifiers (`%m %b %H %v %u …`), read once: they do not change while the agent runs.
    private let hostFacts: SpecifierContext
    private let inputsChanged = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

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
        hostFacts = Self.readHostFacts(machineID: configuration.identity.id)
    }

    private static func readHostFacts(machineID: String) -> SpecifierContext {
        var system = utsname()
        uname(&system)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let bootID = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-", with: "") ?? ""
        return SpecifierContext(
            unitName: "", machineID: machineID, bootID: bootID, hostName: field(system.nodename), kernelRelease: field(system.release),
            userName: ProcessInfo.processInfo.userName, userID: getuid(), groupName: "", groupID: getgid(),
            homeDirectory: NSHomeDirectory()
        )
    }

    var machineID: String { configuration.identity.id }

    /// Runs until cancelled: presence (once `agentURL` is known), the supervisor, the schedule and the states.
    ///
    /// An agent restart does not disturb the units: on the way out (cancellation, i.e. SIGTERM/SIGINT) the
    /// agent detaches from them — they keep running, their output pipes held open and their runtime state
    /// written under `<data>/run/units/` — and on the way in it re-adopts those whose processes are still
    /// the recorded ones, before it first reconciles. A re-adopted unit is loaded and launched with its old
    /// hash, so an unchanged schedule does nothing to it; a changed or dropped one is unloaded (stopped, by
    /// pid). Units that died meanwhile are not adopted and simply started again if the schedule says so.
    public func run(agentURL: @escaping @Sendable () async -> String?) async throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory + "/logs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory + "/run", withIntermediateDirectories: true)
        adoptSavedUnits()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.supervisor.run(onCancel: .detach) }
            group.addTask {
                let url = await agentURL()
                let identity = self.configuration.identity
                let object = MachineObjectJSON(ID: identity.id, PublicIP: identity.publicIP, Metadata: identity.metadata, AgentURL: url, Version: "flotilla-0.1")
                try await MachinePresence(keys: self.keys, layout: self.configuration.layout, object: object, ttl: self.configuration.ttl, logger: self.logger).keepAlive()
            }
            group.addTask {
                let follower = ScheduleFollower(keys: self.keys, layout: self.configuration.layout, machineID: self.machineID, logger: self.logger)
                try await follower.follow { schedule in
                    self.inputs.withLock { $0.schedule = schedule }
                    self.inputsChanged.continuation.yield()
                }
            }
            group.addTask {
                let layout = self.configuration.layout
                let follower = ScheduleFollower(keys: self.keys, layout: layout, directory: layout.globalDirectory, logger: self.logger)
                try await follower.follow { globals in
                    self.inputs.withLock { $0.globals = globals }
                    self.inputsChanged.continuation.yield()
                }
            }
            // One task reconciles, so two changes never interleave their actions.
            group.addTask {
                for await _ in self.inputsChanged.stream {
                    guard let desired = self.desiredUnits() else { continue }
                    await self.reconcile(desired)
                }
            }
            group.addTask { try await self.states.keepFresh { self.units.withLock { $0.mapValues(\.loaded) } } }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// This machine's schedule plus the global units that run here (nil before the schedule was read).
    private func desiredUnits() -> MachineSchedule? {
        let (schedule, globals) = inputs.withLock { ($0.schedule, $0.globals) }
        guard var desired = schedule else { return nil }
        let machine = MachineInfo(id: machineID, metadata: configuration.identity.metadata)
        for (name, entry) in GlobalUnits.runningHere(machine: machine, schedule: desired, globals: globals) where desired.units[name] == nil {
            desired.units[name] = entry
        }
        return desired
    }

    /// Brings the supervisor to `schedule`, in fleet's order (unload, load, stop, start).
    func reconcile(_ schedule: MachineSchedule) async {
        let desired = schedule.units.mapValues { (hash: $0.hash, state: $0.desiredState) }
        let current = units.withLock { $0.mapValues(\.loaded) }
        let actions = ReconcilePlan.actions(desired: desired, current: current)
        defer { logger.debug("reconciled", metadata: ["units": "\(desired.count)", "actions": "\(actions.count)"]) }
        var starts: [String] = []
        var stops: [String] = []
        for action in actions {
            switch action {
            case .unload(let name):
                supervisor.unload(name, .stop)
                units.withLock { $0.removeValue(forKey: name) }?.cancel()
                await states.remove(name)
                logger.info("unloaded", metadata: ["unit": "\(name)"])
            case .load(let name, let hash):
                load(name, hash: hash, contents: schedule.units[name]?.contents)
            case .start(let name):
                starts.append(name)
            case .stop(let name):
                stops.append(name)
            }
        }
        await runJobs(start: starts, stop: stops)
    }

    func markLaunched(_ name: String, _ launched: Bool) {
        units.withLock { $0[name]?.loaded.launched = launched }
    }

    /// Each loaded unit's `[Unit]` dependencies, and which units are up, for ordering jobs.
    func jobInputs() -> (dependencies: [String: UnitDependencies], active: Set<String>) {
        let dependencies = units.withLock { $0.compactMapValues(\.dependencies) }
        var active: Set<String> = []
        for name in dependencies.keys {
            if let state = supervisor.unit(named: name)?.status.activeState, state != .inactive && state != .failed {
                active.insert(name)
            }
        }
        return (dependencies, active)
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
        let supervised = supervisor.load(configuration, annotations: [Self.hashAnnotation: hash, Self.contentsAnnotation: contents])
        track(name, hash: hash, unit: try? UnitFile(parsing: contents), supervised: supervised, launched: false)
        logger.info("loaded", metadata: ["unit": "\(name)", "hash": "\(hash)"])
    }

    /// Where a unit's hash and file are kept in its runtime record, to rebuild it after a restart.
    static let hashAnnotation = "fleet.hash"
    static let contentsAnnotation = "fleet.contents"

    /// Publishes `supervised`'s state changes, announces its service while it runs healthy, and records the
    /// unit as loaded.
    private func track(_ name: String, hash: String, unit: UnitFile?, supervised: UnitSupervisor, launched: Bool) {
        let states = self.states
        let publisher = Task { [weak self] in
            for await status in supervised.statusUpdates() {
                let launched = self?.units.withLock { $0[name]?.loaded.launched ?? false } ?? false
                await states.publish(name, hash: hash, status: status, launched: launched)
            }
        }
        var announcerTask: Task<Void, Never>?
        do {
            if let unit, let announcement = try ServiceAnnouncement(unit: unit) {
                let announcer = Announcer(
                    keys: keys, announcement: announcement, unit: name, machineID: machineID,
                    host: configuration.identity.publicIP, ttl: configuration.ttl, logger: logger
                )
                let running = AsyncStream<Bool> { continuation in
                    let forward = Task {
                        for await status in supervised.statusUpdates() {
                            continuation.yield(status.activeState == .active && status.subState == .running)
                        }
                        continuation.finish()
                    }
                    continuation.onTermination = { _ in forward.cancel() }
                }
                announcerTask = Task { await announcer.run(running: running) }
            }
        } catch {
            logger.error("announcement ignored", metadata: ["unit": "\(name)", "error": "\(error)"])
        }
        let dependencies = unit.flatMap { try? UnitDependencies(unit: $0, specifiers: specifiers(for: name)) }
        units.withLock {
            $0[name] = AgentUnit(loaded: LoadedUnit(hash: hash, launched: launched), publisher: publisher, announcer: announcerTask, dependencies: dependencies)
        }
    }

    /// Takes back the units an earlier agent on this data directory left running (see `run`). Only units
    /// that are still active can be adopted, and only units that were started are active, so each is loaded
    /// and launched; everything else recorded is killed and forgotten.
    func adoptSavedUnits() {
        for record in supervisor.savedUnits() {
            let name = record.unit
            guard let hash = record.annotations[Self.hashAnnotation], let contents = record.annotations[Self.contentsAnnotation],
                let unit = try? UnitFile(parsing: contents),
                let configuration = try? ServiceConfiguration(unit: unit, unitName: name, specifiers: specifiers(for: name))
            else {
                logger.warning("runtime record without a usable unit file: killing what is left", metadata: ["unit": "\(name)"])
                supervisor.discard(name)
                continue
            }
            guard let supervised = supervisor.adopt(configuration) else {
                logger.info("not re-adopted: no longer running as recorded", metadata: ["unit": "\(name)", "hash": "\(hash)"])
                continue
            }
            track(name, hash: hash, unit: unit, supervised: supervised, launched: true)
            let pid = supervised.status.mainPID.map { "\($0)" } ?? "none"
            logger.info("re-adopted", metadata: ["unit": "\(name)", "hash": "\(hash)", "mainPID": "\(pid)"])
        }
    }

    /// systemd's specifiers for `unit`: this machine's facts (read once, see `HostFacts`) plus the unit's name.
    func specifiers(for unit: String) -> SpecifierContext {
        var context = hostFacts
        context.unitName = unit
        return context
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
