import Logging
import NIOCore
import Prometheus
import ProxyCore
import Synchronization

/// Monotonic time for health decisions, as the pure core takes it: a `Duration` since process start.
enum ProxyClock {
    private static let origin = ContinuousClock.now
    static func now() -> Duration { ContinuousClock.now - origin }
}

/// A route with its balancer. Kept across reconfigurations while its spec is unchanged, so round robin
/// continues where it was instead of sending the next request of every proxy to the first instance.
final class RouteRuntime: Sendable {
    let spec: RouteSpec
    private let balancer: Mutex<Balancer>

    init(spec: RouteSpec) {
        self.spec = spec
        self.balancer = Mutex(Balancer(policy: spec.policy))
    }

    func choose(from pool: [Upstream], excluding tried: [Int], now: Duration) -> Upstream? {
        UpstreamChooser.choose(from: pool, excluding: tried, now: now, balancer: balancer)
    }
}

enum UpstreamChooser {
    /// Picks an instance for a new attempt. When passive or active health has taken every instance out, all
    /// registered ones are candidates again: a guess beats a certain 502 (Envoy's panic threshold at 100%).
    static func choose(from pool: [Upstream], excluding tried: [Int], now: Duration, balancer: borrowing Mutex<Balancer>) -> Upstream? {
        let untried = tried.isEmpty ? pool.filter(\.isActive) : pool.filter { $0.isActive && !tried.contains($0.id) }
        var candidates = untried.allSatisfy({ $0.isAvailable(now: now) }) ? untried : untried.filter { $0.isAvailable(now: now) }
        if candidates.isEmpty { candidates = untried }
        guard !candidates.isEmpty else { return nil }
        let input = candidates.map { BalancerCandidate(id: $0.id, weight: $0.endpoint.weight, active: $0.activeRequests.load(ordering: .relaxed)) }
        guard let index = balancer.withLock({ $0.pick(input) }) else { return nil }
        return candidates[index]
    }
}

/// What the data path reads on every request: one immutable value, replaced as a whole on every change.
struct RoutingSnapshot: Sendable {
    var table = RouteTable(routes: [])
    var routes: [String: RouteRuntime] = [:]
    /// Registered instances by service; retired ones are gone from here at once.
    var pools: [String: [Upstream]] = [:]
    var tcpListeners: [String: TCPListenerSpec] = [:]
    var generation: UInt64 = 0
}

/// Turns the registry view into the routing snapshot, keeping the identity of unchanged instances and routes,
/// and retires removed instances the way their key went: drained when deleted, ejected when expired.
final class ProxyState: Sendable {
    private struct Book {
        var upstreams: [String: Upstream] = [:]
        var routes: [String: RouteRuntime] = [:]
        var nextID = 1
        var healthChecks: [String: HealthCheckSpec] = [:]
    }

    private let current = Mutex(RoutingSnapshot())
    private let book = Mutex(Book())
    let staticRoutes: [RouteSpec]
    let drainTimeout: Duration
    let metricsRegistry: PrometheusCollectorRegistry
    let logger: Logger

    init(staticRoutes: [RouteSpec], drainTimeout: Duration, metricsRegistry: PrometheusCollectorRegistry, logger: Logger) {
        self.staticRoutes = staticRoutes
        self.drainTimeout = drainTimeout
        self.metricsRegistry = metricsRegistry
        self.logger = logger
        rebuild(from: RegistryView(), removals: [])
    }

    var snapshot: RoutingSnapshot { current.withLock { $0 } }

    /// The service's health-check spec, from the first route (by name) that names the service and has one.
    var healthChecks: [String: HealthCheckSpec] { book.withLock { $0.healthChecks } }

