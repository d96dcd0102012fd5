import UnitFile

/// Why one machine cannot take one unit: the first `[X-Fleet]` check it fails, in fleet's `AbleToRun` order
/// (MachineID, MachineMetadata, MachineOf, Conflicts, Replaces).
enum Blocker: Hashable {
    case machineID
    /// The first key, in sorted order, that the machine lacks or has a value outside the allowed set for.
    case metadata(key: String)
    /// Position in the unit's `MachineOf` list of a peer that is not scheduled on the machine.
    case machineOf(peerPosition: Int)
    case conflicts(glob: Int, declaredByUnit: Bool)
    /// A unit on the machine Replaces this one.
    case replacedBy(Int)
    /// This unit Replaces one on the machine, but the pass has used up the moves it may make.
    case wouldReplace(Int)
}

/// How a check treats `Replaces`, which depends on the phase of the pass.
enum ReplacesRule {
    /// First validation round: settle every other constraint before moving anything out of a replacer's way.
    case ignore
    /// A placed unit must not share its machine with a unit that replaces it.
    case replacedOnly
    /// Placing: never next to a replacer; next to a unit this one replaces only while moves remain, since every
    /// such placement moves that unit away.
    case placing(mayMove: Bool)
}

/// Everything about a unit that `blocker` reads. Units sharing it (typically instances of one template) are blocked
/// on exactly the same machines, so one failed search or one reason text serves them all.
struct PlacementSignature: Hashable {
    let requirements: FleetRequirements
    let conflictGlobsMatchingName: [Int]
    let replacers: [Int]
    let replacees: [Int]
}

extension ClusterState {
    func blocker(_ unit: Int, on machine: Int, replaces rule: ReplacesRule) -> Blocker? {
        if let pinned = pinned[unit], !pinned.contains(machine) { return .machineID }
        if let key = metadata.failingKey(of: unit, on: machine) { return .metadata(key: key) }
        for (position, peer) in peers[unit].enumerated() where !hosts(peer, on: machine) {
            return .machineOf(peerPosition: position)
        }
        if let (glob, declaredByUnit) = conflict(of: unit, on: machine) {
            return .conflicts(glob: glob, declaredByUnit: declaredByUnit)
        }
        if case .ignore = rule { return nil }
        for replacer in replaces.replacers[unit] where placement[replacer] == machine { return .replacedBy(replacer) }
        if case .placing(mayMove: false) = rule {
            for replaced in replaces.replacees[unit] where placement[replaced] == machine { return .wouldReplace(replaced) }
        }
        return nil
    }

    /// fleet's least-loaded choice (`engine/scheduler.go Decide`): the first machine in (load, ID) order that can
    /// run `unit`.
    ///
    /// Walking the whole order is cheap when most machines qualify, but a unit bound to a few machines would
    /// walk past every less-loaded machine it cannot use, for each such unit. So when MachineID, a placed
    /// MachineOf peer or a narrow MachineMetadata leaves few candidates, only those are compared.
    func bestMachine(for unit: Int, mayMove: Bool) -> Int? {
        let rule = ReplacesRule.placing(mayMove: mayMove)
        var shortlist = pinned[unit]
        if let peer = peers[unit].first(where: { $0 >= 0 && !isGlobal[$0] }), placement[peer] >= 0 {
            let peerMachine = placement[peer]
            shortlist = (shortlist ?? [peerMachine]).filter { $0 == peerMachine }
        }
        if shortlist == nil, let satisfying = metadata.machines(satisfying: unit), satisfying.count * 4 <= machineIDs.count {
            shortlist = satisfying
        }
        guard let shortlist else {
            return loads.machines.first { blocker(unit, on: $0, replaces: rule) == nil }
        }
        var best: Int?
        for machine in shortlist where blocker(unit, on: machine, replaces: rule) == nil {
            if let current = best, (loads.load[current], current) < (loads.load[machine], machine) { continue }
            best = machine
        }
        return best
    }

    func signature(of unit: Int) -> PlacementSignature {
        PlacementSignature(
            requirements: specs[unit].requirements,
            conflictGlobsMatchingName: conflicts?.matching[unit] ?? [],
            replacers: replaces.replacers[unit],
            replacees: replaces.replacees[unit]
        )
    }

    /// How many machines each blocker keeps `unit` off, for a unit `bestMachine` found no place for.
    func blockerCounts(for unit: Int, mayMove: Bool) -> [Blocker: Int] {
        var counts: [Blocker: Int] = [:]
        var candidates = Array(machineIDs.indices)
        if let pinned = pinned[unit] {
            // Every other machine fails MachineID; counting them saves evaluating each.
            if machineIDs.count > pinned.count { counts[.machineID] = machineIDs.count - pinned.count }
            candidates = pinned
        }
        for machine in candidates {
            if let blocker = blocker(unit, on: machine, replaces: .placing(mayMove: mayMove)) {
                counts[blocker, default: 0] += 1
            }
        }
        return counts
    }

    /// The unit's own `MachineID` value.
    func machineIDRequirement(of unit: Int) -> String { specs[unit].requirements.machineID ?? "" }

    /// `key=value`, or `key=v1|v2` when several values are allowed, values sorted.
    func metadataRequirement(of unit: Int, key: String) -> String {
        "\(key)=\(specs[unit].requirements.machineMetadata[key, default: []].sorted().joined(separator: "|"))"
    }

    func peerName(of unit: Int, at position: Int) -> String { specs[unit].requirements.machineOf[position] }

    func conflictGlob(_ glob: Int) -> String { conflicts?.globs[glob] ?? "" }

    /// The `Replaces` glob of `replacer` that matches `replaced`.
    func replaceGlob(of replacer: Int, matching replaced: Int) -> String {
        specs[replacer].requirements.replaces.first { Glob.matches($0, name: names[replaced]) } ?? ""
    }
}
