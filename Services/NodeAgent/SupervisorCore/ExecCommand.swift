public import UnitFile

/// Why an `Exec*=` line could not be parsed; systemd refuses to load the unit in these cases.
public struct CommandLineError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// One command of an `ExecStartPre=`/`ExecStart=`/… directive, parsed the way systemd parses it but with
/// environment variables still unexpanded: they are substituted at spawn time, from the environment of that
/// start (see `argv(environment:)`).
public struct ExecCommand: Sendable, Hashable {
    /// What the `+`, `!` and `!!` prefixes ask for.
    public enum Privileges: Sendable, Hashable {
        /// Run with `User=`/`Group=`.
        case normal
        /// `+`: run as the agent's own user (root) regardless of `User=`.
        case full
        /// `!`: like `+` for credentials; the agent has no other sandboxing to keep.
        case noSetUID
        /// `!!`: systemd drops credentials only where ambient capabilities are unsupported; the agent never
        /// uses ambient capabilities, so this behaves like `normal`.
        case ambientMagic
    }

    /// Absolute path of the executable.
    public var path: String
    /// `argv[0]`: the path, or the second word with the `@` prefix.
    public var argv0: String
    /// The remaining arguments, specifiers expanded, variables not yet.
    public var arguments: [String]
    /// `-`: a non-zero exit, a signal or a failure to spawn counts as success.
    public var ignoreFailure: Bool
    public var privileges: Privileges
    /// False with the `:` prefix: `$FOO` reaches the process literally.
    public var expandsEnvironment: Bool

    public init(
        path: String,
        argv0: String? = nil,
        arguments: [String] = [],
        ignoreFailure: Bool = false,
        privileges: Privileges = .normal,
        expandsEnvironment: Bool = true
    ) {
        self.path = path
        self.argv0 = argv0 ?? path
        self.arguments = arguments
        self.ignoreFailure = ignoreFailure
        self.privileges = privileges
        self.expandsEnvironment = expandsEnvironment
    }

    /// Whether `User=`/`Group=` apply to this command.
    public var usesUnitCredentials: Bool {
        privileges == .normal || privileges == .ambientMagic
    }

    /// The full argument vector for `execve`, with `${FOO}`, `$FOO` and `$$` substituted from
    /// `environment` (unless the `:` prefix disabled that). `argv[0]` is never split.
    public func argv(environment: [String: String]) -> [String] {
        guard expandsEnvironment else { return [argv0] + arguments }
        return [EnvironmentExpansion.expandWithinWord(argv0, environment: environment)]
            + EnvironmentExpansion.expand(arguments, environment: environment)
    }

    /// All commands of one directive value (a lone `;` separates them).
    ///
    /// Decisions where systemd versions differ: the executable must be an absolute, normalised path (systemd
    /// ≥ 239 also searches a fixed `PATH` for bare names, but what that `PATH` holds differs between the
    /// distributions fleet machines run, so a bare name is refused here rather than resolved differently per
    /// machine). Specifiers are expanded per word after unquoting, as systemd ≥ 244 does, so an instance name
    /// with spaces stays one argument.
    public static func parse(_ value: String, specifiers: SpecifierContext?) throws(CommandLineError) -> [ExecCommand] {
        var bytes = Array(value.utf8)[...]
        var commands: [ExecCommand] = []
        while true {
            let first: String?
            do { first = try SystemdWords.nextWord(&bytes) } catch { throw CommandLineError(message: error.message) }
            guard let first else { break }
            commands.append(try parseCommand(firstWord: first, rest: &bytes, specifiers: specifiers))
        }
        return commands
    }

    private static func parseCommand(
        firstWord: String,
        rest bytes: inout ArraySlice<UInt8>,
        specifiers: SpecifierContext?
    ) throws(CommandLineError) -> ExecCommand {
        var ignoreFailure = false, separateArgv0 = false, expands = true
        var privileges = Privileges.normal
        var word = firstWord[...]
        // A repeated or conflicting prefix ends the prefix run, as in systemd: it then becomes part of the
        // path, which fails the absolute-path check below.
        prefixes: while let c = word.first {
            switch c {
            case "-" where !ignoreFailure: ignoreFailure = true
            case "@" where !separateArgv0: separateArgv0 = true
            case ":" where expands: expands = false
            case "+" where privileges == .normal: privileges = .full
            case "!" where privileges == .normal: privileges = .noSetUID
            case "!" where privileges == .noSetUID: privileges = .ambientMagic
            default: break prefixes
            }
            word = word.dropFirst()
        }
        let path = try expand(String(word), specifiers: specifiers)
        try validate(path: path)

        var words: [String] = []
        while true {
            bytes = bytes.drop(while: SystemdWords.whitespace.contains)
            // Checked on the raw text: after unquoting, `;`, `";"` and `\;` would all look alike.
            if startsToken(bytes, ";") {
                bytes = bytes.dropFirst()
                break
            }
            if startsToken(bytes, "\\;") {
                bytes = bytes.dropFirst(2)
                words.append(";")
                continue
            }
            let next: String?
            do { next = try SystemdWords.nextWord(&bytes) } catch { throw CommandLineError(message: error.message) }
            guard let next else { break }
            words.append(try expand(next, specifiers: specifiers))
        }
        var argv0 = path
        if separateArgv0 {
            guard !words.isEmpty else {
                throw CommandLineError(message: "the @ prefix needs an argv[0] after \(path)")
            }
            argv0 = words.removeFirst()
        }
        guard !argv0.isEmpty else { throw CommandLineError(message: "empty argv[0]") }
        return ExecCommand(
            path: path, argv0: argv0, arguments: words, ignoreFailure: ignoreFailure,
            privileges: privileges, expandsEnvironment: expands
        )
    }

    private static func startsToken(_ bytes: ArraySlice<UInt8>, _ token: String) -> Bool {
        let token = Array(token.utf8)
        guard bytes.starts(with: token) else { return false }
        let after = bytes.dropFirst(token.count)
        return after.first.map(SystemdWords.whitespace.contains) ?? true
    }

    private static func expand(_ word: String, specifiers: SpecifierContext?) throws(CommandLineError) -> String {
        guard let specifiers else { return word }
        do {
            return try Specifiers.expandSystemd(word, context: specifiers)
        } catch {
            throw CommandLineError(message: error.message)
        }
    }

    private static func validate(path: String) throws(CommandLineError) {
        guard !path.isEmpty else { throw CommandLineError(message: "empty executable path") }
        guard path.hasPrefix("/") else {
            throw CommandLineError(message: "executable path \(SystemdWords.quote(path)) is not absolute")
        }
        guard !path.hasSuffix("/") else {
            throw CommandLineError(message: "executable path \(SystemdWords.quote(path)) is a directory")
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw CommandLineError(message: "executable path \(SystemdWords.quote(path)) is not normalized")
        }
    }
}
