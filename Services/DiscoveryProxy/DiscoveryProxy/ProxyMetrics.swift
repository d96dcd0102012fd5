import Prometheus

/// Process-wide series that belong to no instance.
struct ProxyMetrics: Sendable {
    let noRoute: Counter
    let noInstance: Counter
    let upstreamErrors: Counter

    init(registry: PrometheusCollectorRegistry) {
        let local = ProxyMetricName.make("local_responses", unit: "total", help: "Responses the proxy answered itself, by reason.")
        noRoute = registry.makeCounter(descriptor: local, labels: [("reason", "no_route")])
        noInstance = registry.makeCounter(descriptor: local, labels: [("reason", "no_instance")])
        upstreamErrors = registry.makeCounter(descriptor: local, labels: [("reason", "upstream_error")])
    }
}

/// `flotilla_proxy_<name>_<unit>` with its help text.
enum ProxyMetricName {
    static func make(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "flotilla", subsystem: "proxy", metricName: name, unitName: unit, helpText: help)
    }
}
