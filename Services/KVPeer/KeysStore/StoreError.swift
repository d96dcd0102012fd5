/// An etcd v2 store error: code, cause and the store index it happened at (`etcdserver/api/v2error`).
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var cause: String
    public var index: UInt64

    public init(code: Int, cause: String = "", index: UInt64) {
        self.code = code
        self.cause = cause
        self.index = index
    }

    public static let keyNotFound = 100
    public static let testFailed = 101
    public static let notFile = 102
    public static let notDir = 104
    public static let nodeExist = 105
    public static let rootReadOnly = 107
    public static let dirNotEmpty = 108
    public static let unauthorized = 110
    public static let prevValueRequired = 201
    public static let ttlNaN = 202
    public static let indexNaN = 203
    public static let invalidField = 209
    public static let invalidForm = 210
    public static let refreshValue = 211
    public static let refreshTTLRequired = 212
    public static let raftInternal = 300
    public static let leaderElect = 301
    public static let eventIndexCleared = 401

    /// etcd's message for each code, byte for byte.
    public static let messages: [Int: String] = [
        100: "Key not found", 101: "Compare failed", 102: "Not a file",
        103: "Reached the max number of peers in the cluster", 104: "Not a directory", 105: "Key already exists",
        106: "The prefix of given key is a keyword in etcd", 107: "Root is read only", 108: "Directory not empty",
        109: "Peer address has existed", 110: "The request requires user authentication",
        200: "Value is Required in POST form", 201: "PrevValue is Required in POST form",
        202: "The given TTL in POST form is not a number", 203: "The given index in POST form is not a number",
        204: "Value or TTL is required in POST form", 205: "The given timeout in POST form is not a number",
        206: "Name is required in POST form", 207: "Index or value is required",
        208: "Index and value cannot both be specified", 209: "Invalid field", 210: "Invalid POST form",
        211: "Value provided on refresh", 212: "A TTL must be provided on refresh",
        300: "Raft Internal Error", 301: "During Leader Election",
        400: "watcher is cleared due to etcd recovery", 401: "The event in requested index is outdated and cleared",
        402: "Standby Internal Error", 403: "Invalid Active Size", 404: "Standby Remove Delay",
        500: "Client Internal Error",
    ]

    public var message: String { Self.messages[code] ?? "Unknown error" }

    /// etcd's status map: most codes are 400.
    public var httpStatus: Int {
        switch code {
        case 100: 404
        case 101, 105: 412
        case 102, 108: 403
        case 110: 401
        case 300, 301: 500
        default: 400
        }
    }

    public var description: String { "\(code) \(message) (\(cause)) [\(index)]" }
}
