import ArgumentParser
import DiscoveryProxy
import ServiceKit

/// An HTTP/1.1, HTTP/2 and TCP load balancer that follows service instances in the etcd v2 keys API.
@main
struct DiscoveryProxyMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discovery-proxy",
        abstract: "Load-balances HTTP/1.1, HTTP/2 and TCP to the instances announced in the keys API, reconfiguring live."
    )

    @OptionGroup var options: ProxyOptions

    func run() async throws {
        try await ProxyCommand.run(options: options, environment: ProcessEnvironment.current)
    }
}
