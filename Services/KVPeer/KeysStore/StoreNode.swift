/// One node of the in-memory tree. Only the name is stored (the path is derived from the parent chain),
/// which keeps a 100 k-key store small; a file has a value, a directory has children.
final class StoreNode {
    let name: String
    unowned(unsafe) var parent: StoreNode?
    var value: String
    var children: [String: StoreNode]?
    var createdIndex: UInt64
    var modifiedIndex: UInt64
    /// nil: permanent.
    var expiration: Timestamp?
    /// Position in the TTL heap, -1 when not in it.
    var heapIndex = -1

    init(name: String, parent: StoreNode?, value: String, isDir: Bool, index: UInt64, expiration: Timestamp?) {
        self.name = name
        self.parent = parent
        self.value = value
        self.children = isDir ? [:] : nil
        self.createdIndex = index
        self.modifiedIndex = index
        self.expiration = expiration
    }

    var isDir: Bool { children != nil }
    var isHidden: Bool { KeyPath.isHiddenName(name) }

    var path: String {
        guard let parent else { return "/" }
        var names = [name]
        var cursor = parent
        while let next = cursor.parent {
            names.append(cursor.name)
            cursor = next
        }
        return "/" + names.reversed().joined(separator: "/")
    }

    /// etcd `node.Repr`: a directory lists children only when recursive, hidden ones never.
    func repr(recursive: Bool, sorted: Bool, now: Timestamp, path knownPath: String? = nil) -> NodeExtern {
        let path = knownPath ?? self.path
        var extern = NodeExtern(key: path, modifiedIndex: modifiedIndex, createdIndex: createdIndex)
        if let expiration {
            extern.expiration = expiration
            extern.ttl = expiration.remainingTTL(at: now)
        }
        guard let children else {
            extern.value = value
            return extern
        }
        extern.dir = true
        if recursive {
            extern.nodes = listing(of: children, path: path, recursive: true, sorted: sorted, now: now)
        }
        return extern
    }

    func listing(of children: [String: StoreNode], path: String, recursive: Bool, sorted: Bool, now: Timestamp) -> [NodeExtern] {
        var nodes: [NodeExtern] = []
        nodes.reserveCapacity(children.count)
        for (name, child) in children where !child.isHidden {
            nodes.append(child.repr(recursive: recursive, sorted: sorted, now: now, path: KeyPath.join(path, name[...])))
        }
        if sorted {
            nodes.sort { ($0.key ?? "").utf8.lexicographicallyPrecedes(($1.key ?? "").utf8) }
        }
        return nodes
    }
}
