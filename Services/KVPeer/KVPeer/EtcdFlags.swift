/// `kv-peer`'s command line: etcd's flags, read exactly as etcd reads them with Go's `flag` package, plus the
/// matching `ETCD_*` environment variables.
///
/// Pure: it reads only its arguments (no argv, no process environment, no files, no DNS) and prints nothing;
/// warnings come back with the configuration for the caller to log.
///
/// Command-line syntax (Go `flag`):
/// - `-flag`, `--flag`, `-flag=value`, `--flag=value`, `-flag value` (one or two dashes are the same);
/// - boolean flags take `-flag` or `-flag=<bool>` with `1 0 t f T F true false TRUE FALSE True False`; the
///   two-argument form `-flag false` does *not* set a boolean: `false` becomes a positional argument;
/// - `--` ends the flags; parsing also stops at the first argument that does not start with `-` (or is `-`);
///   etcd refuses any positional argument (`'x' is not a valid flag`);
/// - a flag given twice keeps the last value; `-h`, `-help`, `--help` ask for help wherever they appear
///   (unless an earlier argument is already in error).
///
/// Environment: each flag `foo-bar` may be given as `ETCD_FOO_BAR` (empty values are ignored); the command line
/// wins. Environment values count as "set explicitly" for etcd's checks, as in etcd.
public enum EtcdFlags {
    /// What the command line asks for.
    public enum ParsedCommand: Sendable, Equatable {
        /// Run with this configuration; print `warnings` (one line each) before starting.
        case run(KVPeerConfiguration, warnings: [String])
        /// `-h` / `--help`: print this text to stdout and exit 0.
        case help(String)
        /// `--version`: print the version and exit 0.
        case version
    }

    /// Parses `arguments` (without the program name) and `environment` as etcd would.
    ///
    /// Order, as in etcd: the command line (first error wins; help stops parsing), positional arguments,
    /// `--version`, the environment, then cross-field validation.
    public static func parse(arguments: [String], environment: [String: String]) throws(EtcdFlagsError) -> ParsedCommand {
        var builder = EtcdFlagsBuilder()
        let commandLine = try parseCommandLine(arguments, into: &builder)
        guard case .flagsEnd(let positional) = commandLine else { return .help(usage) }
        if let first = positional.first {
            throw EtcdFlagsError(.positionalArgument, "'\(first)' is not a valid flag")
        }
        if builder.printVersion { return .version }
        try applyEnvironment(environment, to: &builder)
        let configuration = try finish(&builder)
        return .run(configuration, warnings: builder.warnings)
    }

    /// Names of every flag kv-peer accepts (each also as `ETCD_<NAME>`), including the accepted-but-ignored ones.
    public static var flagNames: [String] { definitions.map(\.name) }

    enum CommandLineOutcome: Equatable {
        case flagsEnd(positional: [String])
        case help
    }

    /// Go's `FlagSet.Parse` with `ContinueOnError`, one `parseOne` per flag.
    static func parseCommandLine(_ arguments: [String], into builder: inout EtcdFlagsBuilder) throws(EtcdFlagsError) -> CommandLineOutcome {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let bytes = Array(argument.utf8)
            if bytes.count < 2 || bytes[0] != UInt8(ascii: "-") { break }
            var dashes = 1
            if bytes[1] == UInt8(ascii: "-") {
                dashes = 2
                if bytes.count == 2 {  // "--" terminates the flags
                    index += 1
                    break
                }
            }
            let body = bytes[dashes...]
            if body.isEmpty || body.first == UInt8(ascii: "-") || body.first == UInt8(ascii: "=") {
                throw EtcdFlagsError(.commandLine, "bad flag syntax: \(argument)")
            }
            index += 1
            var name = String(decoding: body, as: UTF8.self)
            var value: String?
            if let equals = body.dropFirst().firstIndex(of: UInt8(ascii: "=")) {  // '=' cannot be first
                name = String(decoding: body[..<equals], as: UTF8.self)
                value = String(decoding: body[(equals + 1)...], as: UTF8.self)
            }
            guard let definition = definitionsByName[name] else {
                if name == "help" || name == "h" { return .help }
                throw EtcdFlagsError(.commandLine, "flag provided but not defined: -\(name)")
            }
            switch definition.kind {
            case .boolean:
                if let value {
                    do throws(EtcdFlagValueError) { try definition.set(&builder, value) } catch {
                        throw EtcdFlagsError(.commandLine, "invalid boolean value \(EtcdFlagsGo.quote(value)) for -\(name): \(error.text)")
                    }
                } else {
                    do throws(EtcdFlagValueError) { try definition.set(&builder, "true") } catch {
                        throw EtcdFlagsError(.commandLine, "invalid boolean flag \(name): \(error.text)")
                    }
                }
            case .value:
                if value == nil, index < arguments.count {
                    value = arguments[index]
                    index += 1
                }
                guard let value else { throw EtcdFlagsError(.commandLine, "flag needs an argument: -\(name)") }
                do throws(EtcdFlagValueError) { try definition.set(&builder, value) } catch {
                    throw EtcdFlagsError(.commandLine, "invalid value \(EtcdFlagsGo.quote(value)) for flag -\(name): \(error.text)")
                }
            }
            builder.setFlags.insert(name)
        }
        return .flagsEnd(positional: Array(arguments[index...]))
    }

    /// etcd's `flags.SetFlagsFromEnv` + `verifyEnv`: flags not set on the command line take their `ETCD_*` value
    /// (if non-empty), visiting flags in name order; then leftover `ETCD_*` variables are reported.
    static func applyEnvironment(_ environment: [String: String], to builder: inout EtcdFlagsBuilder) throws(EtcdFlagsError) {
        var used: Set<String> = []
        var shadowed: Set<String> = []
        var firstError: EtcdFlagsError?
        for definition in definitions.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            let key = definition.environmentKey
            if builder.isSet(definition.name) {
                shadowed.insert(key)
                continue
            }
            guard let value = environment[key], !value.isEmpty else { continue }
            used.insert(key)
            do throws(EtcdFlagValueError) {
                try definition.set(&builder, value)
                builder.setFlags.insert(definition.name)
            } catch {
                // etcd keeps going and reports the last failure in name order; the first is as good and steadier.
                if firstError == nil {
                    firstError = EtcdFlagsError(.environment, "invalid value \(EtcdFlagsGo.quote(value)) for \(key): \(error.text)")
                }
            }
        }
        if let firstError { throw firstError }
        let recognized = Set(definitions.map(\.environmentKey))
        for key in EtcdFlagsGo.sortedStrings(Array(environment.keys)) where key.hasPrefix("ETCD_") && !used.contains(key) {
            let value = environment[key] ?? ""
            if shadowed.contains(key) {
                builder.warnings.append("recognized environment variable \(key), but unused: shadowed by corresponding flag")
            } else if !recognized.contains(key) {
                builder.warnings.append("unrecognized environment variable \(key)=\(value)")
            }
        }
    }
}
