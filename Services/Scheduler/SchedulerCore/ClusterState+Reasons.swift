import UnitFile

/// The reason texts, built only when a decision needs one (the placement loop deals in `Blocker` values).
///
/// Every text names the blocking `[X-Fleet]` option and its value as written in the unit, because that is what
/// a user edits to fix it (fleet.md g.1). The formats are listed on `PlacementEngine`.
extension ClusterState {
    /// `<Option> <value>`: the per-machine label that mixed summaries count.
    func label(_ blocker: Blocker, of unit: Int) -> String {
        switch blocker {
        case .machineID:
            "MachineID \(machineIDRequirement(of: unit))"
        case .metadata(let key):
            "MachineMetadata \(metadataRequirement(of: unit, key: key))"
        case .machineOf(let position):
            "MachineOf \(peerName(of: unit, at: position))"
        case .conflicts(let glob, _):
            "Conflicts \(conflictGlob(glob))"
        case .replacedBy(let replacer):
            "Replaces \(replaceGlob(of: replacer, matching: unit))"
        case .wouldReplace(let replaced):
            "Replaces \(replaceGlob(of: unit, matching: replaced))"
        }
    }

    /// Why `unit` must leave `machine`: the tail of `target machine <id> unable to run unit: …`.
    func detail(_ blocker: Blocker, of unit: Int, on machine: Int) -> String {
        switch blocker {
        case .machineID:
            return "machine is not MachineID \(machineIDRequirement(of: unit))"
        case .metadata(let key):
            return "machine does not satisfy MachineMetadata \(metadataRequirement(of: unit, key: key))"
        case .machineOf(let position):
            return "MachineOf peer \"\(peerName(of: unit, at: position))\" is not scheduled there"
        case .conflicts(let glob, let declaredByUnit):
            let other = conflictingMember(of: unit, on: machine, glob: glob, declaredByUnit: declaredByUnit)
            return "conflicts with \"\(other.map { names[$0] } ?? "?")\" (Conflicts \(conflictGlob(glob)))"
        case .replacedBy(let replacer):
            return "replaced by \"\(names[replacer])\" (Replaces \(replaceGlob(of: replacer, matching: unit)))"
        case .wouldReplace(let replaced):
            return "would replace \"\(names[replaced])\" (Replaces \(replaceGlob(of: unit, matching: replaced)))"
        }
    }

    /// The full reason for a unit no machine can take right now.
    ///
    /// One blocker on every machine gets a sentence (`no machine satisfies MachineMetadata region=mars`); a mix
    /// gets counts per label, most frequent first, Kubernetes style (`0/3 machines: 2 MachineMetadata
    /// region=mars, 1 Conflicts web@*.service`), the tail beyond four labels folded into `<n> other`.
    func unplacedReason(for unit: Int, mayMove: Bool) -> String {
        var groups: [String: (count: Int, example: Blocker)] = [:]
        for (blocker, count) in blockerCounts(for: unit, mayMove: mayMove) {
            let key = label(blocker, of: unit)
            groups[key] = ((groups[key]?.count ?? 0) + count, groups[key]?.example ?? blocker)
        }
        let ranked = groups.sorted { ($1.value.count, $0.key) < ($0.value.count, $1.key) }
        guard let first = ranked.first else {
            // Unreachable while placement and counting agree; say so rather than invent a cause.
            return "no machine accepted the unit"
        }
        if ranked.count == 1 && first.value.count == machineIDs.count {
            return sentence(first.value.example, of: unit)
        }
        let shown = ranked.prefix(4).map { "\($0.value.count) \($0.key)" }
        let rest = ranked.dropFirst(4).reduce(0) { $0 + $1.value.count }
        return "0/\(machineIDs.count) machines: " + (shown + (rest > 0 ? ["\(rest) other"] : [])).joined(separator: ", ")
    }

    /// The reason when every machine fails the same way.
    private func sentence(_ blocker: Blocker, of unit: Int) -> String {
        switch blocker {
        case .machineID:
            "no machine with MachineID \(machineIDRequirement(of: unit))"
        case .metadata(let key):
            "no machine satisfies MachineMetadata \(metadataRequirement(of: unit, key: key))"
        case .machineOf(let position):
            "no machine runs MachineOf peer \"\(peerName(of: unit, at: position))\""
        case .conflicts(let glob, _):
            "every machine runs a conflicting unit (Conflicts \(conflictGlob(glob)))"
        case .replacedBy(let replacer):
            "every machine runs a unit that replaces it (Replaces \(replaceGlob(of: replacer, matching: unit)))"
        case .wouldReplace(let replaced):
            "every machine runs a unit it replaces, and this pass has moved as many units as it may "
                + "(Replaces \(replaceGlob(of: unit, matching: replaced)))"
        }
    }
}
