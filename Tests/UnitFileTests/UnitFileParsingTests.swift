import Testing
@testable import UnitFile

/// One input and the options go-systemd's `Deserialize` gives for it (as fleet stores them).
struct ParseCase: Sendable, CustomTestStringConvertible {
    var label: String
    var text: String
    var options: [UnitOption]

    init(_ label: String, _ text: String, _ options: [(String, String, String)]) {
        self.label = label
        self.text = text
        self.options = options.map { UnitOption(section: $0.0, name: $0.1, value: $0.2) }
    }

    var testDescription: String { label }
}

/// Exactly `UnitFile.maximumLineLength` bytes: one too many.
let tooLongLine = String(repeating: "x", count: 2048)

let parseCases: [ParseCase] = [
    ParseCase("empty text", "", []),
    ParseCase("only comments and blanks", "# a\n\n; b\n   \n", []),
    ParseCase("one option", "[Unit]\nDescription=Foo\n", [("Unit", "Description", "Foo")]),
    ParseCase("no final newline", "[Unit]\nDescription=Foo", [("Unit", "Description", "Foo")]),
    ParseCase(
        "whitespace around header, name and value",
        "  [Unit]  \n\t Description  =   Foo  bar \t\n",
        [("Unit", "Description", "Foo  bar")]
    ),
    ParseCase(
        "comments anywhere",
        "# top\n; top\n[Unit]\n# c\nA=1\n   ; indented\nB=2 # not a comment\n",
        [("Unit", "A", "1"), ("Unit", "B", "2 # not a comment")]
    ),
    ParseCase(
        "duplicates kept in order",
        "[Service]\nExecStart=a\nExecStart=b\nExecStart=\nExecStart=c\n",
        [("Service", "ExecStart", "a"), ("Service", "ExecStart", "b"), ("Service", "ExecStart", ""), ("Service", "ExecStart", "c")]
    ),
    ParseCase("value containing =", "[X-Fleet]\nMachineMetadata=a=b\n", [("X-Fleet", "MachineMetadata", "a=b")]),
    ParseCase("empty value", "[Unit]\nA=\nB=   \n", [("Unit", "A", ""), ("Unit", "B", "")]),
    ParseCase("empty name", "[Unit]\n=value\n", [("Unit", "", "value")]),
    ParseCase("empty section name", "[]\nA=1\n", [("", "A", "1")]),
    ParseCase("header without options", "[Unit]\n[Service]\nA=1\n", [("Service", "A", "1")]),
    ParseCase(
        "sections revisited keep file order",
        "[A]\nx=1\n[B]\ny=2\n[A]\nz=3\n",
        [("A", "x", "1"), ("B", "y", "2"), ("A", "z", "3")]
    ),
    ParseCase(
        "continuation keeps backslash, newline and indentation",
        "[Service]\nExecStart=/bin/foo \\\n  --bar \\\n  --baz\nRestart=always\n",
        [("Service", "ExecStart", "/bin/foo \\\n  --bar \\\n  --baz"), ("Service", "Restart", "always")]
    ),
    ParseCase(
        "continuation ended by a blank line keeps the newline",
        "[S]\nA=x \\\n\nB=y\n",
        [("S", "A", "x \\\n"), ("S", "B", "y")]
    ),
    ParseCase(
        "continuation ended by a whitespace-only line",
        "[S]\nA=x\\\n   \nB=1\n",
        [("S", "A", "x\\\n"), ("S", "B", "1")]
    ),
    ParseCase("continuation at end of file after a newline", "[S]\nA=x \\\n", [("S", "A", "x \\\n")]),
    ParseCase("continuation at end of file without a newline", "[S]\nA=x \\", [("S", "A", "x \\")]),
    ParseCase(
        "continuation swallows a header-looking line",
        "[S]\nA=x\\\n[B]\nC=1\n",
        [("S", "A", "x\\\n[B]"), ("S", "C", "1")]
    ),
    ParseCase(
        "continuation swallows a comment-looking line",
        "[S]\nA=x\\\n# c\nB=1\n",
        [("S", "A", "x\\\n# c"), ("S", "B", "1")]
    ),
    ParseCase(
        "backslash followed by spaces is no continuation",
        "[S]\nA=x \\  \nB=1\n",
        [("S", "A", "x \\"), ("S", "B", "1")]
    ),
    ParseCase("comment continued by a backslash", "[S]\n# note \\\nA=hidden\nB=1\n", [("S", "B", "1")]),
    ParseCase("comment continued after one trailing space", "[S]\n# note \\ \nA=hidden\nB=1\n", [("S", "B", "1")]),
    ParseCase(
        "comment not continued after two trailing spaces",
        "[S]\n# note \\  \nA=1\n",
        [("S", "A", "1")]
    ),
    ParseCase("comment continued to end of file", "[S]\nA=1\n# note \\", [("S", "A", "1")]),
    ParseCase(
        "CRLF line ends",
        "[Unit]\r\nDescription=Foo\r\n\r\n[Service]\r\nExecStart=/bin/a \\\r\n  b\r\n",
        [("Unit", "Description", "Foo"), ("Service", "ExecStart", "/bin/a \\\n  b")]
    ),
    ParseCase("lone CR inside a value is kept", "[S]\nA=b\rc\n", [("S", "A", "b\rc")]),
    ParseCase("CR in a section name is kept", "[A\rB]\nx=1\n", [("A\rB", "x", "1")]),
    ParseCase(
        "non-ASCII text",
        "[Ünit]\nDescription=héllo wörld ☺\n",
        [("Ünit", "Description", "héllo wörld ☺")]
    ),
    ParseCase("Unicode whitespace is trimmed like Go", "[S]\n\u{A0}A\u{2003}=\u{3000}b\u{85}\n", [("S", "A", "b")]),
    ParseCase("header with spaces inside kept", "[ X Y ]\nA=1\n", [(" X Y ", "A", "1")]),
    ParseCase("bracket inside a section name", "[[a]\nA=1\n", [("[a", "A", "1")]),
    ParseCase("byte-order mark at the start", "\u{FEFF}[Unit]\nA=1\n", [("Unit", "A", "1")]),
    ParseCase("byte-order mark elsewhere is text", "[Unit]\n\u{FEFF}A=1\n", [("Unit", "\u{FEFF}A", "1")]),
]

