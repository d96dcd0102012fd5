/// Why a unit name was refused. `description` is fleet's API error text, word for word.
public struct UnitNameError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A unit name split the way fleet splits it (`unit.NewUnitNameInfo`): `foo@bar.service` has name
/// `foo@bar`, suffix `service`, prefix `foo`, instance `bar` and template `foo@.service`.
///
/// The parts drive template handling and specifier expansion, so they follow fleet exactly: the suffix is
/// after the *last* `.`, the prefix before the *first* `@` (`foo@a.b@c.service` has instance `a.b@c`).
public struct UnitName: Sendable, Hashable, CustomStringConvertible {
    /// The whole name, `foo@bar.service`.
    public let fullName: String
    /// Everything before the last `.`: `foo@bar`.
    public let name: String
    /// The unit type after the last `.`, without the dot: `service`.
    public let suffix: String
    /// Everything before the first `@`, or `name` when there is none: `foo`.
    public let prefix: String
    /// Between the first `@` and the last `.`; empty for templates and for plain units.
    public let instance: String
    /// `prefix@.suffix` when the name has an `@`: the template an instance is created from.
    public let templateName: String?

    /// `foo@.service`: only ever `inactive` in fleet, never run itself.
    public var isTemplate: Bool { templateName != nil && instance.isEmpty }
    /// `foo@1.service`: an ordinary unit whose contents were copied from its template.
    public var isInstance: Bool { !instance.isEmpty }

    public var description: String { fullName }

    /// The unit types fleet accepts (`api/units.go`).
    public static let unitTypes: Set<String> = [
        "automount", "busname", "device", "mount", "path", "scope", "service", "slice", "snapshot", "socket",
        "swap", "target", "timer",
    ]
    /// The unit types systemd allows templates for; fleet refuses `@` in any other type.
    public static let templateUnitTypes: Set<String> = ["path", "service", "socket", "target", "timer"]
    /// fleet's limit, in bytes.
    public static let maximumLength = 256

    /// Validates `name` as fleet's API does, then splits it.
    public init(validating name: String) throws(UnitNameError) {
        try Self.validate(name)
        self.init(parsing: name)!
    }

    /// Splits without validating, for names that are already stored; `nil` when there is no `.`, in which
    /// case fleet expands no specifiers at all.
    public init?(parsing fullName: String) {
        guard let dot = fullName.utf8.lastIndex(of: UInt8(ascii: ".")) else { return nil }
        self.fullName = fullName
        name = String(fullName[..<dot])
        suffix = String(fullName[fullName.utf8.index(after: dot)...])
        if let at = name.utf8.firstIndex(of: UInt8(ascii: "@")) {
            prefix = String(name[..<at])
            instance = String(name[name.utf8.index(after: at)...])
            templateName = prefix + "@." + suffix
        } else {
            prefix = name
            instance = ""
            templateName = nil
        }
    }

    /// fleet's `ValidateName`, checks in fleet's order so the first problem reported is fleet's too.
    public static func validate(_ name: String) throws(UnitNameError) {
        let length = name.utf8.count
        guard length > 0 else { throw UnitNameError(message: "unit name cannot be empty") }
        guard length <= maximumLength else {
            throw UnitNameError(message: "unit name exceeds maximum length (\(maximumLength))")
        }
        guard let dot = name.utf8.lastIndex(of: UInt8(ascii: ".")) else {
            throw UnitNameError(message: "unit name must contain \".\"")
        }
        let suffix = String(name[name.utf8.index(after: dot)...])
        guard !suffix.isEmpty else { throw UnitNameError(message: "unit name cannot end in \".\"") }
        guard unitTypes.contains(suffix) else {
            throw UnitNameError(message: "invalid unit type: \(GoText.quote(suffix))")
        }
        if name.utf8.contains(UInt8(ascii: "@")), !templateUnitTypes.contains(suffix) {
            throw UnitNameError(message: "invalid unit type for template: \(GoText.quote(suffix))")
        }
        if let invalid = name[..<dot].unicodeScalars.first(where: { !isValidCharacter($0) }) {
            throw UnitNameError(message: "invalid character \(GoText.quote(invalid)) in unit name")
        }
        if name.utf8.first == UInt8(ascii: "@") {
            throw UnitNameError(message: "unit name cannot start in \"@\"")
        }
    }

    /// `[A-Za-z0-9:_.@\-\\]`: backslash is allowed because systemd escapes with `\xNN`.
    private static func isValidCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ":", "-", "_", ".", "\\", "@": true
        default: false
        }
    }
}
