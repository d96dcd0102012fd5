import GoJSON
/// The bits of Go's standard library etcd's flag handling leans on, re-done so values are accepted and refused
/// exactly as etcd accepts and refuses them: `strconv.ParseUint/ParseInt/ParseBool` (as the `flag` package calls
/// them), `time.ParseDuration`, `net.SplitHostPort`, `net.ParseIP`, `url.Parse` (the subset URL flags reach),
/// and `%q` quoting for messages.
enum EtcdFlagsGo {
    /// The error texts Go's `flag` package reports for numbers and booleans.
    static let parseError = "parse error"
    static let rangeError = "value out of range"

    // MARK: strconv

    /// `strconv.ParseBool`.
    static func parseBool(_ s: String) -> Bool? {
        switch s {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }

    enum NumberError: Error, Equatable {
        case syntax, range

        var flagText: String { self == .syntax ? EtcdFlagsGo.parseError : EtcdFlagsGo.rangeError }
    }

    /// `strconv.ParseUint(s, base, bits)` for base 0 (Go's `flag` package: prefixes `0x`, `0o`, `0b`, a leading
    /// `0` for octal, `_` between digits) or base 10. Like Go, it stops at the first overflow with a range error.
    static func parseUint(_ s: String, base requestedBase: UInt64 = 0, bits: Int = 64) -> Result<UInt64, NumberError> {
        var bytes = ArraySlice(s.utf8)
        guard !bytes.isEmpty else { return .failure(.syntax) }
        var base = requestedBase
        let base0 = requestedBase == 0
        if base0 {
            base = 10
            if bytes.first == UInt8(ascii: "0") {
                let second = bytes.count >= 3 ? bytes[bytes.startIndex + 1] | 0x20 : 0
                switch second {
                case UInt8(ascii: "b"): base = 2; bytes = bytes.dropFirst(2)
                case UInt8(ascii: "o"): base = 8; bytes = bytes.dropFirst(2)
                case UInt8(ascii: "x"): base = 16; bytes = bytes.dropFirst(2)
                default: base = 8; bytes = bytes.dropFirst(1)
                }
            }
        }
        let maximum: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
        var value: UInt64 = 0
        var underscores = false
        for c in bytes {
            if c == UInt8(ascii: "_") && base0 {
                underscores = true
                continue
            }
            guard let digit = digitValue(c), digit < base else { return .failure(.syntax) }
            let (times, o1) = value.multipliedReportingOverflow(by: base)
            let (sum, o2) = times.addingReportingOverflow(digit)
            if o1 || o2 || sum > maximum { return .failure(.range) }
            value = sum
        }
        if underscores && !underscoresOK(Array(s.utf8)) { return .failure(.syntax) }
        return .success(value)
    }

    /// `strconv.ParseInt(s, 0, 64)`.
    static func parseInt(_ s: String) -> Result<Int64, NumberError> {
        var body = Substring(s)
        var negative = false
        if let first = body.first, first == "+" || first == "-" {
            negative = first == "-"
            body = body.dropFirst()
        }
        switch parseUint(String(body)) {
        case .failure(.syntax): return .failure(.syntax)
        case .failure(.range): return .failure(.range)
        case .success(let magnitude):
            let limit = UInt64(1) << 63
            if negative {
                guard magnitude <= limit else { return .failure(.range) }
                return .success(magnitude == limit ? .min : -Int64(magnitude))
            }
            guard magnitude < limit else { return .failure(.range) }
            return .success(Int64(magnitude))
        }
    }

    private static func digitValue(_ c: UInt8) -> UInt64? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt64(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt64(c - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// `strconv.underscoreOK`: each `_` sits between digits (a base prefix counts as a digit).
    private static func underscoresOK(_ all: [UInt8]) -> Bool {
        var s = ArraySlice(all)
        if let first = s.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { s = s.dropFirst() }
        enum Saw { case start, digit, underscore, other }
        var saw = Saw.start
        var hex = false
        if s.count >= 2, s.first == UInt8(ascii: "0") {
            let lower = s[s.startIndex + 1] | 0x20
            if lower == UInt8(ascii: "b") || lower == UInt8(ascii: "o") || lower == UInt8(ascii: "x") {
                saw = .digit
                hex = lower == UInt8(ascii: "x")
                s = s.dropFirst(2)
            }
        }
        for c in s {
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
                || (hex && (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c | 0x20)) {
                saw = .digit
            } else if c == UInt8(ascii: "_") {
                if saw != .digit { return false }
                saw = .underscore
            } else {
                if saw == .underscore { return false }
                saw = .other
            }
        }
        return saw != .underscore
    }

    // MARK: time.ParseDuration

    /// Whether Go's `time.ParseDuration` accepts `s` (flags of this type only need to be validated).
    static func isValidDuration(_ s: String) -> Bool {
        var rest = Substring(s)
        if let first = rest.first, first == "+" || first == "-" { rest = rest.dropFirst() }
        if rest == "0" { return true }
        if rest.isEmpty { return false }
        let units: Set<String> = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
        while !rest.isEmpty {
            let integer = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(integer.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            if integer.isEmpty && fraction.isEmpty { return false }
            let unit = rest.prefix { $0 != "." && !($0.isASCII && $0.isNumber) }
            guard !unit.isEmpty, units.contains(String(unit)) else { return false }
            rest = rest.dropFirst(unit.count)
        }
        return true
    }

    // MARK: strings

    /// `strings.TrimSpace` (ASCII white space and the Unicode spaces Go trims).
    static func trimSpace(_ s: String) -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        var sub = Substring(s)
        while let first = sub.first, isSpace(first) { sub = sub.dropFirst() }
        while let last = sub.last, isSpace(last) { sub = sub.dropLast() }
        return String(sub)
    }

    /// Go's `%q` for a string.
    static func quote(_ s: String) -> String { GoQuote.string(s) }

    /// Go's `%q` for a `[]string`: `["a" "b"]`.
    static func quote(_ list: [String]) -> String {
        "[" + list.map { quote($0) }.joined(separator: " ") + "]"
    }

    /// Go's `sort.Strings` order (bytes).
    static func sortedStrings(_ list: [String]) -> [String] {
        list.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: net

    /// `net.SplitHostPort`, with Go's error texts (`address x: missing port in address`, …).
    static func splitHostPort(_ hostport: String) -> Result<(host: String, port: String), EtcdURLError> {
        let b = Array(hostport.utf8)
        func fail(_ why: String) -> Result<(host: String, port: String), EtcdURLError> {
            .failure(EtcdURLError("address \(hostport): \(why)"))
        }
        guard let i = b.lastIndex(of: UInt8(ascii: ":")) else { return fail("missing port in address") }
        var j = 0
        var k = 0
        let host: [UInt8]
        if b.first == UInt8(ascii: "[") {
            guard let end = b.firstIndex(of: UInt8(ascii: "]")) else { return fail("missing ']' in address") }
            switch end + 1 {
            case b.count: return fail("missing port in address")
            case i: break
            default: return b[end + 1] == UInt8(ascii: ":") ? fail("too many colons in address") : fail("missing port in address")
            }
            host = Array(b[1..<end])
            j = 1
            k = end + 1
        } else {
            host = Array(b[..<i])
            if host.contains(UInt8(ascii: ":")) { return fail("too many colons in address") }
        }
        if b[j...].contains(UInt8(ascii: "[")) { return fail("unexpected '[' in address") }
        if b[k...].contains(UInt8(ascii: "]")) { return fail("unexpected ']' in address") }
        return .success((String(decoding: host, as: UTF8.self), String(decoding: b[(i + 1)...], as: UTF8.self)))
    }

    /// Whether Go's `net.ParseIP` accepts `s`: dotted-decimal IPv4 (no leading zeros) or IPv6 text (no zone).
    static func isIP(_ s: String) -> Bool {
        isIPv4(Substring(s)) || isIPv6(s)
    }

    private static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            if part.count > 1 && part.first == "0" { return false }
            guard let value = Int(part), value <= 255 else { return false }
        }
        return true
    }

    private static func isIPv6(_ s: String) -> Bool {
        guard s.contains(":") else { return false }
        var text = Substring(s)
        var groups = 0
        var ellipsis = false
        if text.hasPrefix("::") {
            ellipsis = true
            text = text.dropFirst(2)
            if text.isEmpty { return true }
        }
        while !text.isEmpty {
            // An embedded IPv4 address may close the address.
            let field = text.prefix { $0 != ":" }
            if field.contains(".") {
                guard field.endIndex == text.endIndex, isIPv4(field) else { return false }
                groups += 2
                text = text[text.endIndex...]
                break
            }
            guard !field.isEmpty, field.count <= 4, field.allSatisfy({ $0.isHexDigit }) else { return false }
            groups += 1
            text = text.dropFirst(field.count)
            if text.isEmpty { break }
            text = text.dropFirst()  // ':'
            if text.first == ":" {
                if ellipsis { return false }
                ellipsis = true
                text = text.dropFirst()
                if text.isEmpty { break }
            } else if text.isEmpty {
                return false  // trailing single ':'
            }
        }
        return ellipsis ? groups < 8 : groups == 8
    }

    // MARK: url.Parse + types.NewURLs

    /// One element of an etcd URL list: Go's `url.Parse` followed by `types.NewURLs`'s checks, with both their
    /// error texts. Flotilla additionally refuses what the struct cannot hold: user info, a query, a fragment, an
    /// empty port, or a port above 65535 (etcd would accept these and fail, or misbehave, later).
    static func parseEtcdURL(_ raw: String) throws(EtcdURLError) -> EtcdURL {
        let input = trimSpace(raw)
        let parsed = try goURLParse(input)
        guard let scheme = EtcdURL.Scheme(rawValue: parsed.scheme) else {
            throw EtcdURLError("URL scheme must be http, https, unix, or unixs: \(input)")
        }
        let host: String
        let portText: String
        switch splitHostPort(parsed.host) {
        case .failure: throw EtcdURLError(#"URL address does not have the form "host:port": \#(input)"#)
        case .success(let pair): (host, portText) = pair
        }
        guard parsed.path.isEmpty else { throw EtcdURLError("URL must not contain a path: \(input)") }
        guard !parsed.hasUserInfo, !parsed.hasQuery, !parsed.hasFragment else {
            throw EtcdURLError("URL must not contain user info, a query or a fragment: \(input)")
        }
        guard !portText.isEmpty else { throw EtcdURLError(#"URL address does not have the form "host:port": \#(input)"#) }
        guard let port = Int(portText), port <= 65535 else {
            throw EtcdURLError("URL port must be between 0 and 65535: \(input)")
        }
        return EtcdURL(scheme, host: host, port: port)
    }

    struct GoURL {
        var scheme = ""
        var host = ""
        var path = ""
        var hasUserInfo = false
        var hasQuery = false
        var hasFragment = false
    }

    /// The part of Go's `url.Parse` that decides what etcd sees: scheme (lower-cased), opaque vs authority form,
    /// host and port syntax, path. Errors read `parse "<url>": <why>` as Go's `*url.Error` does.
    static func goURLParse(_ raw: String) throws(EtcdURLError) -> GoURL {
        func fail(_ why: String) -> EtcdURLError { EtcdURLError("parse \(quote(raw)): \(why)") }
        if raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw fail("net/url: invalid control character in URL")
        }
        var url = GoURL()
        var rest = Substring(raw)
        if let hash = rest.firstIndex(of: "#") {
            url.hasFragment = true
            rest = rest[..<hash]
        }
        if rest == "*" {
            url.path = "*"
            return url
        }
        // getScheme
        var schemeEnd: Substring.Index?
        var index = rest.startIndex
        scan: while index < rest.endIndex {
            let c = rest[index]
            switch c {
            case "a"..."z", "A"..."Z":
                break
            case "0"..."9", "+", "-", ".":
                if index == rest.startIndex { break scan }
            case ":":
                if index == rest.startIndex { throw fail("missing protocol scheme") }
                schemeEnd = index
                break scan
            default:
                break scan
            }
            index = rest.index(after: index)
        }
        if let end = schemeEnd {
            url.scheme = String(rest[..<end]).lowercased()
            rest = rest[rest.index(after: end)...]
        }
        if let question = rest.firstIndex(of: "?") {
            url.hasQuery = true
            rest = rest[..<question]
        }
        if !rest.hasPrefix("/") {
            if !url.scheme.isEmpty {
                return url  // opaque: "http:host:1" has no host at all
            }
            let segment = rest.prefix { $0 != "/" }
            if segment.contains(":") { throw fail("first path segment in URL cannot contain colon") }
        }
        if (!url.scheme.isEmpty || !rest.hasPrefix("///")) && rest.hasPrefix("//") {
            var authority = rest.dropFirst(2)
            rest = ""
            if let slash = authority.firstIndex(of: "/") {
                rest = authority[slash...]
                authority = authority[..<slash]
            }
            if let at = authority.lastIndex(of: "@") {
                url.hasUserInfo = true
                authority = authority[authority.index(after: at)...]
            }
            url.host = try parseHost(authority, fail: fail)
        }
        url.path = String(rest)
        return url
    }

    private static func parseHost(_ host: Substring, fail: (String) -> EtcdURLError) throws(EtcdURLError) -> String {
        func validOptionalPort(_ port: Substring) -> Bool {
            port.isEmpty || (port.first == ":" && port.dropFirst().allSatisfy { $0.isASCII && $0.isNumber })
        }
        if host.hasPrefix("[") {
            guard let close = host.lastIndex(of: "]") else { throw fail("missing ']' in host") }
            let colonPort = host[host.index(after: close)...]
            guard validOptionalPort(colonPort) else { throw fail("invalid port \(quote(String(colonPort))) after host") }
        } else if let colon = host.lastIndex(of: ":") {
            let colonPort = host[colon...]
            guard validOptionalPort(colonPort) else { throw fail("invalid port \(quote(String(colonPort))) after host") }
        }
        let allowedPunctuation: Set<Character> = ["-", "_", ".", "~", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", ":", "[", "]", "<", ">", "\""]
        for c in host where c.isASCII {
            if c == "%" { throw fail("invalid URL escape \(quote(String(host[host.firstIndex(of: "%")!...].prefix(3))))") }
            if !(c.isLetter || c.isNumber || allowedPunctuation.contains(c)) {
                throw fail("invalid character \(quote(String(c))) in host name")
            }
        }
        return String(host)
    }
}
