import Foundation
import HTTPServer
import HTTPTypes
import NIOCore
import ProxyCore
import Synchronization

/// The proxy's own API on `--listen`: what it believes right now and how its watch is doing.
///
/// - `GET /status` — routes, services with each instance's state, TCP listeners, refused keys, watch health.
/// - `GET /health` — 200 once the first read of the keys is in, 503 before.
/// - `GET /metrics` — Prometheus text.
enum AdminAPI {
    struct Status: Encodable {
        struct Watch: Encodable {
            var index: UInt64
            var lastSyncAgeSeconds: Double?
            var resyncs: Int
            var storeReachable: Bool
            var lastError: String?
            var loaded: Bool
        }
        struct Route: Encodable {
            var name: String
            var host: String?
            var path: String
            var service: String
            var policy: String
            var retries: Int
            var connectTimeout: String
            var responseHeaderTimeout: String
            var healthCheck: String?
        }
        struct Instance: Encodable {
            var instance: String
            var host: String
            var port: Int
            var weight: Int
            var state: String
            var activeRequests: Int
            var consecutiveFailures: Int
            var ejectedForSeconds: Double?
            var checksHealthy: Bool?
        }
        struct TCPListener: Encodable {
            var name: String
            var listen: String
            var boundAddress: String?
            var service: String
            var error: String?
        }
        var watch: Watch
        var routes: [Route]
        var services: [String: [Instance]]
        var tcp: [TCPListener]
        var invalidKeys: [String: String]
        var generation: UInt64
    }

    static func status(state: ProxyState, follower: RegistryFollower, tcp: TCPListeners, watch: WatchStatus) -> Status {
        let snapshot = state.snapshot
        let now = ProxyClock.now()
        let watchState = watch.snapshot
        let routes = snapshot.routes.values.map(\.spec).sorted { $0.name < $1.name }.map { spec in
            Status.Route(
                name: spec.name, host: spec.host, path: spec.pathPrefix, service: spec.service, policy: spec.policy.rawValue,
                retries: spec.retries, connectTimeout: ProxyDuration.format(spec.connectTimeout),
                responseHeaderTimeout: ProxyDuration.format(spec.responseHeaderTimeout), healthCheck: spec.healthCheck?.path
            )
        }
        var services: [String: [Status.Instance]] = [:]
        for (service, pool) in snapshot.pools {
            services[service] = pool.map { upstream in
                let health = upstream.healthSnapshot(now: now)
                var state = upstream.phase.rawValue
                var ejectedFor: Double?
                if case .ejected(let until) = health.passive {
                    state = "ejected"
                    ejectedFor = Self.seconds(until - now)
                } else if health.checksHealthy == false {
                    state = "unhealthy"
                }
                return Status.Instance(
                    instance: upstream.instance, host: upstream.endpoint.host, port: upstream.endpoint.port, weight: upstream.endpoint.weight,
                    state: state, activeRequests: upstream.activeRequests.load(ordering: .relaxed), consecutiveFailures: health.failures,
                    ejectedForSeconds: ejectedFor, checksHealthy: health.checksHealthy
                )
            }
        }
        let listeners = tcp.status.sorted { $0.key < $1.key }.map { name, status in
            Status.TCPListener(
                name: name, listen: "\(status.spec.listenHost):\(status.spec.listenPort)", boundAddress: status.boundAddress,
                service: status.spec.service, error: status.error
            )
        }
        return Status(
            watch: Status.Watch(
                index: watchState.index, lastSyncAgeSeconds: watchState.lastSync.map { seconds(.now - $0) }, resyncs: watchState.resyncs,
                storeReachable: watchState.reachable, lastError: watchState.lastError, loaded: watchState.loaded
            ),
            routes: routes,
            services: services,
            tcp: listeners,
            invalidKeys: follower.currentView.invalid.mapValues(\.description),
            generation: snapshot.generation
        )
    }

    static func register(in router: inout Router, state: ProxyState, follower: RegistryFollower, tcp: TCPListeners, watch: WatchStatus) {
        router.get("/status") { _, _ in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let body = try encoder.encode(status(state: state, follower: follower, tcp: tcp, watch: watch))
            return Response(headerFields: [.contentType: "application/json"], body: ResponseBody(buffer: ByteBuffer(bytes: body)))
        }
        router.get("/health") { _, _ in
            let loaded = watch.snapshot.loaded
            return Response(
                status: loaded ? .ok : .serviceUnavailable,
                headerFields: [.contentType: "application/json"],
                body: ResponseBody(string: loaded ? "{\"health\":\"true\"}\n" : "{\"health\":\"false\",\"reason\":\"keys not read yet\"}\n")
            )
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return ((Double(seconds) + Double(attoseconds) / 1e18) * 1000).rounded() / 1000
    }
}
