import FleetLayout
import KeysClient
import SchedulerCore
import UnitFile

/// The scheduler's view of everything under the fleet prefix, kept from one recursive read plus the watch
/// after it, and from the results of this process's own writes.
///
/// Own writes are applied as soon as they succeed, so the API reads its own writes and the engine never
/// re-decides what it just did; the watch delivers the same changes again later. Every change is therefore
/// guarded by index: a leaf only moves forward, and a delete leaves a tombstone so that an older write of
/// the same key arriving late through the watch cannot bring it back.
struct RegistryCache: Sendable {
    struct Leaf: Sendable, Equatable {
        var value: String
        var index: UInt64
    }

    let layout: FleetKeyLayout
    private(set) var leaves: [String: Leaf] = [:]
    private var tombstones: [String: UInt64] = [:]

    /// Typed views, kept in step with `leaves`.
    private(set) var jobs: [String: JobView] = [:]
    private(set) var bodies: [String: String] = [:]
    private(set) var machines: [String: MachineView] = [:]
    /// machine -> unit -> entry
    private(set) var schedule: [String: [String: ScheduleView]] = [:]
    /// unit -> machine -> published state
    private(set) var states: [String: [String: UnitStateJSON]] = [:]

    /// Bumped by every accepted change; the engine and the API's reason cache key on it.
    private(set) var generation: UInt64 = 0
    /// The directories below the prefix that are watched (each on its own, so a burst of writes in one
    /// resyncs only that one), and the highest index each watch or read has delivered.
    static let areas = ["job", "unit", "machines", "schedule", "states", "lease"]
    private var watchedIndexes: [String: UInt64] = [:]

    struct JobView: Sendable, Equatable {
        var hash: String?
        var targetState: TargetState?
    }

    struct MachineView: Sendable, Equatable {
        var object: MachineObjectJSON?
        var metadataOverrides: [String: String] = [:]

        /// The agent's metadata with the API's overrides on top; an override of "" removes the key.
        var effectiveMetadata: [String: String] {
            var merged = object?.Metadata ?? [:]
            for (key, value) in metadataOverrides {
                merged[key] = value.isEmpty ? nil : value
            }
            return merged
        }
    }

    struct ScheduleView: Sendable, Equatable {
        var entry: ScheduleEntryJSON?
        var index: UInt64
    }

    init(layout: FleetKeyLayout, generation: UInt64 = 0) {
        self.layout = layout
        self.generation = generation
    }

    // MARK: Changes

    /// Replaces the part of the view below `directory` (the whole prefix by default) with a recursive read of
    /// it taken at `etcdIndex` (`node == nil` when the directory does not exist). Changes newer than the read
    /// that this view already holds — this process's own writes, which the read may have missed — are kept, so
    /// a resync never makes the engine forget what it just placed.
    mutating func load(_ node: KeysNode?, etcdIndex: UInt64, under directory: String? = nil) {
        let scope = directory.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? layout.prefix
        let inScope = { (key: String) in key.hasPrefix(scope) }
        let newerLeaves = leaves.filter { inScope($0.key) && $0.value.index > etcdIndex }
        let newerTombstones = tombstones.filter { inScope($0.key) && $0.value > etcdIndex }
        if scope == layout.prefix {
            let kept = self.tombstones.filter { !inScope($0.key) }
            self = RegistryCache(layout: layout, generation: generation)
            tombstones = kept
        } else {
            for key in leaves.keys where inScope(key) {
                leaves[key] = nil
                refresh(key)
            }
            tombstones = tombstones.filter { !inScope($0.key) }
        }
        if let node { loadLeaves(of: node) }
        for (key, index) in newerTombstones.sorted(by: { $0.value < $1.value }) {
            if leaves[key] != nil {
                _ = remove(key, index: index)
            } else {
                _ = removeDirectory(key, index: index)
            }
        }
        for (key, leaf) in newerLeaves {
            set(key, value: leaf.value, index: leaf.index)
        }
        for area in Self.areas where scope == layout.prefix || scope == layout.prefix + area + "/" {
            watchedIndexes[area] = etcdIndex
        }
        generation += 1
    }

    private mutating func loadLeaves(of node: KeysNode) {
        if node.dir {
            for child in node.nodes ?? [] { loadLeaves(of: child) }
        } else if let key = node.key {
            set(key, value: node.value ?? "", index: node.modifiedIndex)
        }
    }

    /// Applies one change, from the watch (`fromWatch`) or from a write this process made.
    @discardableResult
    mutating func apply(_ response: KeysResponse, fromWatch: Bool) -> Bool {
        guard let node = response.node, let key = node.key else { return false }
        if fromWatch, let area = area(of: key) { watchedIndexes[area] = max(watchedIndexes[area] ?? 0, response.index) }
        let changed: Bool
        if response.action.removesNode {
            changed = node.dir || response.prevNode?.dir == true
                ? removeDirectory(key, index: node.modifiedIndex)
                : remove(key, index: node.modifiedIndex)
        } else if node.dir {
            changed = false
        } else {
            changed = set(key, value: node.value ?? "", index: node.modifiedIndex)
        }
        if changed { generation += 1 }
        pruneTombstones()
        return changed
    }

    @discardableResult
    private mutating func set(_ key: String, value: String, index: UInt64) -> Bool {
        if let existing = leaves[key], existing.index >= index { return false }
        if isBuried(key, before: index) { return false }
        leaves[key] = Leaf(value: value, index: index)
        refresh(key)
        return true
    }

