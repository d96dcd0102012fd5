import HTTPServer
import HTTPTypes
import NIOCore
import NIOEmbedded
import TestSupport
import Testing

/// Whole HTTP/1.1 exchanges through the real pipeline and request loop on a testing channel, byte for byte.
@Suite("Request loop on a channel")
struct RequestLoopTests {
    /// Reports handler events (`started`, `cancelled`, `read N`) for the tests to await.
    let events = Mailbox<String>()
    /// Holds `/slow` until the test opens it.
    let gate = Gate()

    func responder() -> Responder {
        let events = events
        let gate = gate
        var router = Router()
        router.get("/slow") { _, _ in
            events.post("slow started")
            try await gate.wait()
            return Response(body: ResponseBody(string: "slow"))
        }
        router.get("/hello") { _, _ in Response(body: ResponseBody(string: "hello")) }
        router.post("/echo") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            events.post("read \(body.readableBytes)")
            return Response(body: ResponseBody(buffer: body))
        }
        router.post("/ignore-body") { _, _ in Response(status: .accepted) }
        router.get("/fail") { _, _ in throw InternalFailure() }
        router.get("/stream") { _, _ in
            Response(body: .stream { writer in
                events.post("started")
                try await writer.write("first;")
                do {
                    try await Gate().wait()
                } catch {
                    events.post("cancelled")
                    throw error
                }
            })
        }
        router.get("/chunks") { _, _ in
            Response(body: .stream { writer in
                try await writer.write("ab")
                try await writer.write("cde")
            })
        }
        return router.buildResponder()
    }

    @Test("two requests on one keep-alive connection are both answered, in order")
    func keepAlive() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            try await connection.waitForResponses(1, endingWith: "hello")
            try await connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
            let text = try await connection.waitForResponses(2, endingWith: "abc")
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
            #expect(!connection.isClosed)
        }
    }

    @Test("connection: close is announced in the response and the server closes after it")
    func connectionClose() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            let text = try await connection.waitForClose()
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nconnection: close\r\n\r\nhello")
        }
    }

    @Test("HTTP/1.0 without keep-alive closes after the response")
    func http10() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("GET /hello HTTP/1.0\r\n\r\n")
            let text = try await connection.waitForClose()
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nconnection: close\r\n\r\nhello")
        }
    }

    @Test("HEAD gets GET's headers, content-length included, and no body")
    func head() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            try await connection.waitForText(containing: "\r\n\r\n")
            // A GET right behind it must be parsed as a new request, proving no body bytes were sent.
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            let text = try await connection.waitForResponses(2, endingWith: "hello")
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        }
    }

    @Test("a chunked request body is read whole and echoed")
    func chunkedRequest() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            try await connection.send("3\r\nabc\r\n")
            try await connection.send("4\r\ndefg\r\n0\r\n\r\n")
            #expect(try await events.receive("the handler to read the body") == "read 7")
            let text = try await connection.waitForText(containing: "abcdefg")
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nabcdefg")
        }
    }

    @Test("Expect: 100-continue gets exactly one 100 Continue once the handler reads, then the answer")
    func expectContinue() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            try await connection.waitForText(containing: "HTTP/1.1 100 Continue\r\n\r\n")
            #expect(connection.text == "HTTP/1.1 100 Continue\r\n\r\n")
            try await connection.send("data")
            let text = try await connection.waitForText(containing: "data")
            #expect(text == "HTTP/1.1 100 Continue\r\n\r\n" + "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndata")
        }
    }

    @Test("Expect: 100-continue to a handler that never reads: no 100, the answer, then close")
    func expectContinueUnread() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("POST /ignore-body HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            let text = try await connection.waitForClose()
            #expect(!text.contains("100 Continue"))
            #expect(text.hasPrefix("HTTP/1.1 202 Accepted\r\n"))
        }
    }

    @Test("an unsupported expectation is answered 417 without calling the handler")
    func unsupportedExpectation() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: teapot\r\n\r\n")
            let text = try await connection.waitForClose()
            let body = "{\"message\":\"unsupported expectation teapot\"}\n"
            #expect(
                text == "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
            #expect(events.pending.isEmpty)
        }
    }

    @Test("a declared body over maxBodyBytes is answered 413 with connection: close, before any body is read")
    func declaredTooLarge() async throws {
        try await ConnectionHarness.with(limits: .testing(maxBodyBytes: 10), responder: responder()) { connection in
            try await connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
            let text = try await connection.waitForClose()
            let body = "{\"message\":\"request body exceeds 10 bytes\"}\n"
            #expect(
                text == "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
            #expect(events.pending.isEmpty, "the handler never ran")
        }
    }

    @Test("a chunked body that grows past maxBodyBytes is answered 413 and the connection closes")
    func streamedTooLarge() async throws {
        try await ConnectionHarness.with(limits: .testing(maxBodyBytes: 10), responder: responder()) { connection in
            try await connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            try await connection.send("8\r\n12345678\r\n")
            try await connection.send("8\r\n12345678\r\n")
            let text = try await connection.waitForText(containing: "exceeds 10 bytes")
            #expect(text.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
            try await connection.send("8\r\n12345678\r\n")
            try await connection.waitForClose()
        }
    }

    @Test("a handler error that is not an HTTPResponseError is a bare 500, and the connection stays usable")
    func internalError() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("GET /fail HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            let text = try await connection.waitForResponses(2, endingWith: "hello")
            let body = "{\"message\":\"Internal Server Error\"}\n"
            #expect(
                text == "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            )
            #expect(!text.contains("secret"))
        }
    }

    @Test("a streamed response is sent chunked")
    func chunkedResponse() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("GET /chunks HTTP/1.1\r\nHost: a\r\n\r\n")
            let text = try await connection.waitForText(containing: "0\r\n\r\n")
            #expect(text == "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n")
        }
    }

    @Test("a streaming producer is cancelled as soon as the connection closes")
    func streamCancelledOnClose() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await events.receive("the producer to start") == "started")
            try await connection.waitForText(containing: "first;")
            try await connection.channel.close()
            #expect(try await events.receive("the producer to be cancelled") == "cancelled")
        }
    }

    @Test("pipelined requests are answered in order, and a pipelined connection: close is honoured")
    func pipelined() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send(
                "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n" + "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
                    + "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
            let text = try await connection.waitForClose()
            #expect(
                text == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
                    + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nconnection: close\r\n\r\nhello"
            )
        }
    }

    @Test("a pipelined request that outlasts idleTimeout is not cut off by the previous response's idle timer")
    func pipelinedSlowRequest() async throws {
        try await ConnectionHarness.with(limits: .testing(idleTimeout: .seconds(30)), responder: responder()) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await events.receive("the pipelined request to reach its handler") == "slow started")
            await connection.advanceTime(by: .seconds(60))
            #expect(!connection.isClosed, "a request is in progress: the idle timer must not apply")
            gate.open()
            let text = try await connection.waitForResponses(2, endingWith: "slow")
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
            await connection.advanceTime(by: .seconds(30))
            try await connection.waitForClose()
        }
    }

    @Test("a malformed body after the response was already sent gets no second response, only a close")
    func parseErrorAfterEarlyResponse() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("POST /ignore-body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            try await connection.waitForText(containing: "202 Accepted")
            try await connection.send("zz\r\nnot a chunk\r\n")
            let text = try await connection.waitForClose()
            #expect(text == "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        }
    }

    @Test("quiescing an idle connection closes it; quiescing mid-request finishes the response with connection: close")
    func quiesce() async throws {
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")
            connection.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            try await connection.send("cd")
            let text = try await connection.waitForClose()
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nconnection: close\r\n\r\nabcd")
        }
        try await ConnectionHarness.with(responder: responder()) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            let first = try await connection.waitForResponses(1, endingWith: "hello")
            connection.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            #expect(try await connection.waitForClose() == first)
        }
    }
}

/// An error the request loop does not know: it must become a plain 500 without leaking its text.
struct InternalFailure: Error, CustomStringConvertible {
    var description: String { "secret internal detail" }
}
