import NIOCore
import NIOHTTP1

/// Header rules of a reverse proxy (RFC 9110 §7.6): hop-by-hop fields stop here, the client's address and
/// scheme travel on in `X-Forwarded-*` and `Forwarded`, `Host` is kept as the client sent it.
///
/// Runs for every request, so it works on bytes: one pass over the client's fields, no lowercased copies.
enum ForwardingHeaders {
    /// What the proxy says about one client connection, computed once per connection.
    struct Client: Sendable {
        let address: String?
        let scheme: String
        /// `for=<address>` as `Forwarded` wants it (IPv6 in quotes and brackets).
        let forwardedFor: String?

        init(remoteAddress: SocketAddress?, isTLS: Bool) {
            address = remoteAddress?.ipAddress
            scheme = isTLS ? "https" : "http"
            forwardedFor = address.map { "for=" + ($0.contains(":") ? "\"[\($0)]\"" : $0) }
        }
    }

    static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        guard head.headers.contains(name: "upgrade") else { return false }
        return head.headers[canonicalForm: "connection"].contains { $0.utf8.elementsEqual("upgrade".utf8, by: asciiCaseInsensitive) }
    }

    /// Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2): safe to retry elsewhere.
    static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }

    static func upstreamRequestHead(_ head: HTTPRequestHead, client: Client, upgrade: Bool, isHTTP2: Bool) -> HTTPRequestHead {
        var host: String?
        var hasContentLength = false
        var clientSentTransferEncoding = false
        var forwardedFor: String?
        var forwarded: String?
        var hasForwardedHost = false
        let connectionTokens = head.headers.contains(name: "connection") ? head.headers[canonicalForm: "connection"] : []
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 5)
        for (name, value) in head.headers {
            switch classify(name) {
            case .transferEncoding:
                clientSentTransferEncoding = true
                continue
            case .contentLength:
                hasContentLength = true
            case .hopByHop, .forwardedProto:
                continue
            case .host:
                if host == nil { host = value }
            case .forwardedFor:
                forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
                continue
            case .forwarded:
                forwarded = forwarded.map { $0 + ", " + value } ?? value
                continue
            case .forwardedHost:
                hasForwardedHost = true
            case .other:
                if !connectionTokens.isEmpty, connectionTokens.contains(where: { $0.utf8.elementsEqual(name.utf8, by: asciiCaseInsensitive) }) {
                    continue
                }
            }
            headers.add(name: name, value: value)
        }
        // The body is re-chunked towards the upstream: a request the client framed with chunks must say so, or
        // its body would read as the next request (smuggling). Over HTTP/2 a body has no framing header at all;
        // methods that carry one get chunks, the others must come without a body (the handler checks).
        if !hasContentLength, clientSentTransferEncoding || (isHTTP2 && !methodsWithoutBody.contains(head.method)) {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        if upgrade, let protocolName = head.headers.first(name: "upgrade") {
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: protocolName)
        }
        if let address = client.address {
            headers.add(name: "x-forwarded-for", value: forwardedFor.map { $0 + ", " + address } ?? address)
        } else if let forwardedFor {
            headers.add(name: "x-forwarded-for", value: forwardedFor)
        }
        // The proxy is the edge: what the client used is the truth, whatever a client claims.
        headers.add(name: "x-forwarded-proto", value: client.scheme)
        if !hasForwardedHost, let host {
            headers.add(name: "x-forwarded-host", value: host)
        }
        var element = client.forwardedFor.map { $0 + ";" } ?? ""
        if let host { element += "host=" + quotedIfNeeded(host) + ";" }
        element += "proto=" + client.scheme
        headers.add(name: "forwarded", value: forwarded.map { $0 + ", " + element } ?? element)
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }

    static func clientResponseHead(_ head: HTTPResponseHead) -> HTTPResponseHead {
        // Most responses carry no hop-by-hop field but `connection`/`keep-alive`; copy only when needed.
        guard head.headers.contains(where: { [.hopByHop, .transferEncoding].contains(classify($0.name)) }) else { return head }
        let connectionTokens = head.headers[canonicalForm: "connection"]
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers where ![.hopByHop, .transferEncoding].contains(classify(name)) {
            if connectionTokens.contains(where: { $0.utf8.elementsEqual(name.utf8, by: asciiCaseInsensitive) }) { continue }
            headers.add(name: name, value: value)
        }
        return HTTPResponseHead(version: head.version, status: head.status, headers: headers)
    }

    private static let methodsWithoutBody: [HTTPMethod] = [.GET, .HEAD, .DELETE, .OPTIONS, .TRACE]

    private enum FieldKind: Equatable {
        case hopByHop, transferEncoding, contentLength, host, forwardedFor, forwarded, forwardedHost, forwardedProto, other
    }

    /// By length first, then bytes: most fields are rejected by the length alone.
    private static func classify(_ name: String) -> FieldKind {
        let bytes = name.utf8
        func equals(_ lowercase: StaticString) -> Bool {
            lowercase.withUTF8Buffer { bytes.elementsEqual($0, by: asciiCaseInsensitive) }
        }
        switch bytes.count {
        case 2: return equals("te") ? .hopByHop : .other
        case 4: return equals("host") ? .host : .other
        case 7: return equals("upgrade") || equals("trailer") ? .hopByHop : .other
        case 9: return equals("forwarded") ? .forwarded : .other
        case 10: return equals("connection") || equals("keep-alive") ? .hopByHop : .other
        case 14: return equals("content-length") ? .contentLength : .other
        case 15: return equals("x-forwarded-for") ? .forwardedFor : .other
        case 16: return equals("proxy-connection") ? .hopByHop : equals("x-forwarded-host") ? .forwardedHost : .other
        case 17:
            if equals("transfer-encoding") { return .transferEncoding }
            return equals("x-forwarded-proto") ? .forwardedProto : .other
        default: return .other
        }
    }

    /// `a` may be any case; `b` is lowercase.
    private static func asciiCaseInsensitive(_ a: UInt8, _ b: UInt8) -> Bool {
        a == b || (a >= UInt8(ascii: "A") && a <= UInt8(ascii: "Z") && a + 32 == b)
    }

    /// `Forwarded` values are tokens or quoted strings (RFC 7239 §4); a host with a port needs quotes.
    private static func quotedIfNeeded(_ value: String) -> String {
        let isToken = value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
                UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
            default: false
            }
        }
        if isToken { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            if scalar == "\\" || scalar == "\"" { quoted.unicodeScalars.append("\\") }
            quoted.unicodeScalars.append(scalar)
        }
        return quoted + "\""
    }
}
