import HTTPServer
import TestSupport
import Testing

/// Graceful shutdown through ServiceLifecycle: stop accepting, let in-flight requests finish within
/// `shutdownDrainTimeout`, cancel what is left, return from `run()`.
@Suite("Graceful shutdown", .timeLimit(.minutes(1)))
struct GracefulShutdownTests {
    let routes = LiveRoutes()

    /// Retries connecting until the listener refuses: the listener closes asynchronously after the trigger.
    static func expectConnectionsRefused(port: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for _ in 0..<100 {
            do {
                let client = try await RawClient.connect(port: port)
                await client.close()
            } catch {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("new connections were still accepted 2s after shutdown began", sourceLocation: sourceLocation)
    }

    @Test(
        "an in-flight request completes with 200 after shutdown is triggered, while new connections are refused",
        arguments: LiveServerTests.Wire.allCases
    )
    func inFlightCompletes(wire: LiveServerTests.Wire) async throws {
        try await withTestServer(responder: routes.responder()) { server in
            let answer = Observed<CurlResult?>(nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    answer.set(try await Curl.run([wire.rawValue, "-D", "-", server.url("/slow")], maxTime: 30))
                }
                #expect(try await routes.events.receive("the slow request to start") == "slow started")

                await server.triggerGracefulShutdown()
                try await Self.expectConnectionsRefused(port: server.port)
                #expect(!server.hasStopped, "the in-flight request holds the server open")

                routes.gate.open()
                let result = try #require(try await answer.wait(for: "the in-flight request to complete") { $0 != nil })
                #expect(result.succeeded, "\(result)")
                #expect(result.stdout.hasSuffix("slow done\n"), "\(result)")
                #expect(result.stdout.hasPrefix(wire == .http1 ? "HTTP/1.1 200" : "HTTP/2 200"), "\(result)")
                if wire == .http1 {
                    #expect(result.stdout.lowercased().contains("connection: close"), "told to go away: \(result)")
                }
                try await server.waitUntilStopped()
                try await group.waitForAll()
            }
        }
    }

    @Test("a request still running after shutdownDrainTimeout is cancelled, and the server stops")
    func drainTimeoutCancels() async throws {
        var configuration = ServerConfiguration()
        configuration.shutdownDrainTimeout = .milliseconds(300)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await Curl.run(["--http1.1", server.url("/slow")], maxTime: 30) }
                #expect(try await routes.events.receive("the slow request to start") == "slow started")
                let start = ContinuousClock.now
                await server.triggerGracefulShutdown()
                #expect(try await routes.events.receive("the handler to be cancelled") == "slow cancelled")
                #expect(ContinuousClock.now - start >= .milliseconds(300), "not before the drain timeout")
                try await server.waitUntilStopped()
                try await group.waitForAll()
            }
        }
    }

    @Test("idle keep-alive connections are closed at once on shutdown, not after the idle timeout")
    func idleConnectionsClosed() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(idleTimeout: .seconds(60))
        try await withTestServer(configuration, responder: routes.responder()) { server in
            try await RawClient.with(port: server.port) { client in
                try await client.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                try await client.waitForText(containing: "hello\n")
                await server.triggerGracefulShutdown()
                try await client.waitForClose(timeout: .seconds(5))
                try await server.waitUntilStopped(timeout: .seconds(5))
            }
        }
    }

    @Test("a streaming response is cancelled by the drain timeout like any other request")
    func streamCancelledByDrain() async throws {
        var configuration = ServerConfiguration()
        configuration.shutdownDrainTimeout = .milliseconds(200)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            try await RawClient.with(port: server.port) { client in
                try await client.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(try await routes.events.receive("the producer to start") == "stream started")
                await server.triggerGracefulShutdown()
                #expect(try await routes.events.receive("the producer to be cancelled") == "stream cancelled")
                try await client.waitForClose()
                try await server.waitUntilStopped()
            }
        }
    }
}
