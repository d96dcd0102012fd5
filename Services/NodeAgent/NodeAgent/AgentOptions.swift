public import ArgumentParser
public import FleetLayout
public import ServiceKit

/// `node-agent`'s command line; timings also from fleet-style `FLEET_*` variables (flag > variable > default).
public struct AgentOptions: ParsableArguments, Sendable {
    @OptionGroup public var common: CommonOptions

    @Option(name: .customLong("machine-id"), help: "This machine's ID (default: /etc/machine-id, else one generated and kept in --data-dir).")
    public var machineID: String?

    @Option(name: .customLong("public-ip"), help: "Address other machines reach this one at (default: the default route's IPv4 address).")
    public var publicIP: String?

    @Option(name: .customLong("metadata"), help: "Machine metadata, key=value,key2=value2 (env FLEET_METADATA).")
    public var metadata: String?

    @Option(name: .customLong("agent-ttl"), help: "Seconds this machine's presence lives without a heartbeat (env FLEET_AGENT_TTL; default 5).")
    public var agentTTL: Double?

    @Option(name: .customLong("key-prefix"), help: "Keys API directory of the scheduler's state (env FLEET_ETCD_KEY_PREFIX; default /_coreos.com/fleet/).")
    public var keyPrefix: String?

    public init() {}

    public func validate() throws { try common.validate() }
}

/// The agent's settings once flags, environment and defaults are merged.
public struct AgentConfiguration: Sendable {
    public var endpoints: [String]
    public var listen: ListenAddress
    public var dataDirectory: String
    public var layout: FleetKeyLayout
    public var identity: MachineIdentity
    public var ttl: Duration

    public init(endpoints: [String], listen: ListenAddress, dataDirectory: String, layout: FleetKeyLayout, identity: MachineIdentity, ttl: Duration) {
        self.endpoints = endpoints
        self.listen = listen
        self.dataDirectory = dataDirectory
        self.layout = layout
        self.identity = identity
        self.ttl = ttl
    }
}

extension AgentOptions {
    public func configuration(environment: [String: String]) throws -> AgentConfiguration {
        let dataDirectory = common.dataDir ?? "./node-agent.data"
        let ttlSeconds: Double
        if let agentTTL {
            ttlSeconds = agentTTL
        } else if let raw = environment["FLEET_AGENT_TTL"], !raw.isEmpty {
            guard let parsed = Double(raw.hasSuffix("s") ? String(raw.dropLast()) : raw) else {
                throw ValidationError("FLEET_AGENT_TTL=\(raw): expected a number of seconds")
            }
            ttlSeconds = parsed
        } else {
            ttlSeconds = 5
        }
        guard ttlSeconds >= 1, ttlSeconds <= 3600 else { throw ValidationError("--agent-ttl must be between 1 and 3600 seconds, got \(ttlSeconds)") }
        let identity = MachineIdentity(
            id: try MachineIdentity.resolveID(flag: machineID, dataDirectory: dataDirectory),
            publicIP: publicIP ?? MachineIdentity.detectPublicIP(),
            metadata: try MachineIdentity.parseMetadata(metadata ?? environment["FLEET_METADATA"] ?? "")
        )
        let prefix = keyPrefix ?? environment["FLEET_ETCD_KEY_PREFIX"].flatMap { $0.isEmpty ? nil : $0 } ?? FleetKeyLayout.defaultPrefix
        return AgentConfiguration(
            endpoints: try common.resolvedEndpoints(environment: environment).urls,
            listen: try common.listenAddress(),
            dataDirectory: dataDirectory,
            layout: FleetKeyLayout(prefix: prefix),
            identity: identity,
            ttl: .milliseconds(Int64(ttlSeconds * 1000))
        )
    }
}
