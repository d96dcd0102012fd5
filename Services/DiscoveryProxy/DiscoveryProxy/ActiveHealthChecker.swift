import AsyncHTTPClient
import Logging
import NIOCore
import ProxyCore
import ServiceLifecycle
import NIOHTTP1

/// Probes every instance of each service that a route gives a `health_check`: `GET <path>` on the
/// instance, 2xx/3xx within the timeout passes. Thresholds (haproxy's rise/fall) turn results into health,
/// which survives reconfiguration with the instance.
struct ActiveHealthChecker: Service {
    let state: ProxyState
    let logger: Logger

    func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        await cancelWhenGracefulShutdown {
            var lastProbe: [Int: ContinuousClock.Instant] = [:]
            while !Task.isCancelled {
                let checks = state.healthChecks
                let pools = state.snapshot.pools
                let now = ContinuousClock.now
                var due: [(Upstream, HealthCheckSpec)] = []
                for (service, spec) in checks {
                    for upstream in pools[service] ?? [] where lastProbe[upstream.id].map({ now - $0 >= spec.interval }) ?? true {
                        due.append((upstream, spec))
                        lastProbe[upstream.id] = now
                    }
                }
                let live = Set(pools.values.flatMap { $0.map(\.id) })
                lastProbe = lastProbe.filter { live.contains($0.key) }
                await withTaskGroup(of: Void.self) { group in
                    for (upstream, spec) in due {
                        group.addTask { await probe(upstream, spec: spec, client: client) }
                    }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        try? await client.shutdown()
    }

    private func probe(_ upstream: Upstream, spec: HealthCheckSpec, client: HTTPClient) async {
        let host = upstream.endpoint.host.contains(":") ? "[\(upstream.endpoint.host)]" : upstream.endpoint.host
        var request = HTTPClientRequest(url: "http://\(host):\(upstream.endpoint.port)\(spec.path)")
        request.headers.add(name: "user-agent", value: "flotilla-discovery-proxy/health-check")
        let passed: Bool
        do {
            let response = try await client.execute(request, timeout: TimeAmount(spec.timeout))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            passed = (200..<400).contains(response.status.code)
        } catch {
            passed = false
        }
        if let healthy = upstream.recordCheck(passed: passed) {
            logger.notice(
                healthy ? "instance passed its health checks: back in rotation" : "instance failed its health checks: out of rotation",
                metadata: ["service": "\(upstream.service)", "instance": "\(upstream.instance)", "check": "\(spec.path)"]
            )
        }
    }
}
