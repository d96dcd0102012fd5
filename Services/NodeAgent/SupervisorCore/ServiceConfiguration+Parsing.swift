public import UnitFile

extension ServiceConfiguration {
    /// Reads a `.service` unit as systemd would load it on this machine. `specifiers` describes the machine
    /// and the agent's user; it is used for Exec*, `Environment=`, `EnvironmentFile=`, `WorkingDirectory=`,
    /// `User=`, `Group=`, `PIDFile=` and the dependency names, where systemd expands specifiers too.
    ///
    /// Refused (systemd would not load the unit, or the agent cannot honour it): the checks of
    /// `UnitFile.validateServiceSection()`, `Type=dbus`/`notify-reload`, oneshot with
    /// `Restart=always|on-success`, any unparsable value. `Type=idle` runs as `simple`: its only effect in
    /// systemd is to delay output on the console.
    public init(unit: UnitFile, unitName: String, specifiers: SpecifierContext) throws(ServiceConfigurationError) {
        self.init(unitName: unitName)
        do {
            try unit.validateServiceSection()
        } catch {
            throw ServiceConfigurationError(message: error.message)
        }
        var reader = SettingReader(unit: unit, specifiers: specifiers)

        let execStart = try reader.commands("ExecStart")
        switch reader.setting("Type") {
        case nil: type = execStart.isEmpty ? .oneshot : .simple
        case "idle": type = .simple
        case let raw?:
            guard let parsed = ServiceType(rawValue: raw) else {
                throw ServiceConfigurationError(message: "unsupported Type= value \(SystemdWords.quote(raw)): the node agent supports simple, exec, forking, oneshot, notify and idle")
            }
            type = parsed
        }
        self.execStart = execStart
        execStartPre = try reader.commands("ExecStartPre")
        execStartPost = try reader.commands("ExecStartPost")
        execReload = try reader.commands("ExecReload")
        execStop = try reader.commands("ExecStop")
        execStopPost = try reader.commands("ExecStopPost")

        remainAfterExit = try reader.boolean("RemainAfterExit") ?? false
        guessMainPID = try reader.boolean("GuessMainPID") ?? true
        sendSIGKILL = try reader.boolean("SendSIGKILL") ?? true
        pidFile = try reader.path("PIDFile")
        if let raw = reader.setting("NotifyAccess") {
            notifyAccess = try reader.choice("NotifyAccess", raw, NotifyAccess.init(rawValue:))
        }
        if let raw = reader.setting("Restart") {
            restart = try reader.choice("Restart", raw, RestartPolicy.init(rawValue:))
        }
        if type == .oneshot && (restart == .always || restart == .onSuccess) {
            throw ServiceConfigurationError(message: "Restart=\(restart.rawValue) is not allowed for Type=oneshot services")
        }
        if let raw = reader.setting("RestartSec") {
            guard let delay = try reader.timeSpan("RestartSec", raw) else {
                throw ServiceConfigurationError(message: "invalid RestartSec= value \(SystemdWords.quote(raw)): must be finite")
            }
            restartDelay = delay
        }
        try readTimeouts(&reader)
        try readStartLimit(&reader)

        successExitStatus = try reader.exitStatusSet("SuccessExitStatus")
        restartPreventExitStatus = try reader.exitStatusSet("RestartPreventExitStatus")
        restartForceExitStatus = try reader.exitStatusSet("RestartForceExitStatus")
        if let raw = reader.setting("KillMode") {
            killMode = try reader.choice("KillMode", raw, KillMode.init(rawValue:))
        }
        if let raw = reader.setting("KillSignal") {
            killSignal = try reader.choice("KillSignal", raw, Signal.init(parsing:))
        }

        try readEnvironment(&reader)
        user = try reader.expandedSetting("User")
        group = try reader.expandedSetting("Group")
        dependencies = try UnitDependencies(reader: &reader)
    }

