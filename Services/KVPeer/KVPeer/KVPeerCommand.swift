import Foundation
import AsyncHTTPClient
import HTTPServer
import KeysClient
import KeysStore
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceKit
import Synchronization

extension KVPeerOptions {
    /// What this member serves, from etcd's flags.
    public init(configuration: KVPeerConfiguration) {
        let tls = configuration.clientTLS.serverOptions
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
        let peer = configuration.peerTLS
        peerListeners = configuration.listenPeerURLs.map { url in
            Listener(host: url.host, port: url.port, tls: url.scheme.isSecure ? peer.serverOptions : nil)
        }
        if !peer.isEmpty || configuration.initialAdvertisePeerURLs.contains(where: \.scheme.isSecure) {
            peerClientTLS = PeerClientTLS(certificateChainPath: peer.certFile, privateKeyPath: peer.keyFile, trustedCAPath: peer.trustedCAFiles.first)
        }
        initialCluster = Self.grouped(configuration.initialCluster.map { ($0.name, $0.peerURL.description) })
        heartbeatInterval = configuration.heartbeatInterval
        electionTimeout = configuration.electionTimeout
        unsafeNoFsync = configuration.unsafeNoFsync
        strictReconfigCheck = configuration.strictReconfigCheck
    }

    /// `name=url` pairs grouped by name, in the order names first appear (a member may list several URLs).
    static func grouped(_ pairs: [(String, String)]) -> [(name: String, peerURLs: [String])] {
        var order: [String] = []
        var urls: [String: [String]] = [:]
        for (name, url) in pairs {
            if urls[name] == nil { order.append(name) }
            urls[name, default: []].append(url)
        }
        return order.map { ($0, urls[$0]!.sorted()) }
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

        if let unsupported = unsupportedSetting(configuration) {
            StandardStreams.write("kv-peer: \(unsupported)\n", to: .error)
            return 1
        }
        let (logger, registry) = Observability.bootstrap(label: "kv-peer", level: configuration.effectiveLogLevel.swiftLogLevel, format: .text)
        for warning in warnings { logger.warning("\(warning)") }

        var options = KVPeerOptions(configuration: configuration)
        var proxyPeers: [String]?
        if let url = configuration.discovery, configuration.proxy == .off {
            switch await bootstrap(discovery: url, configuration: configuration, options: options, logger: logger) {
            case .success(.member(let cluster)):
                if let cluster { options.initialCluster = KVPeerOptions.grouped(cluster.map { ($0.name, $0.peerURL) }) }
            case .success(.full(let peers)): proxyPeers = peers
            case .failure(let message):
                logger.critical("\(message)")
                StandardStreams.write("kv-peer: \(message)\n", to: .error)
                return 1
            }
        }
        let isMember = configuration.proxy == .off && proxyPeers == nil
        if isMember && configuration.initialClusterState == .existing && !FileManager.default.fileExists(atPath: options.dataDirectory + "/member/wal") {
            switch await JoinLookup.cluster(options: options, logger: logger) {
            case .success(let joined): options.join = joined
            case .failure(let failure):
                logger.critical("\(failure)")
                StandardStreams.write("kv-peer: \(failure)\n", to: .error)
                return 1
            }
        }
        let ready = ReadyTracker(clients: options.clientListeners, peers: isMember ? options.peerListeners : [])
        do {
            let onListening: @Sendable (KVPeerOptions.Listener, Int) async -> Void = { listener, port in
                ready.bound(.client, listener, port: port)
            }
            let onPeerListening: @Sendable (KVPeerOptions.Listener, Int) async -> Void = { listener, port in
                ready.bound(.peer, listener, port: port)
            }
            let services = isMember
                ? try KVPeerServer.services(options: options, logger: logger, registry: registry, onListening: onListening, onPeerListening: onPeerListening)
                : ClusterProxyServer.services(configuration: configuration, options: options, logger: logger, peerURLs: proxyPeers, onListening: onListening)
            try await ServiceRunner.run(services: services, logger: logger)
            return 0
        } catch let removed as MemberRemoved {
            logger.notice("\(removed)")
            return 0
        } catch {
            logger.critical("kv-peer stopped", metadata: ["error": "\(error)"])
            return 1
        }
    }
}

extension KVPeerCommand {
    /// etcd settings kv-peer parses but does not implement. Starting anyway would do something else than asked
    /// (a member meant to rebuild or discover its cluster would found a new one), so they are refused.
    static func unsupportedSetting(_ configuration: KVPeerConfiguration) -> String? {
        if configuration.forceNewCluster { return "--force-new-cluster is not supported by kv-peer" }
        if configuration.discoverySRV != nil || configuration.discoverySRVName != nil {
            return "--discovery-srv is not supported by kv-peer; use --initial-cluster or --discovery"
        }
        if configuration.clientTLS.autoTLS && configuration.clientTLS.isEmpty {
            return "--auto-tls is not supported by kv-peer; give --cert-file and --key-file"
        }
        if configuration.peerTLS.autoTLS && configuration.peerTLS.isEmpty {
            return "--peer-auto-tls is not supported by kv-peer; give --peer-cert-file and --peer-key-file"
        }
        return nil
    }

