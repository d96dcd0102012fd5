public import FleetLayout
public import KeysClient
public import Logging
public import SchedulerCore

/// What the scheduler wants this machine to run: the units in `schedule/<machine>/`, with their contents.
public struct MachineSchedule: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var hash: String
        public var desiredState: TargetState
        /// The unit file's canonical text, nil while it could not be read.
        public var contents: String?

        public init(hash: String, desiredState: TargetState, contents: String?) {
            self.hash = hash
            self.desiredState = desiredState
            self.contents = contents
        }
    }

    public var units: [String: Entry]

    public init(units: [String: Entry] = [:]) { self.units = units }
}

/// Follows one directory of schedule entries — this machine's own schedule (and nothing else, so no other
/// machine's placements wake this agent), or the cluster's global units — and yields the whole set after every
/// change.
public struct ScheduleFollower: Sendable {
    public let keys: KeysAPI
    public let layout: FleetKeyLayout
    public let directory: String
    public let logger: Logger

    /// Follows `schedule/<machineID>/`.
    public init(keys: KeysAPI, layout: FleetKeyLayout, machineID: String, logger: Logger) {
        self.init(keys: keys, layout: layout, directory: layout.scheduleDirectory(machineID), logger: logger)
    }

    /// Follows any directory of `{"hash","desiredState"}` entries, e.g. `layout.globalDirectory`.
    public init(keys: KeysAPI, layout: FleetKeyLayout, directory: String, logger: Logger) {
        self.keys = keys
        self.layout = layout
        self.directory = directory
        self.logger = logger
    }

    /// Calls `onChange` with the full schedule after the first read and after every change, until cancelled.
    public func follow(_ onChange: @Sendable (MachineSchedule) async throws -> Void) async throws {
        var bodies: [String: String] = [:]
        while true {
            do {
                var (entries, index) = try await read(directory)
                try await onChange(await resolve(entries, bodies: &bodies))
                for try await change in keys.watch(directory, recursive: true, after: index) {
                    switch change {
                    case .event(let event):
                        guard let key = event.node?.key, let unit = key.split(separator: "/").last.map(String.init),
                              key.hasPrefix(directory + "/") else { continue }
                        if event.action.removesNode {
                            if event.node?.dir == true { entries = [:] } else { entries[unit] = nil }
                        } else if let value = event.node?.value {
                            entries[unit] = RegistryJSON.decode(ScheduleEntryJSON.self, from: value)
                        }
                    case .resync(let response):
                        entries = Self.entries(in: response.node)
                    }
                    index = change.index
                    try await onChange(await resolve(entries, bodies: &bodies))
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning("schedule watch failed; reading again", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func read(_ directory: String) async throws -> ([String: ScheduleEntryJSON], UInt64) {
        do {
            let response = try await keys.get(directory, recursive: true)
            return (Self.entries(in: response.node), response.etcdIndex)
        } catch let error as KeysError where error.code == .keyNotFound {
            return ([:], error.index)
        }
    }

    static func entries(in node: KeysNode?) -> [String: ScheduleEntryJSON] {
        var entries: [String: ScheduleEntryJSON] = [:]
        for child in node?.nodes ?? [] where !child.dir {
            guard let unit = child.key?.split(separator: "/").last, let value = child.value,
                  let entry = RegistryJSON.decode(ScheduleEntryJSON.self, from: value) else { continue }
            entries[String(unit)] = entry
        }
        return entries
    }

    /// Adds each unit's contents, read once per hash: unit files are content-addressed, so never stale.
    private func resolve(_ entries: [String: ScheduleEntryJSON], bodies: inout [String: String]) async -> MachineSchedule {
        var schedule = MachineSchedule()
        for (unit, entry) in entries {
            guard let state = TargetState(rawValue: entry.desiredState) else { continue }
            if bodies[entry.hash] == nil, let value = try? await keys.get(layout.unitBody(entry.hash)).node?.value {
                bodies[entry.hash] = RegistryJSON.decode(UnitBodyJSON.self, from: value)?.Raw
            }
            schedule.units[unit] = MachineSchedule.Entry(hash: entry.hash, desiredState: state, contents: bodies[entry.hash])
        }
        return schedule
    }
}
