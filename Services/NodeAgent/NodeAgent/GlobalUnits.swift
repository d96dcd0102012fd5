public import SchedulerCore
import UnitFile

/// Which global units run on this machine, decided by the agent itself as fleet's agents did: a global unit
/// runs wherever its `MachineMetadata` matches, unless it conflicts with a unit scheduled here or with a
/// lexically earlier global running here (the scheduler's own rule, `PlacementEngine.globalUnits`).
public enum GlobalUnits {
    public static func runningHere(
        machine: MachineInfo, schedule: MachineSchedule, globals: MachineSchedule
    ) -> [String: MachineSchedule.Entry] {
        var snapshot = ClusterSnapshot(machines: [machine.id: machine])
        for (name, entry) in schedule.units {
            guard let requirements = requirements(name, entry) else { continue }
            snapshot.units[name] = UnitSpec(name: name, desiredState: entry.desiredState, requirements: requirements)
            snapshot.schedule[name] = machine.id
        }
        for (name, entry) in globals.units where snapshot.units[name] == nil {
            guard let requirements = requirements(name, entry), requirements.global else { continue }
            snapshot.units[name] = UnitSpec(name: name, desiredState: entry.desiredState, requirements: requirements)
        }
        var result: [String: MachineSchedule.Entry] = [:]
        for name in PlacementEngine.globalUnits(on: machine.id, in: snapshot) {
            result[name] = globals.units[name]
        }
        return result
    }

    private static func requirements(_ name: String, _ entry: MachineSchedule.Entry) -> FleetRequirements? {
        guard let contents = entry.contents, let unit = try? UnitFile(parsing: contents) else { return nil }
        return try? FleetRequirements(unit: unit, unitName: name)
    }
}
