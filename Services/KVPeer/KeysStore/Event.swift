/// A node as clients see it (etcd `NodeExtern`). Fields are rendered in etcd's order and omitted when empty.
public struct NodeExtern: Equatable, Sendable {
    public var key: String?
    public var value: String?
    public var dir = false
    public var expiration: Timestamp?
    public var ttl: Int64?
    public var nodes: [NodeExtern]?
    public var modifiedIndex: UInt64
    public var createdIndex: UInt64

    public init(
        key: String?, value: String? = nil, dir: Bool = false, expiration: Timestamp? = nil, ttl: Int64? = nil,
        nodes: [NodeExtern]? = nil, modifiedIndex: UInt64, createdIndex: UInt64
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
}

public enum StoreAction: String, Sendable, Equatable {
    case get, set, create, update, compareAndSwap, delete, compareAndDelete, expire
}

/// What a store operation produced: the answer to a request and the record kept in the event history.
public struct StoreEvent: Equatable, Sendable {
    public var action: StoreAction
    public var node: NodeExtern
    public var prevNode: NodeExtern?
    /// The store index when the event was made (for a get: the current index).
    public var etcdIndex: UInt64
    /// A TTL refresh: kept in history but never delivered to watchers.
    public var isRefresh = false

    public init(action: StoreAction, node: NodeExtern, prevNode: NodeExtern? = nil, etcdIndex: UInt64, isRefresh: Bool = false) {
        self.action = action
        self.node = node
        self.prevNode = prevNode
        self.etcdIndex = etcdIndex
        self.isRefresh = isRefresh
    }

    /// The index this event happened at.
    public var index: UInt64 { node.modifiedIndex }

    /// Whether the client sees `201 Created` (etcd `Event.IsCreated`).
    public var isCreated: Bool {
        action == .create || (action == .set && prevNode == nil)
    }
}
