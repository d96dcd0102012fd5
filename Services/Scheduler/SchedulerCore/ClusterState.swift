import UnitFile

/// One pass's working copy of the cluster: fleet's `clusterState` + `agents()` (`engine/state.go`), numbered so the
/// hot loops compare integers, with every derived index kept in step with each placement.
///
/// Units are numbered in name order and machines in ID order; both orders are what make a pass deterministic.
/// A machine's members are what fleet calls the agent's units: non-global units scheduled there with a desired
/// state other than inactive, plus the global units that run there. Its load is the number of members.
struct ClusterState {
    // MARK: Units (all of `snapshot.units`, globals and inactive ones included)
    let names: [String]
    let specs: [UnitSpec]
    let unitIndex: [String: Int]
    let isActive: [Bool]
    let isGlobal: [Bool]
    /// Active globals in name order: among globals that conflict with each other the lexically first wins, on
    /// every machine alike (fleet's functional `TestScheduleGlobalConflicts`).
    let activeGlobals: [Int]
    /// Per unit, aligned with `requirements.machineOf`: the peer's number, or -1 for a unit that does not exist.
    let peers: [[Int]]
    /// Per unit: the units that name it in `MachineOf`.
    let followers: [[Int]]

    // MARK: Machines
    let machineIDs: [String]
    let machineIndex: [String: Int]
    /// Per unit with `MachineID`: the machines it accepts (the full ID or its 8-character short form).
    let pinned: [[Int]?]

    // MARK: Constraint tables
    let metadata: MetadataTable
    let conflicts: ConflictTable?
    let replaces: ReplaceTable

    /// Schedule entries that cannot stand whatever the constraints say, with fleet's reason for dropping them.
    let rejected: [(unit: String, machine: String, reason: String)]

    // MARK: Mutable placement
    /// Per unit: its machine, or -1. Only non-global active units are ever placed.
    private(set) var placement: [Int]
    private(set) var members: [Set<Int>]
    /// Per machine: the active globals running there, in name order.
    private(set) var globalsOn: [[Int]]
    private(set) var loads: LoadOrder
    /// Per machine and conflict glob: how many members the glob matches.
    private var matchedCount: [[Int: Int]]
    /// Per machine and conflict glob: how many members declare it.
    private var declaredCount: [[Int: Int]]

    init(_ snapshot: ClusterSnapshot) {
        let units = snapshot.units.sorted { $0.key < $1.key }
        let names = units.map(\.key)
        let specs = units.map(\.value)
        var unitIndex: [String: Int] = [:]
        unitIndex.reserveCapacity(names.count)
        for (unit, name) in names.enumerated() { unitIndex[name] = unit }
        let isGlobal = specs.map(\.requirements.global)
        let isActive = specs.map { $0.desiredState != .inactive }
        self.names = names
        self.specs = specs
        self.unitIndex = unitIndex
        self.isGlobal = isGlobal
        self.isActive = isActive
        activeGlobals = names.indices.filter { isGlobal[$0] && isActive[$0] }
        let peers = specs.map { spec in spec.requirements.machineOf.map { unitIndex[$0] ?? -1 } }
        var followers = Array(repeating: [Int](), count: names.count)
        for (unit, unitPeers) in peers.enumerated() {
            for peer in Set(unitPeers) where peer >= 0 { followers[peer].append(unit) }
        }
        self.peers = peers
        self.followers = followers

        let machines = snapshot.machines.sorted { $0.key < $1.key }
        let machineIDs = machines.map(\.key)
        var machineIndex: [String: Int] = [:]
        var byShortID: [String: [Int]] = [:]
        for (machine, id) in machineIDs.enumerated() {
            machineIndex[id] = machine
            if id.utf8.count > 8 { byShortID[String(decoding: id.utf8.prefix(8), as: UTF8.self), default: []].append(machine) }
        }
        self.machineIDs = machineIDs
        self.machineIndex = machineIndex
        pinned = specs.map { spec in
            spec.requirements.machineID.map { wanted in
                Set((machineIndex[wanted].map { [$0] } ?? []) + byShortID[wanted, default: []]).sorted()
            }
        }

        metadata = MetadataTable(units: specs, machines: machines.map(\.value.metadata))
        // Sorting names bytewise for the matcher is wasted on a cluster without globs, the common case.
        let matcher = specs.contains { !$0.requirements.conflicts.isEmpty || !$0.requirements.replaces.isEmpty }
            ? UnitNameMatcher(names: names, index: unitIndex) : nil
        conflicts = matcher.flatMap { ConflictTable(units: specs, matcher: $0) }
        replaces = ReplaceTable(units: specs, matcher: matcher)

        placement = Array(repeating: -1, count: names.count)
        members = Array(repeating: [], count: machineIDs.count)
        globalsOn = Array(repeating: [], count: machineIDs.count)
        matchedCount = Array(repeating: [:], count: conflicts == nil ? 0 : machineIDs.count)
        declaredCount = matchedCount
        loads = LoadOrder(load: Array(repeating: 0, count: machineIDs.count))

        // fleet's `agents()`: scheduled units first, then the globals that fit beside them, so a global yields
        // to a conflicting unit already scheduled on a machine rather than the other way round.
        var admitted: [(unit: Int, machine: Int)] = []
        var rejected: [(unit: String, machine: String, reason: String)] = []
        for (name, machineID) in snapshot.schedule.sorted(by: { $0.key < $1.key }) where !machineID.isEmpty {
            guard let unit = unitIndex[name] else {
                rejected.append((name, machineID, "unit no longer exists"))
                continue
            }
            if isGlobal[unit] {
                rejected.append((name, machineID, "global units are never scheduled"))
            } else if !isActive[unit] {
                rejected.append((name, machineID, "target state inactive"))
            } else if let machine = machineIndex[machineID] {
                admitted.append((unit, machine))
            } else {
                rejected.append((name, machineID, "target machine \(machineID) went away"))
            }
        }
        self.rejected = rejected
        for (unit, machine) in admitted {
            placement[unit] = machine
            attach(unit, to: machine)
        }
        for machine in machineIDs.indices {
            _ = rebuildGlobals(on: machine)
        }
        loads = LoadOrder(load: members.map(\.count))
    }

