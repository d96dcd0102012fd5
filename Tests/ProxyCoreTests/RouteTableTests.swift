import ProxyCore
import Testing

private func route(_ name: String, _ host: String?, _ path: String) -> RouteSpec {
    RouteSpec(name: name, host: host, pathPrefix: path, service: "svc-\(name)")
}

private let table = RouteTable(routes: [
    route("ex-api", "example.com", "/api"),
    route("ex-api-v2", "example.com", "/api/v2/"),
    route("wild-api", "*.example.com", "/api"),
    route("wild-root", "*.example.com", "/"),
    route("deep-wild", "*.eu.example.com", "/"),
    route("v6", "::1", "/v6"),
    route("any-root", nil, "/"),
    route("any-static", nil, "/static"),
])

@Suite("RouteTable: host classes, longest prefix, segment rules")
struct RouteTableTests {
    @Test("precedence", arguments: [
        ("example.com", "/api", "ex-api"),
        ("EXAMPLE.com:8080", "/api/x", "ex-api"),
        ("example.com.", "/api", "ex-api"),
        ("example.com", "/api?q=1", "ex-api"),
        ("example.com", "/api#frag", "ex-api"),
        ("example.com", "/api/v2/users", "ex-api-v2"),
        ("example.com", "/api/v2", "ex-api"),
        // The exact host has routes, but none matches: wildcards do not cover the apex, so host-less ones.
        ("example.com", "/apix", "any-root"),
        ("example.com", "/static/app.js", "any-static"),
        ("www.example.com", "/api/1", "wild-api"),
        ("www.example.com", "/other", "wild-root"),
        ("a.b.example.com", "/", "wild-root"),
        // Same prefix length: the more specific wildcard; longer prefix beats a more specific wildcard.
        ("x.eu.example.com", "/", "deep-wild"),
        ("x.eu.example.com", "/api", "wild-api"),
        ("eu.example.com", "/", "wild-root"),
        ("other.org", "/x", "any-root"),
        ("other.org", "/static", "any-static"),
        ("", "/static", "any-static"),
        ("[::1]:8080", "/v6/x", "v6"),
        ("[::1]", "/v6", "v6"),
        ("[::1]:8080", "/v7", "any-root"),
        ("example.com", "*", "any-root"),
    ] as [(String, String, String)])
    func precedence(host: String, path: String, expected: String) {
        #expect(table.match(host: host, path: path[...])?.name == expected)
    }

    @Test("no Host header: host-less routes only")
    func noHost() {
        #expect(table.match(host: nil, path: "/api")?.name == "any-root")
        #expect(table.match(host: nil, path: "/static/x")?.name == "any-static")
    }

    @Test("segment-aware prefixes", arguments: [
        ("/api", "/api", true), ("/api", "/api/", true), ("/api", "/api/x", true), ("/api", "/api?q=1", true),
        ("/api", "/apix", false), ("/api", "/ap", false), ("/api", "/", false), ("/api", "/API", false),
        ("/api/", "/api/x", true), ("/api/", "/api/", true), ("/api/", "/api", false), ("/api/", "/api?x", false),
        ("/", "/", true), ("/", "/anything/at/all", true), ("/", "*", true),
        ("/a/b", "/a/b/c", true), ("/a/b", "/a/bc", false),
    ] as [(String, String, Bool)])
    func segments(prefix: String, path: String, matches: Bool) {
        let table = RouteTable(routes: [route("r", nil, prefix)])
        #expect((table.match(host: "h", path: path[...]) != nil) == matches)
    }

    @Test("equal host and prefix: the route name decides, whatever the input order")
    func tieByName() {
        let routes = [route("b", "h.com", "/x"), route("a", "h.com", "/x"), route("c", "h.com", "/x")]
        #expect(RouteTable(routes: routes).match(host: "h.com", path: "/x/1")?.name == "a")
        #expect(RouteTable(routes: routes.reversed()).match(host: "h.com", path: "/x/1")?.name == "a")
        let anyHost = [route("z", nil, "/"), route("y", nil, "/")]
        #expect(RouteTable(routes: anyHost).match(host: nil, path: "/")?.name == "y")
    }

    @Test("nothing matches")
    func noMatch() {
        let table = RouteTable(routes: [route("a", "a.com", "/"), route("w", "*.b.com", "/x")])
        #expect(table.match(host: "c.com", path: "/") == nil)
        #expect(table.match(host: nil, path: "/") == nil)
        #expect(table.match(host: "b.com", path: "/x") == nil)
        #expect(table.match(host: "q.b.com", path: "/y") == nil)
        #expect(RouteTable(routes: []).match(host: "a.com", path: "/") == nil)
    }

    @Test("hosts of routes built in code are normalised too")
    func codeBuiltRoutes() {
        let table = RouteTable(routes: [route("up", "Example.COM", "/"), route("star", "*", "/s"),
                                        route("wild", "*.Example.COM", "/")])
        #expect(table.match(host: "example.com", path: "/")?.name == "up")
        #expect(table.match(host: "WWW.example.com", path: "/")?.name == "wild")
        #expect(table.match(host: "zzz", path: "/s")?.name == "star")
        #expect(table.routes.map(\.name) == ["star", "up", "wild"])
    }
}
