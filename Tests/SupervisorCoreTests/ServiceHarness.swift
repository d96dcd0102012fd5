import Testing
@testable import SupervisorCore

/// Drives a `ServiceUnit` the way the shell would, keeping what it was asked to do. A class so that its
/// mutating steps can be called inside `#expect`/`#require`.
final class ServiceHarness {
    var unit: ServiceUnit
    var now = SupervisorInstant.zero
    var pendingSpawns: [SpawnRequest] = []
    var timer: (token: TimerToken, at: SupervisorInstant)?
    var nextPID: Int32 = 100
    var effects: [SupervisorEffect] = []

    init(_ service: String, unit unitSection: String = "") throws {
        unit = ServiceUnit(configuration: try configuration(service, unit: unitSection), managerEnvironment: ["PATH": "/usr/bin"])
    }

    var status: ServiceStatus { unit.status }
    var state: String { "\(status.activeState.rawValue)/\(status.subState.rawValue)" }

    @discardableResult
    func send(_ event: ServiceEvent) -> [SupervisorEffect] {
        let produced = unit.handle(event, now: now)
        effects = produced
        for effect in produced {
            switch effect {
            case .spawn(let request): pendingSpawns.append(request)
            case .armTimer(let token, let at): timer = (token, at)
            case .cancelTimer(let token): if timer?.token == token { timer = nil }
            default: break
            }
        }
        return produced
    }

    func request(_ request: ServiceRequest) { send(.request(request)) }

    /// Answers the oldest spawn request with a fresh pid and returns (request, pid).
    @discardableResult
    func spawn(sourceLocation: SourceLocation = #_sourceLocation) -> (request: SpawnRequest, pid: Int32)? {
        guard !pendingSpawns.isEmpty else {
            Issue.record("nothing to spawn in state \(state)", sourceLocation: sourceLocation)
            return nil
        }
        let request = pendingSpawns.removeFirst()
        nextPID += 1
        send(.processSpawned(request.id, pid: nextPID))
        return (request, nextPID)
    }

    func exit(_ pid: Int32?, _ status: ProcessExitStatus = .exited(0), unitEmpty: Bool = true) {
        guard let pid else { return }
        send(.processExited(pid: pid, status: status, unitEmpty: unitEmpty))
    }

    /// Spawns the pending command and lets it exit.
    func run(_ status: ProcessExitStatus = .exited(0), sourceLocation: SourceLocation = #_sourceLocation) -> SpawnRequest? {
        guard let (request, pid) = spawn(sourceLocation: sourceLocation) else { return nil }
        exit(pid, status)
        return request
    }

    func advance(to instant: SupervisorInstant) { now = instant }

    func fireTimer(sourceLocation: SourceLocation = #_sourceLocation) {
        guard let timer else {
            Issue.record("no timer armed in state \(state)", sourceLocation: sourceLocation)
            return
        }
        now = max(now, timer.at)
        self.timer = nil
        send(.timerFired(timer.token))
    }

    var signals: [SupervisorEffect] {
        effects.filter { if case .signal = $0 { true } else { false } }
    }
}
