import UnitFile

/// The `[X-Fleet]` constraints of every unit, resolved once per pass into integer tables.
///
/// Glob matching and metadata comparison are the expensive parts of fleet's `AbleToRun`, and fleet repeats them
/// for every (unit, machine) pair it tries. Here each distinct glob is matched against each unit name once and
/// each distinct `MachineMetadata` requirement against each machine once; the placement loop then only reads
/// these tables. Units and machines are the pass's numbers (units in name order, machines in ID order).

enum Glob {
    /// Without a metacharacter a Go `path.Match` pattern matches only the identical name, which a dictionary
    /// lookup answers — the common case (`Conflicts=db.service`, `Replaces=app-v1.service`).
    static func isLiteral(_ pattern: String) -> Bool {
        !pattern.utf8.contains { byte in
            byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "\\")
        }
    }

    static func matches(_ pattern: String, name: String) -> Bool {
        isLiteral(pattern) ? pattern == name : GoPathMatch.matches(pattern: pattern, name: name)
    }

}

/// Finds the units a glob matches without trying the glob on every name.
///
/// A literal glob is a dictionary lookup. A wildcard glob can only match names that start with its literal prefix
/// (`web@` for `web@*.service`), which form one range of the names sorted bytewise — bytewise because Go's
/// `path.Match` compares raw characters, while Swift's `String` order normalizes Unicode. So 10 000 template
/// instances each with their own expanded glob cost 10 000 small range scans, not 10⁸ matches.
struct UnitNameMatcher {
    private let names: [String]
    private let index: [String: Int]
    /// Unit numbers ordered by the UTF-8 bytes of their names.
    private let bytewise: [Int]

    init(names: [String], index: [String: Int]) {
        self.names = names
        self.index = index
        bytewise = names.indices.sorted { names[$0].utf8.lexicographicallyPrecedes(names[$1].utf8) }
    }

    /// The units (ascending) whose names `pattern` matches.
    func units(matching pattern: String) -> [Int] {
        if Glob.isLiteral(pattern) { return index[pattern].map { [$0] } ?? [] }
        let prefix = Array(pattern.utf8.prefix { byte in
            byte != UInt8(ascii: "*") && byte != UInt8(ascii: "?") && byte != UInt8(ascii: "[") && byte != UInt8(ascii: "\\")
        })
        var low = 0
        var high = bytewise.count
        while low < high {
            let middle = (low + high) / 2
            if names[bytewise[middle]].utf8.lexicographicallyPrecedes(prefix) { low = middle + 1 } else { high = middle }
        }
        var matched: [Int] = []
        for unit in bytewise[low...] {
            guard names[unit].utf8.starts(with: prefix) else { break }
            if GoPathMatch.matches(pattern: pattern, name: names[unit]) { matched.append(unit) }
        }
        return matched.sorted()
    }
}

/// `MachineMetadata`, evaluated per distinct requirement rather than per unit: instances of one template share it.
struct MetadataTable {
    private let slotOfUnit: [Int]
    /// Per slot: the requirement's keys, sorted, so "the first failing key" is the same on every run.
    private let keys: [[String]]
    /// Per slot and machine: the index in `keys` of the first key the machine fails, or -1 when it satisfies all.
    private let failing: [[Int32]]
    /// Per slot: the machines that satisfy it, ascending.
    private let satisfying: [[Int]]

    init(units: [UnitSpec], machines: [[String: String]]) {
        var slots: [[String: Set<String>]: Int] = [:]
        var keys: [[String]] = []
        var failing: [[Int32]] = []
        slotOfUnit = units.map { spec in
            let requirement = spec.requirements.machineMetadata
            guard !requirement.isEmpty else { return -1 }
            if let slot = slots[requirement] { return slot }
            let sortedKeys = requirement.keys.sorted()
            failing.append(machines.map { metadata in
                let index = sortedKeys.firstIndex { key in
                    guard let value = metadata[key] else { return true }
                    return !requirement[key, default: []].contains(value)
                }
                return index.map(Int32.init) ?? -1
            })
            keys.append(sortedKeys)
            slots[requirement] = keys.count - 1
            return keys.count - 1
        }
        self.keys = keys
        self.failing = failing
        satisfying = failing.map { perMachine in perMachine.indices.filter { perMachine[$0] < 0 } }
    }

