import HTTPServer
import KeysStore
import Logging
import Prometheus
import ServiceKit
import Synchronization

extension KVPeerOptions {
    /// What this member serves, from etcd's flags.
    public init(configuration: KVPeerConfiguration) {
        let tls: TLSOptions? = configuration.clientTLS.certFile.flatMap { cert in
            configuration.clientTLS.keyFile.map { key in
                TLSOptions(
                    certificateChainPath: cert, privateKeyPath: key,
                    trustedCAPath: configuration.clientTLS.trustedCAFiles.first,
                    requireClientCertificate: configuration.clientTLS.requiresClientCertificate
                )
            }
        }
        self.init(
            name: configuration.name,
            dataDirectory: configuration.dataDir,
            clientListeners: configuration.listenClientURLs.map { url in
                Listener(host: url.host, port: url.port, tls: url.scheme.isSecure ? tls : nil)
            },
            advertiseClientURLs: configuration.advertiseClientURLs.map(\.description),
            peerURLs: configuration.initialAdvertisePeerURLs.map(\.description),
            clusterToken: configuration.initialClusterToken,
            snapshotCount: configuration.snapshotCount
        )
    }
}

/// `kv-peer`'s whole life: parse etcd's flags, start the member, print the ready line, run until SIGTERM.
public enum KVPeerCommand {
    /// Returns the process exit code.
    public static func run(arguments: [String], environment: [String: String]) async -> Int32 {
        let configuration: KVPeerConfiguration
        let warnings: [String]
        do {
            switch try EtcdFlags.parse(arguments: arguments, environment: environment) {
            case .help(let usage):
                StandardStreams.write(usage + "\n", to: .output)
                return 0
            case .version:
                StandardStreams.write("kv-peer version \(ClusterRoutes.serverVersion) (etcd v2 API)\n", to: .output)
                return 0
            case .run(let parsed, let parsedWarnings):
                configuration = parsed
                warnings = parsedWarnings
            }
        } catch {
            StandardStreams.write("kv-peer: \(error.message)\n", to: .error)
            return error.exitCode
        }

        let (logger, registry) = Observability.bootstrap(label: "kv-peer", level: configuration.effectiveLogLevel.swiftLogLevel, format: .text)
        for warning in warnings { logger.warning("\(warning)") }

        let options = KVPeerOptions(configuration: configuration)
        let ready = ReadyTracker(listeners: options.clientListeners)
        do {
            let onListening: @Sendable (KVPeerOptions.Listener, Int) async -> Void = { listener, port in
                let scheme = listener.tls == nil ? "http" : "https"
                ready.bound(listener, url: "\(scheme)://\(listener.host):\(port)")
            }
            let services = configuration.proxy == .off
                ? try KVPeerServer.services(options: options, logger: logger, registry: registry, onListening: onListening)
                : ClusterProxyServer.services(configuration: configuration, options: options, logger: logger, onListening: onListening)
            try await ServiceRunner.run(services: services, logger: logger)
            return 0
        } catch {
            logger.critical("kv-peer stopped", metadata: ["error": "\(error)"])
            return 1
        }
    }
}

/// Prints the one ready line once every client listener has bound, in the order they were configured:
/// `listening client=… client=…`.
final class ReadyTracker: Sendable {
    private let listeners: [KVPeerOptions.Listener]
    private let bound: Mutex<[Int: String]>

    init(listeners: [KVPeerOptions.Listener]) {
        self.listeners = listeners
        bound = Mutex([:])
    }

    func bound(_ listener: KVPeerOptions.Listener, url: String) {
        let complete: [String]? = bound.withLock { bound in
            guard let slot = listeners.indices.first(where: { listeners[$0] == listener && bound[$0] == nil }) else { return nil }
            bound[slot] = url
            return bound.count == listeners.count ? listeners.indices.compactMap { bound[$0] } : nil
        }
        if let complete { ReadyLine.announce(complete.map { ("client", $0) }) }
    }
}

extension KVPeerConfiguration.LogLevel {
    var swiftLogLevel: Logger.Level {
        switch rawValue {
        case "debug": .debug
        case "warn", "warning": .warning
        case "error": .error
        case "dpanic", "panic", "fatal": .critical
        default: .info
        }
    }
}