    /// Whether `peer` counts as scheduled on `machine` for `MachineOf`. A global peer counts where it runs, as in
    /// fleet, whose agent state lists globals among the machine's units.
    func hosts(_ peer: Int, on machine: Int) -> Bool {
        guard peer >= 0, isActive[peer] else { return false }
        return isGlobal[peer] ? members[machine].contains(peer) : placement[peer] == machine
    }

    /// Non-global units currently placed, ascending.
    var placedUnits: [Int] { placement.indices.filter { placement[$0] >= 0 } }

    // MARK: Mutation

    mutating func place(_ unit: Int, on machine: Int) {
        precondition(placement[unit] < 0 && !isGlobal[unit], "unit \(names[unit]) placed twice or global")
        placement[unit] = machine
        attach(unit, to: machine)
        loads.setLoad(members[machine].count, of: machine)
    }

    /// Takes `unit` off its machine and returns the placed units on that machine whose `MachineOf` may no longer
    /// hold: followers of `unit`, and followers of any global that stopped running there as a result.
    mutating func remove(_ unit: Int) -> [Int] {
        let machine = placement[unit]
        precondition(machine >= 0, "unit \(names[unit]) removed while not placed")
        placement[unit] = -1
        detach(unit, from: machine)
        // Without any `Conflicts` nothing a unit does can change where globals run.
        let stopped = conflicts == nil ? [] : rebuildGlobals(on: machine)
        loads.setLoad(members[machine].count, of: machine)
        var affected = Set(followers[unit].filter { placement[$0] == machine })
        for global in stopped {
            affected.formUnion(followers[global].filter { placement[$0] == machine })
        }
        return affected.sorted()
    }

    /// Recomputes which globals run on `machine` and returns those that stopped. A leaving unit can let a global
    /// back in, and a returning global can push out a later-named one it conflicts with, so the set is rebuilt
    /// in name order rather than patched.
    private mutating func rebuildGlobals(on machine: Int) -> [Int] {
        guard !activeGlobals.isEmpty else { return [] }
        let before = globalsOn[machine]
        for global in before { detach(global, from: machine) }
        var now: [Int] = []
        for global in activeGlobals
        where metadata.failingKey(of: global, on: machine) == nil && conflict(of: global, on: machine) == nil {
            attach(global, to: machine)
            now.append(global)
        }
        globalsOn[machine] = now
        return before.filter { !now.contains($0) }
    }

    private mutating func attach(_ unit: Int, to machine: Int) {
        members[machine].insert(unit)
        guard let conflicts else { return }
        for glob in conflicts.matching[unit] { matchedCount[machine][glob, default: 0] += 1 }
        for glob in conflicts.declared[unit] { declaredCount[machine][glob, default: 0] += 1 }
    }

    private mutating func detach(_ unit: Int, from machine: Int) {
        members[machine].remove(unit)
        guard let conflicts else { return }
        for glob in conflicts.matching[unit] { matchedCount[machine][glob, default: 0] -= 1 }
        for glob in conflicts.declared[unit] { declaredCount[machine][glob, default: 0] -= 1 }
    }

    // MARK: Conflicts

    /// The glob that keeps `unit` off `machine`, if any: one of its own globs matching a member, or a member's glob
    /// matching it. `unit` may itself be a member (when re-checking a placement); it never conflicts with itself.
    func conflict(of unit: Int, on machine: Int) -> (glob: Int, declaredByUnit: Bool)? {
        guard let conflicts else { return nil }
        let matched = matchedCount[machine]
        let declared = declaredCount[machine]
        guard !matched.isEmpty || !declared.isEmpty else { return nil }
        let present = members[machine].contains(unit)
        for glob in conflicts.declared[unit] {
            var count = matched[glob, default: 0]
            if present && conflicts.matching[unit].contains(glob) { count -= 1 }
            if count > 0 { return (glob, true) }
        }
        for glob in conflicts.matching[unit] {
            var count = declared[glob, default: 0]
            if present && conflicts.declared[unit].contains(glob) { count -= 1 }
            if count > 0 { return (glob, false) }
        }
        return nil
    }

    /// A member of `machine` other than `unit` that the conflict on `glob` is with, for the reason text.
    func conflictingMember(of unit: Int, on machine: Int, glob: Int, declaredByUnit: Bool) -> Int? {
        guard let conflicts else { return nil }
        return members[machine].sorted().first { other in
            other != unit && (declaredByUnit ? conflicts.matching[other] : conflicts.declared[other]).contains(glob)
        }
    }
}
