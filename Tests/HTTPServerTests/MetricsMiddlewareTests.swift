@testable import HTTPServer
import HTTPTypes
import Metrics
import MetricsTestKit
import Prometheus
import TestSupport
import Testing

/// Request metrics are labelled by route template, never by raw path; the factory is always injected.
@Suite("MetricsMiddleware")
struct MetricsMiddlewareTests {
    struct Boom: Error {}

    static func router(metrics: any MetricsFactory) -> Router {
        var router = Router()
        router.use(MetricsMiddleware(factory: metrics))
        router.get("/items/:id", handler: echoRoute("item"))
        router.get("/v2/keys/**", handler: echoRoute("keys"))
        router.get("/conflict") { _, _ in throw HTTPError(.conflict) }
        router.get("/boom") { _, _ in throw Boom() }
        return router
    }

    @Test("counters and timers are labelled by route template, method and status")
    func labelsByTemplate() async throws {
        let metrics = TestMetrics()
        let responder = Self.router(metrics: metrics).buildResponder()
        for path in ["/items/1", "/items/2", "/items/3?x=y", "/v2/keys/a/b", "/v2/keys"] {
            #expect(try await responder.respondRendering(makeRequest(path)).status == .ok)
        }

        let items = try metrics.expectCounter("http_server_requests_total", [("route", "/items/:id"), ("method", "GET"), ("status", "200")])
        #expect(items.totalValue == 3)
        let keys = try metrics.expectCounter("http_server_requests_total", [("route", "/v2/keys/**"), ("method", "GET"), ("status", "200")])
        #expect(keys.totalValue == 2)
        let timer = try metrics.expectTimer("http_server_request_duration_seconds", [("route", "/items/:id"), ("method", "GET")])
        #expect(timer.values.count == 3)
        #expect(timer.values.allSatisfy { $0 >= 0 })

        let labels = metrics.counters(label: "http_server_requests_total").flatMap { $0.dimensions.map(\.1) }
        #expect(!labels.contains { $0.contains("/items/1") || $0.contains("/v2/keys/a") }, "raw paths leaked: \(labels)")
    }

    @Test("thrown errors are counted with their status: HTTP errors as theirs, anything else as 500")
    func errorsCounted() async throws {
        let metrics = TestMetrics()
        let responder = Self.router(metrics: metrics).buildResponder()
        #expect(try await responder.respondRendering(makeRequest("/conflict")).status == .conflict)
        await #expect(throws: Boom.self) { _ = try await responder.respondRendering(makeRequest("/boom")) }

        #expect(try metrics.expectCounter("http_server_requests_total", [("route", "/conflict"), ("method", "GET"), ("status", "409")]).totalValue == 1)
        #expect(try metrics.expectCounter("http_server_requests_total", [("route", "/boom"), ("method", "GET"), ("status", "500")]).totalValue == 1)
    }

    @Test("unmatched paths share one series, and 405s keep the matched template")
    func unmatchedAndWrongMethod() async throws {
        let metrics = TestMetrics()
        let responder = Self.router(metrics: metrics).buildResponder()
        for path in ["/nope", "/also/nope", "/x/y/z"] {
            _ = try await responder.respondRendering(makeRequest(path))
        }
        _ = try await responder.respondRendering(makeRequest(.delete, "/items/5"))

        #expect(try metrics.expectCounter("http_server_requests_total", [("route", "(unmatched)"), ("method", "GET"), ("status", "404")]).totalValue == 3)
        #expect(try metrics.expectCounter("http_server_requests_total", [("route", "/items/:id"), ("method", "DELETE"), ("status", "405")]).totalValue == 1)
        #expect(metrics.counters(label: "http_server_requests_total").count == 2)
    }

    @Test("with a Prometheus registry, /metrics serves the series labelled by template", .timeLimit(.minutes(1)))
    func prometheusLive() async throws {
        let registry = PrometheusCollectorRegistry()
        var router = Self.router(metrics: PrometheusMetricsFactory(registry: registry))
        router.addMetricsRoute(registry)
        try await withTestServer(responder: router.buildResponder()) { server in
            for path in ["/items/42", "/items/43"] {
                let result = try await Curl.run(["--http1.1", server.url(path)])
                #expect(result.stdout == "item id=\(path.split(separator: "/").last!)", "\(result)")
            }
            _ = try await Curl.run(["--http2-prior-knowledge", server.url("/items/44")])

            let scrape = try await Curl.run(["--http1.1", "-D", "-", server.url("/metrics")])
            #expect(scrape.stdout.lowercased().contains("content-type: text/plain; version=0.0.4; charset=utf-8"), "\(scrape)")
            let series = #"http_server_requests_total{route="/items/:id",method="GET",status="200"} 3"#
            #expect(scrape.stdout.contains(series), "\(scrape.stdout)")
            #expect(scrape.stdout.contains(#"http_server_request_duration_seconds_count{route="/items/:id",method="GET"} 3"#), "\(scrape.stdout)")
            #expect(!scrape.stdout.contains("/items/42"), "raw paths must not become labels")
        }
    }
}

@Suite struct MetricsMethodLabelTests {
    @Test("client-invented methods share one label, so a client cannot grow the series")
    func boundedMethodLabel() {
        #expect(MetricsMiddleware.methodLabel(.get) == "GET")
        #expect(MetricsMiddleware.methodLabel(HTTPRequest.Method("BREW")!) == "OTHER")
        #expect(MetricsMiddleware.methodLabel(HTTPRequest.Method("PROPFIND")!) == "OTHER")
    }
}
