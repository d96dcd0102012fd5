import FleetLayout
import KeysClient
import SchedulerCore
import Synchronization
import UnitFile

/// The process-wide `RegistryCache`, shared by the watcher, the engine and the API, plus what is derived
/// from it and worth remembering: parsed unit files (immutable by hash) and each unit's requirements.
final class RegistryMirror: Sendable {
    private struct State {
        var cache: RegistryCache
        var isLoaded = false
        var requirements: [String: RequirementsMemo] = [:]
        var decision: (generation: UInt64, decision: SchedulingDecision)?
    }

    private struct RequirementsMemo {
        var hash: String
        var result: Result<FleetRequirements, UnitContentError>
    }

    private let state: Mutex<State>
    private let changes: AsyncStream<Void>.Continuation
    /// Rings after every accepted change; the engine (its only reader) coalesces rings into one pass.
    let doorbell: AsyncStream<Void>

    init(layout: FleetKeyLayout) {
        state = Mutex(State(cache: RegistryCache(layout: layout)))
        (doorbell, changes) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var layout: FleetKeyLayout { state.withLock { $0.cache.layout } }
    var isLoaded: Bool { state.withLock { $0.isLoaded } }

    /// Replaces the view (below `directory`, or all of it) with a fresh read; see `RegistryCache.load`.
    func load(_ node: KeysNode?, etcdIndex: UInt64, under directory: String? = nil) {
        state.withLock { state in
            state.cache.load(node, etcdIndex: etcdIndex, under: directory)
            if directory == nil { state.isLoaded = true }
        }
        changes.yield()
    }

    func apply(_ response: KeysResponse, fromWatch: Bool) {
        if state.withLock({ $0.cache.apply(response, fromWatch: fromWatch) }) { changes.yield() }
    }

    func ring() { changes.yield() }

    /// Waits (briefly, only at start-up) for the first read of the registry; false if it did not come in time.
    func waitUntilLoaded(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isLoaded {
            guard ContinuousClock.now < deadline, (try? await Task.sleep(for: .milliseconds(5))) != nil else { return false }
        }
        return true
    }

    func read<Result>(_ body: (borrowing RegistryCache) throws -> Result) rethrows -> Result {
        try state.withLock { try body($0.cache) }
    }

    /// The snapshot one scheduling pass decides on, and units that cannot be scheduled at all because
    /// their stored unit file is unreadable (written around the API), with why.
    func snapshot() -> (snapshot: ClusterSnapshot, broken: [String: String], generation: UInt64) {
        state.withLock { state in
            var snapshot = ClusterSnapshot(machines: state.cache.presentMachines)
            var broken: [String: String] = [:]
            for (name, job) in state.cache.jobs {
                guard let hash = job.hash else { continue }
                switch Self.requirements(for: name, hash: hash, state: &state) {
                case .success(let requirements):
                    snapshot.units[name] = UnitSpec(name: name, desiredState: job.targetState ?? .inactive, requirements: requirements)
                case .failure(let error):
                    if (job.targetState ?? .inactive) != .inactive { broken[name] = error.description }
                }
            }
            for (unit, placement) in state.cache.placements {
                snapshot.schedule[unit] = placement.machine
            }
            return (snapshot, broken, state.cache.generation)
        }
    }

    /// The current decision, computed at most once per generation: the API's `reason` comes from it on every
    /// instance, leader or not, without storing reasons in the keys API.
    func currentDecision() -> (decision: SchedulingDecision, broken: [String: String]) {
        let (snapshot, broken, generation) = snapshot()
        if let memo = state.withLock({ $0.decision }), memo.generation == generation { return (memo.decision, broken) }
        let decision = PlacementEngine.decide(snapshot)
        state.withLock { $0.decision = (generation, decision) }
        return (decision, broken)
    }

    private static func requirements(for name: String, hash: String, state: inout State) -> Result<FleetRequirements, UnitContentError> {
        if let memo = state.requirements[name], memo.hash == hash { return memo.result }
        let result: Result<FleetRequirements, UnitContentError>
        if let raw = state.cache.bodies[hash] {
            result = Result { try UnitContent.requirements(raw: raw, name: name) }.mapError { $0 as? UnitContentError ?? UnitContentError(String(describing: $0)) }
        } else {
            result = .failure(UnitContentError("unit file \(hash) is missing"))
        }
        state.requirements[name] = RequirementsMemo(hash: hash, result: result)
        return result
    }
}

/// A unit file that cannot be used, with a message for the API.
struct UnitContentError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
