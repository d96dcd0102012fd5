import HTTPServer
import TestSupport
import Testing

/// TLS with ALPN: the same port serves HTTP/2 (`h2`) and HTTP/1.1 (`http/1.1`) by negotiation.
@Suite("TLS and ALPN", .timeLimit(.minutes(1)))
struct TLSTests {
    let routes = LiveRoutes()

    /// Runs `body` against a TLS server with a fresh self-signed certificate for 127.0.0.1.
    func withTLSServer(_ body: (TestServer) async throws -> Void) async throws {
        try await SelfSignedCertificate.with { certificate in
            var configuration = ServerConfiguration()
            configuration.tls = TLSOptions(certificateChainPath: certificate.certificatePath, privateKeyPath: certificate.privateKeyPath)
            try await withTestServer(configuration, responder: routes.responder()) { server in
                #expect(server.url().hasPrefix("https://"))
                try await body(server)
            }
        }
    }

    @Test(
        "ALPN picks the protocol the client offers, and both serve the same routes",
        arguments: [("--http2", "2", "h2"), ("--http1.1", "1.1", "http/1.1")]
    )
    func alpn(flag: String, version: String, seenByHandler: String) async throws {
        try await withTLSServer { server in
            let result = try await Curl.run(["-k", flag, "-v", "-w", " %{http_version}", server.url("/protocol")])
            #expect(result.stdout == "\(seenByHandler) \(version)", "\(result)")
            #expect(result.stderr.contains("ALPN: server accepted \(seenByHandler == "h2" ? "h2" : "http/1.1")"), "\(result.stderr)")

            let item = try await Curl.run(["-k", flag, server.url("/items/7")])
            #expect(item.stdout == "item 7\n")
        }
    }

    @Test("request bodies are echoed over TLS with either protocol", arguments: ["--http2", "--http1.1"])
    func echo(flag: String) async throws {
        let body = numberedLines(size: 200_000)
        try await ScratchFile.with(bytes: body) { file in
            try await withTLSServer { server in
                let result = try await Curl.run(["-k", flag, "--data-binary", "@\(file.path)", server.url("/echo")])
                #expect(result.succeeded, "\(result.stderr)")
                #expect(Array(result.stdout.utf8) == body)
            }
        }
    }

    @Test("two requests over TLS reuse one connection", arguments: ["--http2", "--http1.1"])
    func keepAlive(flag: String) async throws {
        try await withTLSServer { server in
            let result = try await Curl.run([
                "-k", flag, "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}:%{num_connects} ",
                server.url("/hello"), server.url("/hello"),
            ])
            #expect(result.stdout == "200:1 200:0 ", "\(result)")
        }
    }

    @Test("a client that speaks cleartext to the TLS port gets no HTTP answer and the server carries on")
    func cleartextToTLSPort() async throws {
        try await withTLSServer { server in
            try await RawClient.with(port: server.port) { client in
                try await client.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                let answer = try await client.waitForClose()
                #expect(!answer.contains("HTTP/1.1"), "no plaintext response: \(answer.debugDescription)")
            }
            let result = try await Curl.run(["-k", "--http2", server.url("/hello")])
            #expect(result.stdout == "hello\n")
        }
    }
}
