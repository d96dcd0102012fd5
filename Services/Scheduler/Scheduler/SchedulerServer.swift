import FleetLayout
import HTTPServer
import HTTPTypes
import NIOCore
public import KeysClient
public import Logging
public import Prometheus
public import ServiceLifecycle
import ServiceKit

/// One scheduler instance: the registry mirror, the engine campaigning for the lease, and the fleet API.
public enum SchedulerServer {
    /// The services to run for the lifetime of `keys`; `onListening` gets the API's URL once bound.
    public static func services(
        configuration: SchedulerConfiguration,
        keys: KeysAPI,
        logger: Logger,
        registry metricsRegistry: PrometheusCollectorRegistry? = nil,
        onListening: @escaping @Sendable (String) async -> Void
    ) -> [any Service] {
        let mirror = RegistryMirror(layout: configuration.layout)
        let registry = FleetRegistry(keys: keys, mirror: mirror)
        let engine = Engine(
            registry: registry,
            election: LeaderElection(client: keys, key: configuration.layout.leaderLease, candidate: configuration.name, ttl: configuration.leaderTTL),
            timings: Engine.Timings(reconcileInterval: configuration.reconcileInterval),
            logger: logger
        )
        let api = FleetAPI(registry: registry, tokenLimit: configuration.tokenLimit)
        var router = Router()
        router.use(FleetServerHeader(mirror: mirror))
        router.notFound = { _, _ in throw FleetAPIError(.notFound, "resource not found") }
        router.methodNotAllowed = { _ in { _, _ in throw FleetAPIError(.methodNotAllowed, "method not allowed") } }
        api.register(in: &router)
        if let metricsRegistry { router.addMetricsRoute(metricsRegistry) }
        let listen = configuration.listen
        let server = Server(
            configuration: ServerConfiguration(host: listen.host, port: listen.port),
            responder: router.buildResponder(),
            logger: logger
        ) { address in
            await onListening("\(listen.scheme)://\(listen.host):\(address.port ?? listen.port)")
        }
        let engineServices: [any Service] = configuration.disableEngine ? [] : [EngineService(engine: engine)]
        return [RegistryWatcher(registry: registry, logger: logger)] + engineServices + [server]
    }

    /// Keys API client settings for a scheduler: enough connections for a pass's concurrent writes.
    public static func keysConfiguration(_ configuration: SchedulerConfiguration) -> KeysClientConfiguration {
        KeysClientConfiguration(endpoints: configuration.endpoints, requestTimeout: configuration.requestTimeout, maxConnectionsPerEndpoint: 64)
    }
}

/// fleet stamps every response with `Server: fleetd/<version>`. Until the first read of the registry is in,
/// requests wait for it (then 503), rather than being served from an empty cluster.
struct FleetServerHeader: Middleware {
    let mirror: RegistryMirror

    func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
        var response: Response
        do {
            // Requests that arrive right after start-up wait for the first read rather than fail.
            let ready = request.path.hasSuffix("/discovery") ? true : await mirror.waitUntilLoaded(timeout: .seconds(5))
            guard ready else {
                throw FleetAPIError(.serviceUnavailable, "registry not loaded yet: the keys API has not answered")
            }
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = error.response(allocator: context.allocator)
        }
        response.headerFields[.server] = FleetAPI.serverHeader
        return response
    }
}
