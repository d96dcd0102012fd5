import Foundation
import Glibc
import SupervisorCore

/// What a restarted agent needs to take a running unit back: `<runtime>/units/<unit>.json`, rewritten
/// atomically (temporary file + rename) whenever any of it changes while the unit is loaded, and removed
/// when the unit is stopped and unloaded.
///
/// Processes are identified by pid *and* start time (field 22 of `/proc/<pid>/stat`), so a pid reused by
/// an unrelated process while no agent ran is never adopted or signalled.
public struct UnitRuntimeRecord: Codable, Sendable, Hashable {
    public var unit: String
    /// The caller's own data, kept as given (the agent keeps the unit's hash and contents here).
    public var annotations: [String: String]
    /// The `PipeHolder` keeping the unit's output pipes open.
    public var holderPID: Int32?
    public var holderStartTime: UInt64?
    public var subState: String
    public var mainPID: Int32?
    public var mainStartTime: UInt64?
    /// Process groups and sessions of the unit's processes (each command leads its own).
    public var groups: [Int32]
    public var restarts: Int
    /// `exited`/`killed`/`dumped` and the code or signal number.
    public var lastExitCode: String?
    public var lastExitStatus: Int32?
    public var statusText: String?

    var lastExit: ProcessExitStatus? {
        guard let code = lastExitCode, let value = lastExitStatus else { return nil }
        switch code {
        case "exited": return .exited(value)
        case "dumped": return .signaled(Signal(rawValue: value), coreDumped: true)
        default: return .signaled(Signal(rawValue: value))
        }
    }

    static func encode(_ exit: ProcessExitStatus?) -> (String?, Int32?) {
        switch exit {
        case .exited(let value): ("exited", value)
        case .signaled(let signal, let dumped): (dumped ? "dumped" : "killed", signal.rawValue)
        case nil: (nil, nil)
        }
    }
}

/// The records of one supervisor's runtime directory.
struct RuntimeStore: Sendable {
    let directory: String

    init(runtimeDirectory: String) {
        directory = runtimeDirectory + "/units"
    }

    func path(_ unit: String) -> String { directory + "/" + unit + ".json" }

    func write(_ record: UnitRuntimeRecord) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(record).write(to: URL(fileURLWithPath: path(record.unit)), options: .atomic)
    }

    func read(_ unit: String) -> UnitRuntimeRecord? {
        guard let data = FileManager.default.contents(atPath: path(unit)) else { return nil }
        return try? JSONDecoder().decode(UnitRuntimeRecord.self, from: data)
    }

    func remove(_ unit: String) {
        unlink(path(unit))
    }

    /// Every readable record; unreadable files are removed.
    func all() -> [UnitRuntimeRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            let unit = String(file.dropLast(5))
            guard let record = read(unit), record.unit == unit else {
                remove(unit)
                return nil
            }
            return record
        }
    }
}

/// Deciding whether a recorded unit can be taken back, and cleaning up when it cannot.
enum Adoption {
    struct Restored: Sendable {
        var unit: ServiceUnit
        var record: UnitRuntimeRecord
        var pipes: PipeHolder.Pipes
        /// The recorded groups that still have live members.
        var groups: Set<Int32>
        /// Whether no process but the main one is left.
        var unitEmpty: Bool
    }

    /// The unit as `record` left it, if its holder and (for a running unit) its main process are the very
    /// processes recorded and still alive, and the core can resume from its state; nil otherwise.
    static func restore(_ record: UnitRuntimeRecord, configuration: ServiceConfiguration, managerEnvironment: [String: String]) -> Restored? {
        guard let holder = record.holderPID, ProcessTable.isSameProcess(holder, startTime: record.holderStartTime),
            let subState = SubState(rawValue: record.subState)
        else { return nil }
        if let main = record.mainPID, !ProcessTable.isSameProcess(main, startTime: record.mainStartTime) { return nil }
        let groups = Set(record.groups).filter { ProcessTable.hasLiveMembers([$0]) }
        let others = ProcessTable.members(ofGroupOrSession: groups).filter { $0 != record.mainPID }
        let state = RestoredState(
            subState: subState, mainPID: record.mainPID, unitEmpty: others.isEmpty, lastExit: record.lastExit,
            statusText: record.statusText, restarts: record.restarts
        )
        guard let unit = ServiceUnit(configuration: configuration, managerEnvironment: managerEnvironment, restoring: state),
            let pipes = PipeHolder.reopen(holder)
        else { return nil }
        return Restored(unit: unit, record: record, pipes: pipes, groups: groups, unitEmpty: others.isEmpty)
    }

    /// SIGKILLs what is left of a unit that is not taken back: the processes of its groups, its main
    /// process and its holder (the last two only if they are still the recorded processes).
    static func killLeftovers(_ record: UnitRuntimeRecord) {
        let groups = Set(record.groups)
        for group in groups where ProcessTable.hasLiveMembers([group]) { kill(-group, SIGKILL) }
        for pid in ProcessTable.members(ofGroupOrSession: groups) { kill(pid, SIGKILL) }
        if let main = record.mainPID, ProcessTable.isSameProcess(main, startTime: record.mainStartTime) { kill(main, SIGKILL) }
        if let holder = record.holderPID, ProcessTable.isSameProcess(holder, startTime: record.holderStartTime) { kill(holder, SIGKILL) }
    }
}
