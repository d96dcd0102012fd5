import FleetLayout
import Foundation
import KeysClient
import Logging
import NodeAgent
import SchedulerCore
import Testing
import TestSupport

/// Presence and the machine's own schedule against the real keys APIs.
@Suite("agent and the keys API", .timeLimit(.minutes(2)))
struct AgentRegistryTests {
    enum Backend: String, CaseIterable, Sendable { case etcd, kvPeer = "kv-peer" }

    func withKeys<Result: Sendable>(_ backend: Backend, _ body: @Sendable (KeysAPI) async throws -> Result) async throws -> Result {
        @Sendable func run(_ endpoint: String) async throws -> Result {
            try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: quietLogger(), body)
        }
        switch backend {
        case .etcd: return try await EtcdCluster.with(size: 1) { cluster in try await run(cluster.clientURLs[0]) }
        case .kvPeer: return try await KVPeerProcess.with { peer in try await run(try peer.clientURL) }
        }
    }

    @Test("presence outlives its TTL while refreshed, and a restarted agent takes its key back at once", arguments: Backend.allCases)
    func presence(backend: Backend) async throws {
        try await withKeys(backend) { keys in
            let layout = FleetKeyLayout()
            let object = MachineObjectJSON(ID: "m1", PublicIP: "10.0.0.1", Metadata: ["region": "east"])
            let presence = MachinePresence(keys: keys, layout: layout, object: object, ttl: .seconds(2), logger: quietLogger())
            try await presence.register()
            let alive = Task { try await presence.keepAlive() }
            let deadline = ContinuousClock.now + .seconds(3)
            while ContinuousClock.now < deadline {
                #expect(try await keys.get(layout.machineObject("m1")).node?.value?.contains("10.0.0.1") == true)
                try await Task.sleep(for: .milliseconds(250))
            }
            alive.cancel()
            _ = await alive.result
            // A second incarnation registers over the old key without waiting for it to expire.
            try await presence.register()
            let node = try await keys.get(layout.machineObject("m1")).node
            #expect(node?.ttl != nil && node?.value.flatMap { RegistryJSON.decode(MachineObjectJSON.self, from: $0) } == object)
        }
    }

    @Test("the follower sees exactly this machine's schedule, with unit contents", arguments: Backend.allCases)
    func scheduleFollower(backend: Backend) async throws {
        try await withKeys(backend) { keys in
            let layout = FleetKeyLayout()
            let body = "[Service]\nExecStart=/bin/sleep 1\n"
            _ = try await keys.set(layout.unitBody("h1"), value: RegistryJSON.encode(UnitBodyJSON(Raw: body)))
            let seen = Observed<[MachineSchedule]>([])
            let follower = ScheduleFollower(keys: keys, layout: layout, machineID: "m1", logger: quietLogger())
            let following = Task { try await follower.follow { schedule in seen.update { $0.append(schedule) } } }
            _ = try await seen.wait(for: "the first (empty) schedule", timeout: .seconds(10)) { $0.last?.units.isEmpty == true }

            _ = try await keys.set(layout.scheduleEntry(machine: "m2", unit: "other.service"), value: RegistryJSON.encode(ScheduleEntryJSON(hash: "h1", desiredState: .launched)))
            _ = try await keys.set(layout.scheduleEntry(machine: "m1", unit: "a.service"), value: RegistryJSON.encode(ScheduleEntryJSON(hash: "h1", desiredState: .launched)))
            let placed = try await seen.wait(for: "a.service scheduled here", timeout: .seconds(10)) { $0.last?.units["a.service"] != nil }
            #expect(placed.last?.units == ["a.service": MachineSchedule.Entry(hash: "h1", desiredState: .launched, contents: body)])

            _ = try await keys.set(layout.scheduleEntry(machine: "m1", unit: "a.service"), value: RegistryJSON.encode(ScheduleEntryJSON(hash: "h1", desiredState: .loaded)))
            _ = try await seen.wait(for: "a.service now only loaded", timeout: .seconds(10)) { $0.last?.units["a.service"]?.desiredState == .loaded }
            _ = try await keys.delete(layout.scheduleEntry(machine: "m1", unit: "a.service"))
            _ = try await seen.wait(for: "a.service unscheduled", timeout: .seconds(10)) { $0.last?.units.isEmpty == true }
            #expect(seen.value.allSatisfy { $0.units["other.service"] == nil }, "another machine's schedule never shows")
            following.cancel()
            _ = await following.result
        }
    }
}
