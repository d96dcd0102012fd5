/// What a restarted agent knows about a unit an earlier incarnation left running: enough to put the state
/// machine back where it was, so that the agent re-adopts the processes instead of restarting them.
///
/// Only the two settled active states can be restored: a unit caught in a transition (starting, reloading,
/// stopping, auto-restart) has a control process, a timer or a pending request the new incarnation cannot
/// take over, so the shell kills what is left of it and starts it afresh instead.
public struct RestoredState: Sendable, Hashable {
    /// `.running` or `.exited`.
    public var subState: SubState
    /// The main process (alive, checked by the shell). nil for `.exited`, and for a `Type=forking` service
    /// whose main pid was never known (then it is running as long as `unitEmpty` is false).
    public var mainPID: Int32?
    /// Whether none of the unit's processes (other than the main one) remain.
    public var unitEmpty: Bool
    public var lastExit: ProcessExitStatus?
    public var statusText: String?
    public var restarts: Int

    public init(
        subState: SubState, mainPID: Int32?, unitEmpty: Bool, lastExit: ProcessExitStatus? = nil, statusText: String? = nil,
        restarts: Int = 0
    ) {
        self.subState = subState
        self.mainPID = mainPID
        self.unitEmpty = unitEmpty
        self.lastExit = lastExit
        self.statusText = statusText
        self.restarts = restarts
    }
}

extension ServiceUnit {
    /// A unit in the state `restoring` describes, with no timer armed and nothing pending. nil when that
    /// state cannot be taken over (see `RestoredState`): a transitional state, a running unit with neither a
    /// main pid nor any process left, or `exited` without `RemainAfterExit=`.
    ///
    /// Pure like the rest of the core: the shell has checked that the processes are alive (and are the same
    /// processes, not reused pids) before calling this. The start rate limit starts afresh.
    public init?(configuration: ServiceConfiguration, managerEnvironment: [String: String] = [:], restoring state: RestoredState) {
        switch state.subState {
        case .running:
            guard state.mainPID != nil || !state.unitEmpty else { return nil }
        case .exited:
            guard configuration.remainAfterExit, state.mainPID == nil else { return nil }
        default:
            return nil
        }
        if let pid = state.mainPID, pid <= 0 { return nil }
        self.init(configuration: configuration, managerEnvironment: managerEnvironment)
        phase = state.subState
        mainPID = state.mainPID
        mainPIDUnknown = state.subState == .running && state.mainPID == nil
        unitEmpty = state.unitEmpty
        lastExit = state.lastExit
        statusText = state.statusText
        restarts = state.restarts
        result = .success
        reported = status
    }
}