@Suite("UnitFile parsing")
struct UnitFileParsingTests {
    @Test("parses like go-systemd", arguments: parseCases)
    func parses(_ testCase: ParseCase) throws {
        let unit = try UnitFile(parsing: testCase.text)
        #expect(unit.options == testCase.options)
    }

    @Test(
        "refuses malformed text, naming the line",
        arguments: [
            ("[Unit", 1, "unable to find end of section"),
            ("[Unit]\nA=1\n[Service\nB=2", 3, "unable to find end of section"),
            ("[Unit\n]", 1, "unable to find end of section"),
            ("[Unit] x", 1, "found garbage after section name"),
            ("[Unit]]", 1, "found garbage after section name"),
            ("[Unit]\n\n[Service] # comment\n", 3, "found garbage after section name"),
            ("A=1\n[Unit]\n", 1, "option line outside of any section"),
            ("# c\n\nhello\n[Unit]\n", 3, "option line outside of any section"),
            ("[Unit]\nDescription\n", 2, "option line has no \"=\": \"Description\""),
            ("[Unit]\nA=1\n  foo bar", 3, "option line has no \"=\": \"foo bar\""),
            ("[Unit]\nA=1\nB=x \\\nC=2\nD\n", 5, "option line has no \"=\": \"D\""),
            ("[Unit]\nA\rB=1\n", 2, "unexpected newline encountered while parsing option name"),
            ("[Unit]\nA\r\n", 2, "option line has no \"=\": \"A\""),
        ] as [(String, Int, String)]
    )
    func refuses(text: String, line: Int, message: String) {
        #expect(throws: UnitFileError(line: line, message: message)) {
            try UnitFile(parsing: text)
        }
    }

    @Test("error description starts with the line number")
    func errorDescription() {
        let error = UnitFileError(line: 3, message: "found garbage after section name")
        #expect(error.description == "line 3: found garbage after section name")
    }

    @Test(
        "refuses any physical line of 2048 bytes or more",
        arguments: [
            ("[Unit]\nA=" + String(tooLongLine.dropFirst(2)) + "\n", 2),
            ("[Unit]\nA=" + tooLongLine + "\n", 2),
            ("# " + tooLongLine + "\n[Unit]\n", 1),
            (tooLongLine, 1),
            ("[Unit]\nA=x \\\n" + tooLongLine + "\n", 3),
            ("[Unit]\n# c \\\n" + tooLongLine + "\n", 3),
            ("[Unit]\n\n\n\n" + tooLongLine, 5),
            ("[Unit]\nA=" + String(repeating: "é", count: 1023) + "\n", 2),
            ("[Unit]\r\nA=" + String(tooLongLine.dropFirst(2)) + "\r\n", 2),
        ] as [(String, Int)]
    )
    func refusesLongLines(text: String, line: Int) {
        #expect(throws: UnitFileError(line: line, message: "line too long (max 2048 bytes)")) {
            try UnitFile(parsing: text)
        }
    }

    @Test("accepts a line of 2047 bytes, with LF or CRLF")
    func acceptsLongestLine() throws {
        let value = String(repeating: "x", count: 2045)
        for ending in ["\n", "\r\n", ""] {
            let unit = try UnitFile(parsing: "[Unit]\nA=" + value + ending)
            #expect(unit.options == [UnitOption(section: "Unit", name: "A", value: value)])
        }
    }

    @Test("an earlier error wins over a later long line")
    func errorsInFileOrder() {
        #expect(throws: UnitFileError(line: 1, message: "unable to find end of section")) {
            try UnitFile(parsing: "[Unit\n" + tooLongLine)
        }
    }
}
