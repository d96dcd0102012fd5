/// The duration syntax of route and listener configuration: `250ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare
/// number of seconds (what a JSON number like `"connect_timeout": 2` means).
///
/// Arithmetic is on integer nanoseconds, never `Double`, so `0.1s` is exactly 100 ms and
/// `parse(format(d)) == d` holds for every whole-nanosecond duration.
public enum ProxyDuration {
    private static let units: [(suffix: String, nanoseconds: Int64)] = [
        // "ms" before "m" and "s": the longest suffix must be tried first.
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ]

    /// `nil` for anything else, including negative values, exponents and a missing number. Zero parses;
    /// whether zero is allowed is the caller's rule. Digits beyond nanosecond precision are truncated.
    public static func parse(_ text: String) -> Duration? {
        var body = Substring(text.trimmingASCIIWhitespace())
        var unit: Int64 = 1_000_000_000
        for (suffix, nanoseconds) in units where body.hasSuffix(suffix) {
            body = body.dropLast(suffix.count)
            unit = nanoseconds
            break
        }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty),
              whole.utf8.allSatisfy(isDigit), fraction.utf8.allSatisfy(isDigit)
        else { return nil }

        var nanoseconds: Int64 = 0
        for digit in whole.utf8 {
            let (times10, o1) = nanoseconds.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            nanoseconds = sum
        }
        let (scaled, overflow) = nanoseconds.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        nanoseconds = scaled
        // Each fractional digit is worth a tenth of the previous one; stop once that is below a nanosecond.
        var place = unit
        for digit in fraction.utf8 {
            place /= 10
            if place == 0 { break }
            nanoseconds += Int64(digit - UInt8(ascii: "0")) * place
        }
        return .nanoseconds(nanoseconds)
    }

    /// The shortest exact spelling in the largest unit that divides it: `1h`, `2m`, `90s`, `1.5s`, `250ms`,
    /// `0.5ms`. Sub-nanosecond parts are dropped.
    public static func format(_ duration: Duration) -> String {
        if duration < .zero {
            return "-" + format(.zero - duration)
        }
        let (seconds, attoseconds) = duration.components
        let nanoseconds = attoseconds / 1_000_000_000
        if nanoseconds == 0 {
            if seconds == 0 { return "0s" }
            if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
            if seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        }
        if seconds == 0 {
            return decimal(nanoseconds / 1_000_000, fraction: nanoseconds % 1_000_000, digits: 6) + "ms"
        }
        return decimal(seconds, fraction: nanoseconds, digits: 9) + "s"
    }

    /// `whole.fraction` with the fraction zero-padded to `digits` and trailing zeros removed.
    private static func decimal(_ whole: Int64, fraction: Int64, digits: Int) -> String {
        guard fraction != 0 else { return "\(whole)" }
        var text = String(fraction)
        text = String(repeating: "0", count: digits - text.count) + text
        while text.hasSuffix("0") { text.removeLast() }
        return "\(whole).\(text)"
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}

extension StringProtocol {
    /// Foundation-free trim of spaces, tabs, CR and LF (what `etcdctl set` and shells leave around values).
    func trimmingASCIIWhitespace() -> SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
