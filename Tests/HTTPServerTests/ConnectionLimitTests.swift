import HTTPServer
import TestSupport
import Testing

/// `Limits.maxConnections`: at the limit the server stops serving new connections until one ends.
@Suite("Connection limit", .timeLimit(.minutes(1)))
struct ConnectionLimitTests {
    let routes = LiveRoutes()

    @Test("with maxConnections 1, a second client is served only once the first connection closes")
    func secondWaitsForFirst() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxConnections: 1)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            let first = try await RawClient.connect(port: server.port)
            // Served, and kept open by keep-alive: the one slot is taken.
            try await first.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            try await first.waitForText(containing: "hello\n")

            let second = Observed<CurlResult?>(nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { second.set(try await Curl.run(["--http1.1", server.url("/items/2")], maxTime: 30)) }

                // While the first connection is open the second gets nothing (it would take milliseconds).
                await #expect(throws: TimeoutError.self, "the second client must wait while the first is connected") {
                    try await second.wait(for: "an answer to the second client", timeout: .milliseconds(500)) { $0 != nil }
                }
                #expect(!first.received.value.closed)

                await first.close()
                let answer = try await second.wait(for: "the second client to be served after the first left") { $0 != nil }
                #expect(answer?.stdout == "item 2\n", "\(String(describing: answer))")
                try await group.waitForAll()
            }
        }
    }

    @Test("with maxConnections 2, two clients are served at once")
    func twoAtOnce() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxConnections: 2)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            try await RawClient.with(port: server.port) { first in
                try await first.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                try await first.waitForText(containing: "hello\n")
                let second = try await Curl.run(["--http1.1", server.url("/items/2")])
                #expect(second.stdout == "item 2\n", "the first connection is still open: \(second)")
            }
        }
    }

    @Test("an HTTP/2 connection counts once however many streams it carries")
    func http2ConnectionIsOneSlot() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxConnections: 1)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            let urls = (0..<5).map { server.url("/items/\($0)") }
            let result = try await Nghttp.run(urls)
            #expect(result.succeeded, "\(result)")
            for index in 0..<5 {
                #expect(result.stdout.contains("item \(index)\n"))
            }
        }
    }
}
