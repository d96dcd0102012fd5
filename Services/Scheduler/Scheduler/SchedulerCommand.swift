import KeysClient
import Logging
import ServiceKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `scheduler`'s whole life once its flags are parsed.
public enum SchedulerCommand {
    public static func run(options: SchedulerOptions, environment: [String: String]) async throws {
        ConcurrencyRuntime.sizeEventLoopsToAffinity()
        let configuration = try options.configuration(environment: environment, defaultName: defaultInstanceName())
        let (logger, metrics) = Observability.bootstrap(label: "scheduler", options: options.common.logging)
        try await KeysAPI.withClient(configuration: SchedulerServer.keysConfiguration(configuration), logger: logger) { keys in
            let services = SchedulerServer.services(configuration: configuration, keys: keys, logger: logger, registry: metrics) { url in
                ReadyLine.announce([("api", url)])
            }
            try await ServiceRunner.run(services: services, logger: logger)
        }
    }

    static func defaultInstanceName() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let named = buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { gethostname($0.baseAddress!, $0.count) == 0 }
        }
        let host = named ? String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self) : "scheduler"
        return "\(host)-\(getpid())"
    }
}
