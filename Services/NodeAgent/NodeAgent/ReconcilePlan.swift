public import SchedulerCore

/// What the agent does to bring its machine to the schedule, one unit at a time.
public enum AgentAction: Sendable, Hashable {
    /// Write the unit (contents `hash`) into the supervisor, ready to start.
    case load(unit: String, hash: String)
    /// Stop it if running and forget it.
    case unload(unit: String)
    case start(unit: String)
    case stop(unit: String)
}

/// A unit as the agent holds it now.
public struct LoadedUnit: Sendable, Hashable {
    public var hash: String
    /// Whether the agent started it (fleet's `launched`; whether it still runs is the supervisor's business).
    public var launched: Bool

    public init(hash: String, launched: Bool) {
        self.hash = hash
        self.launched = launched
    }
}

/// fleet's agent reconciliation (fleet.md a.6) as a pure function: unloads first, then loads, stops and
/// starts, each in name order. A unit whose contents changed is unloaded and loaded again, and started if it
/// should run.
public enum ReconcilePlan {
    public static func actions(desired: [String: (hash: String, state: TargetState)], current: [String: LoadedUnit]) -> [AgentAction] {
        var unloads: [String] = []
        var loads: [(String, String)] = []
        var stops: [String] = []
        var starts: [String] = []
        for (unit, loaded) in current {
            guard let wanted = desired[unit], wanted.state != .inactive else {
                unloads.append(unit)
                continue
            }
            if wanted.hash != loaded.hash {
                unloads.append(unit)
                loads.append((unit, wanted.hash))
                if wanted.state == .launched { starts.append(unit) }
            } else if wanted.state == .launched && !loaded.launched {
                starts.append(unit)
            } else if wanted.state == .loaded && loaded.launched {
                stops.append(unit)
            }
        }
        for (unit, wanted) in desired where current[unit] == nil && wanted.state != .inactive {
            loads.append((unit, wanted.hash))
            if wanted.state == .launched { starts.append(unit) }
        }
        return unloads.sorted().map { .unload(unit: $0) }
            + loads.sorted { $0.0 < $1.0 }.map { .load(unit: $0.0, hash: $0.1) }
            + stops.sorted().map { .stop(unit: $0) }
            + starts.sorted().map { .start(unit: $0) }
    }
}
