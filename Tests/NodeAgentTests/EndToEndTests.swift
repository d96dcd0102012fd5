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

/// The scheduler and real agents on one etcd: a unit runs where its constraints say, its log is served by its
/// agent, and when that machine dies (agent and units killed) it runs on another eligible machine in time.
@Suite("node agent end to end", .timeLimit(.minutes(3)))
struct NodeAgentEndToEndTests {
    static let ttl = 2

    static func agent(_ endpoint: String, id: String, metadata: String) -> [String] {
        ["--endpoints", endpoint, "--listen", "127.0.0.1:0", "--data-dir", "{dir}/data", "--machine-id", id,
         "--metadata", metadata, "--agent-ttl", "\(ttl)", "--public-ip", "127.0.0.1", "--log-level", "debug"]
    }

    struct Running: Sendable, Equatable {
        var machine: String
        var pid: Int32
    }

    /// The machine whose published state says the unit is active, with its main pid alive.
    static func running(_ keys: KeysAPI, _ layout: FleetKeyLayout, _ unit: String) async -> Running? {
        guard let directory = try? await keys.get(layout.prefix + "states/" + unit, recursive: true).node else { return nil }
        for node in directory.nodes ?? [] {
            guard let value = node.value, let state = RegistryJSON.decode(UnitStateJSON.self, from: value),
                  state.activeState == "active", let pid = state.mainPID, kill(Int32(pid), 0) == 0,
                  let machine = state.machineState?.ID else { continue }
            return Running(machine: machine, pid: Int32(pid))
        }
        return nil
    }

