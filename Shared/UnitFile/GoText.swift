import GoJSON
/// Small pieces of Go's string handling that fleet's behaviour (and its error texts) depend on.
///
/// Go works on UTF-8 bytes and `unicode.IsSpace`; Swift's `Character` view would merge `\r\n` into one
/// grapheme and compare canonically equivalent strings as equal, so everything here goes through
/// `unicodeScalars` or `utf8` to keep fleet's byte-for-byte results.
enum GoText {
    /// `unicode.IsSpace`, which is exactly Unicode's White_Space property.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace
    }

    /// `strings.TrimSpace`.
    static func trimSpace(_ text: some StringProtocol) -> String {
        let scalars = Substring(text).unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[first...last])
    }

    /// `strings.Fields`: the runs of non-space characters.
    static func fields(_ text: String) -> [String] {
        text.unicodeScalars.split(whereSeparator: isSpace).map { String($0) }
    }

    /// `strings.Replace(s, old, new, -1)` on bytes: left to right, non-overlapping, and deliberately blind to
    /// grapheme clusters (`%n` followed by a combining mark must still be replaced, as in Go).
    static func replaceAll(_ text: String, _ old: String, with new: String) -> String {
        let bytes = Array(text.utf8)
        let needle = Array(old.utf8)
        guard !needle.isEmpty, bytes.count >= needle.count else { return text }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if index + needle.count <= bytes.count, bytes[index..<index + needle.count].elementsEqual(needle) {
                result.append(contentsOf: new.utf8)
                index += needle.count
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// `fmt`'s `%q` for a string, so API errors read exactly like fleet's.
    static func quote(_ text: String) -> String { GoQuote.string(text) }

    /// `fmt`'s `%q` for a rune (`'!'`), used by fleet's "invalid character" error.
    static func quote(_ scalar: Unicode.Scalar) -> String { GoQuote.rune(scalar) }
}
