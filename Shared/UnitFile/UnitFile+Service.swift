/// Why a `[Service]` section would not load in systemd. `description` is the API's 400 message.
public struct ServiceSectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension UnitFile {
    /// `Type=` values systemd accepts.
    public static let serviceTypes = ["simple", "exec", "forking", "oneshot", "dbus", "notify", "notify-reload", "idle"]
    /// `Restart=` values systemd accepts.
    public static let restartPolicies = ["no", "always", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog"]

    /// A list-valued option as systemd builds it: continuations joined, values appended in order, and an
    /// empty assignment clearing everything before it (`ExecStart=` then `ExecStart=/bin/x` is one command).
    public func systemdList(section: String, name: String) -> [String] {
        var list: [String] = []
        for value in values(section: section, name: name) {
            let joined = SystemdValue.joiningContinuations(value)
            if joined.isEmpty { list.removeAll() } else { list.append(joined) }
        }
        return list
    }

    /// A single-valued option as systemd reads it: the last assignment wins and an empty one means "back to
    /// the default", reported as `nil`.
    public func systemdSetting(section: String, name: String) -> String? {
        guard let value = lastValue(section: section, name: name) else { return nil }
        let joined = SystemdValue.joiningContinuations(value)
        return joined.isEmpty ? nil : joined
    }

    /// Refuses a service that systemd would refuse to load, at submission time (Flotilla extension, fleet.md
    /// §g.2) instead of on some machine later, where fleet let it fail silently. Call it for `.service` units
    /// only: the section is judged even when absent, since a service without `ExecStart=` cannot run.
    ///
    /// Checks: `Type=` and `Restart=` are values systemd knows, `RemainAfterExit=` is a boolean, more than
    /// one `ExecStart=` only with `Type=oneshot`, and none only for a oneshot with `RemainAfterExit=yes`
    /// (with no `Type=` and no `ExecStart=`, systemd implies `oneshot`).
    public func validateServiceSection() throws(ServiceSectionError) {
        let type = systemdSetting(section: "Service", name: "Type")
        if let type, !Self.serviceTypes.contains(type) {
            throw ServiceSectionError(
                message: "invalid Type= value \(GoText.quote(type)): expected \(Self.listing(Self.serviceTypes))"
            )
        }
        if let restart = systemdSetting(section: "Service", name: "Restart"), !Self.restartPolicies.contains(restart) {
            throw ServiceSectionError(
                message: "invalid Restart= value \(GoText.quote(restart)): expected \(Self.listing(Self.restartPolicies))"
            )
        }
        var remainAfterExit = false
        if let raw = systemdSetting(section: "Service", name: "RemainAfterExit") {
            do {
                remainAfterExit = try SystemdValue.parseBoolean(raw)
            } catch {
                throw ServiceSectionError(message: "invalid RemainAfterExit= value \(GoText.quote(raw)): expected a boolean")
            }
        }

        let commands = systemdList(section: "Service", name: "ExecStart")
        let effectiveType = type ?? (commands.isEmpty ? "oneshot" : "simple")
        if commands.count > 1 && effectiveType != "oneshot" {
            throw ServiceSectionError(
                message: "Type=\(effectiveType) allows only one ExecStart= but \(commands.count) are set; use Type=oneshot to run several commands"
            )
        }
        if commands.isEmpty && !(effectiveType == "oneshot" && remainAfterExit) {
            throw ServiceSectionError(
                message: "[Service] has no ExecStart=; only Type=oneshot with RemainAfterExit=yes may omit it"
            )
        }
    }

    private static func listing(_ words: [String]) -> String {
        words.dropLast().joined(separator: ", ") + " or " + words.last!
    }
}
