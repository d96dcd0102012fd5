import HTTPServer
import NIOCore
import TestSupport
import Testing

/// Protocol negotiation, parser errors and connection timeouts, byte for byte, on a testing channel with a
/// fake clock (`Server.configureConnection` wires the same pipeline as a real socket gets).
@Suite("Protocol handling on a channel")
struct ProtocolHandlingTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static let responder: Responder = {
        var router = Router()
        router.get("/hello") { _, _ in Response(body: ResponseBody(string: "hello")) }
        router.put("/items/:id", handler: echoRoute("put"))
        return router.buildResponder()
    }()

    static let badRequest = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    static let headersTooLarge = "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    static let requestTimeout = "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"

    @Test(
        "an HTTP/2 preface split across reads still negotiates HTTP/2",
        arguments: [[24], [1, 23], [3, 1, 20], [16, 2, 4, 2], Array(repeating: 1, count: 24)]
    )
    func splitPreface(parts: [Int]) async throws {
        try await ConnectionHarness.with { connection in
            var offset = 0
            for (index, length) in parts.enumerated() {
                try await connection.send(bytes: Array(Self.preface[offset..<offset + length]))
                offset += length
                if index < parts.count - 1 {
                    #expect(connection.negotiated.value == .pending, "decided after \(offset) bytes")
                    #expect(connection.text.isEmpty)
                }
            }
            try await connection.negotiated.wait(for: "negotiation") { $0 != .pending }
            #expect(connection.negotiated.value == .http2)
            // The server's side of the preface: a SETTINGS frame on stream 0.
            let settings = try await connection.written.wait(for: "the server's SETTINGS frame") { $0.bytes.count >= 9 }
            #expect(settings.bytes[3] == 0x04, "frame type")
            #expect(settings.bytes[4] == 0x00, "flags")
            #expect(Array(settings.bytes[5..<9]) == [0, 0, 0, 0], "stream id")
            #expect(!connection.isClosed)
        }
    }

    @Test("a request line split across reads negotiates HTTP/1 and reaches the handler intact")
    func splitRequestLine() async throws {
        try await ConnectionHarness.with(responder: Self.responder) { connection in
            // "P" could still be the preface; "PU" cannot.
            try await connection.send("P")
            #expect(connection.negotiated.value == .pending)
            try await connection.send("UT /items/7 HTT")
            #expect(connection.negotiated.value == .http1)
            try await connection.send("P/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
            let response = try await connection.waitForText(containing: "put id=7")
            #expect(response == "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nput id=7")
        }
    }

    @Test("bytes that diverge from the preface only late are handed to the HTTP/1 parser, which answers 400")
    func lateDivergence() async throws {
        try await ConnectionHarness.with(responder: Self.responder) { connection in
            for piece in ["P", "R", "I", " * HTTP/"] {
                try await connection.send(piece)
                #expect(connection.negotiated.value == .pending)
            }
            try await connection.send("1.1\r\nHost: a\r\n\r\n")
            #expect(connection.negotiated.value == .http1)
            // llhttp accepts the PRI method only as the start of the HTTP/2 preface.
            #expect(try await connection.waitForClose() == Self.badRequest)
        }
    }

    @Test("garbage (a TLS ClientHello on the cleartext port) is answered 400, then the connection closes")
    func garbage() async throws {
        try await ConnectionHarness.with(responder: Self.responder) { connection in
            try await connection.send("\u{16}\u{03}\u{01}garbage\r\n\r\n")
            let written = try await connection.waitForClose()
            #expect(written == Self.badRequest)
        }
    }

    @Test("a malformed header line is answered 400, then the connection closes")
    func malformedHeader() async throws {
        try await ConnectionHarness.with(responder: Self.responder) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\nHost a\r\n\r\n")
            #expect(try await connection.waitForClose() == Self.badRequest)
        }
    }

    @Test("headers beyond maxHeaderBytes are answered 431, then the connection closes")
    func headersTooLarge() async throws {
        try await ConnectionHarness.with(limits: .testing(maxHeaderBytes: 1024), responder: Self.responder) { connection in
            let big = String(repeating: "x", count: 2048)
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: \(big)\r\n\r\n")
            #expect(try await connection.waitForClose() == Self.headersTooLarge)
        }
    }

    @Test("many headers that together exceed maxHeaderBytes are answered 431 as well")
    func manyHeaders() async throws {
        try await ConnectionHarness.with(limits: .testing(maxHeaderBytes: 1024), responder: Self.responder) { connection in
            // 200 small fields, ~2 KB of names and values, none of them large on its own.
            let headers = (0..<200).map { "X-H\($0): value\r\n" }.joined()
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\(headers)\r\n")
            #expect(try await connection.waitForClose() == Self.headersTooLarge)
        }
    }

    @Test("headers just under maxHeaderBytes are served")
    func headersUnderLimit() async throws {
        try await ConnectionHarness.with(limits: .testing(maxHeaderBytes: 1024), responder: Self.responder) { connection in
            let value = String(repeating: "x", count: 512)
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\nX-Ok: \(value)\r\n\r\n")
            try await connection.waitForText(containing: "hello")
            #expect(connection.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        }
    }

    @Test("a head not finished within requestHeadTimeout is answered 408, then the connection closes")
    func headTimeout() async throws {
        try await ConnectionHarness.with(limits: .testing(requestHeadTimeout: .seconds(5)), responder: Self.responder) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n")
            await connection.advanceTime(by: .seconds(5) - .milliseconds(1))
            #expect(connection.text.isEmpty)
            #expect(!connection.isClosed)
            await connection.advanceTime(by: .milliseconds(1))
            #expect(try await connection.waitForClose() == Self.requestTimeout)
        }
    }

    @Test("trickling a head byte by byte does not extend its deadline (slowloris)")
    func slowloris() async throws {
        try await ConnectionHarness.with(limits: .testing(requestHeadTimeout: .seconds(5)), responder: Self.responder) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\n")
            for piece in ["H", "o", "s", "t"] {
                await connection.advanceTime(by: .seconds(1))
                try await connection.send(piece)
            }
            #expect(!connection.isClosed, "4s in: not yet")
            await connection.advanceTime(by: .seconds(1))
            #expect(try await connection.waitForClose() == Self.requestTimeout)
        }
    }

    @Test("a connection that sends nothing is closed after requestHeadTimeout, without an answer")
    func silentConnection() async throws {
        try await ConnectionHarness.with(limits: .testing(requestHeadTimeout: .seconds(5)), responder: Self.responder) { connection in
            await connection.advanceTime(by: .seconds(5) - .milliseconds(1))
            #expect(!connection.isClosed)
            await connection.advanceTime(by: .milliseconds(1))
            #expect(try await connection.waitForClose() == "")
            try await connection.negotiated.wait(for: "negotiation to fail") { $0 == .failed }
        }
    }

    @Test("a preface that stalls halfway is closed after requestHeadTimeout, without an answer")
    func stalledPreface() async throws {
        try await ConnectionHarness.with(limits: .testing(requestHeadTimeout: .seconds(5))) { connection in
            try await connection.send(bytes: Array(Self.preface.prefix(12)))
            await connection.advanceTime(by: .seconds(5))
            #expect(try await connection.waitForClose() == "")
            #expect(connection.negotiated.value == .failed)
        }
    }

    @Test("an idle keep-alive connection is closed after idleTimeout, counted from the end of the response")
    func idleTimeout() async throws {
        let limits = ServerConfiguration.Limits.testing(idleTimeout: .seconds(30), requestHeadTimeout: .seconds(5))
        try await ConnectionHarness.with(limits: limits, responder: Self.responder) { connection in
            await connection.advanceTime(by: .seconds(1))
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try await connection.waitForText(containing: "hello")
            #expect(response == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            await connection.advanceTime(by: .seconds(30) - .milliseconds(1))
            #expect(!connection.isClosed, "the idle clock starts at the response, not at the connection")
            await connection.advanceTime(by: .milliseconds(1))
            #expect(try await connection.waitForClose() == response, "closed without another byte")
        }
    }

    @Test("the idle timer is re-armed after every response on a keep-alive connection")
    func idleTimeoutAfterSecondRequest() async throws {
        let limits = ServerConfiguration.Limits.testing(idleTimeout: .seconds(30), requestHeadTimeout: .seconds(5))
        try await ConnectionHarness.with(limits: limits, responder: Self.responder) { connection in
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            try await connection.waitForResponses(1, endingWith: "hello")
            await connection.advanceTime(by: .seconds(20))
            try await connection.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            try await connection.waitForResponses(2, endingWith: "hello")
            await connection.advanceTime(by: .seconds(20))
            #expect(!connection.isClosed, "40s after the first response, 20s after the second")
            await connection.advanceTime(by: .seconds(10))
            try await connection.waitForClose()
        }
    }

    @Test("a request body that stops arriving is cut off after requestHeadTimeout of silence")
    func stalledBody() async throws {
        var router = Router()
        router.post("/upload") { request, _ in
            Response(body: ResponseBody(buffer: try await request.body.collect(upTo: 1 << 20)))
        }
        let limits = ServerConfiguration.Limits.testing(requestHeadTimeout: .seconds(5))
        try await ConnectionHarness.with(limits: limits, responder: router.buildResponder()) { connection in
            try await connection.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12")
            await connection.advanceTime(by: .seconds(4))
            try await connection.send("34")
            await connection.advanceTime(by: .seconds(4))
            #expect(!connection.isClosed, "each read re-arms the body timer")
            await connection.advanceTime(by: .seconds(1))
            #expect(try await connection.waitForClose() == "")
        }
    }
}
