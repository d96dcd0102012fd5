import HTTPServer
public import KeysClient
public import Logging
import NIOCore
import NIOPosix
public import Prometheus
import ProxyCore
public import ServiceLifecycle
import ServiceKit
import Synchronization

/// One discovery-proxy: the registry follower, the data listeners (HTTP/1.1 + h2c, TLS), TCP listeners made
/// from keys, active health checks, and the admin API.
public enum DiscoveryProxyServer {
    /// The services to run for the lifetime of `keys`. `onListening` gets every bound address by name
    /// (`admin`, `http`, `https`) once all are bound.
    public static func services(
        configuration: ProxyConfiguration,
        keys: KeysAPI,
        logger: Logger,
        registry: PrometheusCollectorRegistry,
        onListening: @escaping @Sendable ([(name: String, url: String)]) async -> Void
    ) throws -> [any Service] {
        let state = ProxyState(staticRoutes: configuration.staticRoutes, drainTimeout: configuration.drainTimeout, metricsRegistry: registry, logger: logger)
        let group = MultiThreadedEventLoopGroup.singleton
        let pools = PoolDirectory(group: group)
        let accessLog = try configuration.accessLog.map { try AccessLog(destination: $0) }
        let runtime = ProxyRuntime(state: state, pools: pools, accessLog: accessLog, metrics: ProxyMetrics(registry: registry), logger: logger)
        let tcp = TCPListeners(state: state, logger: logger)
        let watch = WatchStatus()
        let follower = RegistryFollower(
            keys: keys, state: state, tcp: tcp, status: watch, servicesPrefix: configuration.servicesPrefix,
            proxyPrefix: configuration.proxyPrefix, resyncInterval: configuration.resyncInterval, logger: logger
        )

        var names = ["admin", "http"]
        if configuration.https != nil { names.append("https") }
        let ready = ReadyCollector(expected: names, onReady: onListening)

        var router = Router()
        AdminAPI.register(in: &router, state: state, follower: follower, tcp: tcp, watch: watch)
        router.addMetricsRoute(registry)
        let admin = configuration.admin
        let adminServer = Server(configuration: ServerConfiguration(host: admin.host, port: admin.port), responder: router.buildResponder(), logger: logger) { address in
            await ready.report("admin", url: "\(admin.scheme)://\(admin.host):\(address.port ?? admin.port)")
        }

        var limits = ServerConfiguration.Limits()
        limits.idleTimeout = configuration.clientIdleTimeout
        limits.maxConnections = configuration.maxConnections
        limits.maxHeaderBytes = 64 * 1024
        let makeHandler: ChannelHandlerServer.MakeHandler = { _, connection in
            HTTPProxyHandler(runtime: runtime, connection: connection)
        }
        var data: [any Service] = []
        let http = configuration.http
        data.append(
            ChannelHandlerServer(
                configuration: ServerConfiguration(host: http.host, port: http.port, limits: limits, shutdownDrainTimeout: configuration.drainTimeout),
                logger: logger, makeHandler: makeHandler
            ) { address in
                await ready.report("http", url: "http://\(http.host):\(address.port ?? http.port)")
            }
        )
        if let https = configuration.https, let tls = configuration.tls {
            data.append(
                ChannelHandlerServer(
                    configuration: ServerConfiguration(host: https.host, port: https.port, tls: tls, limits: limits, shutdownDrainTimeout: configuration.drainTimeout),
                    logger: logger, makeHandler: makeHandler
                ) { address in
                    await ready.report("https", url: "https://\(https.host):\(address.port ?? https.port)")
                }
            )
        }
        let housekeeping = Housekeeping(pools: pools, accessLog: accessLog, watchGauges: WatchGauges(registry: registry, watch: watch))
        // A ServiceGroup stops services in reverse order: client listeners drain first, the follower goes last.
        return [follower, ActiveHealthChecker(state: state, logger: logger), housekeeping, adminServer] + data
    }

    /// Keys API client settings for a proxy: two watches and a periodic read need few connections.
    public static func keysConfiguration(_ configuration: ProxyConfiguration) -> KeysClientConfiguration {
        KeysClientConfiguration(endpoints: configuration.endpoints, maxConnectionsPerEndpoint: 8)
    }
}

/// Prints nothing until every listener has bound, then hands all addresses over at once (one ready line).
private actor ReadyCollector {
    private let expected: [String]
    private var urls: [String: String] = [:]
    private let onReady: @Sendable ([(name: String, url: String)]) async -> Void

    init(expected: [String], onReady: @escaping @Sendable ([(name: String, url: String)]) async -> Void) {
        self.expected = expected
        self.onReady = onReady
    }

    func report(_ name: String, url: String) async {
        urls[name] = url
        guard urls.count == expected.count else { return }
        await onReady(expected.map { ($0, urls[$0]!) })
    }
}

/// Idle upstream connections swept on every loop, the access log flushed every 100 ms, the watch gauges
/// refreshed every second (swift-prometheus has no scrape-time callbacks); all stopped at shutdown.
private struct Housekeeping: Service {
    let pools: PoolDirectory
    let accessLog: AccessLog?
    let watchGauges: WatchGauges

    func run() async throws {
        pools.startSweeping(idleTimeout: .seconds(60))
        await cancelWhenGracefulShutdown {
            var tick = 0
            while !Task.isCancelled {
                if tick % 10 == 0 { watchGauges.refresh() }
                accessLog?.flush()
                tick += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        accessLog?.flush()
        pools.stop()
    }
}

struct WatchGauges: Sendable {
    let watch: WatchStatus
    let index: Gauge
    let age: Gauge
    let reachable: Gauge
    let resyncs: Gauge

    init(registry: PrometheusCollectorRegistry, watch: WatchStatus) {
        self.watch = watch
        index = registry.makeGauge(descriptor: ProxyMetricName.make("watch_index", unit: "", help: "Keys API index the routing table reflects."))
        age = registry.makeGauge(descriptor: ProxyMetricName.make("watch_last_sync_age", unit: "seconds", help: "Time since the last event or read from the keys API."))
        reachable = registry.makeGauge(descriptor: ProxyMetricName.make("keys_reachable", unit: "", help: "1 while the keys API answers, 0 while the last known table is served."))
        resyncs = registry.makeGauge(descriptor: ProxyMetricName.make("watch_resyncs", unit: "", help: "Re-reads after the watch fell out of the event history."))
    }

    func refresh() {
        let state = watch.snapshot
        index.set(Double(state.index))
        age.set(state.lastSync.map { Double((ContinuousClock.now - $0).components.seconds) } ?? Double(-1))
        reachable.set(state.reachable ? Double(1) : Double(0))
        resyncs.set(Double(state.resyncs))
    }
}
