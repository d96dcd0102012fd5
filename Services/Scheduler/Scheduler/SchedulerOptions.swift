public import FleetLayout
public import ArgumentParser
public import ServiceKit

/// `scheduler`'s command line. Timings also come from fleet-style `FLEET_*` environment variables; a flag
/// wins over the variable, the variable over the default.
public struct SchedulerOptions: ParsableArguments, Sendable {
    @OptionGroup public var common: CommonOptions

    @Option(name: .customLong("key-prefix"), help: "Keys API directory holding the scheduler's state (env FLEET_ETCD_KEY_PREFIX; default /_coreos.com/fleet/).")
    public var keyPrefix: String?

    @Option(name: .customLong("engine-reconcile-interval"), help: "Seconds between backstop scheduling passes; passes normally follow changes at once (env FLEET_ENGINE_RECONCILE_INTERVAL; default 2).")
    public var reconcileInterval: Double?

    @Option(name: .customLong("leader-ttl"), help: "Seconds the leader lease lives without renewal; failover takes at most this plus a second (env FLEET_ENGINE_LEADER_TTL; default 5).")
    public var leaderTTL: Double?

    @Option(name: .customLong("etcd-request-timeout"), help: "Seconds one keys API request may take (env FLEET_ETCD_REQUEST_TIMEOUT; default 2).")
    public var requestTimeout: Double?

    @Option(name: .customLong("token-limit"), help: "Entries per page of the API's listings (env FLEET_TOKEN_LIMIT; default 100).")
    public var tokenLimit: Int?

    @Flag(name: .customLong("disable-engine"), help: "Serve the API only; never campaign to lead (env FLEET_DISABLE_ENGINE=true).")
    public var disableEngine = false

    @Option(name: .customLong("name"), help: "This instance's name in the leader lease (env FLEET_NAME; default host name and process ID).")
    public var name: String?

    public init() {}

    public func validate() throws {
        try common.validate()
    }
}

/// The scheduler's settings once flags, environment and defaults are merged.
public struct SchedulerConfiguration: Sendable {
    public var endpoints: [String]
    public var listen: ListenAddress
    public var layout: FleetKeyLayout
    public var reconcileInterval: Duration
    public var leaderTTL: Duration
    public var requestTimeout: Duration
    public var tokenLimit: Int
    public var name: String
    /// An API-only instance: it never campaigns for the leader lease.
    public var disableEngine: Bool

    public init(
        endpoints: [String], listen: ListenAddress, layout: FleetKeyLayout = FleetKeyLayout(),
        reconcileInterval: Duration = .seconds(2), leaderTTL: Duration = .seconds(5), requestTimeout: Duration = .seconds(2),
        tokenLimit: Int = 100, name: String, disableEngine: Bool = false
    ) {
        self.endpoints = endpoints
        self.listen = listen
        self.layout = layout
        self.reconcileInterval = reconcileInterval
        self.leaderTTL = leaderTTL
        self.requestTimeout = requestTimeout
        self.tokenLimit = tokenLimit
        self.name = name
        self.disableEngine = disableEngine
    }
}

extension SchedulerOptions {
    public func configuration(environment: [String: String], defaultName: String) throws -> SchedulerConfiguration {
        func seconds(_ flag: Double?, _ variable: String, default value: Double, flagName: String) throws -> Duration {
            let chosen: Double
            if let flag {
                chosen = flag
            } else if let raw = environment[variable], !raw.isEmpty {
                guard let parsed = Double(raw.hasSuffix("s") ? String(raw.dropLast()) : raw) else {
                    throw ValidationError("\(variable)=\(raw): expected a number of seconds")
                }
                chosen = parsed
            } else {
                chosen = value
            }
            guard chosen > 0, chosen.isFinite, chosen < 86_400 else {
                throw ValidationError("\(flagName) must be a number of seconds above 0, got \(chosen)")
            }
            return .milliseconds(Int64((chosen * 1000).rounded()))
        }
        let limit: Int
        if let tokenLimit {
            limit = tokenLimit
        } else if let raw = environment["FLEET_TOKEN_LIMIT"], !raw.isEmpty {
            guard let parsed = Int(raw) else { throw ValidationError("FLEET_TOKEN_LIMIT=\(raw): expected a whole number") }
            limit = parsed
        } else {
            limit = 100
        }
        guard (1...Int(UInt16.max)).contains(limit) else { throw ValidationError("--token-limit must be between 1 and 65535, got \(limit)") }
        let prefix = keyPrefix ?? environment["FLEET_ETCD_KEY_PREFIX"].flatMap { $0.isEmpty ? nil : $0 } ?? FleetKeyLayout.defaultPrefix
        guard prefix != "/", !prefix.contains("//") else { throw ValidationError("--key-prefix must name a directory below /, got \"\(prefix)\"") }
        let instance = name ?? environment["FLEET_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultName
        return SchedulerConfiguration(
            endpoints: try common.resolvedEndpoints(environment: environment).urls,
            listen: try common.listenAddress(),
            layout: FleetKeyLayout(prefix: prefix),
            reconcileInterval: try seconds(reconcileInterval, "FLEET_ENGINE_RECONCILE_INTERVAL", default: 2, flagName: "--engine-reconcile-interval"),
            leaderTTL: try seconds(leaderTTL, "FLEET_ENGINE_LEADER_TTL", default: 5, flagName: "--leader-ttl"),
            requestTimeout: try seconds(requestTimeout, "FLEET_ETCD_REQUEST_TIMEOUT", default: 2, flagName: "--etcd-request-timeout"),
            tokenLimit: limit,
            name: instance,
            disableEngine: disableEngine || ["true", "1", "yes", "on"].contains(environment["FLEET_DISABLE_ENGINE"]?.lowercased() ?? "")
        )
    }
}
