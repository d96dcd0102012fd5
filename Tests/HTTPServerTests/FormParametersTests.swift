import HTTPServer
import Testing

/// Expected values come from Go's `url.ParseQuery` / `url.QueryUnescape` / `url.PathUnescape`.
@Suite("FormParameters")
struct FormParametersTests {
    static func pairs(_ form: FormParameters) -> [String] { form.pairs.map { "\($0.name)=\($0.value)" } }

    @Test("pairs are split on & and kept in order, duplicates included")
    func order() throws {
        let form = try FormParameters.parse("b=2&a=1&b=3")
        #expect(Self.pairs(form) == ["b=2", "a=1", "b=3"])
        #expect(form == FormParameters(decoding: "b=2&a=1&b=3"))
    }

    @Test("a lookup returns the first value; values returns all of them")
    func firstValueWins() {
        let form = FormParameters(decoding: "value=one&value=two&ttl=")
        #expect(form["value"] == "one")
        #expect(form.first("value") == "one")
        #expect(form.values("value") == ["one", "two"])
        #expect(form.values("missing") == [])
        #expect(form["missing"] == nil)
    }

    @Test(
        "+ is a space and %XX a byte, in names and values",
        arguments: [
            ("value=a+b", "value", "a b"), ("value=a%20b", "value", "a b"), ("value=a%2Bb", "value", "a+b"),
            ("value=%2b%2B", "value", "++"), ("value=%26%3D", "value", "&="), ("value=caf%C3%A9", "value", "café"),
            ("my+key=1", "my key", "1"), ("k%65y=v", "key", "v"), ("value=%e2%98%83", "value", "☃"),
            ("value=100%25", "value", "100%"), ("value=a=b=c", "value", "a=b=c"),
        ]
    )
    func decoding(query: String, name: String, value: String) throws {
        #expect(try FormParameters.parse(query)[name] == value)
        #expect(FormParameters(decoding: query)[name] == value)
    }

    @Test("a name without = has an empty value, as does name=; ttl= is present but empty")
    func emptyValues() {
        let form = FormParameters(decoding: "dir&ttl=&prevExist=false")
        #expect(form["dir"] == "")
        #expect(form.contains("dir"))
        #expect(form["ttl"] == "")
        #expect(form.contains("ttl"))
        #expect(!form.contains("value"))
        #expect(Self.pairs(form) == ["dir=", "ttl=", "prevExist=false"])
    }

    @Test("empty pieces are skipped; an empty name is kept, as Go keeps it")
    func emptyPieces() {
        #expect(Self.pairs(FormParameters(decoding: "&&a=1&&")) == ["a=1"])
        #expect(Self.pairs(FormParameters(decoding: "")) == [])
        #expect(Self.pairs(FormParameters(decoding: "=x")) == ["=x"])
    }

    @Test(
        "a bad escape fails strict parsing, naming the escape as Go does",
        arguments: [
            ("a=%zz", "%zz"), ("a=%4", "%4"), ("a=%", "%"), ("a=x%G1", "%G1"), ("%zz=1", "%zz"), ("a=%1x2", "%1x"),
        ]
    )
    func badEscape(query: String, escape: String) {
        let error = #expect(throws: FormParseError.self) { try FormParameters.parse(query) }
        #expect(error?.escape == escape)
        #expect(error?.description == "invalid URL escape \"\(escape)\"")
    }

    @Test("lenient decoding drops only the pairs with bad escapes, as Go's ParseQuery keeps the good ones")
    func lenient() {
        let form = FormParameters(decoding: "a=1&b=%zz&c=3&%=4&d=%41")
        #expect(Self.pairs(form) == ["a=1", "c=3", "d=A"])
    }

    @Test("merging puts the other pairs after ours, so first() prefers ours (body before query, like r.Form)")
    func merging() {
        let body = FormParameters(decoding: "value=fromBody&ttl=5")
        let query = FormParameters(decoding: "value=fromQuery&recursive=true")
        let merged = body.merging(query)
        #expect(merged["value"] == "fromBody")
        #expect(merged.values("value") == ["fromBody", "fromQuery"])
        #expect(merged["recursive"] == "true")
        #expect(Self.pairs(merged) == ["value=fromBody", "ttl=5", "value=fromQuery", "recursive=true"])
        #expect(query.merging(body)["value"] == "fromQuery")
    }

    @Test("append adds at the end, after existing values")
    func append() {
        var form = FormParameters(decoding: "a=1")
        form.append("a", "2")
        form.append("b", "x y")
        #expect(form.values("a") == ["1", "2"])
        #expect(Self.pairs(form) == ["a=1", "a=2", "b=x y"])
    }

    @Test("unescape is QueryUnescape; unescapePath is PathUnescape, where + stays a plus")
    func unescaping() throws {
        #expect(try FormParameters.unescape(Array("a+b%21".utf8)) == "a b!")
        #expect(try FormParameters.unescapePath("a+b%20c") == "a+b c")
        #expect(try FormParameters.unescapePath("a%2Fb") == "a/b")
        #expect(try FormParameters.unescapePath("plain+path") == "plain+path")
        #expect(throws: FormParseError.self) { try FormParameters.unescapePath("bad%zz") }
    }

    @Test("Request.queryParameters decodes the raw query, without the fragment")
    func requestQuery() {
        let request = makeRequest("/v2/keys/a%20b?value=x+y&recursive=true#frag")
        #expect(request.path == "/v2/keys/a%20b")
        #expect(request.rawQuery == "value=x+y&recursive=true")
        #expect(request.queryParameters["value"] == "x y")
        #expect(request.queryParameters["recursive"] == "true")
        #expect(makeRequest("/plain").rawQuery == "")
        #expect(makeRequest("/plain?").rawQuery == "")
        #expect(makeRequest("/plain?").path == "/plain")
    }
}
