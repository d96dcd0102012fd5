import GoJSON
/// systemd's `extract_first_word` with `EXTRACT_UNQUOTE | EXTRACT_CUNESCAPE`, the word splitter behind Exec*
/// lines and `Environment=`, plus the small text helpers the parsers share.
///
/// It works on UTF-8 bytes because `\xNN` and `\NNN` produce raw bytes: `\303\251` must become one "é",
/// which a character-level unescaper cannot do.
enum SystemdWords {
    static let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]

    struct Failure: Error, Sendable, Hashable {
        var message: String
    }

    /// The next word of `bytes`, consuming it, or nil when only whitespace is left. Quotes may start and end
    /// anywhere inside a word (`a"b c"d` is `ab cd`); `""` is an empty word, not a missing one.
    static func nextWord(_ bytes: inout ArraySlice<UInt8>) throws(Failure) -> String? {
        bytes = bytes.drop(while: whitespace.contains)
        guard !bytes.isEmpty else { return nil }
        var out: [UInt8] = []
        var quote: UInt8?
        while let byte = bytes.first {
            if quote == nil && whitespace.contains(byte) { break }
            bytes.removeFirst()
            if byte == UInt8(ascii: "\\") {
                guard let escaped = bytes.popFirst() else {
                    throw Failure(message: "trailing backslash")
                }
                try unescape(escaped, rest: &bytes, into: &out)
            } else if let open = quote, byte == open {
                quote = nil
            } else if quote == nil && (byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")) {
                quote = byte
            } else {
                out.append(byte)
            }
        }
        if quote != nil { throw Failure(message: "unbalanced quotes") }
        return String(decoding: out, as: UTF8.self)
    }

    /// All words of `text`.
    static func split(_ text: String) throws(Failure) -> [String] {
        var bytes = Array(text.utf8)[...]
        var words: [String] = []
        while let word = try nextWord(&bytes) { words.append(word) }
        return words
    }

    /// systemd's `cunescape_one`: anything not in its table is an error rather than passed through, so a
    /// typo such as `\d` is reported at load time instead of reaching the process.
    private static func unescape(_ byte: UInt8, rest: inout ArraySlice<UInt8>, into out: inout [UInt8]) throws(Failure) {
        switch byte {
        case UInt8(ascii: "a"): out.append(0x07)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "v"): out.append(0x0B)
        case UInt8(ascii: "s"): out.append(0x20)
        case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): out.append(byte)
        case UInt8(ascii: "x"):
            let value = try digits(2, radix: 16, from: &rest, escape: "\\x")
            guard value != 0 else { throw Failure(message: "\\x00 is not allowed") }
            out.append(UInt8(value))
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            let value = try digits(count, radix: 16, from: &rest, escape: byte == UInt8(ascii: "u") ? "\\u" : "\\U")
            guard value != 0, let scalar = Unicode.Scalar(value) else {
                throw Failure(message: "invalid Unicode escape")
            }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            rest = [byte] + rest
            let value = try digits(3, radix: 8, from: &rest, escape: "octal escape \\")
            guard value != 0, value <= 255 else { throw Failure(message: "octal escape out of range") }
            out.append(UInt8(value))
        default:
            throw Failure(message: "invalid escape sequence \\\(Character(Unicode.Scalar(byte)))")
        }
    }

    private static func digits(_ count: Int, radix: UInt32, from rest: inout ArraySlice<UInt8>, escape: String) throws(Failure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let byte = rest.popFirst(), let digit = Character(Unicode.Scalar(byte)).hexDigitValue, digit < radix else {
                throw Failure(message: "\(escape) needs \(count) \(radix == 8 ? "octal" : "hexadecimal") digits")
            }
            value = value * radix + UInt32(digit)
        }
        return value
    }

    /// systemd's `env_name_is_valid`: letters, digits and `_`, not starting with a digit.
    static func isValidEnvironmentName(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, !(first >= "0" && first <= "9") else { return false }
        return name.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" }
    }

    /// Go-style double-quoted rendering for error messages, so `invalid Restart= value "sometimes"` reads
    /// the same as the UnitFile module's errors.
    static func quote(_ text: String) -> String { GoQuote.string(text) }
}
