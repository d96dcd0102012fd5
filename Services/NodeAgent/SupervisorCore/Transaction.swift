/// Why a set of jobs cannot be ordered.
public struct TransactionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

public struct Job: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable { case start, stop }

    public var unit: String
    public var kind: Kind

    public init(_ kind: Kind, _ unit: String) {
        self.unit = unit
        self.kind = kind
    }

    public static func start(_ unit: String) -> Job { Job(.start, unit) }
    public static func stop(_ unit: String) -> Job { Job(.stop, unit) }

    public var description: String { "\(kind.rawValue) \(unit)" }
}

/// systemd's job results that the agent reports.
public enum JobResult: String, Sendable, Hashable {
    case done, failed
    /// Not run: a unit it `Requires=`/`BindsTo=` with `After=` failed to start.
    case dependency
}

/// A modest version of systemd's transaction for units on one machine: pulls in `Requires=`, `Wants=` and
/// `BindsTo=` for starts, dependents (`Requires=`/`BindsTo=` on a stopped unit) for stops, orders by
/// `After=`/`Before=` (stops in reverse, all stops before all starts), and fails dependents of a failed
/// start with `dependency` when they are ordered after it. Pure: the agent runs `runnable` jobs and reports
/// each outcome with `complete`.
///
/// Not modelled: `Conflicts=`, `PartOf=`, `Requisite=`, and a unit being both stopped and started.
public struct Transaction: Sendable {
    /// Every job, in one valid serial order.
    public private(set) var jobs: [Job]
    public private(set) var results: [Job: JobResult] = [:]
    private let units: [String: UnitDependencies]
    private var predecessors: [Job: Set<Job>] = [:]

    /// - Parameters:
    ///   - units: the units loaded on this machine, by name.
    ///   - active: units already active (no start job; only these get stop jobs).
    public init(units: [String: UnitDependencies], start: [String] = [], stop: [String] = [], active: Set<String> = []) throws(TransactionError) {
        self.units = units
        let stopping = Self.stopClosure(stop, units: units, active: active)
        var starting: [String] = []
        var missing: Set<String> = []
        var queue = start
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard !starting.contains(name), !stopping.contains(name), !active.contains(name) else { continue }
            guard let deps = units[name] else {
                missing.insert(name)
                continue
            }
            starting.append(name)
            queue += deps.requires + deps.bindsTo + deps.wants
        }
        let jobs = stopping.map(Job.stop) + starting.map(Job.start)
        var predecessors: [Job: Set<Job>] = [:]
        for job in jobs {
            predecessors[job] = Set(jobs.filter { Self.mustPrecede($0, job, units: units) })
        }
        self.predecessors = predecessors
        self.jobs = try Self.topologicalOrder(jobs, predecessors: predecessors)
        // A required unit that does not exist fails its dependents up front, as systemd refuses the job.
        for name in starting {
            let deps = units[name] ?? UnitDependencies()
            if !missing.isDisjoint(with: deps.requires + deps.bindsTo) { failDependents(.start(name)) }
        }
    }

    /// Jobs not yet decided whose ordering predecessors are all decided; they may run concurrently.
    public var runnable: [Job] {
        jobs.filter { results[$0] == nil && (predecessors[$0] ?? []).allSatisfy { results[$0] != nil } }
    }

    public var isFinished: Bool { results.count == jobs.count }

    /// Records a job's outcome; returns the jobs this decided as `dependency`.
    @discardableResult
    public mutating func complete(_ job: Job, success: Bool) -> [Job] {
        guard jobs.contains(job), results[job] == nil else { return [] }
        results[job] = success ? .done : .failed
        guard !success, job.kind == .start else { return [] }
        let before = Set(results.keys)
        for dependent in jobs where dependent.kind == .start && results[dependent] == nil && requiresOrderedAfter(dependent.unit, job.unit) {
            failDependents(dependent)
        }
        return jobs.filter { !before.contains($0) && results[$0] == .dependency }
    }

    private mutating func failDependents(_ job: Job) {
        guard results[job] == nil else { return }
        results[job] = .dependency
        for dependent in jobs where dependent.kind == .start && results[dependent] == nil && requiresOrderedAfter(dependent.unit, job.unit) {
            failDependents(dependent)
        }
    }

    private func requiresOrderedAfter(_ unit: String, _ other: String) -> Bool {
        guard let deps = units[unit], deps.requires.contains(other) || deps.bindsTo.contains(other) else { return false }
        return Self.isOrderedAfter(unit, other, units: units)
    }

    /// `unit` has `After=other`, or `other` has `Before=unit`.
    private static func isOrderedAfter(_ unit: String, _ other: String, units: [String: UnitDependencies]) -> Bool {
        units[unit]?.after.contains(other) == true || units[other]?.before.contains(unit) == true
    }

    private static func mustPrecede(_ first: Job, _ second: Job, units: [String: UnitDependencies]) -> Bool {
        guard first != second else { return false }
        switch (first.kind, second.kind) {
        case (.stop, .start): return true
        case (.start, .stop): return false
        case (.start, .start): return isOrderedAfter(second.unit, first.unit, units: units)
        case (.stop, .stop): return isOrderedAfter(first.unit, second.unit, units: units)
        }
    }

    /// Kahn's algorithm, taking ready jobs in input order so the result is deterministic.
    private static func topologicalOrder(_ jobs: [Job], predecessors: [Job: Set<Job>]) throws(TransactionError) -> [Job] {
        var ordered: [Job] = []
        var remaining = jobs
        while !remaining.isEmpty {
            guard let index = remaining.firstIndex(where: { (predecessors[$0] ?? []).isSubset(of: Set(ordered)) }) else {
                let names = remaining.map(\.description).joined(separator: ", ")
                throw TransactionError(message: "ordering cycle among: \(names)")
            }
            ordered.append(remaining.remove(at: index))
        }
        return ordered
    }

    /// The stopped units plus, transitively, every active unit that `Requires=` or `BindsTo=` one of them.
    private static func stopClosure(_ stop: [String], units: [String: UnitDependencies], active: Set<String>) -> [String] {
        var stopping: [String] = []
        var queue = stop.filter(active.contains)
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard !stopping.contains(name) else { continue }
            stopping.append(name)
            queue += units.keys.sorted().filter { other in
                guard active.contains(other), let deps = units[other] else { return false }
                return deps.requires.contains(name) || deps.bindsTo.contains(name)
            }
        }
        return stopping
    }

    /// `BindsTo=`: the active units that must stop because `unit` became inactive for any reason (including
    /// exiting on its own), transitively, in stop order (a bound unit before the unit it is bound to).
    public static func unitsToStop(afterInactive unit: String, units: [String: UnitDependencies], active: Set<String>) -> [String] {
        var bound: [String] = []
        var queue = [unit]
        while !queue.isEmpty {
            let name = queue.removeFirst()
            for other in units.keys.sorted() where active.contains(other) && !bound.contains(other) && other != unit {
                if units[other]?.bindsTo.contains(name) == true {
                    bound.append(other)
                    queue.append(other)
                }
            }
        }
        return bound
    }
}
