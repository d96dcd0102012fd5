import HTTPServer
import TestSupport
import Testing

/// `ResponseBody.stream`: headers go out before the producer runs, parts are flushed as written, and a
/// producer that would wait forever (a long-poll watch) is cancelled as soon as its client goes away.
@Suite("Streaming responses", .timeLimit(.minutes(1)))
struct StreamingResponseTests {
    let routes = LiveRoutes()

    @Test("headers and each written part reach the client while the producer is still running")
    func partsArriveEarly() async throws {
        try await withTestServer(responder: routes.responder()) { server in
            try await RawClient.with(port: server.port) { client in
                try await client.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
                let received = try await client.waitForText(containing: "first\n\r\n")
                #expect(received.hasPrefix("HTTP/1.1 200 OK\r\n"))
                #expect(received.contains("transfer-encoding: chunked"))
                #expect(received.hasSuffix("\r\n6\r\nfirst\n\r\n"), "one chunk, flushed: \(received.debugDescription)")
                #expect(try await routes.events.receive("the producer to run") == "stream started")
            }
        }
    }

    @Test("an HTTP/1.1 client that disconnects mid-stream cancels the producer")
    func http1DisconnectCancels() async throws {
        try await withTestServer(responder: routes.responder()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
            try await client.waitForText(containing: "first\n")
            #expect(try await routes.events.receive("the producer to start") == "stream started")
            await client.close()
            #expect(try await routes.events.receive("the producer to be cancelled") == "stream cancelled")
        }
    }

    @Test("an h2c client that goes away mid-stream cancels the producer")
    func h2cDisconnectCancels() async throws {
        try await withTestServer(responder: routes.responder()) { server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                // curl waits for the never-ending body; cancelling its task kills it, closing the connection.
                group.addTask { _ = try? await Curl.run(["--http2-prior-knowledge", "-N", server.url("/stream")], maxTime: 30) }
                #expect(try await routes.events.receive("the producer to start") == "stream started")
                group.cancelAll()
                #expect(try await routes.events.receive("the producer to be cancelled") == "stream cancelled")
                try await group.waitForAll()
            }
        }
    }
}
