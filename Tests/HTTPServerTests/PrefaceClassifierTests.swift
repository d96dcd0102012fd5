import HTTPServer
import NIOCore
import Testing

@Suite("PrefaceClassifier")
struct PrefaceClassifierTests {
    static let preface = PrefaceClassifier.http2Preface

    @Test("the preface constant is RFC 9113's 24 bytes")
    func prefaceConstant() {
        #expect(Self.preface.count == 24)
        #expect(String(decoding: Self.preface, as: UTF8.self) == "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    }

    @Test("no bytes yet: need more")
    func empty() {
        #expect(PrefaceClassifier.classify([UInt8]()) == .needMore)
        #expect(PrefaceClassifier.classify(ByteBuffer().readableBytesView) == .needMore)
    }

    @Test("the full preface is HTTP/2")
    func fullPreface() {
        #expect(PrefaceClassifier.classify(Self.preface) == .http2)
    }

    @Test("the preface followed by the client's SETTINGS frame is HTTP/2")
    func prefaceWithFrames() {
        let settings: [UInt8] = [0, 0, 6, 0x04, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 100]
        #expect(PrefaceClassifier.classify(Self.preface + settings) == .http2)
        var buffer = ByteBuffer(bytes: Self.preface)
        buffer.writeBytes(settings)
        #expect(PrefaceClassifier.classify(buffer.readableBytesView) == .http2)
    }

    @Test("every proper prefix of the preface needs more bytes", arguments: 1..<24)
    func properPrefix(length: Int) {
        #expect(PrefaceClassifier.classify(Self.preface.prefix(length)) == .needMore)
    }

    @Test("a preface split at any point: needMore on the first part, http2 once the rest is buffered", arguments: 1..<24)
    func splitPreface(at split: Int) {
        // The sniffer classifies everything buffered so far, so the second call sees both parts.
        var buffered = ByteBuffer(bytes: Self.preface[..<split])
        #expect(PrefaceClassifier.classify(buffered.readableBytesView) == .needMore)
        buffered.writeBytes(Self.preface[split...])
        #expect(PrefaceClassifier.classify(buffered.readableBytesView) == .http2)
    }

    @Test("a preface split into three reads at every pair of points", arguments: [(1, 2), (3, 16), (15, 16), (17, 23), (22, 23)])
    func threeParts(first: Int, second: Int) {
        let parts = [Self.preface[..<first], Self.preface[first..<second], Self.preface[second...]]
        var buffered: [UInt8] = []
        for (index, part) in parts.enumerated() {
            buffered += part
            let expected: PrefaceVerdict = index == parts.count - 1 ? .http2 : .needMore
            #expect(PrefaceClassifier.classify(buffered) == expected, "after part \(index)")
        }
    }

    @Test("a mismatch at any byte of the preface settles it as HTTP/1", arguments: 0..<24)
    func mismatch(at index: Int) {
        var bytes = Array(Self.preface.prefix(index + 1))
        bytes[index] ^= 0x01
        #expect(PrefaceClassifier.classify(bytes) == .http1)
        // Whatever follows the differing byte cannot change the verdict.
        let withRest = bytes + Self.preface.dropFirst(index + 1)
        #expect(PrefaceClassifier.classify(withRest) == .http1)
    }

    @Test(
        "HTTP/1 request lines and garbage are HTTP/1",
        arguments: [
            "GET / HTTP/1.1\r\n", "G", "PUT /v2/keys/a HTTP/1.1\r\n", "PU", "POST / HTTP/1.1\r\n", "PATCH",
            "PRI * HTTP/1.1\r\n", "\u{16}\u{03}\u{01}garbage\r\n\r\n", " ", "\r\n",
        ]
    )
    func http1(start: String) {
        #expect(PrefaceClassifier.classify(Array(start.utf8)) == .http1)
    }

    @Test("bytes shared by PUT/POST and the preface need more", arguments: ["P", "PR", "PRI", "PRI * HTTP/2.0\r\n"])
    func sharedPrefix(start: String) {
        #expect(PrefaceClassifier.classify(Array(start.utf8)) == .needMore)
    }

    @Test("a sliced buffer is classified from its reader index, not from storage start")
    func readerIndex() {
        var buffer = ByteBuffer(string: "GET ")
        buffer.writeBytes(Self.preface)
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(PrefaceClassifier.classify(buffer.readableBytesView) == .http2)
    }
}
