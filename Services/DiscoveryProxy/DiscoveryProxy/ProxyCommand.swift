import KeysClient
import Logging
import ServiceKit

/// `discovery-proxy`'s whole life once its flags are parsed.
public enum ProxyCommand {
    public static func run(options: ProxyOptions, environment: [String: String]) async throws {
        ConcurrencyRuntime.sizeEventLoopsToAffinity()
        let configuration = try options.configuration(environment: environment)
        let (logger, metrics) = Observability.bootstrap(label: "discovery-proxy", options: options.common.logging)
        try await KeysAPI.withClient(configuration: DiscoveryProxyServer.keysConfiguration(configuration), logger: logger) { keys in
            let services = try DiscoveryProxyServer.services(configuration: configuration, keys: keys, logger: logger, registry: metrics) { urls in
                ReadyLine.announce(urls)
            }
            try await ServiceRunner.run(services: services, logger: logger, maximumGracefulShutdownDuration: configuration.drainTimeout + .seconds(5))
        }
    }
}