    @Test("submit → runs where MachineMetadata allows → the machine dies → runs on the other eligible machine")
    func failover() async throws {
        try await EtcdCluster.with(size: 1) { cluster in
            let endpoint = cluster.clientURLs[0]
            let layout = FleetKeyLayout()
            let (a, b, c) = ("aaaaaaaa000000000000000000000001", "bbbbbbbb000000000000000000000002", "cccccccc000000000000000000000003")
            try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: quietLogger()) { keys in
                try await ServiceProcess.with(product: "scheduler", arguments: ["--endpoints", endpoint, "--listen", "127.0.0.1:0"]) { scheduler in
                    try await ServiceProcess.with(product: "node-agent", arguments: Self.agent(endpoint, id: a, metadata: "zone=a")) { agentA in
                        try await ServiceProcess.with(product: "node-agent", arguments: Self.agent(endpoint, id: b, metadata: "zone=b")) { _ in
                            try await ServiceProcess.with(product: "node-agent", arguments: Self.agent(endpoint, id: c, metadata: "zone=a")) { agentC in
                                let api = try scheduler.url("api")
                                let body = #"{"desiredState":"launched","options":["#
                                    + #"{"section":"Service","name":"ExecStart","value":"/bin/sh -c 'echo hello from %m; exec sleep 1000'"},"#
                                    + #"{"section":"X-Fleet","name":"MachineMetadata","value":"zone=a"}]}"#
                                let created = try await Self.put(api + "/fleet/v1/units/web.service", body)
                                #expect(created == 201)

                                var first: Running?
                                let deadline = ContinuousClock.now + .seconds(20)
                                while first == nil, ContinuousClock.now < deadline {
                                    first = await Self.running(keys, layout, "web.service")
                                    if first == nil { try await Task.sleep(for: .milliseconds(50)) }
                                }
                                let placed = try #require(first, "the unit never ran (scheduler log:\n\(scheduler.logTail(1500))\nagent A:\n\(agentA.logTail(1500)))")
                                #expect([a, c].contains(placed.machine), "placed on a zone=a machine")

                                // Its agent serves its log; %m expanded to the agent's machine ID.
                                let (dying, survivor) = placed.machine == a ? (agentA, agentC) : (agentC, agentA)
                                let journal = try await Curl.run([try dying.url("agent") + "/v1/journal/web.service?lines=5"])
                                #expect(journal.stdout.contains("stdout hello from \(placed.machine)"), "\(journal)")

                                // The machine dies: its agent and its unit.
                                let killedAt = ContinuousClock.now
                                try await dying.kill()
                                _ = kill(placed.pid, SIGKILL)
                                var moved: Running?
                                // A generous bound: how fast the unit moves (TTL + 1 s) is bench/scheduler.sh's to measure;
                                // a 2-core CI machine also running cluster fault tests can stall any process for seconds.
                                while moved == nil, ContinuousClock.now < killedAt + .seconds(Self.ttl + 15) {
                                    if let now = await Self.running(keys, layout, "web.service"), now.machine != placed.machine { moved = now }
                                    else { try await Task.sleep(for: .milliseconds(25)) }
                                }
                                let other = placed.machine == a ? c : a
                                #expect(moved?.machine == other, "running on \(other) within \(Self.ttl + 15) s of the kill (survivor log:\n\(survivor.logTail(1500)))")

                                // Agents leave units running when they exit (a restart re-adopts them): remove the unit so
                                // the survivor stops it, and clear what the killed agent left behind.
                                #expect(try await Self.delete(api + "/fleet/v1/units/web.service") == 204)
                                if let moved {
                                    try await Self.waitUntilGone(moved.pid)
                                }
                                Self.killLeftovers(of: dying)
                                await Self.stopAndClean(survivor)
                            }
                        }
                    }
                }
            }
        }
    }

    @Test("a global unit runs on every machine whose metadata matches; a healthy service is announced, and withdrawn when its unit goes")
    func globalsAndAnnouncements() async throws {
        try await EtcdCluster.with(size: 1) { cluster in
            let endpoint = cluster.clientURLs[0]
            let layout = FleetKeyLayout()
            let (a, b) = ("aaaaaaaa000000000000000000000011", "bbbbbbbb000000000000000000000012")
            let port = try LoopbackPorts.reserve(count: 1)[0]
            try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: quietLogger()) { keys in
                try await ServiceProcess.with(product: "scheduler", arguments: ["--endpoints", endpoint, "--listen", "127.0.0.1:0"]) { scheduler in
                    try await ServiceProcess.with(product: "node-agent", arguments: Self.agent(endpoint, id: a, metadata: "disk=ssd")) { agentA in
                        try await ServiceProcess.with(product: "node-agent", arguments: Self.agent(endpoint, id: b, metadata: "disk=hdd")) { agentB in
                            let api = try scheduler.url("api")
                            let global = #"{"desiredState":"launched","options":["#
                                + #"{"section":"Service","name":"ExecStart","value":"/bin/sleep 1000"},"#
                                + #"{"section":"X-Fleet","name":"Global","value":"true"},"#
                                + #"{"section":"X-Fleet","name":"MachineMetadata","value":"disk=ssd"}]}"#
                            #expect(try await Self.put(api + "/fleet/v1/units/cache.service", global) == 201)
                            let web = #"{"desiredState":"launched","options":["#
                                + #"{"section":"Service","name":"ExecStart","value":"/usr/bin/python3 -m http.server --bind 127.0.0.1 \#(port)"},"#
                                + #"{"section":"X-Fleet","name":"MachineID","value":"\#(a)"},"#
                                + #"{"section":"X-Announce","name":"Service","value":"web"},"#
                                + #"{"section":"X-Announce","name":"Port","value":"\#(port)"},"#
                                + #"{"section":"X-Announce","name":"HealthCheck","value":"http /"},"#
                                + #"{"section":"X-Announce","name":"HealthInterval","value":"200ms"}]}"#
                            #expect(try await Self.put(api + "/fleet/v1/units/web.service", web) == 201)

                            let onA = try await AgentRestartTests.eventually("the global unit on the ssd machine (log:\n\(agentA.logTail(1500)))") {
                                await Self.running(keys, layout, "cache.service")
                            }
                            #expect(onA.machine == a)
                            let announced = try await AgentRestartTests.eventually("web announced") { () -> String? in
                                try? await keys.get("/services/web/\(a):\(port)").node?.value
                            }
                            #expect(announced.contains("\"port\":\(port)") && announced.contains("\"unit\":\"web.service\""), "\(announced)")
                            let units = try await Curl.run([try agentB.url("agent") + "/v1/units"]).stdout
                            #expect(!units.contains("cache.service"), "the hdd machine does not run the ssd-only global: \(units)")

                            #expect(try await Self.delete(api + "/fleet/v1/units/web.service") == 204)
                            _ = try await AgentRestartTests.eventually("web withdrawn once its unit is gone") { () -> Bool? in
                                (try? await keys.get("/services/web/\(a):\(port)")) == nil ? true : nil
                            }
                            #expect(try await Self.delete(api + "/fleet/v1/units/cache.service") == 204)
                            try await Self.waitUntilGone(onA.pid)
                            await Self.stopAndClean(agentA)
                            await Self.stopAndClean(agentB)
                        }
                    }
                }
            }
        }
    }

    @Test("units on one machine start in Requires=/After= order: the dependent starts only once what it needs is up")
    func orderedStarts() async throws {
        try await EtcdCluster.with(size: 1) { cluster in
            let endpoint = cluster.clientURLs[0]
            let layout = FleetKeyLayout()
            let machine = "eeeeeeee000000000000000000000021"
            let marker = FileManager.default.temporaryDirectory.appendingPathComponent("ordered-\(UUID().uuidString.prefix(8))").path
            defer { try? FileManager.default.removeItem(atPath: marker) }
            try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: quietLogger()) { keys in
                try await ServiceProcess.with(product: "scheduler", arguments: ["--endpoints", endpoint, "--listen", "127.0.0.1:0"]) { scheduler in
                    try await ServiceProcess.with(product: "node-agent", arguments: Self.agent(endpoint, id: machine, metadata: "zone=o")) { agent in
                        let api = try scheduler.url("api")
                        // The database takes a moment to be ready (a oneshot that leaves a marker); the app fails
                        // unless the marker is already there when it starts.
                        let db = #"{"desiredState":"loaded","options":["#
                            + #"{"section":"Service","name":"Type","value":"oneshot"},"#
                            + #"{"section":"Service","name":"RemainAfterExit","value":"yes"},"#
                            + #"{"section":"Service","name":"ExecStart","value":"/bin/sh -c 'sleep 0.5; touch \#(marker)'"}]}"#
                        let app = #"{"desiredState":"launched","options":["#
                            + #"{"section":"Unit","name":"Requires","value":"db.service"},"#
                            + #"{"section":"Unit","name":"After","value":"db.service"},"#
                            + #"{"section":"Service","name":"ExecStart","value":"/bin/sh -c 'test -f \#(marker) && exec sleep 1000'"},"#
                            + #"{"section":"X-Fleet","name":"MachineOf","value":"db.service"}]}"#
                        #expect(try await Self.put(api + "/fleet/v1/units/db.service", db) == 201)
                        #expect(try await Self.put(api + "/fleet/v1/units/app.service", app) == 201)
                        let running = try await AgentRestartTests.eventually("app running after db (agent log:\n\(agent.logTail(2000)))") {
                            await Self.running(keys, layout, "app.service")
                        }
                        #expect(running.machine == machine)
                        #expect(FileManager.default.fileExists(atPath: marker), "db ran first")
                        #expect(try await Self.delete(api + "/fleet/v1/units/app.service") == 204)
                        try await Self.waitUntilGone(running.pid)
                        #expect(try await Self.delete(api + "/fleet/v1/units/db.service") == 204)
                        await Self.stopAndClean(agent)
                    }
                }
            }
        }
    }

    @Test("the journal API serves the last lines, and with follow=true streams new ones as they are written")
    func journalFollow() async throws {
        try await EtcdCluster.with(size: 1) { cluster in
            let endpoint = cluster.clientURLs[0]
            let layout = FleetKeyLayout()
            try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: quietLogger()) { keys in
                try await ServiceProcess.with(product: "scheduler", arguments: ["--endpoints", endpoint, "--listen", "127.0.0.1:0"]) { scheduler in
                    try await ServiceProcess.with(product: "node-agent", arguments: Self.agent(endpoint, id: "ffffffff000000000000000000000031", metadata: "")) { agent in
                        let api = try scheduler.url("api")
                        let ticker = #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/sh -c 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done'"}]}"#
                        #expect(try await Self.put(api + "/fleet/v1/units/ticker.service", ticker) == 201)
                        let running = try await AgentRestartTests.eventually("the ticker to run") { await Self.running(keys, layout, "ticker.service") }
                        let journal = try agent.url("agent") + "/v1/journal/ticker.service"
                        _ = try await AgentRestartTests.eventually("a few ticks logged") { () -> Bool? in
                            try await Curl.run([journal + "?lines=3"]).stdout.split(separator: "\n").count == 3 ? true : nil
                        }
                        let last = try await Curl.run([journal + "?lines=2"]).stdout.split(separator: "\n")
                        #expect(last.count == 2 && last.allSatisfy { $0.contains(" stdout tick ") }, "\(last)")

                        // Streamed: the client gives up after 1.5 s, having seen lines written after it asked.
                        let followed = try await Curl.run([journal + "?lines=1&follow=true"], maxTime: 2)
                        let ticks = followed.stdout.split(separator: "\n").compactMap { Int($0.split(separator: " ").last ?? "") }
                        #expect(ticks.count >= 5 && ticks == Array(ticks[0]...(ticks.last ?? 0)), "consecutive new lines: \(followed.stdout)")

                        let missing = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", journal.replacingOccurrences(of: "ticker", with: "absent")])
                        #expect(missing.stdout == "404")
                        let badLines = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", journal + "?lines=-1"])
                        #expect(badLines.stdout == "400")
                        #expect(try await Self.delete(api + "/fleet/v1/units/ticker.service") == 204)
                        try await Self.waitUntilGone(running.pid)
                        await Self.stopAndClean(agent)
                    }
                }
            }
        }
    }

    static func delete(_ url: String) async throws -> Int {
        Int(try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", url]).stdout) ?? 0
    }

    /// Waits (bounded) until `pid` has exited (or is a zombie awaiting its parent).
    static func waitUntilGone(_ pid: Int32, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if kill(pid, 0) != 0 || AgentRestartTests.isZombie(pid) { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("process \(pid) still running after \(timeout)")
    }

    /// Stops an agent (which leaves its units running for a successor) and kills what it left.
    static func stopAndClean(_ agent: ServiceProcess) async {
        await agent.stop()
        killLeftovers(of: agent)
    }

    /// Kills every process an agent's runtime records name (pipe holders, unit process groups, main pids):
    /// for an agent that was SIGKILLed, nobody else will.
    static func killLeftovers(of agent: ServiceProcess) {
        let directory = agent.directory.appendingPathComponent("data/run/units").path
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: directory + "/" + file),
                  let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
            for group in record["groups"] as? [Int] ?? [] where group > 1 { _ = kill(-Int32(group), SIGKILL) }
            for key in ["mainPID", "holderPID"] {
                if let pid = record[key] as? Int, pid > 1 { _ = kill(Int32(pid), SIGKILL) }
            }
        }
    }

    static func put(_ url: String, _ body: String) async throws -> Int {
        let result = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Content-Type: application/json", "--data-binary", body, url])
        return Int(result.stdout) ?? 0
    }
}
