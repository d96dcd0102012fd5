import DiscoveryProxy
import Foundation
import KeysClient
import ProxyCore
import Testing
import TestSupport

extension DiscoveryProxyIntegrationTests {
    /// HTTP/1.1 as clients really send it, byte for byte: pipelining, chunked bodies on any method, HEAD,
    /// interim responses, bytes that ride along with a protocol switch.
    @Suite(.timeLimit(.minutes(2)))
    struct HTTPEdgeCaseTests {
        static func port(_ url: String) -> Int { Int(url.split(separator: ":").last!)! }

        @Test func pipelinedRequestsAreAllAnsweredAfterAFailure() async throws {
            let deadPort = try LoopbackPorts.reserve(count: 1)[0]
            try await withProxy(configure: { $0.staticRoutes = [try! .parse(flag: "service=web,retries=0")] }) { proxy, _ in
                _ = try await proxy.keys.set("/services/web/dead", value: "127.0.0.1:\(deadPort)")
                try await proxy.waitForInstances("web", ["dead"])
                let client = try await RawClient.connect(port: Self.port(proxy.http))
                try await client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
                let text = try await client.received.wait(for: "two answers", timeout: .seconds(10)) {
                    $0.text.components(separatedBy: "HTTP/1.1 502").count == 3
                }.text
                #expect(text.components(separatedBy: "HTTP/1.1 502").count == 3, "\(text)")
                await client.close()
            }
        }

        @Test func aChunkedBodyOnAGETCannotSmuggleARequest() async throws {
            try await withProxy(backends: ["web"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                let hidden = "GET /hidden HTTP/1.1\r\nHost: x\r\n\r\n"
                let chunk = String(hidden.utf8.count, radix: 16) + "\r\n" + hidden + "\r\n0\r\n\r\n"
                let client = try await RawClient.connect(port: Self.port(proxy.http))
                try await client.send("GET /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + "GET /headers HTTP/1.1\r\nHost: x\r\n\r\n")
                let text = try await client.received.wait(for: "two answers", timeout: .seconds(10)) {
                    $0.text.components(separatedBy: "HTTP/1.1 200").count == 3
                }.text
                // The second answer is the one asked for; the body of the first request stayed a body.
                #expect(text.contains("host: x"), "\(text)")
                #expect(backends[0].hits.value == 2, "the upstream saw \(backends[0].hits.value) requests")
                await client.close()
            }
        }

        @Test func aHEADAnswerWithoutLengthLeavesTheConnectionClean() async throws {
            try await withProxy(backends: ["web"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                let client = try await RawClient.connect(port: Self.port(proxy.http))
                // /echo answers chunked, without a length; to HEAD with no body at all.
                try await client.send("HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = try await client.waitForText(containing: "\r\n\r\n")
                try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let text = try await client.waitForText(containing: "web\n")
                let second = text.dropFirst(head.count)
                #expect(second.hasPrefix("HTTP/1.1 200"), "after the HEAD answer came: \(second.prefix(40).debugDescription)")
                await client.close()
            }
        }

        @Test func interimAnswersReachTheClient() async throws {
            try await withProxy(backends: ["web"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                let client = try await RawClient.connect(port: Self.port(proxy.http))
                try await client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
                // A client that waits for 100 Continue before sending its body gets it, from the upstream.
                try await client.waitForText(containing: "HTTP/1.1 100 Continue\r\n\r\n")
                try await client.send("hello")
                try await client.waitForText(containing: "hello")
                await client.close()
            }
        }

        @Test func bytesThatCameWithTheSwitchAreDeliveredAtOnce() async throws {
            try await withProxy(backends: ["ws"], configure: { $0.staticRoutes = [try! .parse(flag: "service=ws")] }) { proxy, backends in
                try await proxy.announce("ws", "w1", backends[0])
                try await proxy.waitForInstances("ws", ["w1"])
                let client = try await RawClient.connect(port: Self.port(proxy.http))
                try await client.send("GET /socket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: greet\r\n\r\n")
                // Nothing is sent after the upgrade: the greeting must arrive on its own.
                try await client.waitForText(containing: "greetings\n")
                try await client.send("ping")
                try await client.waitForText(containing: "greetings\nping")
                await client.close()
            }
        }

        @Test func connectIsRefused() async throws {
            try await withProxy(backends: ["web"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "w1", backends[0])
                try await proxy.waitForInstances("web", ["w1"])
                let client = try await RawClient.connect(port: Self.port(proxy.http))
                try await client.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
                let text = try await client.waitForClose()
                #expect(text.hasPrefix("HTTP/1.1 405"), "\(text)")
                #expect(backends[0].hits.value == 0)
            }
        }
    }
}
