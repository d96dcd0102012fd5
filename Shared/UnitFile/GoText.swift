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
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out += escaped(scalar)
            }
        }
        return out + "\""
    }

    /// `fmt`'s `%q` for a rune (`'!'`), used by fleet's "invalid character" error.
    static func quote(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "'": return "'\\''"
        case "\\": return "'\\\\'"
        default: return "'" + escaped(scalar) + "'"
        }
    }

    /// `strconv`'s escaping of one rune that needs no quote-specific treatment.
    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        if isPrint(scalar) { return String(scalar) }
        switch scalar {
        case "\u{07}": return "\\a"
        case "\u{08}": return "\\b"
        case "\u{0C}": return "\\f"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\u{0B}": return "\\v"
        default: break
        }
        let value = scalar.value
        if value < 0x20 || value == 0x7F { return "\\x" + hex(value, width: 2) }
        if value < 0x10000 { return "\\u" + hex(value, width: 4) }
        return "\\U" + hex(value, width: 8)
    }

    /// `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    private static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark,
            .decimalNumber, .letterNumber, .otherNumber,
            .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation,
            .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
