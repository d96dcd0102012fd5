import HTTPServer
import HTTPTypes
import NIOCore
import Testing

/// `ByteBuffer.writeJSONString` and `HTTPError`'s rendering; expected strings are what Go's
/// `encoding/json` produces for the same input (`json.Marshal("…")`).
@Suite("HTTPError and JSON strings")
struct HTTPErrorTests {
    static func json(_ string: String) -> String {
        var buffer = ByteBuffer()
        buffer.writeJSONString(string)
        return String(buffer: buffer)
    }

    @Test(
        "strings are escaped like Go's encoding/json",
        arguments: [
            ("plain", #""plain""#),
            ("", #""""#),
            ("say \"hi\"", #""say \"hi\"""#),
            ("back\\slash", #""back\\slash""#),
            ("a\nb\rc\td", #""a\nb\rc\td""#),
            ("<script>&amp;</script>", #""\u003cscript\u003e\u0026amp;\u003c/script\u003e""#),
            ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
            ("\u{1B}[0m", #""\u001b[0m""#),
            ("del\u{7F}", "\"del\u{7F}\""),
            ("line\u{2028}para\u{2029}", #""line\u2028para\u2029""#),
            ("\u{2027}\u{202A}", "\"\u{2027}\u{202A}\""),
            ("café ☃ 🎉", "\"café ☃ 🎉\""),
            ("/slash/", #""/slash/""#),
        ]
    )
    func escaping(input: String, expected: String) {
        #expect(Self.json(input) == expected)
    }

    @Test("writing appends to what the buffer already holds")
    func appends() {
        var buffer = ByteBuffer(string: "{\"k\":")
        buffer.writeJSONString("v<")
        buffer.writeStaticString("}")
        #expect(String(buffer: buffer) == #"{"k":"v\u003c"}"#)
    }

    @Test("every control character below 0x20 without a short form is written as \\u00XX")
    func allControlCharacters() {
        let shortForms: [UInt8: String] = [0x0A: #"\n"#, 0x0D: #"\r"#, 0x09: #"\t"#]
        for byte in UInt8(0)..<0x20 {
            let expected = shortForms[byte] ?? String(format: byte)
            #expect(Self.json(String(decoding: [byte], as: UTF8.self)) == "\"\(expected)\"", "byte \(byte)")
        }
    }

    @Test("HTTPError renders {\"message\":…} as JSON with a trailing newline, keeping its header fields")
    func rendering() async throws {
        let error = HTTPError(.conflict, message: "a<b & \"c\"", headerFields: [.retryAfter: "1"])
        let response = error.response(allocator: ByteBufferAllocator())
        #expect(response.status == .conflict)
        #expect(response.headerFields[.contentType] == "application/json")
        #expect(response.headerFields[.retryAfter] == "1")
        #expect(try await response.body.collectString() == #"{"message":"a\u003cb \u0026 \"c\""}"# + "\n")
    }

    @Test("the default message is the status's reason phrase")
    func defaultMessage() async throws {
        let error = HTTPError(.serviceUnavailable)
        #expect(error.message == "Service Unavailable")
        #expect(error.description == "503 Service Unavailable")
        let body = try await error.response(allocator: ByteBufferAllocator()).body.collectString()
        #expect(body == "{\"message\":\"Service Unavailable\"}\n")
    }

    @Test("a content-type given by the thrower is replaced: the body is always JSON")
    func contentTypeForced() {
        let response = HTTPError(.badRequest, headerFields: [.contentType: "text/plain"]).response(allocator: ByteBufferAllocator())
        #expect(response.headerFields[.contentType] == "application/json")
    }
}

extension String {
    /// `\u00XX` with lowercase hex, as Go writes it.
    fileprivate init(format byte: UInt8) {
        let hex = Array("0123456789abcdef")
        self = "\\u00" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
    }
}
