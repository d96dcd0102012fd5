/// Why `kv-peer`'s command line or `ETCD_*` environment was refused.
///
/// ``description`` is one line fit to print verbatim to stderr; it is etcd's own text wherever etcd has one
/// (`flag provided but not defined: -foo`, `invalid value "abc" for flag -snapshot-count: parse error`,
/// `-advertise-client-urls is required when -listen-client-urls is set explicitly`, …).
///
/// Exit status: ``exitCode`` is what etcd exits with for the same mistake. etcd lets Go's `flag` package reject
/// malformed command lines (unknown flag, bad value, missing value, bad syntax) and exits **2**
/// (`etcdmain/config.go`: `default: os.Exit(2)`); everything it checks afterwards — positional arguments,
/// `ETCD_*` values, cross-field validation — makes it log the error and exit **1**.
public struct EtcdFlagsError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Go's `flag` package would refuse the command line: unknown flag, bad value, missing value, bad syntax.
        case commandLine
        /// A positional argument: `'x' is not a valid flag`.
        case positionalArgument
        /// An `ETCD_*` variable holds a value its flag refuses.
        case environment
        /// The flags parse but do not make sense together (or a value fails etcd's later checks).
        case validation
    }

    public let kind: Kind
    /// The message, without a trailing newline.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// 2 for ``Kind/commandLine`` (Go's `flag` package), 1 otherwise — as etcd 2.x and 3.4 exit.
    public var exitCode: Int32 { kind == .commandLine ? 2 : 1 }
}
