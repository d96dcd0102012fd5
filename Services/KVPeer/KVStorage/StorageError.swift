#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the write-ahead log or snapshot files. The message names the file and, for OS failures,
/// the call and `strerror` text, so an operator can act on the log line alone.
///
/// kv-peer treats every `.io` and `.corruption` error as fatal (fail-stop, as etcd does): after a failed
/// `write` or `fdatasync` the kernel may have dropped the dirty pages, so retrying could acknowledge data
/// that is not on disk. The log refuses further work after one (it rethrows the first failure).
public struct StorageError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, by blast radius. Cases are static members so new ones are not a breaking change.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Code: Hashable, Sendable { case io, corruption, invalidArgument, locked, closed }
        private let code: Code

        /// An OS call failed: disk full, I/O error, permissions, a failed `fsync`.
        public static let io = Kind(code: .io)
        /// A file's contents are not what the log wrote (bad checksum or layout) anywhere but the torn tail.
        public static let corruption = Kind(code: .corruption)
        /// The caller broke the contract (non-consecutive indexes, stale snapshot); nothing was written.
        public static let invalidArgument = Kind(code: .invalidArgument)
        /// Another process (or another open log in this one) holds the directory's lock.
        public static let locked = Kind(code: .locked)
        /// The log was closed.
        public static let closed = Kind(code: .closed)

        public var description: String {
            switch code {
            case .io: "io"
            case .corruption: "corruption"
            case .invalidArgument: "invalidArgument"
            case .locked: "locked"
            case .closed: "closed"
            }
        }
    }

    public let kind: Kind
    /// The file or directory concerned ("" when none).
    public let file: String
    /// Byte offset in `file`, for corruption.
    public let offset: Int?
    /// `errno` of the failed OS call, for `.io` and `.locked`.
    public let osError: Int32?
    public let message: String

    public var description: String { message }

    init(kind: Kind, file: String, offset: Int? = nil, osError: Int32? = nil, message: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.osError = osError
        self.message = message
    }

    /// `operation` failed on `file` with `code` (an errno value).
    static func os(_ operation: String, _ file: String, _ code: Int32, kind: Kind = .io) -> StorageError {
        let text = String(cString: strerror(code))
        return StorageError(kind: kind, file: file, osError: code, message: "\(operation) \(file): \(text) (errno \(code))")
    }

    static func corruption(_ file: String, offset: Int, _ reason: String) -> StorageError {
        StorageError(
            kind: .corruption, file: file, offset: offset, message: "corrupt \(file) at offset \(offset): \(reason)")
    }

    static func invalidArgument(_ file: String, _ reason: String) -> StorageError {
        StorageError(kind: .invalidArgument, file: file, message: "\(reason) (log \(file))")
    }
}
