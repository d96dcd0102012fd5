import HTTPServer
import TestSupport
import Testing

/// A real `Server` on 127.0.0.1 port 0, driven by curl and raw sockets: HTTP/1.1 and cleartext HTTP/2
/// (prior knowledge) on the same port, limits, and misbehaving clients.
@Suite("Live server", .timeLimit(.minutes(1)))
struct LiveServerTests {
    enum Wire: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case http1 = "--http1.1"
        case h2c = "--http2-prior-knowledge"

        var testDescription: String { self == .http1 ? "HTTP/1.1" : "h2c" }
        /// What curl's `%{http_version}` prints.
        var version: String { self == .http1 ? "1.1" : "2" }
    }

    let routes = LiveRoutes()

    @Test("the same routes answer over HTTP/1.1 and h2c on one port", arguments: Wire.allCases)
    func routesOverBothProtocols(wire: Wire) async throws {
        try await withTestServer(responder: routes.responder()) { server in
            let hello = try await Curl.run([wire.rawValue, "-w", "%{http_code} %{http_version}", server.url("/hello")])
            #expect(hello.stdout == "hello\n200 \(wire.version)", "\(hello)")

            let item = try await Curl.run([wire.rawValue, server.url("/items/a%20b")])
            #expect(item.stdout == "item a%20b\n", "\(item)")

            let proto = try await Curl.run([wire.rawValue, server.url("/protocol")])
            #expect(proto.stdout == (wire == .h2c ? "h2" : "http/1.1"), "\(proto)")

            let missing = try await Curl.run([wire.rawValue, "-w", " %{http_code}", server.url("/missing")])
            #expect(missing.stdout == "{\"message\":\"Not found\"}\n 404", "\(missing)")

            let wrongMethod = try await Curl.run([wire.rawValue, "-X", "DELETE", "-D", "-", "-o", "/dev/null", server.url("/hello")])
            #expect(wrongMethod.stdout.lowercased().contains("allow: get"), "\(wrongMethod)")
            #expect(wrongMethod.stdout.contains(" 405"), "\(wrongMethod)")
        }
    }

    @Test("two requests from one HTTP/1.1 client reuse one keep-alive connection")
    func keepAlive() async throws {
        try await withTestServer(responder: routes.responder()) { server in
            let result = try await Curl.run([
                "--http1.1", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}:%{num_connects} ",
                server.url("/hello"), server.url("/items/2"),
            ])
            #expect(result.stdout == "200:1 200:0 ", "\(result)")
        }
    }

    @Test("several h2c requests are multiplexed on one connection")
    func h2cMultiplexing() async throws {
        try await withTestServer(responder: routes.responder()) { server in
            let result = try await Nghttp.run(["-v", server.url("/hello"), server.url("/items/2"), server.url("/items/3")])
            #expect(result.succeeded, "\(result)")
            #expect(result.stdout.occurrences(of: "] Connected") == 1, "\(result)")
            for body in ["hello\n", "item 2\n", "item 3\n"] {
                #expect(result.stdout.contains(body), "\(result)")
            }
            #expect(result.stdout.occurrences(of: ":status: 200") == 3, "\(result)")
        }
    }

    @Test("a request body is echoed whole: chunked over HTTP/1.1, DATA frames over h2c", arguments: Wire.allCases)
    func bodyEcho(wire: Wire) async throws {
        let body = numberedLines(size: 300_000)
        try await ScratchFile.with(bytes: body) { file in
            try await withTestServer(responder: routes.responder()) { server in
                var arguments = [wire.rawValue, "-v", "--data-binary", "@\(file.path)", server.url("/echo")]
                if wire == .http1 { arguments += ["-H", "Transfer-Encoding: chunked"] }
                let result = try await Curl.run(arguments)
                #expect(result.succeeded, "\(result.stderr)")
                #expect(result.stdout.utf8.count == body.count)
                #expect(Array(result.stdout.utf8) == body)
                if wire == .http1 {
                    #expect(result.stderr.contains("> Transfer-Encoding: chunked"))
                }
            }
        }
    }

    @Test("Expect: 100-continue gets 100 Continue before the body is sent, then the echo")
    func expectContinue() async throws {
        let body = numberedLines(size: 4096)
        try await ScratchFile.with(bytes: body) { file in
            try await withTestServer(responder: routes.responder()) { server in
                // A long expect timeout: if the 100 never came, curl would wait instead of sending anyway.
                let result = try await Curl.run([
                    "--http1.1", "-v", "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                    "--data-binary", "@\(file.path)", server.url("/echo"),
                ])
                #expect(result.stderr.contains("< HTTP/1.1 100 Continue"), "\(result.stderr)")
                #expect(Array(result.stdout.utf8) == body)
            }
        }
    }

    @Test("a declared body over maxBodyBytes is answered 413 over HTTP/1.1, with or without Expect: 100-continue")
    func declaredTooLarge() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxBodyBytes: 1024)
        try await ScratchFile.with(bytes: numberedLines(size: 64 * 1024)) { file in
            try await withTestServer(configuration, responder: routes.responder()) { server in
                for expect in ["Expect: 100-continue", "Expect:"] {
                    let result = try await Curl.run([
                        "--http1.1", "-H", expect, "--data-binary", "@\(file.path)", "-w", "%{http_code}", server.url("/echo"),
                    ])
                    #expect(result.stdout == "{\"message\":\"request body exceeds 1024 bytes\"}\n413", "\(expect): \(result)")
                }
            }
        }
    }

    @Test("a declared body over maxBodyBytes is answered 413 over h2c, and the rest of the upload is refused with NO_ERROR")
    func declaredTooLargeH2c() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxBodyBytes: 1024)
        // Far more than the flow-control window: the upload cannot finish before the answer arrives.
        try await ScratchFile.with(bytes: numberedLines(size: 1 << 20)) { file in
            try await withTestServer(configuration, responder: routes.responder()) { server in
                // nghttp, not curl: curl 7.88 drops an early response when the stream is then reset, even with
                // NO_ERROR (RFC 9113 §8.1 says clients MUST NOT), so it cannot judge this.
                let result = try await Nghttp.run(["-v", "--data=\(file.path)", server.url("/echo")])
                #expect(result.stdout.contains(":status: 413"), "\(result)")
                #expect(result.stdout.contains("{\"message\":\"request body exceeds 1024 bytes\"}"), "\(result)")
                #expect(result.stdout.contains("recv RST_STREAM frame"), "\(result)")
                #expect(result.stdout.contains("error_code=NO_ERROR"), "\(result)")
                #expect(!result.stdout.contains("error_code=CANCEL"), "\(result)")
            }
        }
    }

    @Test("a streamed body that grows past maxBodyBytes is answered 413", arguments: Wire.allCases)
    func streamedTooLarge(wire: Wire) async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxBodyBytes: 1024)
        try await ScratchFile.with(bytes: numberedLines(size: 4096)) { file in
            try await withTestServer(configuration, responder: routes.responder()) { server in
                var arguments = [wire.rawValue, "--data-binary", "@\(file.path)", "-w", "%{http_code}", server.url("/echo")]
                // No length announced: the limit can only be found while reading.
                arguments += wire == .http1 ? ["-H", "Transfer-Encoding: chunked"] : ["-H", "Content-Length:"]
                let result = try await Curl.run(arguments)
                #expect(result.stdout.hasSuffix("413"), "\(result)")
            }
        }
    }

    @Test("headers over maxHeaderBytes are answered 431 over HTTP/1.1")
    func headersTooLarge() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxHeaderBytes: 4096)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            let big = String(repeating: "b", count: 8192)
            let result = try await Curl.run(["--http1.1", "-H", "X-Big: \(big)", "-o", "/dev/null", "-w", "%{http_code}", server.url("/hello")])
            #expect(result.stdout == "431", "\(result)")
            let after = try await Curl.run(["--http1.1", server.url("/hello")])
            #expect(after.stdout == "hello\n", "the server keeps serving")
        }
    }

    @Test("headers over maxHeaderBytes but within HPACK's headroom are answered 431 over h2c too")
    func h2cHeadersTooLargeGet431() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxHeaderBytes: 4096)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            let big = String(repeating: "b", count: 8192)
            let result = try await Curl.run(["--http2-prior-knowledge", "-H", "X-Big: \(big)", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", server.url("/hello")])
            #expect(result.stdout == "431 2", "\(result)")
            let after = try await Curl.run(["--http2-prior-knowledge", server.url("/hello")])
            #expect(after.stdout == "hello\n", "the server keeps serving")
        }
    }

    @Test("an h2c header list over the HPACK limit is a connection error (GOAWAY) and never reaches a handler")
    func h2cHeadersTooLarge() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(maxHeaderBytes: 4096)
        try await withTestServer(configuration, responder: routes.responder()) { server in
            // Above NIOHTTP2's 16 KiB default, which applies until the client acknowledges our SETTINGS (curl
            // sends its request without waiting); afterwards maxHeaderBytes applies. Known gap: NIOHTTP2 sends
            // GOAWAY but leaves the TCP connection open, so curl only gives up at --max-time.
            let big = String(repeating: "b", count: 20_000)
            let result = try await Curl.run(["--http2-prior-knowledge", "-v", "-H", "X-Big: \(big)", server.url("/hello")], maxTime: 3)
            #expect(!result.succeeded)
            #expect(!result.stdout.contains("hello"))
            #expect(result.stderr.contains("GOAWAY, error=9"), "COMPRESSION_ERROR: \(result.stderr.suffix(300))")
            let after = try await Curl.run(["--http2-prior-knowledge", server.url("/hello")])
            #expect(after.stdout == "hello\n", "the server keeps serving")
        }
    }

    @Test("garbage gets 400 and a slowloris gets 408, while other clients are served meanwhile")
    func misbehavingClients() async throws {
        var configuration = ServerConfiguration()
        configuration.limits = .testing(requestHeadTimeout: .seconds(4))
        try await withTestServer(configuration, responder: routes.responder()) { server in
            try await RawClient.with(port: server.port) { slowloris in
                let started = ContinuousClock.now
                try await slowloris.send("GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: ")
                try await RawClient.with(port: server.port) { garbage in
                    try await garbage.send("\u{16}\u{03}\u{01}garbage\r\n\r\n")
                    let answer = try await garbage.waitForClose()
                    #expect(answer == "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                }
                for wire in Wire.allCases {
                    let result = try await Curl.run([wire.rawValue, server.url("/hello")])
                    #expect(result.stdout == "hello\n", "served while the slowloris is connected: \(result)")
                }
                let answer = try await slowloris.waitForClose(timeout: .seconds(15))
                // A lower bound holds however slow the machine is: the server never cuts a head short of its time.
                #expect(ContinuousClock.now - started >= .seconds(3.5), "the slowloris had (nearly all of) its 4 s, counted from the accept")
                #expect(answer == "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
            }
        }
    }

    @Test("many concurrent clients over both protocols are all served")
    func concurrentClients() async throws {
        try await withTestServer(responder: routes.responder()) { server in
            try await withThrowingTaskGroup(of: CurlResult.self) { group in
                for index in 0..<16 {
                    let wire = Wire.allCases[index % 2]
                    group.addTask { try await Curl.run([wire.rawValue, server.url("/items/\(index)")]) }
                }
                var answers: Set<String> = []
                for try await result in group { answers.insert(result.stdout) }
                #expect(answers == Set((0..<16).map { "item \($0)\n" }))
            }
        }
    }
}
