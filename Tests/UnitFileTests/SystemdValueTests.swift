import Testing
@testable import UnitFile

@Suite("systemd value syntax")
struct SystemdValueTests {
    @Test(
        "continuations become one space",
        arguments: [
            ("plain", "plain"),
            ("", ""),
            ("a\\\nb", "a b"),
            ("a \\\n  b", "a    b"),
            ("/bin/foo \\\n  --bar \\\n  --baz", "/bin/foo    --bar    --baz"),
            ("x \\\n", "x"),
            ("x\\\n# comment\\\ny", "x y"),
            ("x\\\n  ; comment\\\n  y", "x   y"),
            ("x\\\n# comment", "x"),
            ("a\\b", "a\\b"),
            ("trailing\\", "trailing\\"),
            // An escaped backslash does not continue in systemd: the value ends there.
            ("a\\\\\nb", "a\\\\"),
            ("a\\\\\\\nb", "a\\\\ b"),
        ] as [(String, String)]
    )
    func continuations(stored: String, expected: String) {
        #expect(SystemdValue.joiningContinuations(stored) == expected)
    }

    @Test("a parsed multi-line ExecStart reads as systemd reads it")
    func parsedContinuation() throws {
        let unit = try UnitFile(parsing: "[Service]\nExecStart=/bin/sh -c \\\n    'echo hi'\n")
        let stored = try #require(unit.lastValue(section: "Service", name: "ExecStart"))
        #expect(SystemdValue.joiningContinuations(stored) == "/bin/sh -c" + String(repeating: " ", count: 6) + "'echo hi'")
    }

    @Test(
        "booleans",
        arguments: [
            ("1", true), ("yes", true), ("y", true), ("true", true), ("t", true), ("on", true),
            ("YES", true), ("True", true), ("On", true), (" yes ", true),
            ("0", false), ("no", false), ("n", false), ("false", false), ("f", false), ("off", false),
            ("NO", false), ("Off", false), ("FALSE", false),
        ] as [(String, Bool)]
    )
    func booleans(text: String, expected: Bool) throws {
        #expect(try SystemdValue.parseBoolean(text) == expected)
    }

    @Test("invalid booleans are refused", arguments: ["", "maybe", "2", "yess", "enable", "-1", "o"])
    func invalidBooleans(text: String) {
        #expect(throws: SystemdValueError(message: "invalid boolean \(GoText.quote(text))")) {
            try SystemdValue.parseBoolean(text)
        }
    }

    @Test(
        "time spans",
        arguments: [
            ("90", Duration.seconds(90)),
            ("0", .zero),
            ("5s", .seconds(5)),
            ("  5s  ", .seconds(5)),
            ("2min 200ms", .milliseconds(120_200)),
            ("2min200ms", .milliseconds(120_200)),
            ("1h30m", .seconds(5400)),
            ("1h 30min", .seconds(5400)),
            ("1.5s", .milliseconds(1500)),
            ("0.5", .milliseconds(500)),
            (".5s", .milliseconds(500)),
            ("1.2345678s", .microseconds(1_234_567)),
            ("100ms", .milliseconds(100)),
            ("100msec", .milliseconds(100)),
            ("10us", .microseconds(10)),
            ("10usec", .microseconds(10)),
            ("3\u{B5}s", .microseconds(3)),
            ("3\u{3BC}s", .microseconds(3)),
            ("1 min", .seconds(60)),
            ("1m", .seconds(60)),
            ("2minutes", .seconds(120)),
            ("5 seconds", .seconds(5)),
            ("3sec", .seconds(3)),
            ("2 h", .seconds(7200)),
            ("1hr", .seconds(3600)),
            ("1d", .seconds(86400)),
            ("2days", .seconds(172_800)),
            ("1w", .seconds(604_800)),
            ("1M", .seconds(2_629_800)),
            ("1month", .seconds(2_629_800)),
            ("1y", .seconds(31_557_600)),
            ("1s 1s", .seconds(2)),
            ("5 6", .seconds(11)),
            ("1.5min", .seconds(90)),
        ] as [(String, Duration)]
    )
    func timeSpans(text: String, expected: Duration) throws {
        #expect(try SystemdValue.parseTimeSpan(text) == expected)
    }

    @Test("infinity disables", arguments: ["infinity", " infinity "])
    func infinity(text: String) throws {
        #expect(try SystemdValue.parseTimeSpan(text) == nil)
    }

    @Test(
        "invalid time spans are refused",
        arguments: [
            "", "   ", "abc", "5x", "-5s", "+5s", "5s x", "1.2.3", "5.", ".", "s", "5 s s", "infinity5", "5 infinity",
            "Infinity", "99999999999999999999s", "9223372036854775807min", "1e3s", "5ss",
        ]
    )
    func invalidTimeSpans(text: String) {
        #expect(throws: SystemdValueError(message: "invalid time span \(GoText.quote(text))")) {
            try SystemdValue.parseTimeSpan(text)
        }
    }
}
