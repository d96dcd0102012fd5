/// Why a unit file's text was refused, and on which line (1-based), so a user can find it in their file.
public struct UnitFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

extension UnitFile {
    /// go-systemd's `SYSTEMD_LINE_MAX`: systemd silently truncates longer lines, so fleet refuses them.
    public static let maximumLineLength = 2048

    /// Parses unit file text the way fleet does (go-systemd `Deserialize`), so that the same text gives the
    /// same options and therefore the same hash as in fleet.
    ///
    /// Where go-systemd is lenient by accident we refuse instead (text before the first section, a line
    /// without `=`, a section header without `]` on its line); CRLF line ends are treated as LF throughout,
    /// continuations included. Everything else, notably values keeping `\`+newline verbatim, is fleet's.
    public init(parsing text: String) throws(UnitFileError) {
        var parser = UnitFileParser(text)
        self.init(options: try parser.parse())
    }
}

/// A line-at-a-time re-statement of go-systemd's rune-at-a-time lexer.
struct UnitFileParser {
    /// Physical lines without their `\n` (or `\r\n`). The last one is whatever followed the final newline,
    /// possibly empty: go-systemd's notion of "at end of file" for continuations depends on it.
    private let lines: [String]
    private var index = 0

    init(_ text: String) {
        // go-systemd skips anything before the first `[`, so files saved with a byte-order mark load in
        // fleet; we refuse text before the first section but must keep accepting those files.
        let text = text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
        var lines: [String] = []
        for raw in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let bytes = raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw
            lines.append(String(decoding: bytes, as: UTF8.self))
        }
        self.lines = lines
    }

    mutating func parse() throws(UnitFileError) -> [UnitOption] {
        var options: [UnitOption] = []
        var section: String?
        while index < lines.count {
            let text = try line(at: index)
            let content = text.unicodeScalars.drop(while: GoText.isSpace)
            switch content.first {
            case nil:
                index += 1
            case "[":
                section = try sectionName(content)
                index += 1
            case "#", ";":
                try skipComment(startingWith: text)
            default:
                guard let section else { throw error("option line outside of any section") }
                options.append(try option(content, section: section))
            }
        }
        return options
    }

    /// The line at `position`, refused if systemd would have truncated it. Every line goes through here
    /// exactly when it is consumed, so the error is reported in file order like go-systemd's.
    private func line(at position: Int) throws(UnitFileError) -> String {
        let line = lines[position]
        guard line.utf8.count < UnitFile.maximumLineLength else {
            throw UnitFileError(line: position + 1, message: "line too long (max \(UnitFile.maximumLineLength) bytes)")
        }
        return line
    }

    private func error(_ message: String) -> UnitFileError {
        UnitFileError(line: index + 1, message: message)
    }

    private func sectionName(_ content: Substring.UnicodeScalarView) throws(UnitFileError) -> String {
        let body = content.dropFirst()
        guard let end = body.firstIndex(of: "]") else { throw error("unable to find end of section") }
        guard GoText.trimSpace(String(body[body.index(after: end)...])).isEmpty else {
            throw error("found garbage after section name")
        }
        return String(body[..<end])
    }

    /// Comments end at the end of their line, except that go-systemd lets a comment ending in `\` (after
    /// dropping one trailing space) swallow the next line too. That changes which options exist, hence
    /// the hash, so it is kept.
    private mutating func skipComment(startingWith line: String) throws(UnitFileError) {
        var current = line
        while Self.commentContinues(current) {
            index += 1
            guard index < lines.count else { return }
            current = try self.line(at: index)
        }
        index += 1
    }

    private static func commentContinues(_ line: String) -> Bool {
        var scalars = line.unicodeScalars[...]
        if scalars.last == " " { scalars = scalars.dropLast() }
        return scalars.last == "\\"
    }

    private mutating func option(_ content: Substring.UnicodeScalarView, section: String) throws(UnitFileError) -> UnitOption {
        guard let equals = content.firstIndex(where: { $0 == "=" || $0 == "\r" }) else {
            throw error("option line has no \"=\": \(GoText.quote(String(content)))")
        }
        guard content[equals] == "=" else {
            // go-systemd treats a lone CR like a line break while reading a name.
            throw error("unexpected newline encountered while parsing option name")
        }
        let name = GoText.trimSpace(String(content[..<equals]))
        let value = try optionValue(firstLine: String(content[content.index(after: equals)...]))
        return UnitOption(section: section, name: name, value: value)
    }

    /// A value runs on while its lines end in `\`; the backslash and the newline stay in the value, as in
    /// fleet. A blank line (or the end of the file) ends a continued value, and then go-systemd keeps the
    /// final newline, which is what makes such a value survive `serialized` unchanged.
    private mutating func optionValue(firstLine: String) throws(UnitFileError) -> String {
        var partial = ""
        var current = firstLine
        while !GoText.trimSpace(current).isEmpty {
            partial += current
            guard current.unicodeScalars.last == "\\" else { break }
            if index < lines.count - 1 { partial += "\n" }
            index += 1
            current = index < lines.count ? try line(at: index) : ""
        }
        index += 1
        return partial.unicodeScalars.last == "\n" ? GoText.trimSpace(partial) + "\n" : GoText.trimSpace(partial)
    }
}
