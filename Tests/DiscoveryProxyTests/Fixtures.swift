import AsyncHTTPClient
import DiscoveryProxy
import Foundation
import KeysClient
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ProxyCore
import ServiceKit
import ServiceLifecycle
import Testing
import TestSupport

/// A discovery-proxy running in this process against `endpoint`, stopped gracefully at the end, with a
/// keep-alive HTTP client and the keys API at hand.
struct InProcessProxy: Sendable {
    let http: String
    let admin: String
    let https: String?
    let keys: KeysAPI
    let client: HTTPClient

    static func with<Result: Sendable>(
        endpoint: String,
        configure: @Sendable (inout ProxyConfiguration) -> Void = { _ in },
        _ body: @Sendable (InProcessProxy) async throws -> Result
    ) async throws -> Result {
        var configuration = ProxyConfiguration(
            endpoints: [endpoint], admin: ListenAddress(host: "127.0.0.1", port: 0), http: ListenAddress(host: "127.0.0.1", port: 0),
            drainTimeout: .seconds(5), resyncInterval: .seconds(30)
        )
        configure(&configuration)
        let logger = quietLogger()
        return try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: logger) { keys in
            let urls = Observed<[String: String]?>(nil)
            let services = try DiscoveryProxyServer.services(
                configuration: configuration, keys: keys, logger: logger, registry: PrometheusCollectorRegistry()
            ) { bound in
                urls.set(Dictionary(uniqueKeysWithValues: bound.map { ($0.name, $0.url) }))
            }
            let group = ServiceGroup(services: services, logger: logger)
            let running = Task { try await group.run() }
            var clientConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(20)))
            clientConfiguration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
            let result: Result
            do {
                let bound = try await urls.wait(for: "the proxy to listen", timeout: .seconds(20)) { $0 != nil }!
                let proxy = InProcessProxy(http: bound["http"]!, admin: bound["admin"]!, https: bound["https"], keys: keys, client: client)
                try await proxy.waitUntilLoaded()
                result = try await body(proxy)
            } catch {
                try? await client.shutdown()
                await group.triggerGracefulShutdown()
                _ = await running.result
                throw error
            }
            try await client.shutdown()
            await group.triggerGracefulShutdown()
            try await running.value
            return result
        }
    }

    // MARK: keys

    func announce(_ service: String, _ instance: String, _ backend: TestBackend, ttl: Duration? = nil, weight: Int? = nil) async throws {
        var value = "{\"host\":\"127.0.0.1\",\"port\":\(backend.port)"
        if let weight { value += ",\"weight\":\(weight)" }
        value += ",\"unit\":\"\(instance).service\"}"
        _ = try await keys.set("/services/\(service)/\(instance)", value: value, ttl: ttl)
    }

    func withdraw(_ service: String, _ instance: String) async throws {
        _ = try await keys.delete("/services/\(service)/\(instance)")
    }

    func route(_ name: String, _ json: String) async throws {
        _ = try await keys.set("/proxy/routes/\(name)", value: json)
    }

    // MARK: admin

    func status() async throws -> [String: Any] {
        let response = try await client.execute(HTTPClientRequest(url: admin + "/status"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] ?? [:]
    }

    func instances(of service: String) async throws -> [[String: Any]] {
        ((try await status())["services"] as? [String: Any])?[service] as? [[String: Any]] ?? []
    }

    func instanceStates(of service: String) async throws -> [String: String] {
        var states: [String: String] = [:]
        for instance in try await instances(of: service) {
            states[instance["instance"] as? String ?? "?"] = instance["state"] as? String
        }
        return states
    }

    /// Waits until the proxy routes `service` to exactly `instances` (by instance name).
    func waitForInstances(_ service: String, _ instances: Set<String>, timeout: Duration = .seconds(10)) async throws {
        try await eventually("\(service) to have instances \(instances.sorted())", timeout: timeout) {
            Set(try await instanceStates(of: service).keys) == instances
        }
    }

    func waitUntilLoaded() async throws {
        try await eventually("the proxy's first read of the keys") {
            let response = try await client.execute(HTTPClientRequest(url: admin + "/health"), timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 4096)
            return response.status == .ok
        }
    }

    func metrics() async throws -> String {
        let response = try await client.execute(HTTPClientRequest(url: admin + "/metrics"), timeout: .seconds(10))
        return String(buffer: try await response.body.collect(upTo: 1 << 22))
    }

    // MARK: traffic

    struct Reply: Sendable {
        let status: Int
        let backend: String?
        let body: String
        let headers: HTTPHeaders
    }

    func get(_ path: String = "/", host: String? = nil, method: HTTPMethod = .GET, body: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: http + path)
        request.method = method
        if let host { request.headers.add(name: "host", value: host) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(20))
        let bytes = try await response.body.collect(upTo: 1 << 24)
        return Reply(status: Int(response.status.code), backend: response.headers.first(name: "x-backend"), body: String(buffer: bytes), headers: response.headers)
    }

    /// Which backends answer `count` requests, in order.
    func backends(_ count: Int, path: String = "/", host: String? = nil) async throws -> [String] {
        var names: [String] = []
        for _ in 0..<count {
            let reply = try await get(path, host: host)
            #expect(reply.status == 200, "\(reply.status) \(reply.body)")
            names.append(reply.backend ?? "status \(reply.status)")
        }
        return names
    }
}

/// Starts backends, runs `body`, stops them (also when `body` throws).
func withBackends<Result: Sendable>(_ names: [String], _ body: @Sendable ([TestBackend]) async throws -> Result) async throws -> Result {
    var backends: [TestBackend] = []
    do {
        for name in names { backends.append(try await TestBackend.start(name: name)) }
        let result = try await body(backends)
        for backend in backends { await backend.stop() }
        return result
    } catch {
        for backend in backends { await backend.stop() }
        throw error
    }
}

/// The proxy against a fresh store of `backend` with `names` backends started.
func withProxy<Result: Sendable>(
    _ store: KeysBackend = .etcd,
    backends names: [String] = [],
    configure: @Sendable @escaping (inout ProxyConfiguration) -> Void = { _ in },
    _ body: @Sendable @escaping (InProcessProxy, [TestBackend]) async throws -> Result
) async throws -> Result {
    try await store.with { endpoint in
        try await withBackends(names) { backends in
            try await InProcessProxy.with(endpoint: endpoint, configure: configure) { proxy in
                try await body(proxy, backends)
            }
        }
    }
}

struct ProxyTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
