import SchedulerCore
import Testing
import UnitFile

/// Compact builders so each table row reads like the cluster it describes.
func unit(
    _ name: String,
    _ desired: TargetState = .launched,
    global: Bool = false,
    machineID: String? = nil,
    machineOf: [String] = [],
    metadata: [String: Set<String>] = [:],
    conflicts: [String] = [],
    replaces: [String] = []
) -> UnitSpec {
    UnitSpec(
        name: name,
        desiredState: desired,
        requirements: FleetRequirements(
            machineID: machineID,
            machineOf: machineOf,
            machineMetadata: metadata,
            conflicts: conflicts,
            global: global,
            replaces: replaces
        )
    )
}

func machine(_ id: String, _ metadata: [String: String] = [:]) -> MachineInfo {
    MachineInfo(id: id, metadata: metadata)
}

func cluster(_ units: [UnitSpec], _ machines: [MachineInfo], schedule: [String: String] = [:]) -> ClusterSnapshot {
    ClusterSnapshot(
        units: Dictionary(uniqueKeysWithValues: units.map { ($0.name, $0) }),
        machines: Dictionary(uniqueKeysWithValues: machines.map { ($0.id, $0) }),
        schedule: schedule
    )
}

/// The machines `m1`, `m2`, … `mN` without metadata.
func machines(_ count: Int) -> [MachineInfo] { (1...count).map { machine("m\($0)") } }

extension ClusterSnapshot {
    /// The snapshot after applying `decision`, as the next pass would see it.
    func applying(_ decision: SchedulingDecision) -> ClusterSnapshot {
        var next = self
        next.schedule = decision.applied(to: schedule)
        return next
    }
}

extension SchedulingDecision {
    /// Unit → machine of the schedule actions, for assertions that ignore reasons.
    var scheduled: [String: String] {
        var result: [String: String] = [:]
        for case .schedule(let unit, let machine, _) in actions { result[unit] = machine }
        return result
    }

    /// Unit → machine of the unschedule actions.
    var unscheduled: [String: String] {
        var result: [String: String] = [:]
        for case .unschedule(let unit, let machine, _) in actions { result[unit] = machine }
        return result
    }

    /// Unit → reason of the unschedule actions.
    var unscheduleReasons: [String: String] {
        var result: [String: String] = [:]
        for case .unschedule(let unit, _, let reason) in actions { result[unit] = reason }
        return result
    }
}

/// The schedule after one pass from `snapshot`.
func placement(after snapshot: ClusterSnapshot) -> [String: String] {
    PlacementEngine.decide(snapshot).applied(to: snapshot.schedule)
}

/// One table row: a cluster, where some units must end up, and the reasons some must carry instead.
struct PlacementCase: Sendable, CustomTestStringConvertible {
    let name: String
    let snapshot: ClusterSnapshot
    /// Unit → machine it must be scheduled on after the pass.
    var placed: [String: String] = [:]
    /// Unit → exact `unplaced` reason.
    var unplaced: [String: String] = [:]
    /// Unit → exact reason of its unschedule action.
    var unscheduled: [String: String] = [:]

    var testDescription: String { name }

    func check() {
        let decision = PlacementEngine.decide(snapshot)
        let after = decision.applied(to: snapshot.schedule)
        for (unit, machine) in placed {
            #expect(after[unit] == machine, "\(unit): \(decision.unplaced[unit] ?? "placed elsewhere")")
        }
        for (unit, reason) in unplaced {
            #expect(after[unit] == nil, "\(unit) should stay unplaced")
            #expect(decision.unplaced[unit] == reason)
        }
        for (unit, reason) in unscheduled {
            #expect(decision.unscheduleReasons[unit] == reason)
        }
    }
}
