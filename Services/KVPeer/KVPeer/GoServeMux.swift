import HTTPServer
import HTTPTypes

/// What Go's `http.ServeMux` does to a request before etcd's handlers see it, which the router (it skips
/// empty segments and ignores trailing slashes) would otherwise hide:
/// - a path that is not clean once percent-decoded (`//`, `/./`, `/../`, `%2F%2F`) is answered **301** with
///   `Location:` the cleaned path (query kept), for every method but CONNECT;
/// - patterns registered without a trailing slash match only exactly, so `/version/` is a plain 404.
struct GoServeMuxMiddleware: Middleware {
    /// etcd's exact-match patterns among the routes kv-peer serves.
    static let exactRoutes: Set<String> = [
        "/version", "/health", "/metrics", "/v2/machines", "/v2/stats/self", "/v2/stats/leader", "/v2/stats/store",
        "/v2/auth/enable",
    ]

    func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
        guard request.method != .connect, let decoded = try? FormParameters.unescapePath(request.path) else {
            return try await next(request, context)
        }
        let cleaned = Self.cleanPath(decoded)
        if cleaned != decoded {
            let query = request.rawQuery
            return Self.redirect(to: Self.escapePath(cleaned) + (query.isEmpty ? "" : "?" + query), method: request.method)
        }
        if decoded.count > 1, decoded.hasSuffix("/"), Self.exactRoutes.contains(String(decoded.dropLast())) {
            return EtcdResponses.notFound
        }
        return try await next(request, context)
    }

    /// Go `cleanPath`: `path.Clean` of a rooted path, keeping a trailing slash.
    static func cleanPath(_ path: String) -> String {
        if isClean(path) { return path }
        if path.isEmpty { return "/" }
        let rooted = path.hasPrefix("/") ? path : "/" + path
        var stack: [Substring] = []
        for component in rooted.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !stack.isEmpty { stack.removeLast() }
            default: stack.append(component)
            }
        }
        var cleaned = "/" + stack.joined(separator: "/")
        if rooted.hasSuffix("/"), cleaned != "/" { cleaned += "/" }
        return cleaned
    }

    /// Every request passes here, and nearly every path is already clean: check with one scan, no allocation.
    /// Clean means rooted, with no empty, `.` or `..` segment except an empty last one (the trailing slash).
    static func isClean(_ path: String) -> Bool {
        var utf8 = path.utf8[...]
        guard utf8.popFirst() == UInt8(ascii: "/") else { return false }
        var segmentLength = 0
        var dots = 0
        for byte in utf8 {
            if byte == UInt8(ascii: "/") {
                if segmentLength == 0 || segmentLength == dots && dots <= 2 { return false }
                segmentLength = 0
                dots = 0
            } else {
                segmentLength += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        return !(segmentLength > 0 && segmentLength == dots && dots <= 2)
    }

    /// Go `url.URL.EscapedPath` for a path without a raw form: unreserved bytes and `$&+,/:;=@` stay.
    static func escapePath(_ path: String) -> String {
        let kept = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~$&+,/:;=@".utf8)
        var escaped = ""
        for byte in path.utf8 {
            if kept.contains(byte) {
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                escaped += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return escaped
    }

    /// Go `http.Redirect(w, r, url, 301)`: an HTML body for GET only, its Content-Type for GET and HEAD.
    static func redirect(to location: String, method: HTTPRequest.Method) -> Response {
        var fields: HTTPFields = [.location: location]
        guard method == .get || method == .head else { return Response(status: .movedPermanently, headerFields: fields) }
        fields[.contentType] = "text/html; charset=utf-8"
        guard method == .get else { return Response(status: .movedPermanently, headerFields: fields) }
        let href = location.replacingAll("&", with: "&amp;")
        return Response(status: .movedPermanently, headerFields: fields, body: ResponseBody(string: "<a href=\"\(href)\">Moved Permanently</a>.\n\n"))
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
