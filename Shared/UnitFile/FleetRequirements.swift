/// The placement constraints of one unit: its `[X-Fleet]` section, parsed and validated.
///
/// Values are already specifier-expanded for the unit's own name (fleet expands only `%n %N %p %i` here).
public struct FleetRequirements: Sendable, Hashable {
    /// `MachineID=`: the full machine ID or its first 8 characters (fleet accepts both).
    public var machineID: String?
    /// `MachineOf=`: every listed unit must be scheduled on the chosen machine.
    public var machineOf: [String]
    /// `MachineMetadata=`: for every key, the machine's value must be one of the listed values.
    public var machineMetadata: [String: Set<String>]
    /// `Conflicts=`: Go `path.Match` globs of unit names that must not share a machine with this unit.
    public var conflicts: [String]
    /// `Global=`: run on every machine whose metadata matches; never placed by the scheduler.
    public var global: Bool
    /// `Replaces=`: Go `path.Match` globs of units this one displaces from their machine.
    public var replaces: [String]

    public init(
        machineID: String? = nil,
        machineOf: [String] = [],
        machineMetadata: [String: Set<String>] = [:],
        conflicts: [String] = [],
        global: Bool = false,
        replaces: [String] = []
    ) {
        self.machineID = machineID
        self.machineOf = machineOf
        self.machineMetadata = machineMetadata
        self.conflicts = conflicts
        self.global = global
        self.replaces = replaces
    }
}