    func rebuild(from view: RegistryView, removals: [RemovedInstance]) {
        var routeSpecs: [String: RouteSpec] = [:]
        for spec in staticRoutes { routeSpecs[spec.name] = spec }
        for (name, spec) in view.routes { routeSpecs[name] = spec }
        let ordered = routeSpecs.values.sorted { $0.name < $1.name }

        let (retired, snapshot) = book.withLock { book -> ([(Upstream, Upstream.Phase)], RoutingSnapshot) in
            var routes: [String: RouteRuntime] = [:]
            for spec in ordered {
                if let existing = book.routes[spec.name], existing.spec == spec {
                    routes[spec.name] = existing
                } else {
                    routes[spec.name] = RouteRuntime(spec: spec)
                }
            }
            book.routes = routes
            var checks: [String: HealthCheckSpec] = [:]
            for spec in ordered where checks[spec.service] == nil {
                if let check = spec.healthCheck { checks[spec.service] = check }
            }
            book.healthChecks = checks

            var pools: [String: [Upstream]] = [:]
            var kept: [String: Upstream] = [:]
            for (service, instances) in view.services {
                let passive = Self.passiveSettings(for: service, routes: ordered, tcp: view.tcpListeners)
                for (instance, endpoint) in instances.sorted(by: { $0.key < $1.key }) {
                    let key = service + "/" + instance
                    let upstream: Upstream
                    if let existing = book.upstreams[key], existing.endpoint == endpoint, existing.phase == .active {
                        upstream = existing
                    } else {
                        upstream = Upstream(
                            id: book.nextID, service: service, instance: instance, endpoint: endpoint,
                            maxFails: passive.maxFails, failTimeout: passive.failTimeout,
                            metrics: UpstreamMetrics(registry: metricsRegistry, service: service, instance: instance)
                        )
                        book.nextID += 1
                    }
                    upstream.configureActiveHealth(checks[service])
                    kept[key] = upstream
                    pools[service, default: []].append(upstream)
                }
            }
            var retired: [(Upstream, Upstream.Phase)] = []
            for (key, upstream) in book.upstreams where kept[key] !== upstream {
                let expired = removals.contains {
                    $0.service == upstream.service && $0.instance == upstream.instance && $0.endpoint == upstream.endpoint && $0.reason == .expired
                }
                retired.append((upstream, expired ? .ejected : .draining))
            }
            book.upstreams = kept
            var snapshot = RoutingSnapshot()
            snapshot.table = RouteTable(routes: ordered)
            snapshot.routes = routes
            snapshot.pools = pools
            snapshot.tcpListeners = view.tcpListeners
            return (retired, snapshot)
        }
        current.withLock { current in
            let generation = current.generation + 1
            current = snapshot
            current.generation = generation
        }
        for (upstream, phase) in retired {
            retire(upstream, phase: phase)
        }
    }

    private func retire(_ upstream: Upstream, phase: Upstream.Phase) {
        guard upstream.retire(phase) else { return }
        logger.info(
            phase == .ejected ? "instance expired: ejected" : "instance deregistered: draining",
            metadata: ["service": "\(upstream.service)", "instance": "\(upstream.instance)", "address": "\(upstream.label)"]
        )
        let deadline = phase == .ejected ? min(drainTimeout, .seconds(5)) : drainTimeout
        Task { [logger, self] in
            // Bounded drain: connections still open after the deadline are closed.
            let start = ContinuousClock.now
            while upstream.openChannelCount > 0, ContinuousClock.now - start < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
            if upstream.openChannelCount > 0 {
                logger.notice("drain deadline passed; closing connections", metadata: ["instance": "\(upstream.instance)", "open": "\(upstream.openChannelCount)"])
                upstream.closeAllChannels()
            }
            // The same service and instance may be back (a changed endpoint): its series are shared then.
            let returned = book.withLock { $0.upstreams[upstream.service + "/" + upstream.instance] != nil }
            if !returned { upstream.metrics.unregister(from: metricsRegistry) }
        }
    }

    private static func passiveSettings(for service: String, routes: [RouteSpec], tcp: [String: TCPListenerSpec]) -> (maxFails: Int, failTimeout: Duration) {
        if let route = routes.first(where: { $0.service == service }) { return (route.maxFails, route.failTimeout) }
        if let listener = tcp.values.sorted(by: { $0.name < $1.name }).first(where: { $0.service == service }) {
            return (listener.maxFails, listener.failTimeout)
        }
        return (3, .seconds(10))
    }
}