    /// `TimeoutSec=` sets both, the specific ones one each; they apply in file order, as in systemd. `0`
    /// means no timeout. A oneshot's start timeout is off unless explicitly set.
    private mutating func readTimeouts(_ reader: inout SettingReader) throws(ServiceConfigurationError) {
        var startDefined = false
        for option in reader.unit.options where option.section == "Service" {
            guard ["TimeoutSec", "TimeoutStartSec", "TimeoutStopSec"].contains(option.name) else { continue }
            let raw = SystemdValue.joiningContinuations(option.value)
            let value: Duration?
            if raw.isEmpty {
                value = .seconds(90)
            } else {
                let parsed = try reader.timeSpan(option.name, raw)
                value = parsed == .zero ? nil : parsed
            }
            if option.name != "TimeoutStopSec" {
                timeoutStart = value
                startDefined = !raw.isEmpty
            }
            if option.name != "TimeoutStartSec" { timeoutStop = value }
        }
        if type == .oneshot && !startDefined { timeoutStart = nil }
    }

    /// `[Unit] StartLimitIntervalSec=` wins over the legacy `[Service] StartLimitInterval=`; likewise the
    /// `[Unit]` burst over the legacy `[Service]` one.
    private mutating func readStartLimit(_ reader: inout SettingReader) throws(ServiceConfigurationError) {
        let interval = reader.unit.systemdSetting(section: "Unit", name: "StartLimitIntervalSec").map { ("StartLimitIntervalSec", $0) }
            ?? reader.setting("StartLimitInterval").map { ("StartLimitInterval", $0) }
        if let (name, raw) = interval {
            startLimitInterval = try reader.timeSpan(name, raw)
        }
        let burst = reader.unit.systemdSetting(section: "Unit", name: "StartLimitBurst") ?? reader.setting("StartLimitBurst")
        if let burst {
            guard let value = Int(burst), value >= 0 else {
                throw ServiceConfigurationError(message: "invalid StartLimitBurst= value \(SystemdWords.quote(burst)): expected a non-negative integer")
            }
            startLimitBurst = value
        }
    }

    private mutating func readEnvironment(_ reader: inout SettingReader) throws(ServiceConfigurationError) {
        let values = reader.unit.values(section: "Service", name: "Environment").map(SystemdValue.joiningContinuations)
        let specifiers = reader.specifiers
        do throws(EnvironmentError) {
            (environment, warnings) = try ServiceEnvironment.parseAssignments(values) { word throws(EnvironmentError) in
                do throws(SpecifierError) { return try Specifiers.expandSystemd(word, context: specifiers) } catch {
                    throw EnvironmentError(message: "invalid Environment= value \(SystemdWords.quote(word)): \(error.message)")
                }
            }
        } catch {
            throw ServiceConfigurationError(message: error.message)
        }
        for raw in reader.unit.systemdList(section: "Service", name: "EnvironmentFile") {
            let optional = raw.hasPrefix("-")
            let path = try reader.expand("EnvironmentFile", optional ? String(raw.dropFirst()) : raw)
            guard path.hasPrefix("/") else {
                throw ServiceConfigurationError(message: "invalid EnvironmentFile= value \(SystemdWords.quote(raw)): path must be absolute")
            }
            environmentFiles.append(EnvironmentFileReference(path: path, optional: optional))
        }
        if let raw = reader.setting("WorkingDirectory") {
            let optional = raw.hasPrefix("-")
            let rest = optional ? String(raw.dropFirst()) : raw
            if rest == "~" {
                workingDirectory = WorkingDirectory(.home, optional: optional)
            } else {
                let path = try reader.expand("WorkingDirectory", rest)
                guard path.hasPrefix("/") else {
                    throw ServiceConfigurationError(message: "invalid WorkingDirectory= value \(SystemdWords.quote(raw)): path must be absolute or ~")
                }
                workingDirectory = WorkingDirectory(.path(path), optional: optional)
            }
        }
    }
}

