import FleetLayout
import KeysClient
import Logging
import SchedulerCore
import SupervisorCore
import Synchronization

/// Writes `states/<unit>/<machine>` (fleet's record plus `currentState`, `mainPID`, `execMainStatus`) with the
/// agent's TTL on every change, and refreshes the TTL of unchanged ones, so a dead machine's states vanish.
struct UnitStatePublisher: Sendable {
    let keys: KeysAPI
    let layout: FleetKeyLayout
    let machineID: String
    let ttl: Duration
    let logger: Logger

    func publish(_ unit: String, hash: String, status: ServiceStatus, launched: Bool) async {
        let state = UnitStateJSON(
            loadState: "loaded", activeState: status.activeState.rawValue, subState: status.subState.rawValue,
            machineID: machineID, unitHash: hash, currentState: launched ? .launched : .loaded,
            mainPID: status.mainPID.map(Int.init), execMainStatus: status.lastExit.map(Self.code)
        )
        await write(unit, state)
    }

    func publishUnloadable(_ unit: String, hash: String, error: String) async {
        var state = UnitStateJSON(loadState: "bad-setting", activeState: "inactive", subState: "dead", machineID: machineID, unitHash: hash)
        state.currentState = TargetState.loaded.rawValue
        await write(unit, state)
        logger.debug("published unloadable unit", metadata: ["unit": "\(unit)", "error": "\(error)"])
    }

    func remove(_ unit: String) async {
        _ = try? await keys.delete(layout.unitState(unit, machine: machineID))
    }

    private func write(_ unit: String, _ state: UnitStateJSON) async {
        do {
            _ = try await keys.set(layout.unitState(unit, machine: machineID), value: RegistryJSON.encode(state), ttl: ttl)
        } catch {
            logger.warning("could not publish unit state", metadata: ["unit": "\(unit)", "error": "\(error)"])
        }
    }

    /// Refreshes every loaded unit's state key each third of the TTL (without waking watchers).
    func keepFresh(_ loaded: @Sendable () -> [String: LoadedUnit]) async throws {
        while true {
            try await Task.sleep(for: ttl / 3)
            for unit in loaded().keys {
                _ = try? await keys.refresh(layout.unitState(unit, machine: machineID), ttl: ttl)
            }
        }
    }

    private static func code(_ exit: ProcessExitStatus) -> Int {
        switch exit {
        case .exited(let code): Int(code)
        case .signaled(let signal, _): 128 + Int(signal.rawValue)
        }
    }
}
