/// `application/x-www-form-urlencoded` pairs, decoded exactly as Go's `url.ParseQuery` decodes them:
/// `&` separates pairs, `+` is a space, `%XX` is a byte, order and duplicates are kept, and a lookup
/// returns the first value. etcd clients depend on these details (`value=a+b`, `ttl=` meaning "none").
public struct FormParameters: Sendable, Equatable {
    public private(set) var pairs: [(name: String, value: String)]

    public init(pairs: [(name: String, value: String)] = []) { self.pairs = pairs }

    /// Decodes leniently: a pair with a bad escape is skipped, as Go keeps the good pairs of a bad query.
    public init<S: StringProtocol>(decoding encoded: S) {
        pairs = []
        for piece in encoded.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let pair = try? Self.decodePair(piece) { pairs.append(pair) }
        }
    }

    /// Decodes strictly: the first malformed pair throws, naming it.
    public static func parse<S: StringProtocol>(_ encoded: S) throws(FormParseError) -> FormParameters {
        var result = FormParameters()
        for piece in encoded.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            result.pairs.append(try decodePair(piece))
        }
        return result
    }

    public subscript(name: String) -> String? { first(name) }

    public func first(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    public func values(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { pairs.contains { $0.name == name } }

    public mutating func append(_ name: String, _ value: String) { pairs.append((name, value)) }

    /// Pairs of `other` after these, so `first` prefers ours: Go's `r.Form` puts body values before query values.
    public func merging(_ other: FormParameters) -> FormParameters {
        FormParameters(pairs: pairs + other.pairs)
    }

    public static func == (lhs: FormParameters, rhs: FormParameters) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.name == $1.name && $0.value == $1.value }
    }

    private static func decodePair<C: Collection<UInt8>>(_ piece: C) throws(FormParseError) -> (name: String, value: String) {
        if let equals = piece.firstIndex(of: UInt8(ascii: "=")) {
            return (try unescape(piece[..<equals]), try unescape(piece[piece.index(after: equals)...]))
        }
        return (try unescape(piece), "")
    }

    /// Go's `QueryUnescape`: `%` must be followed by two hex digits.
    public static func unescape<C: Collection<UInt8>>(_ bytes: C) throws(FormParseError) -> String {
        guard bytes.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                let high = bytes.index(after: index)
                guard high != bytes.endIndex, let h = hexValue(bytes[high]) else {
                    throw FormParseError(escape: String(decoding: bytes[index...].prefix(3), as: UTF8.self))
                }
                let low = bytes.index(after: high)
                guard low != bytes.endIndex, let l = hexValue(bytes[low]) else {
                    throw FormParseError(escape: String(decoding: bytes[index...].prefix(3), as: UTF8.self))
                }
                out.append(h << 4 | l)
                index = low
            default:
                out.append(byte)
            }
            index = bytes.index(after: index)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Percent-decoding of a path segment (Go's `PathUnescape`): `+` stays a plus.
    public static func unescapePath<S: StringProtocol>(_ segment: S) throws(FormParseError) -> String {
        guard segment.utf8.contains(UInt8(ascii: "%")) else { return String(segment) }
        let escapedPlus = segment.utf8.split(separator: UInt8(ascii: "+"), omittingEmptySubsequences: false)
        var parts: [String] = []
        for part in escapedPlus { parts.append(try unescape(part)) }
        return parts.joined(separator: "+")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

public struct FormParseError: Error, Equatable, CustomStringConvertible {
    public let escape: String
    public var description: String { "invalid URL escape \"\(escape)\"" }
}
