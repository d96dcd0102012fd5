import SeededRandom
import SchedulerCore
import UnitFile


/// An independent, deliberately naive restatement of the placement rules (fleet.md a.3), used to judge what
/// `PlacementEngine` leaves behind. It shares no code with the engine beyond `GoPathMatch`.
struct ScheduleChecker {
    let snapshot: ClusterSnapshot

    /// Every rule the schedule in `snapshot` breaks, as readable lines.
    func violations() -> [String] {
        var problems: [String] = []
        var members: [String: [String]] = [:]
        for (name, machineID) in snapshot.schedule {
            guard let spec = snapshot.units[name] else { problems.append("\(name) scheduled but does not exist"); continue }
            if spec.requirements.global { problems.append("\(name) is global but scheduled") }
            if spec.desiredState == .inactive { problems.append("\(name) is inactive but scheduled") }
            if snapshot.machines[machineID] == nil { problems.append("\(name) scheduled on absent \(machineID)") }
            members[machineID, default: []].append(name)
        }
        let globals = globalsByMachine(members: members)
        for (name, machineID) in snapshot.schedule {
            guard let spec = snapshot.units[name], let machine = snapshot.machines[machineID] else { continue }
            let here = members[machineID, default: []] + globals[machineID, default: []]
            let requirements = spec.requirements
            if let wanted = requirements.machineID, machineID != wanted, String(machineID.utf8.prefix(8)) != wanted {
                problems.append("\(name) on \(machineID) breaks MachineID \(wanted)")
            }
            if !satisfies(machine, requirements.machineMetadata) {
                problems.append("\(name) on \(machineID) breaks MachineMetadata")
            }
            for peer in requirements.machineOf where !here.contains(peer) {
                problems.append("\(name) on \(machineID) without MachineOf peer \(peer)")
            }
            for other in here where conflict(name, other) {
                problems.append("\(name) on \(machineID) conflicts with \(other)")
            }
            for other in members[machineID, default: []] where replaces(other, name) {
                problems.append("\(name) on \(machineID) next to \(other), which replaces it")
            }
        }
        return problems
    }

    /// Globals in name order, each where its metadata matches and nothing already there conflicts with it.
    func globalsByMachine(members: [String: [String]]) -> [String: [String]] {
        let globals = snapshot.units.values
            .filter { $0.requirements.global && $0.desiredState != .inactive }
            .map(\.name).sorted()
        var result: [String: [String]] = [:]
        for (machineID, machine) in snapshot.machines {
            var here = members[machineID, default: []]
            for global in globals
            where satisfies(machine, snapshot.units[global]!.requirements.machineMetadata) && !here.contains(where: { conflict(global, $0) }) {
                here.append(global)
                result[machineID, default: []].append(global)
            }
        }
        return result
    }

    func satisfies(_ machine: MachineInfo, _ metadata: [String: Set<String>]) -> Bool {
        metadata.allSatisfy { key, values in machine.metadata[key].map(values.contains) ?? false }
    }

    func conflict(_ a: String, _ b: String) -> Bool {
        guard a != b, let specA = snapshot.units[a], let specB = snapshot.units[b] else { return false }
        return specA.requirements.conflicts.contains { GoPathMatch.matches(pattern: $0, name: b) }
            || specB.requirements.conflicts.contains { GoPathMatch.matches(pattern: $0, name: a) }
    }

    /// Whether `replacer` displaces `replaced`: its glob matches, the reverse does not, neither is global.
    func replaces(_ replacer: String, _ replaced: String) -> Bool {
        guard replacer != replaced, let x = snapshot.units[replacer], let y = snapshot.units[replaced],
              !x.requirements.global, !y.requirements.global else { return false }
        let forward = x.requirements.replaces.contains { GoPathMatch.matches(pattern: $0, name: replaced) }
        let backward = y.requirements.replaces.contains { GoPathMatch.matches(pattern: $0, name: replacer) }
        return forward && !backward
    }

