import FleetLayout
import ArgumentParser
import Scheduler
import Testing

/// Flags win over `FLEET_*` variables, which win over the defaults.
@Suite("scheduler options")
struct SchedulerOptionsTests {
    func configuration(_ arguments: [String], _ environment: [String: String] = [:]) throws -> SchedulerConfiguration {
        try SchedulerOptions.parse(arguments).configuration(environment: environment, defaultName: "host-1")
    }

    @Test("defaults: fleet's prefix, 2 s passes, a 5 s lease, pages of 100")
    func defaults() throws {
        let defaults = try configuration([])
        #expect(defaults.endpoints == ["http://127.0.0.1:2379"])
        #expect(defaults.layout.prefix == "/_coreos.com/fleet/")
        #expect(defaults.reconcileInterval == .seconds(2) && defaults.leaderTTL == .seconds(5))
        #expect(defaults.tokenLimit == 100 && defaults.name == "host-1" && !defaults.disableEngine)
    }

    @Test("FLEET_* variables configure, and flags override them")
    func environment() throws {
        let environment = [
            "FLEET_ENGINE_RECONCILE_INTERVAL": "8", "FLEET_ENGINE_LEADER_TTL": "3.5s", "FLEET_ETCD_REQUEST_TIMEOUT": "3.0",
            "FLEET_TOKEN_LIMIT": "50", "FLEET_ETCD_KEY_PREFIX": "/custom/fleet", "FLEET_NAME": "from-env",
            "FLEET_DISABLE_ENGINE": "true", "FLOTILLA_ENDPOINTS": "http://127.0.0.1:4001,http://127.0.0.1:2379",
        ]
        let fromEnvironment = try configuration([], environment)
        #expect(fromEnvironment.reconcileInterval == .seconds(8) && fromEnvironment.leaderTTL == .milliseconds(3500))
        #expect(fromEnvironment.requestTimeout == .seconds(3) && fromEnvironment.tokenLimit == 50)
        #expect(fromEnvironment.layout.prefix == "/custom/fleet/" && fromEnvironment.name == "from-env" && fromEnvironment.disableEngine)
        #expect(fromEnvironment.endpoints == ["http://127.0.0.1:4001", "http://127.0.0.1:2379"])

        let flags = try configuration(["--engine-reconcile-interval", "1", "--token-limit", "10", "--name", "flag", "--endpoints", "http://127.0.0.1:1"], environment)
        #expect(flags.reconcileInterval == .seconds(1) && flags.tokenLimit == 10 && flags.name == "flag")
        #expect(flags.endpoints == ["http://127.0.0.1:1"])
    }

    @Test("bad values name the flag or variable", arguments: [
        (["--leader-ttl", "-1"], [:], "--leader-ttl"),
        ([], ["FLEET_ENGINE_LEADER_TTL": "forever"], "FLEET_ENGINE_LEADER_TTL=forever"),
        ([], ["FLEET_TOKEN_LIMIT": "many"], "FLEET_TOKEN_LIMIT=many"),
        (["--token-limit", "70000"], [:], "--token-limit"),
        (["--key-prefix", "/"], [:], "--key-prefix"),
    ] as [([String], [String: String], String)])
    func badValues(arguments: [String], environment: [String: String], message: String) {
        #expect {
            try configuration(arguments, environment)
        } throws: { error in
            "\(error)".contains(message) || SchedulerOptions.message(for: error).contains(message)
        }
    }
}
