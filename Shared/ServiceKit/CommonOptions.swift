public import ArgumentParser
public import Logging

/// Logging flags every Flotilla executable takes (kv-peer included, beside etcd's own flags).
public struct LoggingOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel: Logger.Level = .info

    @Option(name: .customLong("log-format"), help: "text (human) or json (one object per line).")
    public var logFormat: LogFormat = .text

    public init() {}
}

public enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The options every service but kv-peer shares: where the keys API is, where to listen, where to keep state.
public struct CommonOptions: ParsableArguments, Sendable {
    public static let endpointsEnvironmentVariable = "FLOTILLA_ENDPOINTS"
    public static let defaultEndpoints = "http://127.0.0.1:2379"

    @Option(name: .customLong("endpoints"), help: "Comma-separated keys API URLs (env FLOTILLA_ENDPOINTS; default http://127.0.0.1:2379).")
    public var endpoints: String?

    @Option(name: .customLong("listen"), help: "Address of this service's own HTTP API, host:port or http(s)://host:port; port 0 picks a free one.")
    public var listen: String = "127.0.0.1:0"

    @Option(name: .customLong("data-dir"), help: "Directory for this service's state.")
    public var dataDir: String?

    @OptionGroup public var logging: LoggingOptions

    public init() {}

    public func validate() throws {
        _ = try ListenAddress(parsing: listen)
        if let endpoints { _ = try EndpointList(parsing: endpoints) }
    }

    /// The endpoints from the flag, else from `FLOTILLA_ENDPOINTS`, else the default. The environment is passed
    /// in so libraries never read it themselves.
    public func resolvedEndpoints(environment: [String: String]) throws -> EndpointList {
        let raw = endpoints ?? environment[Self.endpointsEnvironmentVariable].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultEndpoints
        return try EndpointList(parsing: raw)
    }

    public func listenAddress() throws -> ListenAddress { try ListenAddress(parsing: listen) }
}
