import TestSupport
import Testing

// Hostile or odd input never crashes or hangs kv-peer: every case gets an answer (or a close), and the
// member keeps serving afterwards (reference §1, §2.1).

/// The member still answers a plain request after whatever the test threw at it.
private func expectAlive(_ peer: TestPeer, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let health = try await peer.get("/health")
    #expect(health.status == 200, "\(health)", sourceLocation: sourceLocation)
}

@Suite(.timeLimit(.minutes(1))) struct BadInputTests {
    @Test("a declared body over the limit is 413 and the connection closes; a chunked one is refused as well")
    func oversizeBody() async throws {
        try await withKVPeer(maxRequestBytes: 1024) { peer in
            let big = "value=" + String(repeating: "x", count: 4096)
            let declared = try await peer.put("/v2/keys/big", big)
            #expect(declared.status == 413, "\(declared)")
            let chunk = String(big.utf8.count, radix: 16)
            let chunked = try await peer.raw(
                "PUT /v2/keys/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)\r\n\(big)\r\n0\r\n\r\n"
            )
            #expect(chunked.status == 413 || chunked.status == 400, "\(chunked)")
            #expect(try await peer.get("/v2/keys/big").status == 404)
            // Just under the limit is fine.
            let fits = try await peer.put("/v2/keys/big", "value=" + String(repeating: "y", count: 1000))
            #expect(fits.status == 201)
            try await expectAlive(peer)
        }
    }

    @Test("garbage query strings: empty pairs are ignored, bad escapes and semicolons are 210 with Go's cause, index 0")
    func garbageQueries() async throws {
        try await withKVPeer { peer in
            for query in ["&&==&", "=", "a", "=x&value=", "value"] {
                let reply = try await peer.put("/v2/keys/g?\(query)")
                #expect(reply.status == 200 || reply.status == 201, "\(query): \(reply)")
                #expect(reply.body.contains(#""value":"""#), "\(query): \(reply)")
            }
            for (query, cause) in [
                ("%", #"invalid URL escape "%""#), ("value=%", #"invalid URL escape "%""#),
                ("value=%4", #"invalid URL escape "%4""#), ("value=%zz", #"invalid URL escape "%zz""#),
                ("%zz=1", #"invalid URL escape "%zz""#), ("value=a;b", "invalid semicolon separator in query"),
            ] {
                expectError(try await peer.put("/v2/keys/g?\(query)"), status: 400, 210, cause, index: 0)
                expectError(try await peer.get("/v2/keys/g?\(query)"), status: 400, 210, cause, index: 0)
            }
            expectError(try await peer.put("/v2/keys/g", "value=%zz"), status: 400, 210, #"invalid URL escape "%zz""#, index: 0)
            expectError(try await peer.put("/v2/keys/g", "value=a;b"), status: 400, 210, "invalid semicolon separator in query", index: 0)
            // Body errors are reported before query errors (Go parses the body first).
            expectError(try await peer.put("/v2/keys/g?value=%4", "value=%zz"), status: 400, 210, #"invalid URL escape "%zz""#, index: 0)
            let utf8 = try await peer.put("/v2/keys/g?value=%E2%9C%93%FF")
            // Go keeps the raw 0xFF byte and its JSON encoder writes `\ufffd`; kv-peer decodes to U+FFFD and writes it
            // as is. Same string for any JSON reader.
            #expect(utf8.body.contains(#""value":"✓\ufffd""#) || utf8.body.contains("\"value\":\"✓\u{FFFD}\""), "\(utf8)")
            let long = try await peer.put("/v2/keys/g?" + String(repeating: "x=1&", count: 2000) + "value=end")
            #expect(long.body.contains(#""value":"end""#), "\(long)")
            try await expectAlive(peer)
        }
    }

    @Test("keys: %2F decodes to /, unicode and spaces and :@. survive, + stays a plus, trailing slash is dropped")
    func keyEncoding() async throws {
        try await withKVPeer { peer in
            let slash = try await peer.put("/v2/keys/a%2Fb", "value=1")
            #expect(slash.body == #"{"action":"set","node":{"key":"/a/b","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            #expect(try await peer.get("/v2/keys/a").body.contains(#""nodes":[{"key":"/a/b""#))
            let odd = try await peer.put("/v2/keys/a%20b:c@d.e/%E2%9C%93", "value=1")
            #expect(odd.body.contains(#""key":"/a b:c@d.e/✓""#), "\(odd)")
            // Raw (unescaped) UTF-8 in the request target: Go accepts it; NIO's HTTP/1 parser refuses it with a 400.
            // Either way the member answers and lives on.
            let raw = try await peer.raw("GET /v2/keys/a%20b:c@d.e/✓ HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect((raw.status == 200 && raw.body.contains(#""key":"/a b:c@d.e/✓""#)) || raw.status == 400, "\(raw)")
            #expect(try await peer.put("/v2/keys/plus+sign", "value=1").body.contains(#""key":"/plus+sign""#))
            #expect(try await peer.put("/v2/keys/trail/", "value=1").body.contains(#""key":"/trail","#))
            let html = try await peer.put("/v2/keys/%3Cscript%3E%26", "value=1")
            #expect(html.body.contains(#""key":"/\u003cscript\u003e\u0026""#), "\(html)")
            let badEscape = try await peer.get("/v2/keys/%zz")
            #expect(badEscape.status == 400, "\(badEscape)")
            try await expectAlive(peer)
        }
    }

    @Test("unclean paths are answered 301 to the cleaned path (Go ServeMux), query kept")
    func uncleanPaths() async throws {
        try await withKVPeer { peer in
            let doubled = try await peer.get("/v2/keys//foo?x=1")
            #expect(doubled.status == 301, "\(doubled)")
            #expect(doubled.header("Location") == "/v2/keys/foo?x=1")
            #expect(doubled.body == "<a href=\"/v2/keys/foo?x=1\">Moved Permanently</a>.\n\n")
            #expect(doubled.header("Content-Type") == "text/html; charset=utf-8")
            expectCORS(doubled)
            let dots = try await peer.raw("PUT /v2/keys/a/../b/./c HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nvalue=1")
            #expect(dots.status == 301 && dots.header("Location") == "/v2/keys/b/c" && dots.body.isEmpty, "\(dots)")
            let encoded = try await peer.get("/v2/keys/a%2F%2Fb")
            #expect(encoded.status == 301 && encoded.header("Location") == "/v2/keys/a/b", "\(encoded)")
            #expect(try await peer.get("/v2//machines").header("Location") == "/v2/machines")
            // Nothing was written through the redirect.
            #expect(try await peer.get("/v2/keys/b/c").status == 404)
        }
    }

    @Test("huge keys: a 16 KB key works; a URL beyond the header limit is refused without harm")
    func hugeKeys() async throws {
        try await withKVPeer { peer in
            let key = String(repeating: "k", count: 16 * 1024)
            let set = try await peer.put("/v2/keys/\(key)", "value=1")
            #expect(set.status == 201)
            #expect(try await peer.get("/v2/keys/\(key)").body.contains(#""value":"1""#))
            let deep = Array(repeating: "d", count: 2000).joined(separator: "/")
            #expect(try await peer.put("/v2/keys/\(deep)", "value=deep").status == 201)
            let hugeURL = try await peer.raw("GET /v2/keys/\(String(repeating: "x", count: 200 * 1024)) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(hugeURL.status >= 400 && hugeURL.status < 500, "\(hugeURL.status) \(hugeURL.reason)")
            try await expectAlive(peer)
        }
    }

    @Test("malformed requests: garbage, binary, bad versions, bare LF, truncated heads; all answered or closed")
    func malformed() async throws {
        try await withKVPeer { peer in
            for junk in [
                "GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET /v2/keys/a HTTP/9.9\r\n\r\n", "\u{0}\u{1}\u{2}\u{3}\r\n\r\n",
                "GET /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                "PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "GET /v2/keys/a HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
            ] {
                let outcome = try await RawClient.with(port: peer.port) { client in
                    try await client.send(junk)
                    return try await client.received.wait(for: "an answer or a close to \(junk.debugDescription)") {
                        Wire.reply($0.bytes, isHead: false) != nil || $0.closed
                    }
                }
                if let reply = Wire.reply(outcome.bytes, isHead: false) {
                    #expect(reply.status >= 400, "\(junk.debugDescription): \(reply)")
                }
            }
            // A client that vanishes halfway through a body does not wedge anything.
            try await RawClient.with(port: peer.port) { client in
                try await client.send("PUT /v2/keys/half HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nvalue=")
            }
            #expect(try await peer.get("/v2/keys/half").status == 404)
            try await expectAlive(peer)
        }
    }

    @Test("many concurrent clients with odd input at once leave the member consistent")
    func concurrentJunk() async throws {
        try await withKVPeer { peer in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        switch index % 4 {
                        case 0: _ = try await peer.put("/v2/keys/c/\(index)?ttl=x")
                        case 1: _ = try await peer.put("/v2/keys/c/\(index)", "value=%zz")
                        case 2: _ = try await peer.get("/v2/keys/c?wait=true&waitIndex=1&recursive=true")
                        default: try await peer.put("/v2/keys/c/\(index)", "value=\(index)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let listing = try await peer.get("/v2/keys/c")
            #expect(listing.header("X-Etcd-Index") == "10", "\(listing)")
            try await expectAlive(peer)
        }
    }
}
