import Testing
@testable import UnitFile

@Suite("Go path.Match")
struct GoPathMatchTests {
    /// Go's own `path.Match` test table (pattern, name, matched, well-formed), which our port must pass
    /// unchanged; a malformed pattern returns `false` there together with `ErrBadPattern`.
    static let goTable: [(String, String, Bool, Bool)] = [
        ("abc", "abc", true, true),
        ("*", "abc", true, true),
        ("*c", "abc", true, true),
        ("a*", "a", true, true),
        ("a*", "abc", true, true),
        ("a*", "ab/c", false, true),
        ("a*/b", "abc/b", true, true),
        ("a*/b", "a/c/b", false, true),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true, true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, true),
        ("a*b?c*x", "abxbbxdbxebxczzx", true, true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false, true),
        ("ab[c]", "abc", true, true),
        ("ab[b-d]", "abc", true, true),
        ("ab[e-g]", "abc", false, true),
        ("ab[^c]", "abc", false, true),
        ("ab[^b-d]", "abc", false, true),
        ("ab[^e-g]", "abc", true, true),
        ("a\\*b", "a*b", true, true),
        ("a\\*b", "ab", false, true),
        ("a?b", "a☺b", true, true),
        ("a[^a]b", "a☺b", true, true),
        ("a???b", "a☺b", false, true),
        ("a[^a][^a][^a]b", "a☺b", false, true),
        ("[a-ζ]*", "α", true, true),
        ("*[a-ζ]", "A", false, true),
        ("a?b", "a/b", false, true),
        ("a*b", "a/b", false, true),
        ("[\\]a]", "]", true, true),
        ("[\\-]", "-", true, true),
        ("[x\\-]", "x", true, true),
        ("[x\\-]", "-", true, true),
        ("[x\\-]", "z", false, true),
        ("[\\-x]", "x", true, true),
        ("[\\-x]", "-", true, true),
        ("[\\-x]", "a", false, true),
        ("[]a]", "]", false, false),
        ("[-]", "-", false, false),
        ("[x-]", "x", false, false),
        ("[x-]", "-", false, false),
        ("[x-]", "z", false, false),
        ("[-x]", "x", false, false),
        ("[-x]", "-", false, false),
        ("[-x]", "a", false, false),
        ("\\", "a", false, false),
        ("[a-b-c]", "a", false, false),
        ("[", "a", false, false),
        ("[^", "a", false, false),
        ("[^bc", "a", false, false),
        ("a[", "a", false, false),
        ("a[", "ab", false, false),
        ("a[", "x", false, false),
        ("a/b[", "x", false, false),
        ("*x", "xxx", true, true),
    ]

    /// Cases that matter for fleet's globs, and corners of Go's algorithm.
    static let moreCases: [(String, String, Bool, Bool)] = [
        ("*.service", "foo.service", true, true),
        ("foo@*.service", "foo@1.service", true, true),
        ("foo@*.service", "bar@1.service", false, true),
        ("foo@?.service", "foo@12.service", false, true),
        ("", "", true, true),
        ("", "a", false, true),
        ("a", "", false, true),
        ("*", "", true, true),
        ("**", "abc", true, true),
        ("a**b", "axyb", true, true),
        ("?", "", false, true),
        ("*", "a/b", false, true),
        ("?", "/", false, true),
        // Classes, unlike `*` and `?`, may match a slash.
        ("[/]", "/", true, true),
        ("[^a]", "/", true, true),
        ("a[^x]b", "a/b", true, true),
        // Go matches each chunk at its leftmost fit and never backtracks into an earlier one.
        ("*[a/]*c", "a/c", false, true),
        ("*a*", "xay", true, true),
        ("a*b*c", "abbbc", true, true),
        ("*b", "abab", true, true),
        ("\\[", "[", true, true),
        ("\\a", "a", true, true),
        ("[!a]", "b", false, true),
        ("[!a]", "!", true, true),
        ("[z-a]", "m", false, true),
        ("[α-ω]", "β", true, true),
        ("[a-c]*", "b/x", false, true),
        ("a\\", "a", false, false),
        ("x*[", "abc", false, false),
        ("*[", "", false, false),
        ("abc*[", "abc", false, false),
        ("[a-", "a", false, false),
        ("[]", "]", false, false),
        ("[^]", "a", false, false),
        ("[\\", "\\", false, false),
        ("ok*then[bad", "okthen", false, false),
    ]

    @Test("matches like Go", arguments: goTable + moreCases)
    func matches(pattern: String, name: String, matched: Bool, valid: Bool) {
        #expect(GoPathMatch.matches(pattern: pattern, name: name) == matched)
        #expect(GoPathMatch.isValid(pattern: pattern) == valid)
    }

    @Test(
        "a malformed pattern matches nothing",
        arguments: ["[", "a[", "\\", "[]", "[-]", "[a-]", "*[", "a*\\", "[^", "[a-b-c]"]
    )
    func malformedNeverMatches(pattern: String) {
        #expect(!GoPathMatch.isValid(pattern: pattern))
        for name in ["", "a", "[", "\\", "-", "]", "abc", pattern] {
            #expect(!GoPathMatch.matches(pattern: pattern, name: name), "\(pattern) vs \(name)")
        }
    }
}
