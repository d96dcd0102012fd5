/// Why a `.service` unit's settings cannot be supervised; the message names the setting and the value.
public struct ServiceConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

public enum ServiceType: String, Sendable, Hashable {
    case simple, exec, forking, oneshot, notify
}

public enum RestartPolicy: String, Sendable, Hashable, CaseIterable {
    case no, always
    case onSuccess = "on-success"
    case onFailure = "on-failure"
    case onAbnormal = "on-abnormal"
    case onWatchdog = "on-watchdog"
    case onAbort = "on-abort"
}

public enum KillMode: String, Sendable, Hashable, CaseIterable {
    case controlGroup = "control-group"
    case process, mixed, none
}

public enum NotifyAccess: String, Sendable, Hashable {
    case none, main, exec, all
}

/// `WorkingDirectory=`.
public struct WorkingDirectory: Sendable, Hashable {
    public enum Location: Sendable, Hashable {
        case path(String)
        /// `~`: the home directory of `User=` (the shell looks it up).
        case home
    }

    public var location: Location
    /// The `-` prefix: a missing directory is not an error.
    public var optional: Bool

    public init(_ location: Location, optional: Bool = false) {
        self.location = location
        self.optional = optional
    }
}

/// Everything the supervisor needs from a `.service` unit, with systemd's defaults filled in. Build it with
/// `init(unit:unitName:specifiers:)`; the memberwise defaults are systemd-system.conf's.
public struct ServiceConfiguration: Sendable, Hashable {
    public var unitName: String
    public var type: ServiceType = .simple
    public var remainAfterExit = false
    public var guessMainPID = true
    public var pidFile: String?
    /// nil = systemd's default: `main` for `Type=notify`, `none` otherwise (see `effectiveNotifyAccess`).
    public var notifyAccess: NotifyAccess?

    public var execStartPre: [ExecCommand] = []
    public var execStart: [ExecCommand] = []
    public var execStartPost: [ExecCommand] = []
    public var execReload: [ExecCommand] = []
    public var execStop: [ExecCommand] = []
    public var execStopPost: [ExecCommand] = []

    public var restart = RestartPolicy.no
    public var restartDelay: Duration = .milliseconds(100)
    public var restartPreventExitStatus = ExitStatusSet()
    public var restartForceExitStatus = ExitStatusSet()
    public var successExitStatus = ExitStatusSet()
    /// nil = infinity (only `burst` starts, ever, until `reset-failed`); zero disables the limit.
    public var startLimitInterval: Duration? = .seconds(10)
    /// Zero disables the limit.
    public var startLimitBurst = 5

    /// nil = no timeout (`infinity`, or `0`).
    public var timeoutStart: Duration? = .seconds(90)
    public var timeoutStop: Duration? = .seconds(90)

    public var killMode = KillMode.controlGroup
    public var killSignal = Signal.term
    public var sendSIGKILL = true

    /// `Environment=` merged in order (later wins, an empty assignment resets).
    public var environment: [String: String] = [:]
    public var environmentFiles: [EnvironmentFileReference] = []
    /// nil = the agent's default (`/`).
    public var workingDirectory: WorkingDirectory?
    public var user: String?
    public var group: String?

    public var dependencies = UnitDependencies()
    /// What systemd would log and ignore (invalid environment assignments and the like).
    public var warnings: [String] = []

    public init(unitName: String) {
        self.unitName = unitName
    }

    public var effectiveNotifyAccess: NotifyAccess {
        notifyAccess ?? (type == .notify ? .main : .none)
    }
}

/// `[Unit]` relations among units on the same machine.
public struct UnitDependencies: Sendable, Hashable {
    public var requires: [String]
    public var wants: [String]
    public var bindsTo: [String]
    public var after: [String]
    public var before: [String]

    public init(requires: [String] = [], wants: [String] = [], bindsTo: [String] = [], after: [String] = [], before: [String] = []) {
        self.requires = requires
        self.wants = wants
        self.bindsTo = bindsTo
        self.after = after
        self.before = before
    }
}
