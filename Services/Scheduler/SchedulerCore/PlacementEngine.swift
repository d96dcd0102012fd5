/// fleet's scheduling engine as a pure function: a snapshot in, the schedule changes and the reasons out.
///
/// No I/O, clock or randomness: the same snapshot always yields the same decision, whatever order its
/// dictionaries were built in (units are handled in name order, equally loaded machines in ID order). The service
/// applies the actions (unschedule = CAS delete of `schedule/<machine>/<unit>`, schedule = create) and serves `unplaced`
/// as the units' `reason`. Units and machines are known by their dictionary keys.
///
/// ## Semantics (fleet.md a.3, a.6, a.7; Flotilla's deviations marked)
/// 1. Every scheduled unit is unscheduled if the unit is gone, global, or desired `inactive`, if its machine is
///    gone, if the machine no longer satisfies its MachineID / MachineMetadata / MachineOf / Conflicts (of two
///    scheduled units in conflict, the first by name gives way), or if a unit there replaces it (4). A removal
///    re-checks the units it affects (MachineOf followers), so one pass reaches a consistent schedule.
/// 2. Every unscheduled non-global unit with desired ≠ `inactive` goes to the first machine in (load, ID) order
///    that can run it. Load = non-global units scheduled there with desired ≠ `inactive` + globals running there.
///    Decisions update the pass's state, so a batch spreads and units placed together respect each other's
///    Conflicts. MachineOf followers are placed right after their peer, so chains land in one pass (fleet: one
///    pass per link); a MachineOf cycle never lands.
/// 3. Conflicts are symmetric and count the globals running on the machine. A global runs on every machine whose
///    metadata it satisfies unless it conflicts with a unit scheduled there or with a lexically earlier global
///    running there (fleet's engine view: scheduled units first, globals in name order). Globals desired
///    `inactive` run nowhere and count nowhere (fleet's engine counts them anyway; they do not run).
/// 4. Replaces (X's glob matches Y, and Y's does not match X — a mutual pair is ignored as in fleet): a machine
///    hosting Y stays acceptable for X, and X landing on (or staying on) Y's machine moves Y to the least-loaded
///    *other* machine. Deviation: fleet moves Y without checking Y's own constraints and puts Y back next to X on
///    a later pass, so the two oscillate; here Y is placed like any unit, with its constraints, never next to a
///    unit that replaces it, and stays unplaced (with a reason) if no such machine exists.
///
/// Actions come as the difference between the schedule before and after the pass: unschedules in name order,
/// then schedules in name order. A unit moved off a machine and back within the pass produces no action.
///
/// ## Reason formats
/// Unschedule actions: `unit no longer exists`, `global units are never scheduled`, `target state inactive`,
/// `target machine <id> went away`, `target machine <id> unable to run unit: <detail>` with detail one of
/// `machine is not MachineID <id>`, `machine does not satisfy MachineMetadata <key>=<v1>[|<v2>…]`,
/// `MachineOf peer "<unit>" is not scheduled there`, `conflicts with "<unit>" (Conflicts <glob>)`,
/// `replaced by "<unit>" (Replaces <glob>)`.
/// Schedule actions: `target state <loaded|launched> and unit not scheduled` (fleet's text).
///
/// `unplaced` (the API's `reason`, one line, always naming the blocking option and value):
/// - `no machines`
/// - `MachineOf peer "<unit>" is not scheduled` (peer missing, inactive, or itself unplaceable)
/// - `MachineOf cycle: a.service -> b.service -> a.service`
/// - `MachineOf peer "<unit>" matches Replaces <glob>` (a combination the API rejects)
/// - every machine blocked the same way: `no machine with MachineID <id>`,
///   `no machine satisfies MachineMetadata <key>=<v1>[|<v2>…]`, `no machine runs MachineOf peer "<unit>"`,
///   `every machine runs a conflicting unit (Conflicts <glob>)`,
///   `every machine runs a unit that replaces it (Replaces <glob>)`, and, only for a ring of three or more
///   units replacing each other, `every machine runs a unit it replaces, and this pass has moved as many units
///   as it may (Replaces <glob>)`
/// - otherwise counts per label, most frequent first (ties by label), at most four then `<n> other`:
///   `0/3 machines: 2 MachineMetadata region=mars, 1 Conflicts web@*.service`, where a label is
///   `MachineID <id>`, `MachineMetadata <key>=<values>`, `MachineOf <unit>`, `Conflicts <glob>` or
///   `Replaces <glob>` — the first check each machine fails, in fleet's order MachineID, MachineMetadata,
///   MachineOf, Conflicts, Replaces.
public enum PlacementEngine: Sendable {
    /// One engine pass over `snapshot`.
    public static func decide(_ snapshot: ClusterSnapshot) -> SchedulingDecision {
        SchedulingPass.run(snapshot)
    }

    /// Why `unit` would stay unplaced after a pass over `snapshot`, or nil if it would be placed or is not a unit
    /// the scheduler places (unknown, global, desired `inactive`). Runs a whole pass; a service that keeps its
    /// last decision should read `unplaced` from that instead.
    public static func reason(for unit: String, in snapshot: ClusterSnapshot) -> String? {
        decide(snapshot).unplaced[unit]
    }

    /// For every global unit with desired state ≠ `inactive`: the machines it runs on given the schedule as it
    /// stands (what agents act on), IDs sorted. A global that runs nowhere maps to an empty list.
    public static func globalPlacement(in snapshot: ClusterSnapshot) -> [String: [String]] {
        let state = ClusterState(snapshot)
        var placement: [String: [String]] = [:]
        for global in state.activeGlobals { placement[state.names[global]] = [] }
        for (machine, globals) in state.globalsOn.enumerated() {
            for global in globals { placement[state.names[global], default: []].append(state.machineIDs[machine]) }
        }
        return placement
    }

    /// The global units `machineID` runs given the schedule as it stands, in name order — an agent's share of the
    /// globals. Empty for a machine that is not in the snapshot.
    public static func globalUnits(on machineID: String, in snapshot: ClusterSnapshot) -> [String] {
        let state = ClusterState(snapshot)
        guard let machine = state.machineIndex[machineID] else { return [] }
        return state.globalsOn[machine].map { state.names[$0] }
    }
}

extension SchedulingDecision {
    /// `schedule` with the actions applied in order, as the store would hold it afterwards (an unschedule only
    /// takes effect if the unit is still on that machine, like fleet's compare-and-delete).
    public func applied(to schedule: [String: String]) -> [String: String] {
        var result = schedule
        for action in actions {
            switch action {
            case .schedule(let unit, let machine, _):
                result[unit] = machine
            case .unschedule(let unit, let machine, _):
                if result[unit] == machine { result[unit] = nil }
            }
        }
        return result
    }
}
