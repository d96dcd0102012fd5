/// One `EnvironmentFile=` entry.
public struct EnvironmentFileReference: Sendable, Hashable {
    public var path: String
    /// The `-` prefix: a missing file is not an error.
    public var optional: Bool

    public init(path: String, optional: Bool = false) {
        self.path = path
        self.optional = optional
    }
}

/// Why a unit's environment could not be assembled for a start.
public struct EnvironmentError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// systemd's environment rules, as pure functions over file *contents* (the shell reads the files).
public enum ServiceEnvironment {
    /// The assignments of one environment file, in order, as systemd's `load_env_file` reads it.
    ///
    /// Rules (systemd's `parse_env_file_internal`, v254+): `KEY=VALUE` per line, whitespace around key and
    /// value trimmed; lines starting with `#` or `;` are comments; lines without `=` are ignored; a value
    /// may be `'single'` or `"double"` quoted (quoted parts may span lines, and several quoted and bare parts
    /// concatenate only at the value's start, e.g. `"a"'b'`); outside quotes `\x` is `x` and `\`+newline
    /// continues the line; inside double quotes only `\" \\ \` \$` lose their backslash. There is no `export`
    /// keyword: `export FOO=1` yields the key `export FOO`, which is not a valid name and is dropped, as
    /// systemd drops it (with a warning) when building the environment.
    public static func parseFile(_ contents: String) -> [(name: String, value: String)] {
        var parser = EnvironmentFileParser()
        for byte in contents.utf8 { parser.feed(byte) }
        parser.finish()
        return parser.assignments.compactMap { key, value in
            let name = String(decoding: key, as: UTF8.self)
            guard SystemdWords.isValidEnvironmentName(name[...]) else { return nil }
            return (name, String(decoding: value, as: UTF8.self))
        }
    }

    /// `Environment=` values in order: each value holds space-separated, optionally quoted `VAR=value`
    /// words; later assignments win and an empty value clears everything before it. Invalid words are
    /// returned as warnings, since systemd ignores them with a warning rather than refusing the unit.
    static func parseAssignments(_ values: [String], expand: (String) throws(EnvironmentError) -> String) throws(EnvironmentError) -> (variables: [String: String], warnings: [String]) {
        var variables: [String: String] = [:]
        var warnings: [String] = []
        for value in values {
            if value.isEmpty {
                variables.removeAll()
                continue
            }
            let words: [String]
            do { words = try SystemdWords.split(value) } catch {
                throw EnvironmentError(message: "invalid Environment= value \(SystemdWords.quote(value)): \(error.message)")
            }
            for word in words {
                let expanded = try expand(word)
                guard let equals = expanded.firstIndex(of: "="), SystemdWords.isValidEnvironmentName(expanded[..<equals]) else {
                    warnings.append("ignoring invalid environment assignment \(SystemdWords.quote(expanded))")
                    continue
                }
                variables[String(expanded[..<equals])] = String(expanded[expanded.index(after: equals)...])
            }
        }
        return (variables, warnings)
    }

    /// The environment of one start: `base` (the agent's own and built-in variables), overridden by
    /// `Environment=`, overridden by the files in order. `fileContents` maps a path to the file's contents;
    /// a path missing from it is a missing file.
    public static func resolve(
        base: [String: String],
        environment: [String: String],
        files: [EnvironmentFileReference],
        fileContents: [String: String]
    ) throws(EnvironmentError) -> [String: String] {
        var result = base.merging(environment) { _, new in new }
        for file in files {
            guard let contents = fileContents[file.path] else {
                if file.optional { continue }
                throw EnvironmentError(message: "environment file \(SystemdWords.quote(file.path)) is missing")
            }
            for (name, value) in parseFile(contents) { result[name] = value }
        }
        return result
    }
}

/// The byte-level state machine of systemd's environment-file reader.
private struct EnvironmentFileParser {
    private enum State { case preKey, key, preValue, value, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape, comment, commentEscape }

