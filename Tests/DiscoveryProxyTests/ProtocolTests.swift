import Foundation
import DiscoveryProxy
import ProxyCore
import HTTPServer
import KeysClient
import NIOCore
import ServiceKit
import Testing
import TestSupport

extension DiscoveryProxyIntegrationTests {
    /// Everything besides plain HTTP/1.1: upgrades, HTTP/2 (h2c and TLS with ALPN and SNI), TCP, and what the
    /// proxy reports about itself.
    @Suite(.timeLimit(.minutes(2)))
    struct ProtocolTests {
        @Test func passesUpgradedConnectionsThrough() async throws {
            try await withProxy(backends: ["ws"], configure: { $0.staticRoutes = [try! .parse(flag: "service=ws")] }) { proxy, backends in
                try await proxy.announce("ws", "w1", backends[0])
                try await proxy.waitForInstances("ws", ["w1"])
                let port = Int(proxy.http.split(separator: ":").last!)!
                let client = try await RawClient.connect(port: port)
                try await client.send("GET /socket HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
                let head = try await client.waitForText(containing: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
                #expect(head.lowercased().contains("upgrade: echo"))
                try await client.send("ping-1")
                try await client.waitForText(containing: "ping-1")
                try await client.send(" ping-2")
                try await client.waitForText(containing: "ping-1 ping-2")
                // An unrelated change does not touch the upgraded connection.
                try await proxy.announce("ws", "w2", backends[0])
                try await proxy.waitForInstances("ws", ["w1", "w2"])
                try await client.send(" ping-3")
                try await client.waitForText(containing: "ping-2 ping-3")
                await client.close()
            }
        }

        @Test func servesHTTP2ClientsInCleartext() async throws {
            try await withProxy(backends: ["web"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                // nghttp speaks prior-knowledge h2c to http:// URLs; several streams share one connection.
                let result = try await Nghttp.run(["-n", "-s", proxy.http + "/a", proxy.http + "/b", proxy.http + "/c"])
                #expect(result.succeeded, "\(result)")
                let body = try await Nghttp.run([proxy.http + "/"])
                #expect(body.stdout == "web\n", "\(body)")
                let upload = FileManager.default.temporaryDirectory.appendingPathComponent("h2-\(UUID().uuidString)").path
                try "streamed over h2".write(toFile: upload, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(atPath: upload) }
                let post = try await Nghttp.run(["-d", upload, proxy.http + "/echo"])
                #expect(post.stdout == "streamed over h2", "\(post)")
            }
        }

        @Test func servesTLSWithALPNAndPicksCertificatesBySNI() async throws {
            let fallback = try await SelfSignedCertificate.generate(commonName: "localhost")
            let named = try await SelfSignedCertificate.generate(commonName: "api.test")
            defer {
                fallback.remove()
                named.remove()
            }
            try await withProxy(backends: ["web"], configure: {
                $0.staticRoutes = [try! .parse(flag: "service=web")]
                $0.https = ListenAddressFixture.loopback
                $0.tls = TLSOptions(
                    certificateChainPath: fallback.certificatePath, privateKeyPath: fallback.privateKeyPath,
                    namedCertificates: [NamedCertificate(serverName: "api.test", certificateChainPath: named.certificatePath, privateKeyPath: named.privateKeyPath)]
                )
            }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                let https = try #require(proxy.https)
                let port = https.split(separator: ":").last!
                let h2 = try await Curl.run(["-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version}", https + "/"])
                #expect(h2.stdout == "2", "\(h2)")
                let h1 = try await Curl.run(["-sk", "--http1.1", "-w", "%{http_version}", https + "/"])
                #expect(h1.stdout == "web\n1.1", "\(h1)")
                let api = try await Curl.run(["-v", "-sk", "--resolve", "api.test:\(port):127.0.0.1", "https://api.test:\(port)/"])
                #expect(api.stdout == "web\n")
                #expect(api.stderr.contains("CN=api.test"), "\(api.stderr)")
                let other = try await Curl.run(["-v", "-sk", https + "/"])
                #expect(other.stderr.contains("CN=localhost"), "\(other.stderr)")
                // The backend learns the client used TLS.
                let headers = try await Curl.run(["-sk", https + "/headers"])
                #expect(headers.stdout.contains("x-forwarded-proto: https"), "\(headers)")
            }
        }

        @Test(arguments: KeysBackend.allCases)
        func proxiesTCPListenersMadeFromKeys(store: KeysBackend) async throws {
            let first = try await TCPEchoServer.start(name: "db-1")
            let second = try await TCPEchoServer.start(name: "db-2")
            defer { Task { await first.stop(); await second.stop() } }
            try await withProxy(store) { proxy, _ in
                _ = try await proxy.keys.set("/services/db/one", value: "127.0.0.1:\(first.port)")
                _ = try await proxy.keys.set("/proxy/tcp/db", value: #"{"listen": "127.0.0.1:0", "service": "db"}"#)
                let bound = try await boundTCPAddress(proxy, name: "db")
                let port = Int(bound.split(separator: ":").last!)!

                let session = try await RawClient.connect(port: port)
                try await session.waitForText(containing: "hello from db-1\n")
                try await session.send("select 1;")
                try await session.waitForText(containing: "select 1;")

                // A new instance takes new sessions; the open session is left alone.
                _ = try await proxy.keys.delete("/services/db/one")
                _ = try await proxy.keys.set("/services/db/two", value: "127.0.0.1:\(second.port)")
                try await proxy.waitForInstances("db", ["two"])
                let next = try await RawClient.connect(port: port)
                try await next.waitForText(containing: "hello from db-2\n")
                try await session.send(" still here")
                try await session.waitForText(containing: "select 1; still here")
                await session.close()
                await next.close()

                _ = try await proxy.keys.delete("/proxy/tcp/db")
                try await eventually("the tcp listener to close") { (try await proxy.status()["tcp"] as? [Any])?.isEmpty == true }
            }
        }

        @Test func writesTheAccessLogAndPerInstanceMetrics() async throws {
            let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).log").path
            defer { try? FileManager.default.removeItem(atPath: logPath) }
            try await withProxy(backends: ["web"], configure: {
                $0.staticRoutes = [try! .parse(flag: "service=web")]
                $0.accessLog = logPath
            }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                _ = try await proxy.backends(3, path: "/hello?x=1")
                try await eventually("three lines in the access log") {
                    ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").count >= 3
                }
                let line = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")[0]
                // Common Log Format: host ident authuser [date] "request" status bytes
                let pattern = #/^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /hello\?x=1 HTTP/1\.1" 200 4$/#
                #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
                let metrics = try await proxy.metrics()
                #expect(metrics.contains(#"flotilla_proxy_responses_total{service="web",instance="w1",code="2xx"} 3"#), "\(metrics)")
                #expect(metrics.contains("flotilla_proxy_keys_reachable"))
            }
        }

        private func boundTCPAddress(_ proxy: InProcessProxy, name: String) async throws -> String {
            @Sendable func address() async throws -> String? {
                let listeners = try await proxy.status()["tcp"] as? [[String: Any]] ?? []
                return listeners.first { $0["name"] as? String == name }?["bound_address"] as? String
            }
            try await eventually("tcp listener \(name) to bind") { try await address() != nil }
            return try await address()!
        }
    }
}

enum ListenAddressFixture {
    static var loopback: ListenAddress { ListenAddress(host: "127.0.0.1", port: 0) }
}
