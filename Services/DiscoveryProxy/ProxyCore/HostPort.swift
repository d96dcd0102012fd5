/// `host:port` syntax shared by instance values, route hosts, TCP `listen` addresses and request `Host`
/// headers, so that all four agree on brackets, IPv6 and case.
enum HostPort {
    /// Splits `host`, `host:port`, `[v6]` and `[v6]:port`. A bare IPv6 address (two or more colons, no
    /// brackets) is all host. `nil` when brackets are malformed; the port text is not checked here.
    static func split(_ text: Substring) -> (host: Substring, port: Substring?)? {
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.first == ":" else { return nil }
            return (host, rest.dropFirst())
        }
        guard let colon = text.firstIndex(of: ":") else { return (text, nil) }
        if text[text.index(after: colon)...].contains(":") { return (text, nil) }
        return (text[..<colon], text[text.index(after: colon)...])
    }

    /// Decimal digits only (no sign, no spaces) within `range`.
    static func port(_ text: Substring, in range: ClosedRange<Int>) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let value = Int(text), range.contains(value)
        else { return nil }
        return value
    }

    /// Loose on purpose: DNS names (underscores included, some internal names have them), IPv4, and IPv6
    /// with an optional `%zone`. It only has to keep out things that are clearly not a host, such as
    /// `http://x`, `a b` or `user@host`, not to validate DNS.
    static func isValidHost(_ host: Substring) -> Bool {
        guard !host.isEmpty else { return false }
        // One colon is a `host:port` in the wrong place, not an IPv6 address (those have at least two).
        let colons = host.utf8.count(where: { $0 == UInt8(ascii: ":") })
        guard colons != 1 else { return false }
        let isV6 = colons > 1
        for b in host.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: ":") where isV6, UInt8(ascii: "%") where isV6:
                continue
            default:
                return false
            }
        }
        return true
    }

    /// A request's `Host` (or `:authority`) as routes store theirs: no port, no brackets, no trailing dot,
    /// ASCII lowercase. `nil` when nothing is left. Never fails otherwise: an odd header just matches nothing.
    static func normalizedRequestHost(_ host: String) -> String? {
        // Fast path for the common already-normal header: lowercase name, no port.
        if !host.isEmpty, host.utf8.last != UInt8(ascii: "."), host.utf8.allSatisfy({ b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
        }) {
            return host
        }
        guard let (name, _) = split(Substring(host)) else { return nil }
        let lowered = lowercasedASCII(name.hasSuffix(".") ? name.dropLast() : name)
        return lowered.isEmpty ? nil : lowered
    }

    /// Hostnames are ASCII (IDNs arrive as punycode), and `lowercased()` would apply Unicode rules.
    static func lowercasedASCII(_ text: Substring) -> String {
        String(decoding: text.utf8.map { b in
            b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b
        }, as: UTF8.self)
    }
}