    private static let newline: Set<UInt8> = [0x0A, 0x0D]
    private static let comments: Set<UInt8> = [UInt8(ascii: "#"), UInt8(ascii: ";")]
    private static let needEscape: Set<UInt8> = [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "`"), UInt8(ascii: "$")]

    private var state = State.preKey
    private var key: [UInt8] = []
    private var value: [UInt8] = []
    // Where trailing unquoted whitespace starts, so it can be cut when the line ends.
    private var keyWhitespace: Int?
    private var valueWhitespace: Int?
    private(set) var assignments: [(key: [UInt8], value: [UInt8])] = []

    mutating func feed(_ c: UInt8) {
        let isSpace = SystemdWords.whitespace.contains(c)
        switch state {
        case .preKey:
            if Self.comments.contains(c) {
                state = .comment
            } else if !isSpace {
                state = .key
                keyWhitespace = nil
                key.append(c)
            }
        case .key:
            if Self.newline.contains(c) {
                state = .preKey
                key.removeAll()
            } else if c == UInt8(ascii: "=") {
                state = .preValue
                valueWhitespace = nil
            } else {
                if !isSpace { keyWhitespace = nil } else if keyWhitespace == nil { keyWhitespace = key.count }
                key.append(c)
            }
        case .preValue:
            if Self.newline.contains(c) {
                push(trimValue: false)
            } else if c == UInt8(ascii: "'") {
                state = .singleQuote
            } else if c == UInt8(ascii: "\"") {
                state = .doubleQuote
            } else if c == UInt8(ascii: "\\") {
                state = .valueEscape
            } else if !isSpace {
                state = .value
                value.append(c)
            }
        case .value:
            if Self.newline.contains(c) {
                push(trimValue: true)
            } else if c == UInt8(ascii: "\\") {
                state = .valueEscape
                valueWhitespace = nil
            } else {
                if !isSpace { valueWhitespace = nil } else if valueWhitespace == nil { valueWhitespace = value.count }
                value.append(c)
            }
        case .valueEscape:
            state = .value
            if !Self.newline.contains(c) { value.append(c) }
        case .singleQuote:
            if c == UInt8(ascii: "'") { state = .preValue } else { value.append(c) }
        case .doubleQuote:
            if c == UInt8(ascii: "\"") {
                state = .preValue
            } else if c == UInt8(ascii: "\\") {
                state = .doubleQuoteEscape
            } else {
                value.append(c)
            }
        case .doubleQuoteEscape:
            state = .doubleQuote
            if Self.needEscape.contains(c) {
                value.append(c)
            } else if c != 0x0A {
                value.append(contentsOf: [UInt8(ascii: "\\"), c])
            }
        case .comment:
            if c == UInt8(ascii: "\\") { state = .commentEscape } else if Self.newline.contains(c) { state = .preKey }
        case .commentEscape:
            // Since v254 a comment ending in `\` no longer swallows the next line.
            state = Self.newline.contains(c) ? .preKey : .comment
        }
    }

    mutating func finish() {
        switch state {
        case .preValue, .valueEscape, .singleQuote, .doubleQuote, .doubleQuoteEscape: push(trimValue: false)
        case .value: push(trimValue: true)
        case .preKey, .key, .comment, .commentEscape: break
        }
    }

    private mutating func push(trimValue: Bool) {
        if let keyWhitespace { key.removeSubrange(keyWhitespace...) }
        if trimValue, let valueWhitespace { value.removeSubrange(valueWhitespace...) }
        assignments.append((key, value))
        key.removeAll()
        value.removeAll()
        state = .preKey
    }
}

/// systemd's `replace_env_argv`: how `$FOO`, `${FOO}` and `$$` in Exec* arguments are substituted.
enum EnvironmentExpansion {
    /// A word that is exactly `$NAME` (valid name) becomes the variable's value split on whitespace (quotes
    /// in the value group words) — zero or more arguments. Every other word gets `${NAME}` replaced in place
    /// and `$$` turned into `$`; a `$` followed by anything else stays literal. Unset variables are empty.
    static func expand(_ words: [String], environment: [String: String]) -> [String] {
        var out: [String] = []
        for word in words {
            if word.hasPrefix("$"), SystemdWords.isValidEnvironmentName(word.dropFirst()) {
                out += splitValue(environment[String(word.dropFirst())] ?? "")
            } else {
                out.append(expandWithinWord(word, environment: environment))
            }
        }
        return out
    }

    static func expandWithinWord(_ word: String, environment: [String: String]) -> String {
        var out = ""
        var rest = word[...]
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.first == "$" {
                out += "$"
                rest = after.dropFirst()
            } else if after.first == "{", let close = after.firstIndex(of: "}") {
                let name = after[after.index(after: after.startIndex)..<close]
                out += environment[String(name)] ?? ""
                rest = after[after.index(after: close)...]
            } else {
                // An unterminated `${` or a `$` inside a word: kept literally, as systemd keeps it.
                out += "$"
                rest = after
            }
        }
        return out + rest
    }

    /// `strv_split_extract(…, WHITESPACE, EXTRACT_RELAX | EXTRACT_UNQUOTE)`: quotes group, a backslash
    /// takes the next character literally, and unbalanced quotes are tolerated.
    private static func splitValue(_ value: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaping = false
        for c in value {
            if escaping {
                current.append(c)
                escaping = false
            } else if c == "\\" {
                escaping = true
                inWord = true
            } else if let open = quote {
                if c == open { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                inWord = true
            } else if c == " " || c == "\t" || c == "\n" || c == "\r" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(c)
                inWord = true
            }
        }
        if escaping { current.append("\\") }
        if inWord || escaping { words.append(current) }
        return words
    }
}
