/// A node of the etcd v2 keyspace as the keys API returns it. The root has no `key` and no indexes.
public struct KeysNode: Sendable, Equatable, Codable {
    public var key: String?
    public var value: String?
    public var dir: Bool
    /// RFC 3339 expiration, as etcd prints it; present only for nodes with a TTL.
    public var expiration: String?
    /// Remaining seconds to live, rounded up.
    public var ttl: Int64?
    public var nodes: [KeysNode]?
    public var modifiedIndex: UInt64
    public var createdIndex: UInt64

    public init(
        key: String?, value: String? = nil, dir: Bool = false, expiration: String? = nil, ttl: Int64? = nil,
        nodes: [KeysNode]? = nil, modifiedIndex: UInt64 = 0, createdIndex: UInt64 = 0
    ) {
        self.key = key
        self.value = value
        self.dir = dir
        self.expiration = expiration
        self.ttl = ttl
        self.nodes = nodes
        self.modifiedIndex = modifiedIndex
        self.createdIndex = createdIndex
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decodeIfPresent(String.self, forKey: .key)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        dir = try container.decodeIfPresent(Bool.self, forKey: .dir) ?? false
        expiration = try container.decodeIfPresent(String.self, forKey: .expiration)
        ttl = try container.decodeIfPresent(Int64.self, forKey: .ttl)
        nodes = try container.decodeIfPresent([KeysNode].self, forKey: .nodes)
        modifiedIndex = try container.decodeIfPresent(UInt64.self, forKey: .modifiedIndex) ?? 0
        createdIndex = try container.decodeIfPresent(UInt64.self, forKey: .createdIndex) ?? 0
    }

    /// This node and every node below it, depth first.
    public var allNodes: [KeysNode] {
        [self] + (nodes ?? []).flatMap(\.allNodes)
    }
}

/// An etcd v2 action name. A struct rather than an enum so a newer server's action never fails decoding.
public struct KeysAction: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let get = KeysAction(rawValue: "get")
    public static let set = KeysAction(rawValue: "set")
    public static let create = KeysAction(rawValue: "create")
    public static let update = KeysAction(rawValue: "update")
    public static let compareAndSwap = KeysAction(rawValue: "compareAndSwap")
    public static let delete = KeysAction(rawValue: "delete")
    public static let compareAndDelete = KeysAction(rawValue: "compareAndDelete")
    public static let expire = KeysAction(rawValue: "expire")

    /// Actions after which the key no longer exists.
    public var removesNode: Bool { self == .delete || self == .compareAndDelete || self == .expire }

    public var description: String { rawValue }
}

/// One answer of the keys API: the event body plus the cluster's headers.
public struct KeysResponse: Sendable, Equatable {
    public var action: KeysAction
    /// Absent only for `noValueOnSuccess` answers and for a resync of a key that does not exist.
    public var node: KeysNode?
    public var prevNode: KeysNode?
    /// `X-Etcd-Index`: the store index when the answer was made (for a watch, when it was armed).
    public var etcdIndex: UInt64
    public var raftIndex: UInt64?
    public var raftTerm: UInt64?
    public var clusterID: String?

    public init(
        action: KeysAction, node: KeysNode?, prevNode: KeysNode? = nil, etcdIndex: UInt64,
        raftIndex: UInt64? = nil, raftTerm: UInt64? = nil, clusterID: String? = nil
    ) {
        self.action = action
        self.node = node
        self.prevNode = prevNode
        self.etcdIndex = etcdIndex
        self.raftIndex = raftIndex
        self.raftTerm = raftTerm
        self.clusterID = clusterID
    }

    /// The index this event happened at.
    public var index: UInt64 { node?.modifiedIndex ?? etcdIndex }
}

struct EventBody: Decodable {
    var action: KeysAction
    var node: KeysNode?
    var prevNode: KeysNode?
}

struct ErrorBody: Decodable {
    var errorCode: Int
    var message: String
    var cause: String?
    var index: UInt64?
}
