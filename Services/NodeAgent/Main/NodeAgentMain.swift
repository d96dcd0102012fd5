import ArgumentParser
import KeysClient
import NodeAgent
import ServiceKit

/// One machine's agent: runs the units the scheduler placed here with systemd's semantics.
@main
struct NodeAgentMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node-agent",
        abstract: "Registers this machine and runs the units the scheduler places on it, through the etcd v2 keys API."
    )

    @OptionGroup var options: AgentOptions

    func run() async throws {
        ConcurrencyRuntime.sizeEventLoopsToAffinity()
        let configuration = try options.configuration(environment: ProcessEnvironment.current)
        let (logger, _) = Observability.bootstrap(label: "node-agent", options: options.common.logging)
        try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: configuration.endpoints), logger: logger) { keys in
            let services = AgentServer.services(configuration: configuration, keys: keys, logger: logger) { url in
                ReadyLine.announce([("agent", url)])
            }
            try await ServiceRunner.run(services: services, logger: logger)
        }
    }
}
