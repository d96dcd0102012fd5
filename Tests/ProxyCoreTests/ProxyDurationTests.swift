import ProxyCore
import Testing

@Suite("ProxyDuration: config duration syntax")
struct ProxyDurationTests {
    @Test("valid spellings", arguments: [
        ("250ms", Duration.milliseconds(250)),
        ("2s", .seconds(2)),
        ("1m", .seconds(60)),
        ("90m", .seconds(5400)),
        ("1h", .seconds(3600)),
        ("1.5s", .milliseconds(1500)),
        ("0.1s", .milliseconds(100)),
        (".5s", .milliseconds(500)),
        ("5.s", .seconds(5)),
        ("1.5ms", .microseconds(1500)),
        ("2", .seconds(2)),
        ("0.25", .milliseconds(250)),
        ("0s", .zero),
        (" 3s\n", .seconds(3)),
        ("1.0000000019s", .nanoseconds(1_000_000_001)),
    ])
    func parses(text: String, expected: Duration) {
        #expect(ProxyDuration.parse(text) == expected)
    }

    @Test("refused spellings", arguments: [
        "", " ", "s", "ms", ".", ".s", "-1s", "+1s", "1e3", "1 s", "abc", "1.2.3s", "1d", "1sec", "1us", "1m30s",
        "99999999999999999999h", "9999999999h",
    ])
    func refuses(text: String) {
        #expect(ProxyDuration.parse(text) == nil)
    }

    @Test("formats in the largest exact unit", arguments: [
        (Duration.milliseconds(250), "250ms"),
        (.seconds(2), "2s"),
        (.milliseconds(1500), "1.5s"),
        (.seconds(60), "1m"),
        (.seconds(90), "90s"),
        (.seconds(3600), "1h"),
        (.seconds(7200), "2h"),
        (.zero, "0s"),
        (.microseconds(500), "0.5ms"),
        (.nanoseconds(1), "0.000001ms"),
        (.nanoseconds(1_000_000_001), "1.000000001s"),
        (.milliseconds(-250), "-250ms"),
    ])
    func formats(duration: Duration, expected: String) {
        #expect(ProxyDuration.format(duration) == expected)
    }

    @Test("parse(format(d)) == d")
    func roundTrip() {
        let durations: [Duration] = [
            .nanoseconds(1), .microseconds(7), .milliseconds(1), .milliseconds(999), .milliseconds(1001),
            .seconds(59), .seconds(61), .seconds(3599), .seconds(3601), .seconds(86_400), .nanoseconds(123_456_789_012),
        ]
        for d in durations {
            #expect(ProxyDuration.parse(ProxyDuration.format(d)) == d, "\(d) → \(ProxyDuration.format(d))")
        }
    }
}
