/// Why a unit's `[X-Fleet]` section was refused. `description` is the API's 400 message.
public struct FleetRequirementsError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension FleetRequirements {
    /// Every key fleet reads from `[X-Fleet]`, deprecated spellings included. Anything else is refused
    /// (fleet stored it silently, so a typo such as `MachineMetaData` quietly dropped a constraint).
    public static let knownOptions: Set<String> = [
        "MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID",
        "MachineOf", "X-ConditionMachineOf",
        "MachineMetadata", "X-ConditionMachineMetadata",
        "Conflicts", "X-Conflicts",
        "Global", "Replaces",
    ]

    /// The `[X-Fleet]` section of `unit`, read as fleet's `job.Job` reads it and validated as fleet's API
    /// does (`ValidateOptions`), with Flotilla's stricter checks on top.
    ///
    /// Values are specifier-expanded for `unitName` first (`%n %N %p %i`, see `Specifiers.expandFleet`).
    /// Deprecated keys feed the same requirement as their modern spelling, in fleet's precedence. fleet's
    /// own semantics are kept except where they silently lose a constraint or make a unit unschedulable
    /// forever: then the unit is refused with a message naming the option.
    public init(unit: UnitFile, unitName: String) throws(FleetRequirementsError) {
        var entries: [(key: String, value: String)] = []
        for option in unit.options where option.section == "X-Fleet" {
            guard Self.knownOptions.contains(option.name) else {
                throw FleetRequirementsError(
                    message: "unrecognized option in [X-Fleet] section: \(GoText.quote(option.name))"
                )
            }
            for value in Self.splitMultipleValues(option.value) {
                entries.append((option.name, Specifiers.expandFleet(value, unitName: unitName)))
            }
        }
        func values(_ keys: String...) -> [(key: String, value: String)] {
            keys.flatMap { key in entries.filter { $0.key == key } }
        }
        func firstKey(_ keys: String...) -> String? {
            entries.first { keys.contains($0.key) }?.key
        }

        self.init()
        let machineIDs = values("MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID")
        let peers = values("X-ConditionMachineOf", "MachineOf")
        let replaces = values("Replaces")
        for (key, value) in machineIDs + peers + replaces where value.isEmpty {
            throw FleetRequirementsError(message: "\(key) value cannot be empty")
        }
        machineID = machineIDs.first?.value
        machineOf = Self.uniqued(peers.map(\.value))
        self.replaces = Self.uniqued(replaces.map(\.value))

        let conflictPatterns = values("X-Conflicts", "Conflicts").flatMap { entry in
            GoText.fields(entry.value).map { (key: entry.key, pattern: $0) }
        }
        for (key, pattern) in conflictPatterns {
            try Self.checkPattern(pattern, option: key)
        }
        // Named as written first in the file; `Conflicts=` with only spaces adds no pattern, so skip it.
        let conflictsKey = entries.first { entry in
            (entry.key == "Conflicts" || entry.key == "X-Conflicts") && !GoText.fields(entry.value).isEmpty
        }?.key
        conflicts = Self.uniqued(conflictPatterns.map(\.pattern))
        for (key, pattern) in replaces {
            try Self.checkPattern(pattern, option: key)
        }

        for (key, pair) in values("X-ConditionMachineMetadata", "MachineMetadata") {
            // Split on bytes like Go: a `Character` split would miss an `=` followed by a combining mark.
            let parts = pair.utf8.split(separator: UInt8(ascii: "="), omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw FleetRequirementsError(message: "invalid \(key) value \(GoText.quote(pair)): expected key=value")
            }
            machineMetadata[String(decoding: parts[0], as: UTF8.self), default: []]
                .insert(String(decoding: parts[1], as: UTF8.self))
        }

        for (key, value) in values("Global") {
            guard let flag = Self.fleetBoolean(value) else {
                throw FleetRequirementsError(
                    message: "invalid \(key) value \(GoText.quote(value)): expected true, yes, 1, on, t or false, no, 0, off, f"
                )
            }
            global = flag
        }

        try validateCombinations(
            machineIDKey: machineIDs.first?.key,
            peersKey: firstKey("MachineOf", "X-ConditionMachineOf"),
            conflictsKey: conflictsKey,
            replacesKey: firstKey("Replaces")
        )
    }

