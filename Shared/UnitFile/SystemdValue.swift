/// Why a value could not be read the way systemd reads it.
public struct SystemdValueError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// How systemd (and therefore the node agent) reads option values that fleet stores verbatim.
public enum SystemdValue {
    /// The value systemd sees for a stored value: each `\`+newline continuation becomes one space (the
    /// next line's indentation is kept, as systemd keeps it), continuation lines that are comments are
    /// skipped, and the result is trimmed.
    ///
    /// fleet keeps continuations verbatim so that the hash is that of the submitted text; systemd joins
    /// them when it loads the file, and the agent must see what systemd would. systemd only continues
    /// after an *unescaped* backslash: where go-systemd continued after `\\` (an escaped backslash),
    /// systemd ends the value and reads what follows as separate lines, so the value is cut there.
    public static func joiningContinuations(_ value: String) -> String {
        let lines = value.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 1 else { return value }
        var joined = String.UnicodeScalarView()
        for (index, line) in lines.enumerated() {
            if index > 0, let first = line.first(where: { !GoText.isSpace($0) }), first == "#" || first == ";" {
                continue
            }
            guard index < lines.count - 1, endsInUnescapedBackslash(line) else {
                joined.append(contentsOf: line)
                break
            }
            joined.append(contentsOf: line.dropLast())
            joined.append(" ")
        }
        return GoText.trimSpace(String(joined))
    }

    private static func endsInUnescapedBackslash(_ line: Substring.UnicodeScalarView) -> Bool {
        line.reversed().prefix { $0 == "\\" }.count % 2 == 1
    }

    /// systemd's `parse_boolean`: `1 yes y true t on` and `0 no n false f off`, any case.
    public static func parseBoolean(_ text: String) throws(SystemdValueError) -> Bool {
        switch GoText.trimSpace(text).lowercased() {
        case "1", "yes", "y", "true", "t", "on": return true
        case "0", "no", "n", "false", "f", "off": return false
        default: throw SystemdValueError(message: "invalid boolean \(GoText.quote(text))")
        }
    }

    /// systemd's `parse_sec`: a bare number is seconds, terms add up (`2min 200ms`, `1h30m`), fractions
    /// are allowed (`1.5s`), precision is one microsecond. Returns `nil` for `infinity`, which disables the
    /// timeout it is used for.
    public static func parseTimeSpan(_ text: String) throws(SystemdValueError) -> Duration? {
        let trimmed = GoText.trimSpace(text)
        if trimmed == "infinity" { return nil }
        guard let microseconds = TimeSpanParser.microseconds(in: trimmed) else {
            throw SystemdValueError(message: "invalid time span \(GoText.quote(text))")
        }
        return .microseconds(microseconds)
    }
}

/// The grammar behind `SystemdValue.parseTimeSpan`, kept apart so failures are just `nil`.
enum TimeSpanParser {
    private static let second: Int64 = 1_000_000

    /// systemd's suffix table. Order matters: the first suffix that prefixes the remaining text wins, so
    /// `ms` must come before `m` and `min` before `m`.
    private static let units: [(suffix: String, microseconds: Int64)] = [
        ("seconds", second), ("second", second), ("sec", second), ("s", second),
        ("minutes", 60 * second), ("minute", 60 * second), ("min", 60 * second),
        ("months", 2_629_800 * second), ("month", 2_629_800 * second), ("M", 2_629_800 * second),
        ("msec", 1000), ("ms", 1000), ("m", 60 * second),
        ("hours", 3600 * second), ("hour", 3600 * second), ("hr", 3600 * second), ("h", 3600 * second),
        ("days", 86400 * second), ("day", 86400 * second), ("d", 86400 * second),
        ("weeks", 604_800 * second), ("week", 604_800 * second), ("w", 604_800 * second),
        ("years", 31_557_600 * second), ("year", 31_557_600 * second), ("y", 31_557_600 * second),
        ("usec", 1), ("us", 1), ("\u{B5}s", 1), ("\u{3BC}s", 1),
    ]

    static func microseconds(in text: String) -> Int64? {
        var rest = Array(text.unicodeScalars)[...]
        var total: Int64 = 0
        var sawTerm = false
        while true {
            rest = rest.drop(while: GoText.isSpace)
            guard !rest.isEmpty else { return sawTerm ? total : nil }
            guard let (whole, fraction, afterNumber) = number(rest) else { return nil }
            let afterSpace = afterNumber.drop(while: GoText.isSpace)
            var multiplier = second
            rest = afterSpace
            if let unit = units.first(where: { afterSpace.starts(with: $0.suffix.unicodeScalars) }) {
                multiplier = unit.microseconds
                rest = afterSpace.dropFirst(unit.suffix.unicodeScalars.count)
            } else if afterSpace.startIndex == afterNumber.startIndex && !afterSpace.isEmpty {
                // `12.34.56` is garbage, though `12 34` is two terms of seconds, as in systemd.
                return nil
            }
            guard let term = value(whole: whole, fraction: fraction, multiplier: multiplier) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(term)
            guard !overflow else { return nil }
            total = sum
            sawTerm = true
        }
    }

    /// `digits[.digits]` with at least one digit on one side; no sign (systemd refuses negative spans).
    private static func number(
        _ text: ArraySlice<Unicode.Scalar>
    ) -> (whole: ArraySlice<Unicode.Scalar>, fraction: ArraySlice<Unicode.Scalar>, rest: ArraySlice<Unicode.Scalar>)? {
        let whole = text.prefix(while: isDigit)
        var rest = text[whole.endIndex...]
        var fraction = rest[rest.startIndex..<rest.startIndex]
        if rest.first == "." {
            fraction = rest.dropFirst().prefix(while: isDigit)
            guard !fraction.isEmpty else { return nil }
            rest = rest[fraction.endIndex...]
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }
        return (whole, fraction, rest)
    }

    /// `whole.fraction × multiplier` in microseconds; fraction digits finer than a microsecond are dropped,
    /// as systemd does.
    private static func value(whole: ArraySlice<Unicode.Scalar>, fraction: ArraySlice<Unicode.Scalar>, multiplier: Int64) -> Int64? {
        var integer: Int64 = 0
        for digit in whole {
            let (shifted, overflow1) = integer.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.addingReportingOverflow(Int64(digit.value - 48))
            guard !overflow1, !overflow2 else { return nil }
            integer = next
        }
        let (scaled, overflow) = integer.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        var result = scaled
        var place = multiplier / 10
        for digit in fraction where place > 0 {
            let (next, overflow) = result.addingReportingOverflow(Int64(digit.value - 48) * place)
            guard !overflow else { return nil }
            result = next
            place /= 10
        }
        return result
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar >= "0" && scalar <= "9"
    }
}
