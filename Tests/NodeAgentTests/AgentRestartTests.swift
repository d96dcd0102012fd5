import FleetLayout
import Foundation
import KeysClient
import Logging
import NodeAgent
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A quick agent restart with the same id re-adopts its running units (same pids) instead of killing and
/// restarting them; a unit the schedule drops afterwards is still stopped, by pid.
@Suite("node agent restart", .timeLimit(.minutes(3)))
struct AgentRestartTests {
    static let machine = "dddddddd000000000000000000000004"

    /// The unit's published state on `machine`, if active with a live main pid.
    static func mainPID(_ keys: KeysAPI, _ layout: FleetKeyLayout, _ unit: String) async -> Int32? {
        guard let value = try? await keys.get(layout.unitState(unit, machine: machine)).node?.value,
            let state = RegistryJSON.decode(UnitStateJSON.self, from: value), state.activeState == "active",
            let pid = state.mainPID, kill(Int32(pid), 0) == 0
        else { return nil }
        return Int32(pid)
    }

    static func eventually<T: Sendable>(_ what: String, timeout: Duration = .seconds(20), _ probe: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TimeoutError(description: "timed out after \(timeout) waiting for \(what)")
    }

    struct TimeoutError: Error, CustomStringConvertible {
        var description: String
    }

    @Test("agent restart keeps units running (same pids)")
    func restartKeepsUnitsRunning() async throws {
        try await EtcdCluster.with(size: 1) { cluster in
            let endpoint = cluster.clientURLs[0]
            let layout = FleetKeyLayout()
            try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: quietLogger()) { keys in
                try await ServiceProcess.with(product: "scheduler", arguments: ["--endpoints", endpoint, "--listen", "127.0.0.1:0"]) { scheduler in
                    let arguments = NodeAgentEndToEndTests.agent(endpoint, id: Self.machine, metadata: "zone=r")
                    try await ServiceProcess.with(product: "node-agent", arguments: arguments) { agent in
                        let api = try scheduler.url("api") + "/fleet/v1/units/ticker.service"
                        let body = #"{"desiredState":"launched","options":["#
                            + #"{"section":"Service","name":"ExecStart","value":"/bin/sh -c 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done'"}]}"#
                        #expect(try await NodeAgentEndToEndTests.put(api, body) == 201)
                        let pid = try await Self.eventually("the unit to run (agent log:\n\(agent.logTail(1500)))") {
                            await Self.mainPID(keys, layout, "ticker.service")
                        }
                        defer { _ = kill(-pid, SIGKILL) }

                        // SIGTERM, wait for the exit, start again with the same id and data directory.
                        try await agent.restart()
                        #expect(agent.starts == 2)
                        #expect(kill(pid, 0) == 0, "the unit survived its agent's exit")
                        _ = try await Self.eventually("the new agent to re-adopt and reconcile (log:\n\(agent.logTail(3000)))") { () -> Bool? in
                            let tail = agent.logTail(1_000_000).components(separatedBy: "re-adopted").dropFirst().joined()
                            return tail.contains("reconciled") ? true : nil
                        }
                        let units = try await Curl.run([try agent.url("agent") + "/v1/units"])
                        #expect(units.stdout.contains(#""mainPID":\#(pid)"#) && units.stdout.contains(#""subState":"running""#), "\(units)")
                        #expect(await Self.mainPID(keys, layout, "ticker.service") == pid, "published state shows the same main pid")

                        // Its output still reaches its journal through the new agent.
                        let journal = try await Self.eventually("output after the restart in the journal") { () -> String? in
                            let text = try await Curl.run([try agent.url("agent") + "/v1/journal/ticker.service?lines=400"]).stdout
                            let after = text.components(separatedBy: "re-adopted").dropFirst().joined()
                            return after.contains("stdout tick") ? text : nil
                        }
                        let ticks = journal.split(separator: "\n").compactMap { line in
                            line.contains(" stdout tick ") ? Int(line.split(separator: " ").last ?? "") : nil
                        }
                        try #require(ticks.count > 1, "\(journal)")
                        #expect(ticks == Array(ticks[0]...ticks[ticks.count - 1]), "no line lost across the restart")

                        // Dropped from the schedule: the new agent, not its parent, still stops it.
                        let deleted = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", api])
                        #expect(deleted.stdout == "204", "\(deleted)")
                        _ = try await Self.eventually("the unit's processes to be stopped") { () -> Bool? in
                            kill(pid, 0) != 0 || Self.isZombie(pid) ? true : nil
                        }
                        await NodeAgentEndToEndTests.stopAndClean(agent)
                    }
                }
            }
        }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].dropFirst().first == "Z"
    }
}
