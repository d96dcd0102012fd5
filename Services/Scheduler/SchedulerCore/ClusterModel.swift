public import UnitFile

/// fleet's cluster-level unit states: not placed, placed and loaded, placed and started.
public enum TargetState: String, Sendable, Hashable, CaseIterable, Comparable {
    case inactive
    case loaded
    case launched

    private var rank: Int {
        switch self {
        case .inactive: 0
        case .loaded: 1
        case .launched: 2
        }
    }

    public static func < (lhs: TargetState, rhs: TargetState) -> Bool { lhs.rank < rhs.rank }
}

/// A machine that is present (its presence key has not expired).
public struct MachineInfo: Sendable, Hashable {
    public var id: String
    /// Registered metadata merged with what the API set (`PATCH /fleet/v1/machines`).
    public var metadata: [String: String]

    public init(id: String, metadata: [String: String] = [:]) {
        self.id = id
        self.metadata = metadata
    }
}

/// What the cluster was asked to run for one unit.
public struct UnitSpec: Sendable, Hashable {
    public var name: String
    public var desiredState: TargetState
    /// `[X-Fleet]`, already expanded for `name`.
    public var requirements: FleetRequirements

    public init(name: String, desiredState: TargetState, requirements: FleetRequirements = FleetRequirements()) {
        self.name = name
        self.desiredState = desiredState
        self.requirements = requirements
    }
}

/// Everything one scheduling pass looks at.
public struct ClusterSnapshot: Sendable {
    public var units: [String: UnitSpec]
    public var machines: [String: MachineInfo]
    /// Current placement: unit name -> machine ID. May name machines or units that no longer exist.
    public var schedule: [String: String]

    public init(units: [String: UnitSpec] = [:], machines: [String: MachineInfo] = [:], schedule: [String: String] = [:]) {
        self.units = units
        self.machines = machines
        self.schedule = schedule
    }
}

/// One change to the schedule, in the order it must be applied (an unschedule before the schedule that
/// reuses its unit).
public enum SchedulerAction: Sendable, Hashable {
    case schedule(unit: String, machine: String, reason: String)
    case unschedule(unit: String, machine: String, reason: String)
}

/// The outcome of one pass.
public struct SchedulingDecision: Sendable, Equatable {
    public var actions: [SchedulerAction]
    /// Non-global units with desired state ≠ inactive that stay unplaced, with why — the API's `reason`.
    public var unplaced: [String: String]

    public init(actions: [SchedulerAction] = [], unplaced: [String: String] = [:]) {
        self.actions = actions
        self.unplaced = unplaced
    }
}