extension UnitDependencies {
    /// Reads `Requires= Wants= BindsTo= After= Before=` from `[Unit]` (space-separated, repeatable).
    public init(unit: UnitFile, specifiers: SpecifierContext) throws(ServiceConfigurationError) {
        var reader = SettingReader(unit: unit, specifiers: specifiers)
        try self.init(reader: &reader)
    }

    fileprivate init(reader: inout SettingReader) throws(ServiceConfigurationError) {
        self.init(
            requires: try reader.unitNames("Requires"),
            wants: try reader.unitNames("Wants"),
            bindsTo: try reader.unitNames("BindsTo"),
            after: try reader.unitNames("After"),
            before: try reader.unitNames("Before")
        )
    }
}

/// Typed reads of single settings, every failure phrased `invalid Name= value "raw": why`.
private struct SettingReader {
    let unit: UnitFile
    let specifiers: SpecifierContext

    func setting(_ name: String) -> String? {
        unit.systemdSetting(section: "Service", name: name)
    }

    func invalid(_ name: String, _ raw: String, _ why: String) -> ServiceConfigurationError {
        ServiceConfigurationError(message: "invalid \(name)= value \(SystemdWords.quote(raw)): \(why)")
    }

    func choice<T>(_ name: String, _ raw: String, _ parse: (String) -> T?) throws(ServiceConfigurationError) -> T {
        guard let value = parse(raw) else { throw ServiceConfigurationError(message: "invalid \(name)= value \(SystemdWords.quote(raw))") }
        return value
    }

    func boolean(_ name: String) throws(ServiceConfigurationError) -> Bool? {
        guard let raw = setting(name) else { return nil }
        do { return try SystemdValue.parseBoolean(raw) } catch { throw invalid(name, raw, "expected a boolean") }
    }

    func timeSpan(_ name: String, _ raw: String) throws(ServiceConfigurationError) -> Duration? {
        do { return try SystemdValue.parseTimeSpan(raw) } catch { throw invalid(name, raw, "expected a time span") }
    }

    func expand(_ name: String, _ raw: String) throws(ServiceConfigurationError) -> String {
        do { return try Specifiers.expandSystemd(raw, context: specifiers) } catch { throw invalid(name, raw, error.message) }
    }

    func expandedSetting(_ name: String) throws(ServiceConfigurationError) -> String? {
        guard let raw = setting(name) else { return nil }
        return try expand(name, raw)
    }

    func path(_ name: String) throws(ServiceConfigurationError) -> String? {
        guard let raw = setting(name) else { return nil }
        let path = try expand(name, raw)
        guard path.hasPrefix("/") else { throw invalid(name, raw, "path must be absolute") }
        return path
    }

    func commands(_ name: String) throws(ServiceConfigurationError) -> [ExecCommand] {
        var commands: [ExecCommand] = []
        for raw in unit.systemdList(section: "Service", name: name) {
            do { commands += try ExecCommand.parse(raw, specifiers: specifiers) } catch { throw invalid(name, raw, error.message) }
        }
        return commands
    }

    /// Exit codes 0…255 and signal names, accumulated over lines; an empty line resets (via `systemdList`).
    func exitStatusSet(_ name: String) throws(ServiceConfigurationError) -> ExitStatusSet {
        var set = ExitStatusSet()
        for raw in unit.systemdList(section: "Service", name: name) {
            for word in raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
                if let code = Int32(word) {
                    guard (0...255).contains(code) else { throw invalid(name, raw, "exit status \(word) is out of range 0…255") }
                    set.codes.insert(code)
                } else if let signal = Signal(parsing: word) {
                    set.signals.insert(signal)
                } else {
                    throw invalid(name, raw, "\(SystemdWords.quote(word)) is neither an exit status nor a signal")
                }
            }
        }
        return set
    }

    func unitNames(_ name: String) throws(ServiceConfigurationError) -> [String] {
        var names: [String] = []
        for raw in unit.systemdList(section: "Unit", name: name) {
            for word in raw.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                let expanded = try expand(name, String(word))
                if !names.contains(expanded) { names.append(expanded) }
            }
        }
        return names
    }
}
