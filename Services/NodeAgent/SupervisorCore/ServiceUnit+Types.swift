/// A point in time as the supervisor sees it: a duration since an epoch the shell picks (e.g. the agent's
/// start on `ContinuousClock`). Plain data, so tests write `.at(.seconds(3))` and nothing reads a clock.
public struct SupervisorInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var sinceEpoch: Duration

    public init(sinceEpoch: Duration) {
        self.sinceEpoch = sinceEpoch
    }

    public static func at(_ sinceEpoch: Duration) -> SupervisorInstant { SupervisorInstant(sinceEpoch: sinceEpoch) }
    public static let zero = SupervisorInstant(sinceEpoch: .zero)

    public static func < (lhs: SupervisorInstant, rhs: SupervisorInstant) -> Bool { lhs.sinceEpoch < rhs.sinceEpoch }
    public static func + (lhs: SupervisorInstant, rhs: Duration) -> SupervisorInstant { .at(lhs.sinceEpoch + rhs) }
    public static func - (lhs: SupervisorInstant, rhs: SupervisorInstant) -> Duration { lhs.sinceEpoch - rhs.sinceEpoch }

    public var description: String { "t+\(sinceEpoch)" }
}

/// Identifies one armed timer; a `timerFired` with any other token is stale and ignored.
public struct TimerToken: Sendable, Hashable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// Identifies one spawn request, so the shell can say which request a pid (or a failure) belongs to.
public struct SpawnID: Sendable, Hashable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// Which directive a spawned command comes from.
public enum CommandRole: String, Sendable, Hashable {
    case startPre = "ExecStartPre", start = "ExecStart", startPost = "ExecStartPost"
    case reload = "ExecReload", stop = "ExecStop", stopPost = "ExecStopPost"
}

/// Everything the shell needs to fork and exec one command.
public struct SpawnRequest: Sendable, Hashable {
    public var id: SpawnID
    public var role: CommandRole
    /// Index of the command within its directive list.
    public var index: Int
    public var path: String
    /// `argv[0]` first; variables already substituted.
    public var argv: [String]
    /// The complete environment (the shell adds `NOTIFY_SOCKET` when `notifySocket` is set).
    public var environment: [String: String]
    public var workingDirectory: WorkingDirectory?
    /// nil: keep the agent's credentials (no `User=`, or a `+`/`!` command). Applied only if the agent runs
    /// as root.
    public var user: String?
    public var group: String?
    public var notifySocket: Bool
    /// Always true: each process starts its own process group so `.unit` signals reach children that did
    /// not detach (a daemon that calls `setsid` leaves it; the shell tracks those by parentage).
    public var newProcessGroup: Bool
}

public enum SignalTarget: Sendable, Hashable {
    case process(Int32)
    /// Every process the shell attributes to the unit (its process groups and their descendants).
    case unit
}

/// What the shell must do; returned in order from `ServiceUnit.handle(_:now:)`.
public enum SupervisorEffect: Sendable, Hashable {
    /// Read these files and answer with `.environmentFilesRead`.
    case readEnvironmentFiles([String])
    /// Answer with `.processSpawned` or `.spawnFailed`.
    case spawn(SpawnRequest)
    case signal(Signal, SignalTarget)
    /// Replaces any timer armed before; answer with `.timerFired(token)` at `at`.
    case armTimer(TimerToken, at: SupervisorInstant)
    case cancelTimer(TimerToken)
    /// Read the PID file (or guess, if nil: the one remaining process of the unit) and answer with
    /// `.mainPIDDiscovered`.
    case discoverMainPID(pidFile: String?)
    /// Emitted once per `handle` call when the observable status changed.
    case stateChanged(ServiceStatus)
    /// The unit entered `failed`.
    case failed(ServiceResult)
    case requestRejected(ServiceRequest, reason: String)
}

public enum ServiceRequest: String, Sendable, Hashable {
    case start, stop, restart, reload, resetFailed = "reset-failed"
}

/// A parsed `sd_notify` datagram.
public struct NotifyMessage: Sendable, Hashable {
    public var ready = false
    public var stopping = false
    public var mainPID: Int32?
    public var status: String?

    public init(ready: Bool = false, stopping: Bool = false, mainPID: Int32? = nil, status: String? = nil) {
        self.ready = ready
        self.stopping = stopping
        self.mainPID = mainPID
        self.status = status
    }

    /// Newline-separated `KEY=VALUE`; unknown keys are ignored, as systemd ignores them.
    public init(parsing datagram: String) {
        for line in datagram.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let value = line[line.index(after: equals)...]
            switch line[..<equals] {
            case "READY": ready = ready || value == "1"
            case "STOPPING": stopping = stopping || value == "1"
            case "MAINPID": mainPID = Int32(value).flatMap { $0 > 0 ? $0 : nil }
            case "STATUS": status = String(value)
            default: break
            }
        }
    }
}

public enum ServiceEvent: Sendable, Hashable {
    case request(ServiceRequest)
    /// Path → contents of the files asked for; a missing file is absent.
    case environmentFilesRead([String: String])
    case processSpawned(SpawnID, pid: Int32)
    case spawnFailed(SpawnID, reason: String)
    /// `unitEmpty`: no other process of the unit remains (the shell knows its process tree).
    case processExited(pid: Int32, status: ProcessExitStatus, unitEmpty: Bool = true)
    /// The last remaining (untracked) process of the unit went away.
    case unitEmpty
    case notify(pid: Int32, NotifyMessage)
    case mainPIDDiscovered(Int32?)
    case timerFired(TimerToken)
}

/// systemd's `ActiveState`.
public enum ActiveState: String, Sendable, Hashable {
    case inactive, activating, active, reloading, deactivating, failed
}

/// systemd's service `SubState`.
public enum SubState: String, Sendable, Hashable {
    case dead, startPre = "start-pre", start, startPost = "start-post", running, exited, reload
    case stop, stopSigterm = "stop-sigterm", stopSigkill = "stop-sigkill", stopPost = "stop-post"
    case finalSigterm = "final-sigterm", finalSigkill = "final-sigkill", failed
    case autoRestart = "auto-restart"

    /// systemd's `service_state_to_unit_active_state` table.
    public var activeState: ActiveState {
        switch self {
        case .dead: .inactive
        case .startPre, .start, .startPost, .autoRestart: .activating
        case .running, .exited: .active
        case .reload: .reloading
        case .stop, .stopSigterm, .stopSigkill, .stopPost, .finalSigterm, .finalSigkill: .deactivating
        case .failed: .failed
        }
    }
}

/// What the agent reports for a unit.
public struct ServiceStatus: Sendable, Hashable {
    public var subState: SubState
    public var mainPID: Int32?
    public var controlPID: Int32?
    /// Of the current or last run.
    public var result: ServiceResult
    /// The last exit of a main process, kept across runs.
    public var lastExit: ProcessExitStatus?
    /// From `STATUS=`.
    public var statusText: String?
    /// Automatic restarts since the unit was created.
    public var restarts: Int

    public var activeState: ActiveState { subState.activeState }
}
