public import KeysStore

/// One member as `/v2/members` shows it. `name` and `clientURLs` stay empty from the moment a member is added
/// until it starts and publishes them through the log, as in etcd.
public struct ClusterMember: Sendable, Equatable {
    public var id: UInt64
    public var name: String
    public var peerURLs: [String]
    public var clientURLs: [String]

    public init(id: UInt64, name: String = "", peerURLs: [String], clientURLs: [String] = []) {
        self.id = id
        self.name = name
        self.peerURLs = peerURLs
        self.clientURLs = clientURLs
    }

    public var hexID: String { String(id, radix: 16) }

    /// etcd derives a member's ID from its peer URLs and the cluster token (SHA-1 there; any stable 64-bit hash
    /// serves, clients only compare IDs). A member added at runtime also mixes in the time, so a machine that
    /// comes back under the same URLs after removal gets a new ID.
    static func id(peerURLs: [String], clusterToken: String, addedAt: Int64? = nil) -> UInt64 {
        fnv1a(peerURLs.sorted().joined() + clusterToken + (addedAt.map { String($0) } ?? ""))
    }

    /// etcd's cluster ID: a hash of the founding members' IDs and the token.
    static func clusterID(memberIDs: [UInt64], clusterToken: String) -> UInt64 {
        fnv1a(memberIDs.sorted().map { String($0, radix: 16) }.joined() + clusterToken)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    func write(to writer: inout ByteWriter) {
        writer.varint(id)
        writer.string(name)
        writer.strings(peerURLs)
        writer.strings(clientURLs)
    }

    init(from reader: inout ByteReader) throws(DecodingError) {
        self.init(id: try reader.varint(), name: try reader.string(), peerURLs: try reader.strings(), clientURLs: try reader.strings())
    }
}

/// The membership the log has committed: changed only by applying entries, carried in snapshots, so every
/// member agrees on it at every log index.
struct ClusterMembers: Sendable, Equatable {
    var members: [UInt64: ClusterMember] = [:]
    /// IDs removed for good: etcd refuses their messages and never lets the ID back in.
    var removed: Set<UInt64> = []

    init(_ members: [ClusterMember] = []) {
        for member in members { self.members[member.id] = member }
    }

    /// Sorted by ID, the order etcd lists members in.
    var sorted: [ClusterMember] { members.values.sorted { $0.id < $1.id } }

    func write(to writer: inout ByteWriter) {
        let list = sorted
        writer.varint(UInt64(list.count))
        for member in list { member.write(to: &writer) }
        writer.varint(UInt64(removed.count))
        for id in removed.sorted() { writer.varint(id) }
    }

    init(from reader: inout ByteReader) throws(DecodingError) {
        self.init()
        for _ in 0..<(try reader.count()) {
            let member = try ClusterMember(from: &reader)
            members[member.id] = member
        }
        for _ in 0..<(try reader.count()) { removed.insert(try reader.varint()) }
    }
}

/// What kv-peer's snapshots hold: the membership and the whole v2 store, as of one log index.
struct StateMachineSnapshot {
    private static let version: UInt8 = 1
    var members: ClusterMembers
    var store: [UInt8]

    var encoded: [UInt8] {
        var writer = ByteWriter()
        writer.byte(Self.version)
        members.write(to: &writer)
        writer.data(store)
        return writer.bytes
    }

    init(members: ClusterMembers, store: [UInt8]) {
        self.members = members
        self.store = store
    }

    init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.byte()
        guard version == Self.version else { throw DecodingError(description: "unknown snapshot format \(version)") }
        members = try ClusterMembers(from: &reader)
        store = try reader.data()
        guard reader.isAtEnd else { throw DecodingError(description: "trailing bytes after the snapshot") }
    }
}

/// The payload of a normal Raft entry. Each carries the ID of the request that proposed it, so the member
/// that proposed it can answer its waiting client when it applies the entry (every member applies it).
enum ReplicatedEntry: Equatable {
    /// A client's write to the v2 store.
    case command(requestID: UInt64, StoreCommand)
    /// A member's name and client URLs (etcd's "publish" after start-up).
    case attributes(requestID: UInt64, memberID: UInt64, name: String, clientURLs: [String])
    /// New peer URLs for a member (`PUT /v2/members/<id>`): not a Raft configuration change.
    case peerURLs(requestID: UInt64, memberID: UInt64, urls: [String])

    var requestID: UInt64 {
        switch self {
        case .command(let id, _), .attributes(let id, _, _, _), .peerURLs(let id, _, _): id
        }
    }

    var encoded: [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .command(let id, let command):
            writer.byte(1)
            writer.varint(id)
            writer.bytes.append(contentsOf: command.encoded)
        case .attributes(let id, let member, let name, let urls):
            writer.byte(2)
            writer.varint(id)
            writer.varint(member)
            writer.string(name)
            writer.strings(urls)
        case .peerURLs(let id, let member, let urls):
            writer.byte(3)
            writer.varint(id)
            writer.varint(member)
            writer.strings(urls)
        }
        return writer.bytes
    }

    init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        switch try reader.byte() {
        case 1:
            let id = try reader.varint()
            self = .command(requestID: id, try StoreCommand(decoding: reader.remaining()))
            return
        case 2:
            self = .attributes(requestID: try reader.varint(), memberID: try reader.varint(), name: try reader.string(), clientURLs: try reader.strings())
        case 3:
            self = .peerURLs(requestID: try reader.varint(), memberID: try reader.varint(), urls: try reader.strings())
        case let tag:
            throw DecodingError(description: "unknown entry type \(tag)")
        }
        guard reader.isAtEnd else { throw DecodingError(description: "trailing bytes after entry") }
    }
}

/// The context of a membership change entry: the request to answer and the member concerned.
struct MembershipChangeContext: Equatable {
    var requestID: UInt64
    var member: ClusterMember

    var encoded: [UInt8] {
        var writer = ByteWriter()
        writer.varint(requestID)
        member.write(to: &writer)
        return writer.bytes
    }

    init(requestID: UInt64, member: ClusterMember) {
        self.requestID = requestID
        self.member = member
    }

    init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        requestID = try reader.varint()
        member = try ClusterMember(from: &reader)
        guard reader.isAtEnd else { throw DecodingError(description: "trailing bytes after membership change") }
    }
}

extension ByteWriter {
    mutating func strings(_ values: [String]) {
        varint(UInt64(values.count))
        for value in values { string(value) }
    }
}

extension ByteReader {
    /// A count of items, each at least one byte: a corrupt count cannot make us loop past the input.
    mutating func count() throws(DecodingError) -> Int {
        let count = try varint()
        guard count <= UInt64(bytes.count - offset) else { throw DecodingError(description: "count \(count) exceeds the input") }
        return Int(count)
    }

    mutating func strings() throws(DecodingError) -> [String] {
        var values: [String] = []
        for _ in 0..<(try count()) { values.append(try string()) }
        return values
    }
}