    /// fleet's `ValidateOptions` after parsing: peers that the unit's own globs would push away first, then
    /// the incompatible pairs in fleet's order, each named as the user wrote it (fleet said "Peers").
    private func validateCombinations(
        machineIDKey: String?,
        peersKey: String?,
        conflictsKey: String?,
        replacesKey: String?
    ) throws(FleetRequirementsError) {
        for peer in machineOf {
            if let conflict = conflicts.first(where: { GoPathMatch.matches(pattern: $0, name: peer) }) {
                throw FleetRequirementsError(
                    message: "unresolvable requirements: peer \(GoText.quote(peer)) matches conflict \(GoText.quote(conflict))"
                )
            }
            if let replace = replaces.first(where: { GoPathMatch.matches(pattern: $0, name: peer) }) {
                throw FleetRequirementsError(
                    message: "unresolvable requirements: peer \(GoText.quote(peer)) matches replace \(GoText.quote(replace))"
                )
            }
        }
        let machineIDKey = machineID == nil ? nil : machineIDKey
        let peersKey = machineOf.isEmpty ? nil : peersKey
        let conflictsKey = conflicts.isEmpty ? nil : conflictsKey
        let replacesKey = replaces.isEmpty ? nil : replacesKey
        let globalKey = global ? "Global" : nil
        let forbiddenPairs = [
            (machineIDKey, peersKey), (machineIDKey, conflictsKey), (machineIDKey, globalKey), (machineIDKey, replacesKey),
            (globalKey, peersKey), (globalKey, replacesKey), (conflictsKey, replacesKey),
        ]
        for case let (first?, second?) in forbiddenPairs {
            throw FleetRequirementsError(message: "\(first) cannot be used with \(second)")
        }
    }

    /// fleet's `parseMultivalueLine`: a value that starts and ends with `"` is a list of quoted items
    /// separated by spaces; anything else is one item. Empty items (from doubled spaces or `""`) are
    /// dropped: fleet kept them, which silently made a `MachineOf` unit unschedulable.
    static func splitMultipleValues(_ value: String) -> [String] {
        let bytes = Array(value.utf8)
        guard bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") else { return [value] }
        var items: [String] = []
        var current: [UInt8] = []
        var quoted = false
        for byte in bytes {
            if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if byte == UInt8(ascii: " ") && !quoted {
                items.append(String(decoding: current, as: UTF8.self))
                current = []
            } else {
                current.append(byte)
            }
        }
        items.append(String(decoding: current, as: UTF8.self))
        return items.filter { !$0.isEmpty }
    }

    /// fleet's `isTruthyValue` for `Global=`, plus the matching false words: anything in neither list is
    /// refused rather than read as false.
    private static func fleetBoolean(_ value: String) -> Bool? {
        switch value.lowercased() {
        case "true", "yes", "1", "on", "t": true
        case "false", "no", "0", "off", "f": false
        default: nil
        }
    }

    /// fleet ignored `path.Match`'s `ErrBadPattern`, so a malformed glob matched nothing and a constraint
    /// silently vanished.
    private static func checkPattern(_ pattern: String, option: String) throws(FleetRequirementsError) {
        guard GoPathMatch.isValid(pattern: pattern) else {
            throw FleetRequirementsError(message: "invalid \(option) pattern \(GoText.quote(pattern)): syntax error in pattern")
        }
    }

    /// Repeating a name or glob adds nothing to a constraint; keeping the first occurrence keeps file order.
    private static func uniqued(_ values: [String]) -> [String] {
        var seen: Set<[UInt8]> = []
        return values.filter { seen.insert(Array($0.utf8)).inserted }
    }
}
