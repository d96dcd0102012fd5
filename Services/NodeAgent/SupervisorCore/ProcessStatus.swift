/// A signal by its Linux number (fleet and systemd are Linux-only; the shell maps if it ever needs to).
public struct Signal: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    public static let hup = Signal(rawValue: 1)
    public static let int = Signal(rawValue: 2)
    public static let quit = Signal(rawValue: 3)
    public static let abrt = Signal(rawValue: 6)
    public static let kill = Signal(rawValue: 9)
    public static let usr1 = Signal(rawValue: 10)
    public static let segv = Signal(rawValue: 11)
    public static let usr2 = Signal(rawValue: 12)
    public static let pipe = Signal(rawValue: 13)
    public static let term = Signal(rawValue: 15)
    public static let cont = Signal(rawValue: 18)

    private static let names = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
        "WINCH", "IO", "PWR", "SYS",
    ]

    /// systemd's `signal_from_string`: `SIGTERM`, `TERM` or a number 1…64.
    public init?(parsing text: String) {
        if let number = Int32(text) {
            guard (1...64).contains(number) else { return nil }
            self.init(rawValue: number)
            return
        }
        let bare = text.hasPrefix("SIG") ? String(text.dropFirst(3)) : text
        guard let index = Self.names.firstIndex(of: bare) else { return nil }
        self.init(rawValue: Int32(index + 1))
    }

    /// Without the `SIG` prefix, as systemd writes `$EXIT_STATUS`.
    public var name: String {
        (1...Int32(Self.names.count)).contains(rawValue) ? Self.names[Int(rawValue) - 1] : String(rawValue)
    }

    public var description: String { "SIG" + name }
}

/// How a process ended, as `waitid` reports it.
public enum ProcessExitStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Signal, coreDumped: Bool = false)

    /// `$EXIT_CODE`: `exited`, `killed` or `dumped`.
    public var code: String {
        switch self {
        case .exited: "exited"
        case .signaled(_, let dumped): dumped ? "dumped" : "killed"
        }
    }

    /// `$EXIT_STATUS`: the number, or the signal name without `SIG`.
    public var status: String {
        switch self {
        case .exited(let code): String(code)
        case .signaled(let signal, _): signal.name
        }
    }

    public var description: String { "\(code)/\(status)" }
}

/// `SuccessExitStatus=`, `RestartPreventExitStatus=`, `RestartForceExitStatus=`: exit codes and signals.
public struct ExitStatusSet: Sendable, Hashable {
    public var codes: Set<Int32>
    public var signals: Set<Signal>

    public init(codes: Set<Int32> = [], signals: Set<Signal> = []) {
        self.codes = codes
        self.signals = signals
    }

    public var isEmpty: Bool { codes.isEmpty && signals.isEmpty }

    public func contains(_ status: ProcessExitStatus) -> Bool {
        switch status {
        case .exited(let code): codes.contains(code)
        case .signaled(let signal, _): signals.contains(signal)
        }
    }
}

/// `SERVICE_RESULT`: why a service run ended, in systemd's words.
public enum ServiceResult: String, Sendable, Hashable {
    case success
    case resources
    case `protocol`
    case timeout
    case exitCode = "exit-code"
    case signal
    case coreDump = "core-dump"
    case watchdog
    case startLimitHit = "start-limit-hit"
}
