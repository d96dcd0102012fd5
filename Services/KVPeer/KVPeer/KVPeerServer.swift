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
    /// `--listen-peer-urls`; none for an in-process member of its own.
    public var peerListeners: [Listener] = []
    /// `--initial-cluster` grouped by name, in the order given; empty means this member alone.
    public var initialCluster: [(name: String, peerURLs: [String])] = []
    /// Set for `--initial-cluster-state existing`: what the running cluster reported about itself.
    public var join: JoinedCluster?
    public var heartbeatInterval: Duration = .milliseconds(100)
    public var electionTimeout: Duration = .milliseconds(1000)
    public var unsafeNoFsync = false
    public var strictReconfigCheck = true
    /// TLS towards other members (`--peer-cert-file` and friends), as a client.
    public var peerClientTLS: PeerClientTLS?

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

/// Holds client requests until the member has caught up with its own log and published itself.
struct ReadinessMiddleware: Middleware {
    let service: StoreService

    func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
        do {
            // A member stopping before it was ever ready must not hold its drain for these requests.
            try await cancelWhenGracefulShutdown { try await service.waitUntilReady() }
        } catch let error as StoreError {
            return error.response(base: [:], allocator: context.allocator)
        } catch is CancellationError {
            return StoreService.stoppedError.response(base: [:], allocator: context.allocator)
        }
        return try await next(request, context)
    }
}

/// A running cluster as a joining member learns it from its peers' `/members`.
public struct JoinedCluster: Sendable {
    public var clusterID: UInt64
    public var members: [ClusterMember]

    public init(clusterID: UInt64, members: [ClusterMember]) {
        self.clusterID = clusterID
        self.members = members
    }
}

public enum KVPeerServer {
    /// Builds the router every client listener serves.
    static func router(service: StoreService, member: MemberIdentity, options: KVPeerOptions, registry: PrometheusCollectorRegistry?, clock: @escaping @Sendable () -> Timestamp) -> Router {
        var router = Router()
        router.use(ReadinessMiddleware(service: service))
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

    /// The Raft settings and founding (or joining) members these options describe.
    static func cluster(options: KVPeerOptions, member: MemberIdentity) -> ClusterConfiguration {
        let founders = options.initialCluster.isEmpty
            ? [ClusterMember(id: member.id, name: member.name, peerURLs: member.peerURLs)]
            : options.initialCluster.map { entry in
                ClusterMember(id: ClusterMember.id(peerURLs: entry.peerURLs, clusterToken: options.clusterToken), name: entry.name, peerURLs: entry.peerURLs)
            }
        let heartbeat = max(options.heartbeatInterval, .milliseconds(1))
        var configuration = ClusterConfiguration(
            memberID: member.id, clusterID: member.clusterID,
            start: options.join.map { .join($0.members) } ?? .new(founders),
            tick: heartbeat, electionTicks: max(2, Int(options.electionTimeout / heartbeat)),
            clusterToken: options.clusterToken, unsafeNoFsync: options.unsafeNoFsync
        )
        configuration.strictReconfigCheck = options.strictReconfigCheck
        return configuration
    }

    /// The services of one member, in start order: the peer listeners (they must outlive the store, which may
    /// still hand leadership over while stopping), the store and its Raft loop, then the client listeners.
    public static func services(
        options: KVPeerOptions, logger: Logger, registry: PrometheusCollectorRegistry?,
        clock: @escaping @Sendable () -> Timestamp = Timestamp.now,
        onListening: @escaping @Sendable (_ listener: KVPeerOptions.Listener, _ port: Int) async -> Void,
        onPeerListening: @escaping @Sendable (_ listener: KVPeerOptions.Listener, _ port: Int) async -> Void = { _, _ in }
    ) throws -> [any Service] {
        let member = MemberIdentity(options: options)
        let service = try StoreService(
            dataDirectory: options.dataDirectory, snapshotCount: options.snapshotCount, cluster: cluster(options: options, member: member),
            peerTLS: try options.peerClientTLS?.configuration(), logger: logger, clock: clock
        )
        let responder = router(service: service, member: member, options: options, registry: registry, clock: clock).buildResponder()
        let servers = clientServers(options: options, responder: responder, logger: logger) { listener, port in
            member.advertised.bound(host: listener.host, port: port)
            await onListening(listener, port)
        }
        let peerResponder = PeerRoutes(service: service, clusterID: member.clusterID).router().buildResponder()
        let peerServers: [any Service] = options.peerListeners.map { listener in
            var limits = ServerConfiguration.Limits()
            limits.maxBodyBytes = PeerRoutes.maxBodyBytes
            return Server(
                configuration: ServerConfiguration(host: listener.host, port: listener.port, tls: listener.tls, limits: limits),
                responder: peerResponder, logger: logger
            ) { address in
                await onPeerListening(listener, address.port ?? listener.port)
            }
        }
        let publisher = AttributePublisher(service: service, name: options.name, member: member, listeners: options.clientListeners.count)
        return peerServers + [service, publisher] + servers
    }
}
