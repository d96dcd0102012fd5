import Foundation
import HTTPServer
import KeysClient
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
        var proxyPeers: [String]?
        if let url = configuration.discovery, configuration.proxy == .off {
            switch await bootstrap(discovery: url, configuration: configuration, options: options, logger: logger) {
            case .success(.member): break
            case .success(.full(let peers)): proxyPeers = peers
            case .failure(let message):
                logger.critical("\(message)")
                StandardStreams.write("kv-peer: \(message)\n", to: .error)
                return 1
            }
        }
        let ready = ReadyTracker(listeners: options.clientListeners)
        do {
            let onListening: @Sendable (KVPeerOptions.Listener, Int) async -> Void = { listener, port in
                let scheme = listener.tls == nil ? "http" : "https"
                ready.bound(listener, url: "\(scheme)://\(listener.host):\(port)")
            }
            let services = configuration.proxy == .off && proxyPeers == nil
                ? try KVPeerServer.services(options: options, logger: logger, registry: registry, onListening: onListening)
                : ClusterProxyServer.services(configuration: configuration, options: options, logger: logger, peerURLs: proxyPeers, onListening: onListening)
            try await ServiceRunner.run(services: services, logger: logger)
            return 0
        } catch {
            logger.critical("kv-peer stopped", metadata: ["error": "\(error)"])
            return 1
        }
    }
}

extension KVPeerCommand {
    enum Bootstrap {
        case member
        /// Discovery found the cluster full and `--discovery-fallback proxy` applies: proxy to these peers.
        case full([String])
    }

    /// `--discovery`: register, wait for the cluster, and decide what this process becomes. A data directory
    /// that already holds a log was bootstrapped before; etcd ignores the token then, and so do we.
    static func bootstrap(discovery url: String, configuration: KVPeerConfiguration, options: KVPeerOptions, logger: Logger) async -> Result<Bootstrap, BootstrapFailure> {
        if FileManager.default.fileExists(atPath: options.dataDirectory + "/member/wal") {
            logger.notice("discovery token ignored: this member was bootstrapped before", metadata: ["data-dir": "\(options.dataDirectory)"])
            return .success(.member)
        }
        do {
            let (endpoint, directory) = try Discovery.parse(url)
            let identity = MemberIdentity(name: options.name, peerURLs: options.peerURLs, clientURLs: options.advertiseClientURLs, clusterToken: options.clusterToken)
            let outcome = try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: logger) { keys in
                try await Discovery(keys: keys, directory: directory, memberID: identity.hexID, name: options.name, peerURLs: options.peerURLs, logger: logger).run()
            }
            switch outcome {
            case .member(let cluster):
                let names = Set(cluster.map(\.name))
                guard names.count == 1 else {
                    return .failure(BootstrapFailure(
                        "discovery formed a cluster of \(names.count) members (\(cluster.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","))); "
                            + "kv-peer cannot run a multi-member cluster yet: Raft replication is not wired into kv-peer"
                    ))
                }
                logger.info("discovery: this member forms the cluster", metadata: ["initial-cluster": "\(cluster.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","))"])
                return .success(.member)
            case .full(let peers):
                guard configuration.discoveryFallback == .proxy else { return .failure(BootstrapFailure("discovery failed: \(Discovery.Failure.fullCluster)")) }
                logger.notice("discovery cluster full, falling back to proxy", metadata: ["peers": "\(peers.joined(separator: ","))"])
                return .success(.full(peers))
            }
        } catch let failure as Discovery.Failure {
            return .failure(BootstrapFailure("discovery failed: \(failure)"))
        } catch {
            return .failure(BootstrapFailure("discovery failed: \(error)"))
        }
    }

    struct BootstrapFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
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
