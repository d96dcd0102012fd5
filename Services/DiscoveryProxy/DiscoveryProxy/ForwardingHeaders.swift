import NIOCore
import NIOHTTP1

/// Header rules of a reverse proxy (RFC 9110 §7.6): hop-by-hop fields stop here, the client's address and
/// scheme travel on in `X-Forwarded-*` and `Forwarded`, `Host` is kept as the client sent it.
enum ForwardingHeaders {
    /// Fields that describe one connection, never forwarded (plus any the `Connection` field names).
    static let hopByHop: Set<String> = ["connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade", "trailer"]

    static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "upgrade") && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }

    /// Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2): safe to retry elsewhere.
    static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }

    static func upstreamRequestHead(_ head: HTTPRequestHead, client: SocketAddress?, isTLS: Bool, upgrade: Bool, upstreamAuthority: String) -> HTTPRequestHead {
        var headers = head.headers
        stripHopByHop(&headers)
        if upgrade, let protocolName = head.headers.first(name: "upgrade") {
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: protocolName)
        }
        if !headers.contains(name: "host") {
            headers.add(name: "host", value: upstreamAuthority)
        }
        let scheme = isTLS ? "https" : "http"
        if let ip = client?.ipAddress {
            if let existing = headers.first(name: "x-forwarded-for") {
                headers.replaceOrAdd(name: "x-forwarded-for", value: existing + ", " + ip)
            } else {
                headers.add(name: "x-forwarded-for", value: ip)
            }
        }
        // The proxy is the edge: what the client used is the truth, whatever a client claims.
        headers.replaceOrAdd(name: "x-forwarded-proto", value: scheme)
        if !headers.contains(name: "x-forwarded-host"), let host = head.headers.first(name: "host") {
            headers.add(name: "x-forwarded-host", value: host)
        }
        var element: [String] = []
        if let ip = client?.ipAddress {
            element.append("for=" + (ip.contains(":") ? "\"[\(ip)]\"" : ip))
        }
        if let host = head.headers.first(name: "host") {
            element.append("host=" + quotedIfNeeded(host))
        }
        element.append("proto=" + scheme)
        let forwarded = element.joined(separator: ";")
        if let existing = headers.first(name: "forwarded") {
            headers.replaceOrAdd(name: "forwarded", value: existing + ", " + forwarded)
        } else {
            headers.add(name: "forwarded", value: forwarded)
        }
        var result = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
        result.version = .http1_1
        return result
    }

    static func clientResponseHead(_ head: HTTPResponseHead) -> HTTPResponseHead {
        var headers = head.headers
        stripHopByHop(&headers)
        return HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)
    }

    private static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            named.append(value.lowercased())
        }
        for name in hopByHop { headers.remove(name: name) }
        for name in named where !name.isEmpty { headers.remove(name: String(name)) }
    }

    /// `Forwarded` values are tokens or quoted strings (RFC 7239 §4); a host with a port needs quotes.
    private static func quotedIfNeeded(_ value: String) -> String {
        let token = value.allSatisfy { $0.isLetter || $0.isNumber || "!#$%&'*+-.^_`|~".contains($0) }
        return token ? value : "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
