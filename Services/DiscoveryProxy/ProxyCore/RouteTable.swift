/// The routes, indexed once so that ``match(host:path:)`` (run for every request) does a dictionary lookup
/// and a short scan instead of walking every route.
///
/// Precedence, most specific first:
/// 1. host class: exact host, then wildcard (`*.example.com`), then host-less routes. A class whose routes
///    all fail the path falls through to the next class;
/// 2. within a class, the longest matching path prefix;
/// 3. among wildcards with equally long prefixes, the longer (more specific) wildcard suffix;
/// 4. the route name, so that two conflicting routes resolve the same way on every proxy.
///
/// Prefixes match whole segments: `/api` matches `/api`, `/api/`, `/api/x` and `/api?q=1` but not `/apix`;
/// `/api/` matches `/api/` and `/api/x`; `/` matches everything. Paths compare byte for byte
/// (case-sensitive, no percent-decoding): the upstream sees the same bytes, and must agree on what they name.
public struct RouteTable: Sendable {
    /// Every route, by name.
    public let routes: [RouteSpec]
    private let exact: [String: [RouteSpec]]
    /// Keyed by the suffix including its leading dot (`.example.com`).
    private let wildcards: [String: [RouteSpec]]
    private let anyHost: [RouteSpec]

    public init(routes: [RouteSpec]) {
        // Scan order within each bucket is precedence order, so the first hit wins.
        let ordered = routes.sorted { a, b in
            a.pathPrefix.utf8.count != b.pathPrefix.utf8.count
                ? a.pathPrefix.utf8.count > b.pathPrefix.utf8.count
                : a.name < b.name
        }
        var exact: [String: [RouteSpec]] = [:]
        var wildcards: [String: [RouteSpec]] = [:]
        var anyHost: [RouteSpec] = []
        for route in ordered {
            // Routes built in code may not have been through the parser's normalisation.
            guard let host = route.host.map({ HostPort.lowercasedASCII(Substring($0)) }), host != "*" else {
                anyHost.append(route)
                continue
            }
            if host.hasPrefix("*.") {
                wildcards[String(host.dropFirst()), default: []].append(route)
            } else {
                exact[host, default: []].append(route)
            }
        }
        self.routes = routes.sorted { $0.name < $1.name }
        self.exact = exact
        self.wildcards = wildcards
        self.anyHost = anyHost
    }

    /// `host` is the request's `Host` header or `:authority` as received (any case, maybe with a port);
    /// `path` the request target, whose query is ignored.
    public func match(host: String?, path: Substring) -> RouteSpec? {
        var path = path
        if let end = path.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            path = path[..<end]
        }
        if let host, let host = HostPort.normalizedRequestHost(host) {
            if let candidates = exact[host], let route = Self.firstMatch(candidates, path) {
                return route
            }
            if !wildcards.isEmpty, let route = wildcardMatch(host, path) {
                return route
            }
        }
        return Self.firstMatch(anyHost, path)
    }

    private func wildcardMatch(_ host: String, _ path: Substring) -> RouteSpec? {
        var best: RouteSpec?
        // Suffixes from longest to shortest; a shorter one only wins with a strictly longer prefix. Starting
        // after the first byte keeps `*.example.com` from matching `.example.com` or `example.com`.
        var index = host.utf8.index(after: host.utf8.startIndex)
        while index < host.utf8.endIndex {
            if host.utf8[index] == UInt8(ascii: "."),
               let candidates = wildcards[String(host[index...])],
               let route = Self.firstMatch(candidates, path),
               best.map({ route.pathPrefix.utf8.count > $0.pathPrefix.utf8.count }) ?? true {
                best = route
            }
            index = host.utf8.index(after: index)
        }
        return best
    }

    private static func firstMatch(_ candidates: [RouteSpec], _ path: Substring) -> RouteSpec? {
        candidates.first { prefixMatches($0.pathPrefix, path) }
    }

    static func prefixMatches(_ prefix: String, _ path: Substring) -> Bool {
        let p = prefix.utf8
        if p.count == 1, p.first == UInt8(ascii: "/") { return true }
        guard path.utf8.starts(with: p) else { return false }
        if p.last == UInt8(ascii: "/") { return true }
        let next = path.utf8.index(path.utf8.startIndex, offsetBy: p.count)
        return next == path.utf8.endIndex || path.utf8[next] == UInt8(ascii: "/")
    }
}
