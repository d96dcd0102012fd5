import FleetLayout
import KeysClient
import SchedulerCore
import UnitFile

/// Every write the scheduler makes, each applied to the mirror as soon as it succeeds.
struct FleetRegistry: Sendable {
    let keys: KeysAPI
    let mirror: RegistryMirror

    var layout: FleetKeyLayout { mirror.layout }

    /// Reads everything under the prefix and replaces the mirror with it; returns the index to watch after.
    @discardableResult
    func reload() async throws -> UInt64 {
        do {
            let response = try await keys.get(layout.root, recursive: true)
            mirror.load(response.node, etcdIndex: response.etcdIndex)
            return response.etcdIndex
        } catch let error as KeysError where error.code == .keyNotFound {
            mirror.load(nil, etcdIndex: error.index)
            return error.index
        }
    }

    // MARK: Units (API)

    /// Stores a new unit, or replaces the contents of an existing one in place. The body goes first and
    /// the object last, so whoever sees the object can read the body.
    func storeUnit(name: String, unit: UnitFile, desiredState: TargetState) async throws {
        let hash = unit.fleetHash
        do {
            mirror.apply(try await keys.create(layout.unitBody(hash), value: RegistryJSON.encode(UnitBodyJSON(Raw: unit.serialized))), fromWatch: false)
        } catch let error as KeysError where error.code == .nodeExist {
            // Identical contents are stored once and shared.
        }
        try await setTargetState(name: name, desiredState)
        let object = JobObjectJSON(Name: name, UnitHash: UInt8.bytes(fromHex: hash) ?? [])
        mirror.apply(try await keys.set(layout.jobObject(name), value: RegistryJSON.encode(object)), fromWatch: false)
    }

    func setTargetState(name: String, _ state: TargetState) async throws {
        mirror.apply(try await keys.set(layout.targetState(name), value: state.rawValue), fromWatch: false)
    }

    /// Global units are also listed in `global/`, the one directory every agent watches besides its own
    /// schedule: agents decide themselves whether a global unit runs on their machine.
    func indexGlobal(name: String, hash: String, desiredState: TargetState) async throws {
        _ = try await keys.set(layout.globalUnit(name), value: RegistryJSON.encode(ScheduleEntryJSON(hash: hash, desiredState: desiredState)))
    }

    func removeGlobalIndex(name: String) async throws {
        do {
            _ = try await keys.delete(layout.globalUnit(name))
        } catch let error as KeysError where error.code == .keyNotFound {
            // Not a global unit.
        }
    }

    /// Removes the unit's record; the engine then unschedules it and its agent stops and unloads it. Unit
    /// bodies are left, as other units may share them.
    func destroyUnit(name: String) async throws {
        mirror.apply(try await keys.delete(layout.jobDirectory(name), dir: true, recursive: true), fromWatch: false)
    }

    // MARK: Machines (API)

    /// `nil` removes the key: stored as "" so it also hides the value the agent registered.
    func setMachineMetadata(machine: String, key: String, value: String?) async throws {
        mirror.apply(try await keys.set(layout.machineMetadata(machine, key), value: value ?? ""), fromWatch: false)
    }

    // MARK: Schedule (engine)

    func schedule(unit: String, machine: String, entry: ScheduleEntryJSON) async throws {
        let key = layout.scheduleEntry(machine: machine, unit: unit)
        mirror.apply(try await keys.create(key, value: RegistryJSON.encode(entry)), fromWatch: false)
    }

    /// Rewrites an entry whose hash or desired state changed, only if nobody else touched it meanwhile.
    func updateSchedule(unit: String, machine: String, entry: ScheduleEntryJSON, prevIndex: UInt64) async throws {
        let key = layout.scheduleEntry(machine: machine, unit: unit)
        mirror.apply(try await keys.compareAndSwap(key, value: RegistryJSON.encode(entry), prevIndex: prevIndex), fromWatch: false)
    }

    func unschedule(unit: String, machine: String, prevIndex: UInt64) async throws {
        let key = layout.scheduleEntry(machine: machine, unit: unit)
        mirror.apply(try await keys.compareAndDelete(key, prevIndex: prevIndex), fromWatch: false)
    }

    /// Drops a machine's empty schedule directory once the machine is gone; fails harmlessly if an entry
    /// was added meanwhile.
    func removeScheduleDirectory(machine: String) async throws {
        _ = try await keys.delete(layout.scheduleDirectory(machine), dir: true)
    }
}
