import AsyncHTTPClient
import DiscoveryProxy
import ProxyCore
import Foundation
import KeysClient
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

extension DiscoveryProxyIntegrationTests {
    /// Routing and balancing through a real proxy, real backends and a real keys API.
    @Suite(.timeLimit(.minutes(2)))
    struct RoutingTests {
        @Test(arguments: KeysBackend.allCases)
        func routesByHostAndPathPrefix(store: KeysBackend) async throws {
            try await withProxy(store, backends: ["api", "web", "admin"]) { proxy, backends in
                try await proxy.announce("api", "a1", backends[0])
                try await proxy.announce("web", "w1", backends[1])
                try await proxy.announce("admin", "x1", backends[2])
                try await proxy.route("api", #"{"path": "/api", "service": "api"}"#)
                try await proxy.route("web", #"{"service": "web"}"#)
                try await proxy.route("admin", #"{"host": "admin.test", "service": "admin"}"#)
                try await proxy.waitForInstances("admin", ["x1"])
                try await eventually("three routes") { (try await proxy.status()["routes"] as? [Any])?.count == 3 }

                #expect(try await proxy.get("/api/users").backend == "api")
                #expect(try await proxy.get("/api").backend == "api")
                #expect(try await proxy.get("/api?q=1").backend == "api")
                // Prefixes match whole segments: /apix is not under /api.
                #expect(try await proxy.get("/apix").backend == "web")
                #expect(try await proxy.get("/").backend == "web")
                #expect(try await proxy.get("/", host: "admin.test").backend == "admin")
                #expect(try await proxy.get("/api/users", host: "ADMIN.test:8080").backend == "admin")
            }
        }

        @Test func answersFast503WithoutInstancesAnd404WithoutRoute() async throws {
            try await withProxy(backends: ["web"]) { proxy, backends in
                try await proxy.route("web", #"{"host": "web.test", "service": "web"}"#)
                try await eventually("the route") { (try await proxy.status()["routes"] as? [Any])?.count == 1 }
                let empty = try await proxy.get("/", host: "web.test")
                #expect(empty.status == 503)
                #expect(empty.headers.first(name: "retry-after") == "1")
                #expect(empty.body.contains("service web has no instance"))
                let nowhere = try await proxy.get("/", host: "other.test")
                #expect(nowhere.status == 404)
                #expect(nowhere.body.contains("no route for host other.test"))

                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                #expect(try await proxy.get("/", host: "web.test").status == 200)
            }
        }

        @Test func forwardsClientFactsAndDropsHopByHopHeaders() async throws {
            try await withProxy(backends: ["web"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                var request = HTTPClientRequest(url: proxy.http + "/headers")
                request.headers.add(name: "connection", value: "keep-alive, x-hop")
                request.headers.add(name: "x-hop", value: "must not pass")
                request.headers.add(name: "x-forwarded-for", value: "203.0.113.7")
                request.headers.add(name: "x-end-to-end", value: "passes")
                let response = try await proxy.client.execute(request, timeout: .seconds(10))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 16))
                let lines = Set(text.split(separator: "\n").map(String.init))
                let authority = String(proxy.http.dropFirst("http://".count))
                #expect(lines.contains("host: \(authority)"))
                #expect(lines.contains("x-forwarded-for: 203.0.113.7, 127.0.0.1"))
                #expect(lines.contains("x-forwarded-proto: http"))
                #expect(lines.contains("x-forwarded-host: \(authority)"))
                #expect(lines.contains("forwarded: for=127.0.0.1;host=\"\(authority)\";proto=http"))
                #expect(lines.contains("x-end-to-end: passes"))
                #expect(!text.contains("x-hop"))
                #expect(!lines.contains { $0.hasPrefix("connection:") && $0.contains("x-hop") })
            }
        }

        @Test func roundRobinSpreadsEvenlyAndHonoursWeights() async throws {
            try await withProxy(backends: ["a", "b", "c"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                for backend in backends { try await proxy.announce("web", backend.name, backend) }
                try await proxy.waitForInstances("web", ["a", "b", "c"])
                let even = try await proxy.backends(9)
                #expect(Dictionary(grouping: even, by: { $0 }).mapValues(\.count) == ["a": 3, "b": 3, "c": 3])
                // Every window of three sees each instance once: round robin, not random.
                for start in stride(from: 0, to: 9, by: 3) { #expect(Set(even[start..<start + 3]) == ["a", "b", "c"]) }

                try await proxy.announce("web", "a", backends[0], weight: 3)
                try await proxy.withdraw("web", "c")
                try await eventually("a weighted 3") {
                    try await proxy.instances(of: "web").contains { $0["instance"] as? String == "a" && $0["weight"] as? Int == 3 }
                }
                try await proxy.waitForInstances("web", ["a", "b"])
                let weighted = try await proxy.backends(8)
                #expect(Dictionary(grouping: weighted, by: { $0 }).mapValues(\.count) == ["a": 6, "b": 2])
            }
        }

        @Test func leastConnectionsAvoidsTheBusyInstance() async throws {
            try await withProxy(backends: ["a", "b"]) { proxy, backends in
                try await proxy.route("web", #"{"service": "web", "policy": "least-connections"}"#)
                for backend in backends { try await proxy.announce("web", backend.name, backend) }
                try await proxy.waitForInstances("web", ["a", "b"])
                let slow = Task { try await proxy.get("/slow?ms=5000") }
                try await eventually("the slow request to be in flight") {
                    try await proxy.instances(of: "web").contains { $0["active_requests"] as? Int == 1 }
                }
                let quick = try await proxy.backends(6)
                let busy = try await slow.value.backend
                #expect(busy != nil)
                #expect(!quick.contains(busy ?? ""), "quick requests \(quick) went to the busy instance \(busy ?? "?")")
            }
        }

        @Test func streamsLargeBodiesBothWays() async throws {
            try await withProxy(backends: ["echo"], configure: { $0.staticRoutes = [try! .parse(flag: "service=echo")] }) { proxy, backends in
                try await proxy.announce("echo", "e1", backends[0])
                try await proxy.waitForInstances("echo", ["e1"])
                // 4 MiB of numbered 16-byte lines, so a lost, repeated or reordered chunk cannot go unnoticed.
                var payload = ByteBuffer()
                for index in 0..<(4 << 20) / 16 {
                    let digits = String(index)
                    payload.writeRepeatingByte(UInt8(ascii: "0"), count: 15 - digits.utf8.count)
                    payload.writeString(digits + "\n")
                }
                var request = HTTPClientRequest(url: proxy.http + "/echo")
                request.method = .POST
                let size = payload.readableBytes
                // A streamed body of unknown length: it arrives chunked, as a client upload would.
                let chunks = stride(from: 0, to: size, by: 64 * 1024).map { payload.getSlice(at: $0, length: min(64 * 1024, size - $0))! }
                request.body = .stream(AsyncStream { continuation in
                    for chunk in chunks { continuation.yield(chunk) }
                    continuation.finish()
                }, length: .unknown)
                let response = try await proxy.client.execute(request, timeout: .seconds(60))
                #expect(response.status == .ok)
                let echoed = try await response.body.collect(upTo: 16 << 20)
                #expect(echoed.readableBytes == size)
                #expect(echoed == payload)
            }
        }

        @Test func heartbeatsAndIdenticalRewritesChangeNothing() async throws {
            try await withProxy(backends: ["web"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0], ttl: .seconds(30))
                try await proxy.waitForInstances("web", ["w1"])
                let generation = try await proxy.status()["generation"] as? Int
                for _ in 0..<10 {
                    try await proxy.announce("web", "w1", backends[0], ttl: .seconds(30))
                    _ = try await proxy.keys.refresh("/services/web/w1", ttl: .seconds(30))
                }
                // A real change after the heartbeats: once the proxy has it, it has seen everything before it.
                _ = try await proxy.keys.set("/services/marker/m1", value: "127.0.0.1:9")
                try await proxy.waitForInstances("marker", ["m1"])
                #expect(try await proxy.status()["generation"] as? Int == generation.map { $0 + 1 })
            }
        }

        @Test func refusesInvalidKeysVisiblyAndKeepsServing() async throws {
            try await withProxy(backends: ["web"]) { proxy, backends in
                try await proxy.route("web", #"{"service": "web"}"#)
                try await proxy.route("typo", #"{"service": "web", "retires": 2}"#)
                _ = try await proxy.keys.set("/services/web/bad", value: "not an address")
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                let invalid = try await proxy.status()["invalid_keys"] as? [String: String] ?? [:]
                #expect(invalid["/proxy/routes/typo"]?.contains("retires") == true, "\(invalid)")
                #expect(invalid["/services/web/bad"] != nil, "\(invalid)")
                #expect(try await proxy.get("/").backend == "web")
            }
        }
    }
}
