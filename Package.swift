// swift-tools-version:6.1
import PackageDescription

// Upcoming features adopted everywhere (STYLE.md §1.3): explicit `any`, imports that do not leak,
// and `public import` only where a re-export is intended.
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Flotilla",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HTTPServer", targets: ["HTTPServer"]),
        .library(name: "KeysClient", targets: ["KeysClient"]),
        .library(name: "ServiceKit", targets: ["ServiceKit"]),
        .library(name: "UnitFile", targets: ["UnitFile"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // JSON text as Go writes it; stdlib only, shared by the HTTP server and kv-peer's store.
        .target(name: "GoJSON", path: "Shared/GoJSON", swiftSettings: settings),
        .target(
            name: "HTTPServer",
            dependencies: [
                "GoJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP2", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/HTTPServer",
            swiftSettings: settings
        ),
        .target(
            name: "KeysClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Shared/KeysClient",
            swiftSettings: settings
        ),
        .target(
            name: "ServiceKit",
            dependencies: [
                "GoJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Shared/ServiceKit",
            swiftSettings: settings
        ),
        // kv-peer's v2 keyspace: a pure core (stdlib and GoJSON only).
        .target(name: "KeysStore", dependencies: ["GoJSON"], path: "Services/KVPeer/KeysStore", swiftSettings: settings),
        // Raft as a pure state machine in the style of etcd-io/raft's RawNode: ticks, messages and Ready, no I/O.
        .target(name: "RaftCore", dependencies: ["SeededRandom"], path: "Services/KVPeer/RaftCore", swiftSettings: settings),
        // Write-ahead log and snapshot files for kv-peer (stdlib + Glibc only).
        .target(name: "KVStorage", path: "Services/KVPeer/KVStorage", swiftSettings: settings),
        // kv-peer as a library: configuration, apply loop, HTTP API.
        .target(
            name: "KVPeer",
            dependencies: [
                "KeysStore", "KVStorage", "RaftCore", "HTTPServer", "ServiceKit", "GoJSON", "KeysClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/KVPeer/KVPeer",
            swiftSettings: settings
        ),
        .executableTarget(
            name: "kv-peer",
            dependencies: ["KVPeer", "ServiceKit"],
            path: "Services/KVPeer/Main",
            swiftSettings: settings
        ),
        // systemd unit files as fleet reads them: syntax, canonical form and hash, names, specifiers, [X-Fleet].
        .target(
            name: "UnitFile",
            dependencies: ["GoJSON", .product(name: "Crypto", package: "swift-crypto")],
            path: "Shared/UnitFile",
            swiftSettings: settings
        ),
        // A seedable generator for simulations and randomized tests (stdlib only).
        .target(name: "SeededRandom", path: "Shared/SeededRandom", swiftSettings: settings),
        // The scheduler's pure decision core: (units, machines, schedule) -> actions with reasons.
        .target(name: "SchedulerCore", dependencies: ["UnitFile"], path: "Services/Scheduler/SchedulerCore", swiftSettings: settings),
        // Where the scheduler, the agents and the CLI keep the cluster's units and machines in the keys API.
        .target(name: "FleetLayout", dependencies: ["SchedulerCore"], path: "Shared/FleetLayout", swiftSettings: settings),
        // The scheduler service: API v1, leader lease, engine loop.
        .target(
            name: "Scheduler",
            dependencies: [
                "SchedulerCore", "FleetLayout", "UnitFile", "SupervisorCore", "KeysClient", "HTTPServer", "ServiceKit", "GoJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/Scheduler/Scheduler",
            swiftSettings: settings
        ),
        .executableTarget(
            name: "scheduler",
            dependencies: ["Scheduler", "ServiceKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Scheduler/Main",
            swiftSettings: settings
        ),
        // The node agent's pure core: systemd service semantics as a state machine, command lines, environment.
        .target(name: "SupervisorCore", dependencies: ["UnitFile", "GoJSON"], path: "Services/NodeAgent/SupervisorCore", swiftSettings: settings),
        // The node agent's process shell: interprets SupervisorCore's effects with real processes, signals, pipes.
        .target(
            name: "ProcessSupervisor",
            dependencies: [
                "SupervisorCore", "UnitFile",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Services/NodeAgent/ProcessSupervisor",
            swiftSettings: settings
        ),
        // The node agent as a library: identity, presence, its own schedule, reconciliation.
        .target(
            name: "NodeAgent",
            dependencies: [
                "FleetLayout", "SchedulerCore", "KeysClient", "UnitFile", "SupervisorCore", "ProcessSupervisor", "HTTPServer", "ServiceKit",
                "HealthHysteresis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Services/NodeAgent/NodeAgent",
            swiftSettings: settings
        ),
        .executableTarget(
            name: "node-agent",
            dependencies: ["NodeAgent", "KeysClient", "ServiceKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/NodeAgent/Main",
            swiftSettings: settings
        ),
        // discovery-proxy's pure core: keys -> routes and instances, route matching, balancing, health timelines.
        .target(name: "ProxyCore", path: "Services/DiscoveryProxy/ProxyCore", swiftSettings: settings),
        // Rise/fall thresholds over periodic health checks (stdlib only): the proxy's instances, the agents' services.
        .target(name: "HealthHysteresis", path: "Shared/HealthHysteresis", swiftSettings: settings),
        // discovery-proxy as a library: the event-loop data path, the registry follower, TCP listeners, admin API.
        .target(
            name: "DiscoveryProxy",
            dependencies: [
                "ProxyCore", "HealthHysteresis", "KeysClient", "HTTPServer", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/DiscoveryProxy/DiscoveryProxy",
            swiftSettings: settings
        ),
        .executableTarget(
            name: "discovery-proxy",
            dependencies: ["DiscoveryProxy", "ServiceKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/DiscoveryProxy/Main",
            swiftSettings: settings
        ),
        // Drives bench/scheduler.sh: submits units, simulates machines, times placement; not a service.
        .executableTarget(
            name: "flotilla-bench-scheduler",
            dependencies: [
                "KeysClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/SchedulerBench",
            swiftSettings: settings
        ),
        // Serves one trivial route for bench/http.sh; not a service.
        .executableTarget(
            name: "flotilla-bench-http",
            dependencies: [
                "HTTPServer", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/HTTPBenchServer",
            swiftSettings: settings
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "HTTPServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: settings
        ),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: [
                "HTTPServer", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/HTTPServerTests",
            swiftSettings: settings
        ),
        .testTarget(
            name: "KeysClientTests",
            dependencies: [
                "KeysClient", "TestSupport", "HTTPServer",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/KeysClientTests",
            swiftSettings: settings
        ),
        .testTarget(name: "KVStorageTests", dependencies: ["KVStorage", "SeededRandom"], path: "Tests/KVStorageTests", swiftSettings: settings),
        .testTarget(
            name: "KVPeerTests",
            dependencies: [
                "KVPeer", "KeysStore", "KVStorage", "KeysClient", "RaftCore", "TestSupport", "HTTPServer", "SeededRandom", "Linearizability",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Tests/KVPeerTests",
            swiftSettings: settings
        ),
        .testTarget(
            name: "NodeAgentTests",
            dependencies: [
                "NodeAgent", "FleetLayout", "SchedulerCore", "KeysClient", "TestSupport", "UnitFile", "HTTPServer", "HealthHysteresis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/NodeAgentTests",
            swiftSettings: settings
        ),
        .testTarget(
            name: "ProcessSupervisorTests",
            dependencies: ["ProcessSupervisor", "SupervisorCore", "UnitFile", .product(name: "Logging", package: "swift-log")],
            path: "Tests/ProcessSupervisorTests",
            swiftSettings: settings
        ),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore", "SeededRandom"], path: "Tests/RaftCoreTests", swiftSettings: settings),
        .testTarget(name: "SupervisorCoreTests", dependencies: ["SupervisorCore", "UnitFile"], path: "Tests/SupervisorCoreTests", swiftSettings: settings),
        .testTarget(name: "UnitFileTests", dependencies: ["UnitFile", "SeededRandom"], path: "Tests/UnitFileTests", swiftSettings: settings),
        .testTarget(name: "SchedulerCoreTests", dependencies: ["SchedulerCore", "UnitFile", "SeededRandom"], path: "Tests/SchedulerCoreTests", swiftSettings: settings),
        .testTarget(
            name: "SchedulerTests",
            dependencies: [
                "Scheduler", "SchedulerCore", "FleetLayout", "UnitFile", "KeysClient", "TestSupport", "HTTPServer", "ServiceKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/SchedulerTests",
            swiftSettings: settings
        ),
        // Wing–Gong linearizability checking of recorded client histories (register, CAS register, keyed); for tests.
        .target(name: "Linearizability", path: "Tests/Linearizability", swiftSettings: settings),
        .testTarget(name: "LinearizabilityTests", dependencies: ["Linearizability", "SeededRandom"], path: "Tests/LinearizabilityTests", swiftSettings: settings),
        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore", "SeededRandom"], path: "Tests/ProxyCoreTests", swiftSettings: settings),
        .testTarget(name: "HealthHysteresisTests", dependencies: ["HealthHysteresis"], path: "Tests/HealthHysteresisTests", swiftSettings: settings),
        .testTarget(
            name: "DiscoveryProxyTests",
            dependencies: [
                "DiscoveryProxy", "ProxyCore", "KeysClient", "TestSupport", "HTTPServer", "ServiceKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/DiscoveryProxyTests",
            swiftSettings: settings
        ),
        .testTarget(name: "KeysStoreTests", dependencies: ["KeysStore"], path: "Tests/KeysStoreTests", swiftSettings: settings),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ServiceKitTests",
            swiftSettings: settings
        ),
    ]
)
