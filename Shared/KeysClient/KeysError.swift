/// An error answered by the keys API itself, carrying etcd's code, message, cause and index.
public struct KeysError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let keyNotFound = Code(rawValue: 100)
        public static let testFailed = Code(rawValue: 101)
        public static let notFile = Code(rawValue: 102)
        public static let notDir = Code(rawValue: 104)
        public static let nodeExist = Code(rawValue: 105)
        public static let rootReadOnly = Code(rawValue: 107)
        public static let dirNotEmpty = Code(rawValue: 108)
        public static let unauthorized = Code(rawValue: 110)
        public static let prevValueRequired = Code(rawValue: 201)
        public static let ttlNaN = Code(rawValue: 202)
        public static let indexNaN = Code(rawValue: 203)
        public static let invalidField = Code(rawValue: 209)
        public static let invalidForm = Code(rawValue: 210)
        public static let refreshValue = Code(rawValue: 211)
        public static let refreshTTLRequired = Code(rawValue: 212)
        public static let raftInternal = Code(rawValue: 300)
        public static let leaderElect = Code(rawValue: 301)
        public static let watcherCleared = Code(rawValue: 400)
        public static let eventIndexCleared = Code(rawValue: 401)

        public var description: String { String(rawValue) }
    }

    public var code: Code
    public var message: String
    public var cause: String?
    public var index: UInt64
    /// The HTTP status it came with.
    public var status: Int

    public init(code: Code, message: String, cause: String? = nil, index: UInt64, status: Int) {
        self.code = code
        self.message = message
        self.cause = cause
        self.index = index
        self.status = status
    }

    public var description: String {
        "etcd error \(code.rawValue): \(message)" + (cause.map { " (\($0))" } ?? "") + " [\(index)]"
    }
}

/// A failure to get an answer from the keys API at all.
public struct KeysClientError: Error, Equatable, Sendable, CustomStringConvertible {
    private enum Kind: Equatable, Sendable {
        case clusterUnavailable
        case malformedResponse
        case unexpectedStatus
        case invalidArgument
    }

    private let kind: Kind
    public let detail: String

    private init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// Every endpoint failed; `detail` names each endpoint and its error.
    public static func clusterUnavailable(_ detail: String) -> KeysClientError { .init(.clusterUnavailable, detail) }
    public static func malformedResponse(_ detail: String) -> KeysClientError { .init(.malformedResponse, detail) }
    public static func unexpectedStatus(_ detail: String) -> KeysClientError { .init(.unexpectedStatus, detail) }
    public static func invalidArgument(_ detail: String) -> KeysClientError { .init(.invalidArgument, detail) }

    public var isClusterUnavailable: Bool { kind == .clusterUnavailable }

    public var description: String {
        switch kind {
        case .clusterUnavailable: "keys API unavailable: \(detail)"
        case .malformedResponse: "malformed keys API response: \(detail)"
        case .unexpectedStatus: "unexpected keys API status: \(detail)"
        case .invalidArgument: "invalid argument: \(detail)"
        }
    }
}
