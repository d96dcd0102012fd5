/// Why a configuration value (a key's value in the keys API, or a `--route` flag) was refused.
///
/// The message names the key or field and quotes the offending value: it ends up on the status page and in
/// logs, where an operator has to find the typo without reading our source.
public struct ProxyConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension ProxyConfigError {
    /// Longest part of a value quoted in a message: a megabyte of garbage written to a key must not become a
    /// megabyte of log line.
    static let quoteLimit = 100

    /// `"value"`, escaped so control characters stay visible, cut after ``quoteLimit`` characters (marked `…`).
    static func quote(_ value: some StringProtocol) -> String {
        var out = "\""
        var count = 0
        for character in value {
            if count == quoteLimit {
                return out + "\"…"
            }
            count += 1
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if let scalar = character.unicodeScalars.first, character.unicodeScalars.count == 1,
                   scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.append(character)
                }
            }
        }
        return out + "\""
    }
}