    /// Applies `decision` the way the store would (schedule = create, unschedule = compare-and-delete) and returns
    /// every action that would fail or that touches a unit twice.
    static func actionProblems(_ decision: SchedulingDecision, on schedule: [String: String]) -> [String] {
        var problems: [String] = []
        var current = schedule
        var scheduledOnce = Set<String>()
        var unscheduledOnce = Set<String>()
        for action in decision.actions {
            switch action {
            case .schedule(let unit, let machine, let reason):
                if current[unit] != nil { problems.append("schedule of \(unit) while it has a target") }
                if !scheduledOnce.insert(unit).inserted { problems.append("\(unit) scheduled twice") }
                if reason.isEmpty { problems.append("schedule of \(unit) without reason") }
                current[unit] = machine
            case .unschedule(let unit, let machine, let reason):
                if current[unit] != machine { problems.append("unschedule of \(unit) from \(machine) it is not on") }
                if !unscheduledOnce.insert(unit).inserted { problems.append("\(unit) unscheduled twice") }
                if reason.isEmpty { problems.append("unschedule of \(unit) without reason") }
                current[unit] = nil
            }
        }
        return problems
    }
}

/// A small random cluster exercising every option, template instances, vanished machines and stale entries.
///
/// `Replaces` only ever points at a unit generated earlier, so there is no ring of three or more (rings have no
/// stable schedule in fleet either; see `ReplacesTests.replaceRing`).
func randomCluster(seed: UInt64) -> ClusterSnapshot {
    var rng = SplitMix64(seed: seed)
    func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }
    func pick<T>(_ options: [T]) -> T { options[Int(rng.next() % UInt64(options.count))] }

    let machines: [MachineInfo] = (0..<Int(rng.next() % 7)).map { _ in
        var metadata: [String: String] = [:]
        if chance(70) { metadata["region"] = pick(["eu", "us"]) }
        if chance(50) { metadata["disk"] = pick(["ssd", "hdd"]) }
        return machine(String(rng.next() % 0xFFFF_FFFF_FFFF, radix: 16), metadata)
    }
    var pool = ["a.service", "b.service", "db.service", "web@1.service", "web@2.service", "web@3.service",
                "api.service", "cache.service", "log.service", "mon.service", "x.service", "y.service"]
    pool.shuffle(using: &rng)
    let names = Array(pool.prefix(Int(rng.next() % UInt64(pool.count + 1))))

    var units: [UnitSpec] = []
    for (position, name) in names.enumerated() {
        let desired: TargetState = chance(15) ? .inactive : pick([.loaded, .launched])
        var requirements = FleetRequirements()
        if chance(10) {
            requirements.global = true
        } else {
            if chance(10) {
                requirements.machineID = machines.isEmpty || chance(20)
                    ? "ffffffff" : String(pick(machines).id.utf8.prefix(pick([8, 64])))!
            }
            if chance(20) { requirements.machineOf = [pick(pool)] }
            if chance(10), position > 0 { requirements.replaces = [names[Int(rng.next() % UInt64(position))]] }
        }
        if chance(25) {
            requirements.machineMetadata = chance(50) ? ["region": pick([["eu"], ["us"], ["eu", "us"], ["mars"]])]
                                                       : ["region": ["eu", "us"], "disk": [pick(["ssd", "hdd"])]]
        }
        if chance(25) { requirements.conflicts = [pick(["web@*.service", "*.service", "[bad", pick(pool)])] }
        units.append(UnitSpec(name: name, desiredState: desired, requirements: requirements))
    }

    var schedule: [String: String] = [:]
    for name in pool + ["ghost.service"] where chance(40) {
        schedule[name] = machines.isEmpty || chance(15) ? "gone" : pick(machines).id
    }
    // Followers usually sit with their peer (as a previous pass would have left them), so that moving the peer
    // has something to drag along.
    for spec in units {
        if let peer = spec.requirements.machineOf.first, let peerMachine = schedule[peer], chance(60) {
            schedule[spec.name] = peerMachine
        }
    }
    return cluster(units, machines, schedule: schedule)
}
