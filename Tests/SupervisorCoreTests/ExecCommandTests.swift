import Testing
import UnitFile
@testable import SupervisorCore

let testSpecifiers = SpecifierContext(
    unitName: "web@blue\\x20sky.service", machineID: "m1", bootID: "b1", hostName: "host1", kernelRelease: "6.1"
)

struct CommandCase: Sendable, CustomTestStringConvertible {
    var line: String
    var expected: [ExecCommand]
    var testDescription: String { line }

    init(_ line: String, _ expected: ExecCommand...) {
        self.line = line
        self.expected = expected
    }
}

let commandCases: [CommandCase] = [
    CommandCase("/bin/echo hello world", ExecCommand(path: "/bin/echo", arguments: ["hello", "world"])),
    CommandCase("  /bin/true  ", ExecCommand(path: "/bin/true")),
    CommandCase(#"/bin/echo "a b" 'c d' e"f g"h"#, ExecCommand(path: "/bin/echo", arguments: ["a b", "c d", "ef gh"])),
    CommandCase(#"/bin/echo "" ''"#, ExecCommand(path: "/bin/echo", arguments: ["", ""])),
    CommandCase(#"/bin/echo \a\b\f\n\r\t\v\\\"\'\s"#, ExecCommand(path: "/bin/echo", arguments: ["\u{07}\u{08}\u{0C}\n\r\t\u{0B}\\\"' "])),
    CommandCase(#"/bin/echo "x\ty" 'q\"'"#, ExecCommand(path: "/bin/echo", arguments: ["x\ty", "q\""])),
    CommandCase(#"/bin/echo \x41\102 \303\251 \u00e9"#, ExecCommand(path: "/bin/echo", arguments: ["AB", "é", "é"])),
    CommandCase("/bin/a x ; /bin/b y", ExecCommand(path: "/bin/a", arguments: ["x"]), ExecCommand(path: "/bin/b", arguments: ["y"])),
    CommandCase("/bin/a ;", ExecCommand(path: "/bin/a")),
    CommandCase(#"/bin/a \; b"#, ExecCommand(path: "/bin/a", arguments: [";", "b"])),
    CommandCase(#"/bin/a ";" x;y"#, ExecCommand(path: "/bin/a", arguments: [";", "x;y"])),
    CommandCase("-/bin/false", ExecCommand(path: "/bin/false", ignoreFailure: true)),
    CommandCase("@/bin/busybox sh -c x", ExecCommand(path: "/bin/busybox", argv0: "sh", arguments: ["-c", "x"])),
    CommandCase("-@/bin/busybox ls", ExecCommand(path: "/bin/busybox", argv0: "ls", ignoreFailure: true)),
    CommandCase("@-/bin/busybox ls", ExecCommand(path: "/bin/busybox", argv0: "ls", ignoreFailure: true)),
    CommandCase("+/bin/x", ExecCommand(path: "/bin/x", privileges: .full)),
    CommandCase("!/bin/x", ExecCommand(path: "/bin/x", privileges: .noSetUID)),
    CommandCase("!!/bin/x", ExecCommand(path: "/bin/x", privileges: .ambientMagic)),
    CommandCase(":/bin/x $A", ExecCommand(path: "/bin/x", arguments: ["$A"], expandsEnvironment: false)),
    CommandCase("-:+@/bin/x y", ExecCommand(path: "/bin/x", argv0: "y", ignoreFailure: true, privileges: .full, expandsEnvironment: false)),
    CommandCase("/opt/%p/bin/run --name=%n --inst %i --host=%H %%", ExecCommand(
        path: "/opt/web/bin/run", arguments: ["--name=web@blue\\x20sky.service", "--inst", "blue\\x20sky", "--host=host1", "%"]
    )),
    CommandCase("/bin/echo %I", ExecCommand(path: "/bin/echo", arguments: ["blue sky"])),
    CommandCase("/bin/echo $FOO ${BAR} $$", ExecCommand(path: "/bin/echo", arguments: ["$FOO", "${BAR}", "$$"])),
]

@Test("Exec line parses", arguments: commandCases)
func execLineParses(_ testCase: CommandCase) throws {
    #expect(try ExecCommand.parse(testCase.line, specifiers: testSpecifiers) == testCase.expected)
}

@Test("Exec line is refused", arguments: [
    ("bin/echo x", "is not absolute"),
    ("echo x", "is not absolute"),
    ("--/bin/x", "is not absolute"),
    ("+!/bin/x", "is not absolute"),
    ("/bin/", "is a directory"),
    ("/bin/../x", "not normalized"),
    ("/bin//x", "not normalized"),
    (#"/bin/echo \d"#, #"invalid escape sequence \d"#),
    (#"/bin/echo \x4"#, "2 hexadecimal digits"),
    (#"/bin/echo \x00"#, "not allowed"),
    (#"/bin/echo \18"#, "3 octal digits"),
    (#"/bin/echo \000"#, "out of range"),
    (#"/bin/echo "open"#, "unbalanced quotes"),
    (#"/bin/echo x\"#, "trailing backslash"),
    ("@/bin/x", "needs an argv[0]"),
    ("/bin/x ; ;", "is not absolute"),
    ("/bin/echo %z", "%z"),
])
func execLineRefused(line: String, fragment: String) {
    #expect {
        try ExecCommand.parse(line, specifiers: testSpecifiers)
    } throws: { error in
        String(describing: error).contains(fragment)
    }
}

struct ExpansionCase: Sendable, CustomTestStringConvertible {
    var line: String
    var expected: [String]
    var testDescription: String { line }
}

let expansionEnvironment = ["FOO": "one two  three", "EMPTY": "", "Q": #"a "b c" d"#, "X": "x"]

@Test("variables expand into argv", arguments: [
    ExpansionCase(line: "/bin/e $FOO", expected: ["/bin/e", "one", "two", "three"]),
    ExpansionCase(line: "/bin/e ${FOO}", expected: ["/bin/e", "one two  three"]),
    ExpansionCase(line: "/bin/e pre${X}post", expected: ["/bin/e", "prexpost"]),
    ExpansionCase(line: "/bin/e pre$X", expected: ["/bin/e", "pre$X"]),
    ExpansionCase(line: "/bin/e $EMPTY z", expected: ["/bin/e", "z"]),
    ExpansionCase(line: "/bin/e $UNSET z", expected: ["/bin/e", "z"]),
    ExpansionCase(line: "/bin/e ${UNSET} z", expected: ["/bin/e", "", "z"]),
    ExpansionCase(line: "/bin/e $$ a$$b $$X", expected: ["/bin/e", "$", "a$b", "$X"]),
    ExpansionCase(line: "/bin/e $Q", expected: ["/bin/e", "a", "b c", "d"]),
    ExpansionCase(line: "/bin/e ${X", expected: ["/bin/e", "${X"]),
    ExpansionCase(line: "/bin/e $", expected: ["/bin/e", "$"]),
    ExpansionCase(line: ":/bin/e $FOO ${X} $$", expected: ["/bin/e", "$FOO", "${X}", "$$"]),
    ExpansionCase(line: "@/bin/e ${X}0 $X", expected: ["x0", "x"]),
    // Specifiers first: `$%p` becomes the variable reference `$web`, which is unset here.
    ExpansionCase(line: "/bin/e %%FOO $%p ${%p}x", expected: ["/bin/e", "%FOO", "x"]),
])
func variablesExpand(_ testCase: ExpansionCase) throws {
    let command = try #require(try ExecCommand.parse(testCase.line, specifiers: testSpecifiers).first)
    #expect(command.argv(environment: expansionEnvironment) == testCase.expected)
}
