import FleetLayout
import Foundation
import KeysClient
import NIOHTTP1
import Scheduler
import SchedulerCore
import Testing
import TestSupport

/// Several scheduler processes share one cluster: one leads, the others serve the API and take over when
/// the leader dies.
@Suite("leader failover", .timeLimit(.minutes(3)))
struct LeaderFailoverTests {
    static func schedulerArguments(_ endpoint: String, name: String) -> [String] {
        ["--endpoints", endpoint, "--listen", "127.0.0.1:0", "--name", name, "--leader-ttl", "2", "--log-level", "debug"]
    }

    @Test("kill -9 the leader: the other scheduler takes over within the lease TTL + 1 s", arguments: KeysBackend.allCases)
    func killLeader(backend: KeysBackend) async throws {
        try await backend.with { endpoint in
            try await withKeys(endpoint) { keys in
                let layout = FleetKeyLayout()
                let machines = SimulatedMachines(keys: keys, ttl: .seconds(10))
                try await machines.register("a0000000000000000000000000000001")
                try await ServiceProcess.with(product: "scheduler", arguments: Self.schedulerArguments(endpoint, name: "alpha")) { alpha in
                    try await ServiceProcess.with(product: "scheduler", arguments: Self.schedulerArguments(endpoint, name: "beta")) { beta in
                        @Sendable func leader() async -> String? { try? await keys.get(layout.leaderLease).node?.value }
                        try await eventually("one of the two leads") { await leader() != nil }
                        let leaderName = await leader()
                        let (dying, surviving) = leaderName == "alpha" ? (alpha, beta) : (beta, alpha)

                        #expect(try await API.putUnit(try surviving.url("api"), "before.service", desiredState: "launched", options: API.service()).status == 201)
                        try await eventually("placed by the first leader") {
                            try await scheduledMachine(keys, layout, "before.service").count == 1
                        }

                        let killedAt = ContinuousClock.now
                        try await dying.kill()
                        #expect(try await API.putUnit(try surviving.url("api"), "after.service", desiredState: "launched", options: API.service()).status == 201)
                        try await eventually(
                            "the survivor leads and places new units (log:\n\(surviving.logTail(1500)))", timeout: .seconds(3) - (.now - killedAt)
                        ) {
                            try await scheduledMachine(keys, layout, "after.service").count == 1
                        }
                        #expect(await leader() != leaderName)
                    }
                }
                await machines.stopAll()
            }
        }
    }

    @Test("a gracefully stopped leader releases the lease at once")
    func gracefulHandOver() async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await withKeys(endpoint) { keys in
                let layout = FleetKeyLayout()
                try await ServiceProcess.with(product: "scheduler", arguments: Self.schedulerArguments(endpoint, name: "alpha")) { alpha in
                    try await eventually("alpha leads") { (try? await keys.get(layout.leaderLease).node?.value) == "alpha" }
                    try await ServiceProcess.with(product: "scheduler", arguments: Self.schedulerArguments(endpoint, name: "beta")) { _ in
                        await alpha.stop()
                        // Far less than the 2 s TTL: the lease was deleted, not left to expire.
                        try await eventually("beta leads right after alpha stopped", timeout: .seconds(1.5)) {
                            (try? await keys.get(layout.leaderLease).node?.value) == "beta"
                        }
                    }
                }
            }
        }
    }

    @Test("bad flags and environment are refused with the problem named")
    func badConfiguration() async throws {
        let binary = try ServiceProcess.binaryPath(product: "scheduler")
        let cases: [([String], [String: String?], String)] = [
            (["--leader-ttl", "0"], [:], "--leader-ttl must be a number of seconds above 0"),
            (["--endpoints", "ftp://x"], [:], "ftp://x"),
            ([], ["FLEET_ENGINE_RECONCILE_INTERVAL": "soon"], "FLEET_ENGINE_RECONCILE_INTERVAL=soon"),
            (["--token-limit", "0"], [:], "--token-limit must be between 1 and 65535"),
            (["--listen", "nowhere"], [:], "nowhere"),
        ]
        for (arguments, environment, message) in cases {
            let result = try await BoundedCommand.run(binary, arguments, environment: environment, timeout: .seconds(20))
            #expect(result.exitCode != 0 && result.stderr.contains(message), "\(arguments) \(environment): \(result)")
        }
    }
}
