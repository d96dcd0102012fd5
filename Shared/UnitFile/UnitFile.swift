import Crypto

/// One `Name=Value` line of a unit file, tagged with the section it appeared in.
///
/// The coding keys are fleet's API v1 `UnitOption` (`section`, `name`, `value`), so the type can be decoded
/// from what `fleetctl` sends.
public struct UnitOption: Sendable, Hashable, Codable {
    public var section: String
    public var name: String
    /// As fleet stores it: trimmed, with any `\`+newline continuation kept verbatim (see
    /// `SystemdValue.joiningContinuations(_:)` for what systemd makes of it).
    public var value: String

    public init(section: String, name: String, value: String) {
        self.section = section
        self.name = name
        self.value = value
    }
}

/// A systemd unit file as fleet sees it: an ordered list of options, nothing more.
///
/// Comments, blank lines and the original layout are not kept because fleet does not keep them either: a
/// unit's identity is the SHA-1 of its canonical text (`serialized`), and two files that differ only in
/// layout must get the same hash. Repeated options stay in order since systemd gives repetition meaning
/// (lists, resets, last-wins).
public struct UnitFile: Sendable, Hashable {
    public var options: [UnitOption]

    public init(options: [UnitOption]) {
        self.options = options
    }

    /// The canonical text, byte-identical to go-systemd's `Serialize`, which is what fleet hashes and what
    /// `fleetctl cat` prints: sections in first-seen order, each `[S]\n` followed by its options as
    /// `Name=Value\n` in order, one blank line between sections and none at the end.
    public var serialized: String {
        var out = ""
        let sections = groupedBySection()
        for (index, group) in sections.enumerated() {
            out += "[" + group.section + "]\n"
            for option in group.options {
                out += option.name + "=" + option.value + "\n"
            }
            if index < sections.count - 1 { out += "\n" }
        }
        return out
    }

    /// The same options grouped by section as `serialized` writes them, so what `UnitFile(parsing:
    /// serialized)` gives back (unless a value ends in a bare `\\`, which the text form cannot express).
    /// Compare against this, not `self`, when checking that options survive fleet's round trip.
    public var canonical: UnitFile {
        UnitFile(options: groupedBySection().flatMap(\.options))
    }

    /// SHA-1 of `serialized`. fleet stores `UnitHash` in etcd as a JSON array of these 20 integers.
    public var hashBytes: [UInt8] {
        Array(Insecure.SHA1.hash(data: Array(serialized.utf8)))
    }

    /// Lowercase hex of `hashBytes`: the unit's key under `unit/` in the registry and its `hash` in the API.
    public var fleetHash: String {
        hashBytes.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 0x10 ? "0" + digits : digits
        }.joined()
    }

    /// The first 7 hex digits, as `fleetctl list-unit-files` shows them.
    public var shortHash: String {
        String(fleetHash.prefix(7))
    }

    /// Section names in first-seen order.
    public var sections: [String] {
        groupedBySection().map(\.section)
    }

    /// Every value of `name` in `section`, in file order, exactly as stored.
    public func values(section: String, name: String) -> [String] {
        options.filter { $0.section == section && $0.name == name }.map(\.value)
    }

    /// The value systemd would use for a single-valued option, where the last assignment wins.
    public func lastValue(section: String, name: String) -> String? {
        options.last { $0.section == section && $0.name == name }?.value
    }

    /// `[Unit] Description=`, for listings. fleet shows the *first* value (systemd would use the last); we
    /// follow fleet so `list-unit-files` output matches.
    public var description: String? {
        options.first { $0.section == "Unit" && $0.name == "Description" }?.value
    }

    /// Options grouped per section. Sections are told apart by their bytes, as Go does: Swift's `==`
    /// treats canonically equivalent names as one section, which would change the canonical text and
    /// therefore the hash.
    private func groupedBySection() -> [(section: String, options: [UnitOption])] {
        var groups: [(section: String, options: [UnitOption])] = []
        var positions: [[UInt8]: Int] = [:]
        for option in options {
            let key = Array(option.section.utf8)
            if let position = positions[key] {
                groups[position].options.append(option)
            } else {
                positions[key] = groups.count
                groups.append((option.section, [option]))
            }
        }
        return groups
    }
}
