import FleetLayout
import KeysClient
import Logging
import SchedulerCore

/// The acting scheduler: campaigns for the leader lease and, while it holds it, turns every change it sees
/// into a scheduling pass. Instances that do not lead keep campaigning and serve the API meanwhile.
struct Engine: Sendable {
    struct Timings: Sendable {
        /// Backstop pass interval: passes normally follow watch events at once.
        var reconcileInterval: Duration = .seconds(2)
        /// A full re-read of the registry, in case a change was missed.
        var reloadInterval: Duration = .seconds(30)
        /// Writes issued at once during a pass.
        var maxConcurrentWrites = 64
    }

    let registry: FleetRegistry
    let election: LeaderElection
    let timings: Timings
    let logger: Logger

    var mirror: RegistryMirror { registry.mirror }

    func run() async throws {
        while !Task.isCancelled {
            do {
                try await election.withLeadership { _ in try await lead() }
            } catch is CancellationError {
                return
            } catch let error as LeaseLostError {
                logger.warning("lost leadership", metadata: ["error": "\(error)"])
            } catch {
                if Task.isCancelled { return }
                logger.error("engine failed, campaigning again", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func lead() async throws {
        logger.notice("leading the cluster", metadata: ["candidate": "\(election.candidate)"])
        // Only the leader writes the schedule, so after one consistent read its view of it is exact: nothing
        // the previous leader placed just before it died can be missed and placed a second time.
        try await registry.reload()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The backstop: a pass every interval even when nothing was heard.
            group.addTask {
                while true {
                    try await Task.sleep(for: timings.reconcileInterval)
                    mirror.ring()
                }
            }
            group.addTask {
                var lastReload = ContinuousClock.now
                for await _ in mirror.doorbell {
                    if ContinuousClock.now - lastReload > timings.reloadInterval {
                        try await registry.reload()
                        lastReload = .now
                    }
                    let clean = await pass()
                    if !clean {
                        // Something changed under us (a CAS lost): read everything afresh before deciding again.
                        try await Task.sleep(for: .milliseconds(50))
                        try await registry.reload()
                        lastReload = .now
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// One scheduling pass; false when some write failed.
    func pass() async -> Bool {
        guard mirror.isLoaded else { return true }
        let (snapshot, _, _) = mirror.snapshot()
        let decision = PlacementEngine.decide(snapshot)
        let plan = mirror.read { cache in SchedulePlan(decision: decision, snapshot: snapshot, cache: cache) }
        guard !plan.isEmpty else { return true }
        logger.info("scheduling pass", metadata: [
            "schedule": "\(plan.schedules.count)", "unschedule": "\(plan.unschedules.count)",
            "update": "\(plan.updates.count)", "unplaced": "\(decision.unplaced.count)",
        ])
        // One line per action only at debug: a pass over a big cluster makes thousands.
        if logger.logLevel <= .debug {
            for action in plan.logged { logger.debug("\(action)") }
        }
        // Unschedules first: a unit moved in this pass must be gone from its old machine before it appears
        // on the new one, so no agent pair runs it twice.
        let removed = await perform(plan.unschedules) { item in
            try await registry.unschedule(unit: item.unit, machine: item.machine, prevIndex: item.index)
        }
        let added = await perform(plan.schedules) { item in
            try await registry.schedule(unit: item.unit, machine: item.machine, entry: item.entry)
        }
        let updated = await perform(plan.updates) { item in
            try await registry.updateSchedule(unit: item.unit, machine: item.machine, entry: item.entry, prevIndex: item.index)
        }
        for machine in plan.emptyDirectories {
            try? await registry.removeScheduleDirectory(machine: machine)
        }
        return removed && added && updated
    }

    /// Runs `write` for every item with at most `maxConcurrentWrites` in flight; false if any failed.
    private func perform<Item: Sendable>(_ items: [Item], _ write: @escaping @Sendable (Item) async throws -> Void) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            var iterator = items.makeIterator()
            var inFlight = 0
            var allSucceeded = true
            while true {
                while inFlight < timings.maxConcurrentWrites, let item = iterator.next() {
                    group.addTask {
                        do {
                            try await write(item)
                            return true
                        } catch {
                            logger.warning("schedule write failed", metadata: ["error": "\(error)"])
                            return false
                        }
                    }
                    inFlight += 1
                }
                guard let succeeded = await group.next() else { break }
                inFlight -= 1
                allSucceeded = allSucceeded && succeeded
            }
            return allSucceeded
        }
    }
}

/// The writes one pass makes, worked out from the decision and the exact entries (with their indexes)
/// the mirror holds.
struct SchedulePlan {
    struct Removal: Sendable { var unit: String; var machine: String; var index: UInt64 }
    struct Placement: Sendable { var unit: String; var machine: String; var entry: ScheduleEntryJSON }
    struct Rewrite: Sendable { var unit: String; var machine: String; var entry: ScheduleEntryJSON; var index: UInt64 }

    var unschedules: [Removal] = []
    var schedules: [Placement] = []
    var updates: [Rewrite] = []
    var emptyDirectories: [String] = []
    var logged: [String] = []

    var isEmpty: Bool { unschedules.isEmpty && schedules.isEmpty && updates.isEmpty && emptyDirectories.isEmpty }

    init(decision: SchedulingDecision, snapshot: ClusterSnapshot, cache: borrowing RegistryCache) {
        var finalPlacement = snapshot.schedule
        for action in decision.actions {
            switch action {
            case .unschedule(let unit, let machine, let reason):
                if let view = cache.schedule[machine]?[unit] {
                    unschedules.append(Removal(unit: unit, machine: machine, index: view.index))
                }
                if finalPlacement[unit] == machine { finalPlacement[unit] = nil }
                logged.append("unscheduled \(unit) from \(machine): \(reason)")
            case .schedule(let unit, let machine, let reason):
                finalPlacement[unit] = machine
                logged.append("scheduled \(unit) to \(machine): \(reason)")
            }
        }
        let scheduledNow = Set(decision.actions.compactMap { action -> String? in
            if case .schedule(let unit, _, _) = action { return unit }
            return nil
        })
        let removedNow = Set(unschedules.map { "\($0.machine)/\($0.unit)" })
        // Entries to add, to rewrite because the unit's contents or desired state changed, and strays (a
        // unit listed under a second machine, or entries of units that no longer exist).
        for (machine, units) in cache.schedule {
            for (unit, view) in units where !removedNow.contains("\(machine)/\(unit)") {
                if finalPlacement[unit] != machine {
                    unschedules.append(Removal(unit: unit, machine: machine, index: view.index))
                    logged.append("removed stray schedule entry \(unit) on \(machine)")
                } else if let entry = Self.entry(for: unit, snapshot: snapshot, cache: cache), entry != view.entry, !scheduledNow.contains(unit) {
                    updates.append(Rewrite(unit: unit, machine: machine, entry: entry, index: view.index))
                }
            }
        }
        for action in decision.actions {
            guard case .schedule(let unit, let machine, _) = action, let entry = Self.entry(for: unit, snapshot: snapshot, cache: cache) else { continue }
            if let existing = cache.schedule[machine]?[unit], !removedNow.contains("\(machine)/\(unit)") {
                if existing.entry != entry { updates.append(Rewrite(unit: unit, machine: machine, entry: entry, index: existing.index)) }
            } else {
                schedules.append(Placement(unit: unit, machine: machine, entry: entry))
            }
        }
        // A machine that left keeps an empty directory once its entries are gone.
        let removalsByMachine = Dictionary(grouping: unschedules, by: \.machine)
        for (machine, units) in cache.schedule where snapshot.machines[machine] == nil {
            if units.count == removalsByMachine[machine]?.count ?? 0 { emptyDirectories.append(machine) }
        }
    }

    private static func entry(for unit: String, snapshot: ClusterSnapshot, cache: borrowing RegistryCache) -> ScheduleEntryJSON? {
        guard let spec = snapshot.units[unit], spec.desiredState != .inactive, let hash = cache.jobs[unit]?.hash else { return nil }
        return ScheduleEntryJSON(hash: hash, desiredState: spec.desiredState)
    }
}
