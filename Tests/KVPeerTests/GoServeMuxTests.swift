import Testing

@testable import KVPeer

@Suite struct GoServeMuxTests {
    @Test("cleanPath matches Go's ServeMux cleaning, fast path included", arguments: [
        ("/", "/"), ("", "/"), ("/v2/keys/a", "/v2/keys/a"), ("/v2/keys/a/", "/v2/keys/a/"), ("//a", "/a"),
        ("/a//b", "/a/b"), ("/a/./b", "/a/b"), ("/a/../b", "/b"), ("/a/..", "/"), ("/a/.", "/a"), ("/..", "/"),
        ("/.hidden/x", "/.hidden/x"), ("/a/.../b", "/a/.../b"), ("/a/..b/c.", "/a/..b/c."), ("a/b", "/a/b"), ("/a/b/../", "/a/"),
    ])
    func cleansLikeGo(path: String, expected: String) {
        #expect(GoServeMuxMiddleware.cleanPath(path) == expected)
        #expect(GoServeMuxMiddleware.isClean(path) == (path == expected))
    }
}