    private mutating func remove(_ key: String, index: UInt64) -> Bool {
        tombstones[key] = max(tombstones[key] ?? 0, index)
        guard let existing = leaves[key], existing.index < index else { return false }
        leaves[key] = nil
        refresh(key)
        return true
    }

    private mutating func removeDirectory(_ key: String, index: UInt64) -> Bool {
        tombstones[key] = max(tombstones[key] ?? 0, index)
        let inside = leafKeys(under: key)
        var changed = false
        for leaf in inside where leaves[leaf]!.index < index {
            leaves[leaf] = nil
            refresh(leaf)
            changed = true
        }
        return changed
    }

    /// Leaves under a directory, found through the typed views for the directories that are deleted often.
    private func leafKeys(under directory: String) -> [String] {
        let parts = layout.components(of: directory) ?? []
        if parts.count == 2 {
            let name = String(parts[1])
            switch parts[0] {
            case "job": return [layout.jobObject(name), layout.targetState(name)].filter { leaves[$0] != nil }
            case "schedule": return (schedule[name] ?? [:]).keys.map { layout.scheduleEntry(machine: name, unit: $0) }
            case "states": return (states[name] ?? [:]).keys.map { layout.unitState(name, machine: $0) }
            default: break
            }
        }
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return leaves.keys.filter { $0.hasPrefix(prefix) }
    }

    private func isBuried(_ key: String, before index: UInt64) -> Bool {
        if tombstones.isEmpty { return false }
        var candidate = Substring(key)
        while !candidate.isEmpty {
            if let buriedAt = tombstones[String(candidate)], buriedAt >= index { return true }
            guard let slash = candidate.lastIndex(of: "/") else { break }
            candidate = candidate[..<slash]
        }
        return false
    }

    /// A tombstone only matters while a write older than it may still arrive through its area's watch.
    private mutating func pruneTombstones() {
        guard tombstones.count > 64 else { return }
        tombstones = tombstones.filter { key, index in
            index > area(of: key).flatMap { watchedIndexes[$0] } ?? 0
        }
    }

    private func area(of key: String) -> String? {
        layout.components(of: key)?.first.map(String.init)
    }

    /// Rebuilds the typed view a leaf belongs to.
    private mutating func refresh(_ key: String) {
        guard let parts = layout.components(of: key), parts.count >= 2 else { return }
        let value = leaves[key]?.value
        switch (parts[0], parts.count) {
        case ("job", 3):
            let unit = String(parts[1])
            var job = jobs[unit] ?? JobView()
            switch parts[2] {
            case "object": job.hash = value.flatMap { RegistryJSON.decode(JobObjectJSON.self, from: $0)?.hashHex }
            case "target-state": job.targetState = value.flatMap(TargetState.init(rawValue:))
            default: return
            }
            jobs[unit] = job.hash == nil && job.targetState == nil ? nil : job
        case ("unit", 2):
            bodies[String(parts[1])] = value.flatMap { RegistryJSON.decode(UnitBodyJSON.self, from: $0)?.Raw }
        case ("machines", 3) where parts[2] == "object":
            let id = String(parts[1])
            var machine = machines[id] ?? MachineView()
            machine.object = value.flatMap { RegistryJSON.decode(MachineObjectJSON.self, from: $0) }
            machines[id] = machine.object == nil && machine.metadataOverrides.isEmpty ? nil : machine
        case ("machines", 4) where parts[2] == "metadata":
            let id = String(parts[1])
            var machine = machines[id] ?? MachineView()
            machine.metadataOverrides[String(parts[3])] = value
            machines[id] = machine.object == nil && machine.metadataOverrides.isEmpty ? nil : machine
        case ("schedule", 3):
            let machine = String(parts[1])
            let unit = String(parts[2])
            if let value, let index = leaves[key]?.index {
                schedule[machine, default: [:]][unit] = ScheduleView(entry: RegistryJSON.decode(ScheduleEntryJSON.self, from: value), index: index)
            } else {
                schedule[machine]?[unit] = nil
                if schedule[machine]?.isEmpty == true { schedule[machine] = nil }
            }
        case ("states", 3):
            let unit = String(parts[1])
            let machine = String(parts[2])
            states[unit, default: [:]][machine] = value.flatMap { RegistryJSON.decode(UnitStateJSON.self, from: $0) }
            if states[unit]?.isEmpty == true { states[unit] = nil }
        default:
            return
        }
    }

    // MARK: Reads

    /// Machines whose presence key is alive, with their effective metadata.
    var presentMachines: [String: MachineInfo] {
        var result: [String: MachineInfo] = [:]
        for (id, machine) in machines where machine.object != nil {
            result[id] = MachineInfo(id: id, metadata: machine.effectiveMetadata)
        }
        return result
    }

    /// Where each unit is placed. A unit found under several machines (a crash between writes) is
    /// reported at the lowest index; the engine removes the others.
    var placements: [String: (machine: String, view: ScheduleView)] {
        var result: [String: (machine: String, view: ScheduleView)] = [:]
        for (machine, units) in schedule {
            for (unit, view) in units {
                if let existing = result[unit], existing.view.index <= view.index { continue }
                result[unit] = (machine, view)
            }
        }
        return result
    }
}
