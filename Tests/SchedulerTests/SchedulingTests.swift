import FleetLayout
import Foundation
import KeysClient
import NIOHTTP1
import Scheduler
import SchedulerCore
import Testing
import TestSupport

/// Placement through the real keys API: units land where their constraints allow, follow desired-state
/// changes, and move when a machine's presence expires.
@Suite("scheduling", .timeLimit(.minutes(3)))
struct SchedulingTests {
    static let east = "e0000000000000000000000000000001"
    static let west = "f0000000000000000000000000000002"

    @Test("units are placed by their constraints, and the unplaceable say why", arguments: KeysBackend.allCases)
    func placementAndReasons(backend: KeysBackend) async throws {
        try await backend.with { endpoint in
            try await withKeys(endpoint) { keys in
                let machines = SimulatedMachines(keys: keys, ttl: .seconds(10))
                try await machines.register(Self.east, metadata: ["region": "east"])
                try await machines.register(Self.west, metadata: ["region": "west"])
                try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                    let base = scheduler.url
                    #expect(try await API.putUnit(base, "db.service", desiredState: "launched", options: API.service([("MachineMetadata", "region=east")])).status == 201)
                    #expect(try await API.putUnit(base, "app.service", desiredState: "launched", options: API.service([("MachineOf", "db.service")])).status == 201)
                    #expect(try await API.putUnit(base, "mars.service", desiredState: "launched", options: API.service([("MachineMetadata", "region=mars")])).status == 201)
                    #expect(try await API.putUnit(base, "idle.service", desiredState: "inactive", options: API.service()).status == 201)

                    try await eventually("db and app placed on the east machine") {
                        let db = try await scheduledMachine(keys, scheduler.layout, "db.service")
                        let app = try await scheduledMachine(keys, scheduler.layout, "app.service")
                        return db == [Self.east] && app == [Self.east]
                    }
                    let db = try await API.unit(base, "db.service")
                    #expect(db["machineID"] as? String == Self.east && db["reason"] == nil)
                    #expect(db["currentState"] as? String == "inactive", "no agent has reported yet")

                    let mars = try await API.unit(base, "mars.service")
                    #expect(mars["machineID"] == nil)
                    let reason = mars["reason"] as? String ?? ""
                    #expect(reason.contains("MachineMetadata") && reason.contains("region=mars"), "\(reason)")
                    #expect(try await scheduledMachine(keys, scheduler.layout, "mars.service").isEmpty)
                    #expect(try await API.unit(base, "idle.service")["reason"] == nil, "inactive units need no reason")

                    let entry = try await keys.get(scheduler.layout.scheduleEntry(machine: Self.east, unit: "db.service")).node?.value ?? ""
                    let decoded = try JSONDecoder().decode(ScheduleEntryJSON.self, from: Data(entry.utf8))
                    #expect(decoded.desiredState == "launched" && decoded.hash.count == 40, "\(entry)")

                    // The agent reports: currentState follows what it published.
                    let state = UnitStateJSON(loadState: "loaded", activeState: "active", subState: "running", machineID: Self.east, unitHash: decoded.hash, currentState: .launched)
                    _ = try await keys.set(scheduler.layout.unitState("db.service", machine: Self.east), value: String(decoding: try JSONEncoder().encode(state), as: UTF8.self))
                    try await eventually("db reported launched") { try await API.unit(base, "db.service")["currentState"] as? String == "launched" }
                }
                await machines.stopAll()
            }
        }
    }

    @Test("desired-state changes reach the machine's schedule; inactive and destroy remove the entry")
    func desiredStateFollowsThrough() async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await withKeys(endpoint) { keys in
                let machines = SimulatedMachines(keys: keys, ttl: .seconds(10))
                try await machines.register(Self.east)
                try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                    let base = scheduler.url
                    let key = scheduler.layout.scheduleEntry(machine: Self.east, unit: "web.service")
                    @Sendable func entry() async throws -> ScheduleEntryJSON? {
                        guard let value = try? await keys.get(key).node?.value else { return nil }
                        return try JSONDecoder().decode(ScheduleEntryJSON.self, from: Data(value.utf8))
                    }
                    #expect(try await API.putUnit(base, "web.service", desiredState: "loaded", options: API.service()).status == 201)
                    try await eventually("web scheduled as loaded") { try await entry()?.desiredState == "loaded" }
                    let firstHash = try await entry()?.hash

                    #expect(try await API.putUnit(base, "web.service", desiredState: "launched", options: []).status == 204)
                    try await eventually("entry says launched") { try await entry()?.desiredState == "launched" }

                    let replaced = try await API.putUnit(base, "web.service", desiredState: "launched", options: [("Service", "ExecStart", "/bin/sleep 2000")])
                    #expect(replaced.status == 201)
                    try await eventually("entry carries the new hash on the same machine") {
                        guard let current = try await entry() else { return false }
                        return current.hash != firstHash && current.desiredState == "launched"
                    }

                    #expect(try await API.putUnit(base, "web.service", desiredState: "inactive", options: []).status == 204)
                    try await eventually("inactive unit unscheduled") { try await entry() == nil }

                    #expect(try await API.putUnit(base, "web.service", desiredState: "launched", options: []).status == 204)
                    try await eventually("launched again") { try await entry()?.desiredState == "launched" }
                    #expect(try await API.request(.DELETE, base + "/fleet/v1/units/web.service").status == 204)
                    try await eventually("destroyed unit unscheduled") { try await entry() == nil }
                }
                await machines.stopAll()
            }
        }
    }

    @Test("a machine joining is acted on at once, not at the next periodic pass")
    func reactsToEvents() async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await withKeys(endpoint) { keys in
                let machines = SimulatedMachines(keys: keys, ttl: .seconds(10))
                try await InProcessScheduler.with(endpoint: endpoint, reconcileInterval: .seconds(120)) { scheduler in
                    #expect(try await API.putUnit(scheduler.url, "late.service", desiredState: "launched", options: API.service()).status == 201)
                    try await eventually("no machines is the reason") {
                        (try await API.unit(scheduler.url, "late.service")["reason"] as? String)?.contains("no machines") == true
                    }
                    try await machines.register(Self.west)
                    // Far below the 120 s backstop: only the watch can have woken the engine.
                    try await eventually("placed once the machine appeared", timeout: .seconds(30)) {
                        try await scheduledMachine(keys, scheduler.layout, "late.service") == [Self.west]
                    }
                }
                await machines.stopAll()
            }
        }
    }

    // How fast is bench/scheduler.sh's to measure (TTL + 0.2 s there); a test only bounds the wait, generously,
    // so that a loaded machine cannot turn a timing into a failure.
    @Test("a machine whose presence expires has its units placed elsewhere", arguments: KeysBackend.allCases)
    func machineLoss(backend: KeysBackend) async throws {
        try await backend.with { endpoint in
            try await withKeys(endpoint) { keys in
                let machines = SimulatedMachines(keys: keys, ttl: .seconds(2))
                try await machines.register(Self.east)
                try await machines.register(Self.west)
                try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                    let names = (1...6).map { "job\($0).service" }
                    for name in names {
                        #expect(try await API.putUnit(scheduler.url, name, desiredState: "launched", options: API.service()).status == 201)
                    }
                    @Sendable func placement() async throws -> [String: [String]] {
                        var result: [String: [String]] = [:]
                        for name in names { result[name] = try await scheduledMachine(keys, scheduler.layout, name) }
                        return result
                    }
                    try await eventually("six units spread over two machines") {
                        let placed = try await placement()
                        return placed.values.allSatisfy { $0.count == 1 } && placed.values.filter { $0 == [Self.east] }.count == 3
                    }
                    let expiresBy = await machines.stopHeartbeat(Self.east)
                    try await eventually("every unit on the west machine", timeout: (expiresBy - .now) + .seconds(10)) {
                        try await placement().values.allSatisfy { $0 == [Self.west] }
                    }
                }
                await machines.stopAll()
            }
        }
    }

    @Test("global units are never placed; they are indexed in global/ for the agents, which decide themselves")
    func globalIndex() async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await withKeys(endpoint) { keys in
                let machines = SimulatedMachines(keys: keys, ttl: .seconds(10))
                try await machines.register(Self.east)
                try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                    let base = scheduler.url
                    let key = scheduler.layout.globalUnit("everywhere.service")
                    @Sendable func indexed() async -> ScheduleEntryJSON? {
                        guard let value = try? await keys.get(key).node?.value else { return nil }
                        return RegistryJSON.decode(ScheduleEntryJSON.self, from: value)
                    }
                    #expect(try await API.putUnit(base, "everywhere.service", desiredState: "launched", options: API.service([("Global", "true")])).status == 201)
                    let entry = try #require(await indexed())
                    #expect(entry.desiredState == "launched" && entry.hash.count == 40)
                    let unit = try await API.unit(base, "everywhere.service")
                    #expect(unit["machineID"] == nil && unit["currentState"] == nil && unit["reason"] == nil, "\(unit)")

                    #expect(try await API.putUnit(base, "everywhere.service", desiredState: "loaded", options: []).status == 204)
                    #expect(await indexed()?.desiredState == "loaded")
                    // Another pass of the engine happens on every change; a global unit never lands in a schedule.
                    #expect(try await scheduledMachine(keys, scheduler.layout, "everywhere.service").isEmpty)

                    #expect(try await API.putUnit(base, "plain.service", desiredState: "launched", options: API.service()).status == 201)
                    #expect(try await keys.get(scheduler.layout.globalDirectory, recursive: true).node?.nodes?.count == 1, "only globals are indexed")
                    #expect(try await API.request(.DELETE, base + "/fleet/v1/units/everywhere.service").status == 204)
                    #expect(await indexed() == nil)
                }
                await machines.stopAll()
            }
        }
    }
}