    enum Bootstrap {
        /// This process is a member; the discovered founding members, or nil when bootstrapped before.
        case member([(name: String, peerURL: String)]?)
        /// Discovery found the cluster full and `--discovery-fallback proxy` applies: proxy to these peers.
        case full([String])
    }

    /// `--discovery`: register, wait for the cluster, and decide what this process becomes. A data directory
    /// that already holds a log was bootstrapped before; etcd ignores the token then, and so do we.
    static func bootstrap(discovery url: String, configuration: KVPeerConfiguration, options: KVPeerOptions, logger: Logger) async -> Result<Bootstrap, BootstrapFailure> {
        if FileManager.default.fileExists(atPath: options.dataDirectory + "/member/wal") {
            logger.notice("discovery token ignored: this member was bootstrapped before", metadata: ["data-dir": "\(options.dataDirectory)"])
            return .success(.member(nil))
        }
        do {
            let (endpoint, directory) = try Discovery.parse(url)
            let identity = MemberIdentity(name: options.name, peerURLs: options.peerURLs, clientURLs: options.advertiseClientURLs, clusterToken: options.clusterToken)
            let outcome = try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: logger) { keys in
                try await Discovery(keys: keys, directory: directory, memberID: identity.hexID, name: options.name, peerURLs: options.peerURLs, logger: logger).run()
            }
            switch outcome {
            case .member(let cluster):
                logger.info("discovery: the cluster is formed", metadata: ["initial-cluster": "\(cluster.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","))"])
                return .success(.member(cluster))
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

/// Prints the one ready line once every listener has bound, clients first, in the order they were
/// configured: `listening client=… client=… peer=…`.
final class ReadyTracker: Sendable {
    enum Kind: String { case client, peer }

    private let listeners: [(Kind, KVPeerOptions.Listener)]
    private let bound: Mutex<[Int: String]>

    init(clients: [KVPeerOptions.Listener], peers: [KVPeerOptions.Listener] = []) {
        listeners = clients.map { (.client, $0) } + peers.map { (.peer, $0) }
        bound = Mutex([:])
    }

    func bound(_ kind: Kind, _ listener: KVPeerOptions.Listener, port: Int) {
        let url = "\(listener.tls == nil ? "http" : "https")://\(listener.host):\(port)"
        let complete: [(String, String)]? = bound.withLock { bound in
            guard let slot = listeners.indices.first(where: { listeners[$0].0 == kind && listeners[$0].1 == listener && bound[$0] == nil }) else { return nil }
            bound[slot] = url
            return bound.count == listeners.count ? listeners.indices.compactMap { index in bound[index].map { (listeners[index].0.rawValue, $0) } } : nil
        }
        if let complete { ReadyLine.announce(complete) }
    }
}

extension KVPeerConfiguration.TLS {
    /// What a listener serves with these settings; nil without both a certificate and a key.
    var serverOptions: TLSOptions? {
        guard let certFile, let keyFile else { return nil }
        return TLSOptions(
            certificateChainPath: certFile, privateKeyPath: keyFile, trustedCAPath: trustedCAFiles.first,
            requireClientCertificate: requiresClientCertificate
        )
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

/// `--initial-cluster-state existing`: a new member learns the cluster it was added to from the other members
/// named in `--initial-cluster`, and finds itself in it by its peer URLs, as etcd's `GetClusterFromRemotePeers`.
enum JoinLookup {
    static func cluster(options: KVPeerOptions, logger: Logger) async -> Result<JoinedCluster, KVPeerCommand.BootstrapFailure> {
        let others = options.initialCluster.filter { Set($0.peerURLs).isDisjoint(with: options.peerURLs) }.flatMap(\.peerURLs)
        guard !others.isEmpty else {
            return .failure(.init("--initial-cluster-state existing needs the other members' peer URLs in --initial-cluster"))
        }
        for url in others {
            do {
                let (clusterID, members) = try await PeerMembers.fetch(from: url, client: HTTPClient.shared, timeout: .seconds(2))
                guard let clusterID else { continue }
                guard members.contains(where: { !Set($0.peerURLs).isDisjoint(with: options.peerURLs) }) else {
                    return .failure(.init("this member (peer URLs \(options.peerURLs.joined(separator: ","))) has not been added to the cluster at \(url); add it first with POST /v2/members"))
                }
                return .success(JoinedCluster(clusterID: clusterID, members: members))
            } catch {
                logger.warning("could not read the cluster's members", metadata: ["peer": "\(url)", "error": "\(error)"])
            }
        }
        return .failure(.init("could not read the cluster's members from any peer in --initial-cluster (\(others.joined(separator: ",")))"))
    }
}
