public import HTTPServer
import HTTPTypes
public import KeysStore
public import Logging
import NIOCore
public import Prometheus
import ServiceKit
public import ServiceLifecycle

/// Everything `kv-peer` needs to serve, resolved from etcd's flags by the executable.
public struct KVPeerOptions: Sendable {
    public struct Listener: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var tls: TLSOptions?
        public init(host: String, port: Int, tls: TLSOptions? = nil) {
            self.host = host
            self.port = port
            self.tls = tls
        }
    }

    public var name: String
    public var dataDirectory: String
    public var clientListeners: [Listener]
    public var advertiseClientURLs: [String]
    public var peerURLs: [String]
    public var clusterToken: String
    public var snapshotCount: UInt64
    public var maxRequestBytes: Int

    public init(
        name: String = "default", dataDirectory: String = "default.etcd",
        clientListeners: [Listener] = [Listener(host: "127.0.0.1", port: 2379), Listener(host: "127.0.0.1", port: 4001)],
        advertiseClientURLs: [String] = ["http://127.0.0.1:2379"], peerURLs: [String] = ["http://127.0.0.1:2380"],
        clusterToken: String = "etcd-cluster", snapshotCount: UInt64 = 100_000, maxRequestBytes: Int = 1_572_864
    ) {
        self.name = name
        self.dataDirectory = dataDirectory
        self.clientListeners = clientListeners
        self.advertiseClientURLs = advertiseClientURLs
        self.peerURLs = peerURLs
        self.clusterToken = clusterToken
        self.snapshotCount = snapshotCount
        self.maxRequestBytes = maxRequestBytes
    }
}

public enum KVPeerServer {
    /// Builds the router every client listener serves.
    static func router(service: StoreService, member: MemberIdentity, options: KVPeerOptions, registry: PrometheusCollectorRegistry?, clock: @escaping @Sendable () -> Timestamp) -> Router {
        var router = Router()
        router.use(CORSMiddleware())
        router.use(GoServeMuxMiddleware())
        router.use(MetricsMiddleware())
        router.notFound = { _, _ in EtcdResponses.notFound }
        router.methodNotAllowed = { allowed in
            { _, _ in EtcdResponses.methodNotAllowed(allow: allowed.map(\.rawValue).joined(separator: ",")) }
        }
        KeysRoutes(service: service, clusterID: member.hexClusterID, maxBodyBytes: options.maxRequestBytes, clock: clock).register(in: &router)
        ClusterRoutes(member: member, service: service, startTime: clock(), clock: clock).register(in: &router)
        LegacyV1Routes(service: service, clock: clock).register(in: &router)
        if let registry { router.addMetricsRoute(registry) }
        return router
    }

    /// One server per client listener, all answering with `responder`. Watches are long polls: etcd never times
    /// them out, so the idle timeout only applies between requests.
    static func clientServers(
        options: KVPeerOptions, responder: Responder, logger: Logger,
        onListening: @escaping @Sendable (_ listener: KVPeerOptions.Listener, _ port: Int) async -> Void
    ) -> [any Service] {
        var limits = ServerConfiguration.Limits()
        limits.maxBodyBytes = options.maxRequestBytes
        return options.clientListeners.map { listener in
            Server(
                configuration: ServerConfiguration(host: listener.host, port: listener.port, tls: listener.tls, limits: limits),
                responder: responder, logger: logger
            ) { address in
                await onListening(listener, address.port ?? listener.port)
            }
        }
    }

    /// The services of one member, in start order: the store (and its log) first, then the listeners.
    public static func services(
        options: KVPeerOptions, logger: Logger, registry: PrometheusCollectorRegistry?,
        clock: @escaping @Sendable () -> Timestamp = Timestamp.now,
        onListening: @escaping @Sendable (_ listener: KVPeerOptions.Listener, _ port: Int) async -> Void
    ) throws -> [any Service] {
        let service = try StoreService(dataDirectory: options.dataDirectory, snapshotCount: options.snapshotCount, logger: logger, clock: clock)
        let member = MemberIdentity(name: options.name, peerURLs: options.peerURLs, clientURLs: options.advertiseClientURLs, clusterToken: options.clusterToken)
        let responder = router(service: service, member: member, options: options, registry: registry, clock: clock).buildResponder()
        let servers = clientServers(options: options, responder: responder, logger: logger) { listener, port in
            member.advertised.bound(host: listener.host, port: port)
            await onListening(listener, port)
        }
        return [service] + servers
    }
}