    /// The machines satisfying the unit's requirement, or nil when it has none.
    func machines(satisfying unit: Int) -> [Int]? {
        let slot = slotOfUnit[unit]
        return slot < 0 ? nil : satisfying[slot]
    }

    /// The first key (in sorted order) whose value `machine` lacks or has wrong, or nil when it qualifies.
    func failingKey(of unit: Int, on machine: Int) -> String? {
        let slot = slotOfUnit[unit]
        guard slot >= 0 else { return nil }
        let index = failing[slot][machine]
        return index < 0 ? nil : keys[slot][Int(index)]
    }
}

/// `Conflicts` globs, numbered, with for every unit the globs it declares and the globs that match its name.
///
/// Together with per-machine counts of members matched by and declaring each glob (kept in `ClusterState`), the
/// symmetric conflict test for a unit on a machine costs one lookup per glob instead of a glob match per member.
struct ConflictTable {
    let globs: [String]
    /// Per unit: the globs of its own `Conflicts`.
    let declared: [[Int]]
    /// Per unit: the globs (anyone's) that match its name.
    let matching: [[Int]]

    /// Nil when no unit declares `Conflicts`, so a pass without any skips conflict bookkeeping entirely.
    init?(units: [UnitSpec], matcher: UnitNameMatcher) {
        var globIDs: [String: Int] = [:]
        var globs: [String] = []
        let declared = units.map { spec in
            var ids: [Int] = []
            for glob in spec.requirements.conflicts {
                let id = globIDs[glob] ?? {
                    globs.append(glob)
                    globIDs[glob] = globs.count - 1
                    return globs.count - 1
                }()
                if !ids.contains(id) { ids.append(id) }
            }
            return ids
        }
        guard !globs.isEmpty else { return nil }
        var matching = Array(repeating: [Int](), count: units.count)
        for (id, glob) in globs.enumerated() {
            for unit in matcher.units(matching: glob) {
                matching[unit].append(id)
            }
        }
        self.globs = globs
        self.declared = declared
        self.matching = matching
    }
}

/// `Replaces`, resolved to unit pairs.
///
/// fleet ignores a pair that replaces each other (`agent/state.go hasReplace`: "circular replace situation"), and
/// `Replaces` only means anything between non-global units: a global is never scheduled, so it can neither be
/// moved away nor move anything.
struct ReplaceTable {
    /// Per unit: the units whose `Replaces` matches it, which it therefore may not share a machine with.
    let replacers: [[Int]]
    /// Per unit: the units its `Replaces` matches, which it pushes off the machine it lands on.
    let replacees: [[Int]]

    /// `matcher` may be nil only when no unit has `Replaces`.
    init(units: [UnitSpec], matcher: UnitNameMatcher?) {
        var matched: [Int: Set<Int>] = [:]
        var cache: [String: [Int]] = [:]
        for (unit, spec) in units.enumerated() where !spec.requirements.global && !spec.requirements.replaces.isEmpty {
            var targets = Set<Int>()
            for glob in spec.requirements.replaces {
                let hits = cache[glob] ?? matcher?.units(matching: glob) ?? []
                cache[glob] = hits
                targets.formUnion(hits.lazy.filter { $0 != unit && !units[$0].requirements.global })
            }
            matched[unit] = targets
        }
        var replacers = Array(repeating: [Int](), count: units.count)
        var replacees = Array(repeating: [Int](), count: units.count)
        for replacer in matched.keys.sorted() {
            for replaced in matched[replacer, default: []].sorted() where matched[replaced]?.contains(replacer) != true {
                replacers[replaced].append(replacer)
                replacees[replacer].append(replaced)
            }
        }
        self.replacers = replacers
        self.replacees = replacees
    }
}
