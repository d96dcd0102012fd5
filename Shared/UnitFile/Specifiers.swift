/// Why systemd-style specifier expansion failed; systemd refuses the whole setting in these cases.
public struct SpecifierError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// What systemd's specifiers expand to on one machine, for one unit.
///
/// The node agent fills it once per unit: `%m` must be the fleet machine ID (not necessarily
/// `/etc/machine-id`) and `%u`/`%U`/`%h`/`%s`/`%g`/`%G` describe the user running the agent (systemd's
/// "user of the service manager"), not the unit's `User=`.
public struct SpecifierContext: Sendable, Hashable {
    public var unitName: String
    public var machineID: String
    public var bootID: String
    public var hostName: String
    public var kernelRelease: String
    public var userName: String
    public var userID: UInt32
    public var groupName: String
    public var groupID: UInt32
    public var homeDirectory: String
    public var shell: String
    /// `%t`. The system manager's defaults follow; a per-user agent would pass `$XDG_RUNTIME_DIR` etc.
    public var runtimeDirectory = "/run"
    /// `%T`
    public var temporaryDirectory = "/tmp"
    /// `%V`
    public var persistentTemporaryDirectory = "/var/tmp"
    /// `%C`
    public var cacheDirectory = "/var/cache"
    /// `%E`
    public var configurationDirectory = "/etc"
    /// `%L`
    public var logsDirectory = "/var/log"
    /// `%S`
    public var stateDirectory = "/var/lib"

    public init(
        unitName: String,
        machineID: String,
        bootID: String,
        hostName: String,
        kernelRelease: String,
        userName: String = "root",
        userID: UInt32 = 0,
        groupName: String = "root",
        groupID: UInt32 = 0,
        homeDirectory: String = "/root",
        shell: String = "/bin/sh"
    ) {
        self.unitName = unitName
        self.machineID = machineID
        self.bootID = bootID
        self.hostName = hostName
        self.kernelRelease = kernelRelease
        self.userName = userName
        self.userID = userID
        self.groupName = groupName
        self.groupID = groupID
        self.homeDirectory = homeDirectory
        self.shell = shell
    }
}

/// The two specifier dialects a unit's values go through: fleet's, for `[X-Fleet]` at the scheduler, and
/// systemd's, for everything else on the node.
public enum Specifiers {
    /// fleet's `unitPrintf`: only `%n %N %p %i`, replaced one after the other by plain string replacement.
    ///
    /// `%%` is not an escape and every other `%x` is left alone, because that is what fleet did and the
    /// scheduler must place units exactly as fleet would. A name without `.` expands nothing (fleet).
    public static func expandFleet(_ value: String, unitName: String) -> String {
        guard let name = UnitName(parsing: unitName) else { return value }
        var out = GoText.replaceAll(value, "%n", with: name.fullName)
        out = GoText.replaceAll(out, "%N", with: name.name)
        out = GoText.replaceAll(out, "%p", with: name.prefix)
        out = GoText.replaceAll(out, "%i", with: name.instance)
        return out
    }

    /// systemd's `specifier_printf` with the specifiers of `systemd.unit(5)` that the node agent supports.
    ///
    /// An unknown specifier fails the whole value, as in systemd, rather than passing through: a typo would
    /// otherwise reach the process as a literal `%x`. A trailing lone `%` is kept, as systemd keeps it.
    public static func expandSystemd(_ value: String, context: SpecifierContext) throws(SpecifierError) -> String {
        let name = UnitName(parsing: context.unitName)
        var out = ""
        var scalars = value.unicodeScalars[...]
        while let scalar = scalars.popFirst() {
            guard scalar == "%" else {
                out.unicodeScalars.append(scalar)
                continue
            }
            guard let specifier = scalars.popFirst() else {
                out += "%"
                break
            }
            out += try expansion(of: specifier, name: name, context: context)
        }
        return out
    }

    private static func expansion(of specifier: Unicode.Scalar, name: UnitName?, context: SpecifierContext) throws(SpecifierError) -> String {
        let fullName = name?.fullName ?? context.unitName
        let baseName = name?.name ?? context.unitName
        let prefix = name?.prefix ?? context.unitName
        let instance = name?.instance ?? ""
        switch specifier {
        case "%": return "%"
        case "n": return fullName
        case "N": return baseName
        case "p": return prefix
        case "P": return try unescape(prefix, specifier: specifier)
        case "i": return instance
        case "I": return try unescape(instance, specifier: specifier)
        case "f": return try unescapePath(instance.isEmpty ? prefix : instance, specifier: specifier)
        case "j": return lastComponent(of: prefix)
        case "J": return try unescape(lastComponent(of: prefix), specifier: specifier)
        case "H": return context.hostName
        case "m": return context.machineID
        case "b": return context.bootID
        case "v": return context.kernelRelease
        case "u": return context.userName
        case "U": return String(context.userID)
        case "g": return context.groupName
        case "G": return String(context.groupID)
        case "h": return context.homeDirectory
        case "s": return context.shell
        case "t": return context.runtimeDirectory
        case "T": return context.temporaryDirectory
        case "V": return context.persistentTemporaryDirectory
        case "C": return context.cacheDirectory
        case "E": return context.configurationDirectory
        case "L": return context.logsDirectory
        case "S": return context.stateDirectory
        default:
            throw SpecifierError(message: "unknown specifier \(GoText.quote("%" + String(specifier)))")
        }
    }

    /// `%j`: what follows the last `-` of the prefix (the whole prefix without one).
    private static func lastComponent(of prefix: String) -> String {
        guard let dash = prefix.utf8.lastIndex(of: UInt8(ascii: "-")) else { return prefix }
        return String(prefix[prefix.utf8.index(after: dash)...])
    }

    /// systemd's `unit_name_unescape`: `-` becomes `/` and `\xNN` the byte NN; any other backslash is an
    /// error. `-` is undone too because `systemd-escape` turns `/` into `-`.
    static func unescape(_ text: String, specifier: Unicode.Scalar) throws(SpecifierError) -> String {
        var bytes: [UInt8] = []
        var rest = text.utf8[...]
        while let byte = rest.popFirst() {
            switch byte {
            case UInt8(ascii: "-"):
                bytes.append(UInt8(ascii: "/"))
            case UInt8(ascii: "\\"):
                let escape = Array(rest.prefix(3))
                guard escape.count == 3, escape[0] == UInt8(ascii: "x"),
                    let high = hexValue(escape[1]), let low = hexValue(escape[2])
                else {
                    throw SpecifierError(message: "cannot expand %\(specifier): invalid escape in \(GoText.quote(text))")
                }
                bytes.append(high << 4 | low)
                rest = rest.dropFirst(3)
            default:
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// systemd's `unit_name_path_unescape`: `-` alone is `/`; otherwise the unescaped text must be a
    /// normalized relative path, which gets a leading `/`.
    static func unescapePath(_ text: String, specifier: Unicode.Scalar) throws(SpecifierError) -> String {
        if text == "-" { return "/" }
        let path = try unescape(text, specifier: specifier)
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw SpecifierError(message: "cannot expand %\(specifier): \(GoText.quote(text)) is not an escaped path")
        }
        return "/" + path
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
