import Testing
@testable import SupervisorCore

struct EnvironmentFileCase: Sendable, CustomTestStringConvertible {
    var contents: String
    var expected: [String]
    var testDescription: String { contents.replacingOccurrences(of: "\n", with: " ⏎ ") }

    init(_ contents: String, _ expected: [String]) {
        self.contents = contents
        self.expected = expected
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

@Test("environment file lines", arguments: [
    EnvironmentFileCase("A=1\nB=2", ["A=1", "B=2"]),
    EnvironmentFileCase("  A  =  spaced value  \n", ["A=spaced value"]),
    EnvironmentFileCase("# comment\n; other\nA=1\n  # indented", ["A=1"]),
    EnvironmentFileCase("no equals here\nA=1", ["A=1"]),
    EnvironmentFileCase("A=", ["A="]),
    EnvironmentFileCase("A=one \\\ntwo", ["A=one two"]),
    EnvironmentFileCase("A='single $quoted \\n'", [#"A=single $quoted \n"#]),
    EnvironmentFileCase("A=\"double \\\"q\\\" \\$x \\n\"", [#"A=double "q" $x \n"#]),
    EnvironmentFileCase("A=\"multi\nline\"", ["A=multi\nline"]),
    EnvironmentFileCase("A=\"a\"'b'", ["A=ab"]),
    EnvironmentFileCase("A=x \"y\"", [#"A=x "y""#]),
    EnvironmentFileCase("A=a\\b\\\\c", [#"A=ab\c"#]),
    EnvironmentFileCase("A=1\nA=2", ["A=1", "A=2"]),
    EnvironmentFileCase("export A=1\nB=2", ["B=2"]),
    EnvironmentFileCase("1A=x\nA-B=y\n_ok=z", ["_ok=z"]),
    EnvironmentFileCase("# comment \\\nA=1", ["A=1"]),
    EnvironmentFileCase("A=1\r\nB=2\r\n", ["A=1", "B=2"]),
    EnvironmentFileCase("A=#not a comment", ["A=#not a comment"]),
])
func environmentFile(_ testCase: EnvironmentFileCase) {
    #expect(ServiceEnvironment.parseFile(testCase.contents).map { "\($0.name)=\($0.value)" } == testCase.expected)
}

@Test func environmentFilesOverrideEnvironmentInOrder() throws {
    let env = try ServiceEnvironment.resolve(
        base: ["PATH": "/bin", "A": "base"],
        environment: ["A": "env", "B": "env"],
        files: [
            EnvironmentFileReference(path: "/etc/one"),
            EnvironmentFileReference(path: "/etc/missing", optional: true),
            EnvironmentFileReference(path: "/etc/two"),
        ],
        fileContents: ["/etc/one": "B=one\nC=one", "/etc/two": "C=two"]
    )
    #expect(env == ["PATH": "/bin", "A": "env", "B": "one", "C": "two"])
}

@Test func missingRequiredEnvironmentFileIsAnError() {
    #expect(throws: EnvironmentError(message: #"environment file "/etc/x" is missing"#)) {
        try ServiceEnvironment.resolve(base: [:], environment: [:], files: [EnvironmentFileReference(path: "/etc/x")], fileContents: [:])
    }
}

@Test("Environment= assignments", arguments: [
    (["A=1 B=2", "A=3"], ["A": "3", "B": "2"], 0),
    ([#""ONE=one" 'TWO=two two' THREE=a\sb"#], ["ONE": "one", "TWO": "two two", "THREE": "a b"], 0),
    (["A=1", "", "B=2"], ["B": "2"], 0),
    (["A=1 novalue 9X=1"], ["A": "1"], 2),
    (["EMPTY="], ["EMPTY": ""], 0),
])
func environmentAssignments(values: [String], expected: [String: String], warnings: Int) throws {
    let (variables, warned) = try ServiceEnvironment.parseAssignments(values) { $0 }
    #expect(variables == expected)
    #expect(warned.count == warnings)
}
