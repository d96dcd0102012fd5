import NIOCore
import Prometheus
import HealthHysteresis
import ProxyCore
import Synchronization

/// One registered instance of a service, as the data path sees it. Identity survives reconfiguration: the
/// same service, instance key and endpoint keep the same object, so passive-health state, counters and pooled
/// connections are not reset by an unrelated change (haproxy/haproxy#918).
final class Upstream: Sendable {
    enum Phase: String, Sendable {
        /// Registered: takes new requests unless its health says otherwise.
        case active
        /// Its key was deleted: no new requests; in-flight ones finish within the drain timeout.
        case draining
        /// Its key expired: no new requests; requests still waiting for a response head are retried elsewhere.
        case ejected
    }

    struct Health: Sendable {
        var passive: PassiveHealth
        var active: HealthHysteresis?
    }

    let id: Int
    let service: String
    let instance: String
    let endpoint: InstanceEndpoint
    private let phaseState = Mutex(Phase.active)
    /// Read on every pick without a lock: 0 while active, set once when the instance is retired.
    private let retired = Atomic<Bool>(false)
    private let health: Mutex<Health>
    /// Mirrors of `health` for the hot path, written under its lock: nanoseconds (of `ProxyClock`) before
    /// which passive health keeps the instance out, and whether active checks let it in.
    private let ejectedUntilNanoseconds = Atomic<Int64>(0)
    private let checksPass = Atomic<Bool>(true)
    /// Requests in flight (least-connections reads it on every pick).
    let activeRequests = Atomic<Int>(0)
    /// Upstream channels open to this instance on any loop, so draining and ejection can reach them.
    private let channels = Mutex([ObjectIdentifier: any Channel]())
    let metrics: UpstreamMetrics

    init(id: Int, service: String, instance: String, endpoint: InstanceEndpoint, maxFails: Int, failTimeout: Duration, metrics: UpstreamMetrics) {
        self.id = id
        self.service = service
        self.instance = instance
        self.endpoint = endpoint
        self.health = Mutex(Health(passive: PassiveHealth(maxFails: maxFails, baseEjection: failTimeout)))
        self.metrics = metrics
    }

    var phase: Phase { phaseState.withLock { $0 } }

    var label: String { "\(endpoint.host):\(endpoint.port)" }

    var isActive: Bool { !retired.load(ordering: .relaxed) }

    /// Whether new requests may go here now: registered, not ejected by passive health, not failing checks.
    func isAvailable(now: Duration) -> Bool {
        isActive && checksPass.load(ordering: .relaxed) && Self.nanoseconds(now) >= ejectedUntilNanoseconds.load(ordering: .relaxed)
    }

    func recordSuccess(now: Duration) {
        // Most successes change nothing; only one that ends a failure streak or probation needs the lock.
        guard ejectedUntilNanoseconds.load(ordering: .relaxed) != 0 || health.withLock({ $0.passive.consecutiveFailures }) != 0 else { return }
        health.withLock { health in
            health.passive.recordSuccess(now: now)
            publish(health)
        }
    }

    /// Counts a failed attempt (connect error, reset or timeout before a response); true when it ejects.
    @discardableResult
    func recordFailure(now: Duration) -> Bool {
        let ejected = health.withLock { health in
            defer { publish(health) }
            return health.passive.recordFailure(now: now)
        }
        if ejected { metrics.ejections.increment() }
        return ejected
    }

    private func publish(_ health: borrowing Health) {
        ejectedUntilNanoseconds.store(health.passive.ejectedUntil.map(Self.nanoseconds) ?? 0, ordering: .relaxed)
        checksPass.store(health.active?.isHealthy ?? true, ordering: .relaxed)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    func configureActiveHealth(_ spec: HealthCheckSpec?) {
        health.withLock { health in
            defer { publish(health) }
            guard let spec else {
                health.active = nil
                return
            }
            if health.active == nil {
                // A new instance starts healthy: it announced itself, and a check is at most one interval away.
                health.active = HealthHysteresis(healthyThreshold: spec.healthyThreshold, unhealthyThreshold: spec.unhealthyThreshold)
            }
        }
    }

    /// Records an active check; returns the new health when it changed.
    func recordCheck(passed: Bool) -> Bool? {
        health.withLock { health in
            defer { publish(health) }
            return health.active?.record(passed: passed)
        }
    }

    func healthSnapshot(now: Duration) -> (passive: PassiveHealthState, failures: Int, checksHealthy: Bool?) {
        health.withLock { ($0.passive.state(now: now), $0.passive.consecutiveFailures, $0.active?.isHealthy) }
    }

    /// Moves to `phase` (never back to active) and tells every open connection; returns false if it already left.
    @discardableResult
    func retire(_ phase: Phase) -> Bool {
        let changed = phaseState.withLock { current -> Bool in
            guard current == .active else { return false }
            current = phase
            return true
        }
        guard changed else { return false }
        retired.store(true, ordering: .relaxed)
        let event = UpstreamRetired(upstreamID: id, phase: phase)
        for channel in channels.withLock({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(event)
        }
        return true
    }

    func register(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        }
    }

    var openChannelCount: Int { channels.withLock { $0.count } }

    /// The end of a drain: whatever is still open to this instance is closed.
    func closeAllChannels() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}

/// Sent down every open upstream channel when its instance stops taking requests.
struct UpstreamRetired: Sendable {
    let upstreamID: Int
    let phase: Upstream.Phase
}

/// Prometheus series of one instance, made once (a registry lookup per request would cost more than the request).
struct UpstreamMetrics: Sendable {
    let responses2xx: Counter
    let responses3xx: Counter
    let responses4xx: Counter
    let responses5xx: Counter
    let failures: Counter
    let retries: Counter
    let ejections: Counter
    let active: Gauge

    init(registry: PrometheusCollectorRegistry, service: String, instance: String) {
        let labels = [("service", service), ("instance", instance)]
        func responses(_ code: String) -> Counter {
            registry.makeCounter(descriptor: ProxyMetricName.make("responses", unit: "total", help: "Upstream responses by status class."), labels: labels + [("code", code)])
        }
        responses2xx = responses("2xx")
        responses3xx = responses("3xx")
        responses4xx = responses("4xx")
        responses5xx = responses("5xx")
        failures = registry.makeCounter(
            descriptor: ProxyMetricName.make("upstream_failures", unit: "total", help: "Attempts that failed before a response: connect errors, resets, timeouts."), labels: labels)
        retries = registry.makeCounter(descriptor: ProxyMetricName.make("retries", unit: "total", help: "Requests retried on another instance after failing here."), labels: labels)
        ejections = registry.makeCounter(descriptor: ProxyMetricName.make("ejections", unit: "total", help: "Times passive health took the instance out of rotation."), labels: labels)
        active = registry.makeGauge(descriptor: ProxyMetricName.make("active", unit: "requests", help: "Requests and TCP sessions in flight."), labels: labels)
    }

    /// Removes the series, so instances that came and went do not pile up in every scrape.
    func unregister(from registry: PrometheusCollectorRegistry) {
        for counter in [responses2xx, responses3xx, responses4xx, responses5xx, failures, retries, ejections] {
            registry.unregisterCounter(counter)
        }
        registry.unregisterGauge(active)
    }

    func countResponse(status: Int) {
        switch status {
        case 200..<300: responses2xx.increment()
        case 300..<400: responses3xx.increment()
        case 400..<500: responses4xx.increment()
        default: responses5xx.increment()
        }
    }
}
