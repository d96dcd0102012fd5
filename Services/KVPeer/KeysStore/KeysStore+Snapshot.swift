extension KeysStore {
    private static let snapshotVersion: UInt8 = 1

    /// The whole store — tree, index and event history — as bytes. Watchers and stats are not included:
    /// watchers belong to connections, and etcd resets store stats on restart too.
    public func snapshot() -> [UInt8] {
        var writer = ByteWriter()
        writer.byte(Self.snapshotVersion)
        writer.varint(currentIndex)
        Self.write(root, to: &writer)
        let events = history.ordered
        writer.varint(UInt64(events.count))
        for event in events { Self.write(event, to: &writer) }
        return writer.bytes
    }

    /// Replaces this store's contents with a snapshot's.
    public func restore(from bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        guard try reader.byte() == Self.snapshotVersion else { throw DecodingError(description: "unknown snapshot version") }
        let index = try reader.varint()
        var heapNodes: [StoreNode] = []
        let tree = try Self.readNode(name: "", parent: nil, from: &reader, heapNodes: &heapNodes)
        guard let children = tree.children else { throw DecodingError(description: "snapshot root is not a directory") }
        let count = try reader.varint()
        var events: [StoreEvent] = []
        for _ in 0..<count { events.append(try Self.readEvent(from: &reader)) }
        guard reader.isAtEnd else { throw DecodingError(description: "trailing bytes after snapshot") }

        root.children = children
        for child in children.values { child.parent = root }
        currentIndex = index
        history = EventHistory(capacity: history.capacity, restoring: events)
        ttlHeap = TTLHeap()
        for node in heapNodes { ttlHeap.push(node) }
    }

    private static func write(_ node: StoreNode, to writer: inout ByteWriter) {
        writer.bool(node.isDir)
        writer.varint(node.createdIndex)
        writer.varint(node.modifiedIndex)
        writer.timestamp(node.expiration)
        if let children = node.children {
            writer.varint(UInt64(children.count))
            for (name, child) in children {
                writer.string(name)
                write(child, to: &writer)
            }
        } else {
            writer.string(node.value)
        }
    }

    private static func readNode(name: String, parent: StoreNode?, from reader: inout ByteReader, heapNodes: inout [StoreNode]) throws(DecodingError) -> StoreNode {
        let isDir = try reader.bool()
        let created = try reader.varint()
        let modified = try reader.varint()
        let expiration = try reader.timestamp()
        let node = StoreNode(name: name, parent: parent, value: "", isDir: isDir, index: created, expiration: expiration)
        node.modifiedIndex = modified
        if expiration != nil { heapNodes.append(node) }
        if isDir {
            let count = try reader.varint()
            var children: [String: StoreNode] = [:]
            children.reserveCapacity(Int(min(count, 1 << 20)))
            for _ in 0..<count {
                let childName = try reader.string()
                children[childName] = try readNode(name: childName, parent: node, from: &reader, heapNodes: &heapNodes)
            }
            node.children = children
        } else {
            node.value = try reader.string()
        }
        return node
    }

    private static func write(_ event: StoreEvent, to writer: inout ByteWriter) {
        writer.string(event.action.rawValue)
        write(event.node, to: &writer)
        writer.bool(event.prevNode != nil)
        if let previous = event.prevNode { write(previous, to: &writer) }
        writer.varint(event.etcdIndex)
        writer.bool(event.isRefresh)
    }

    private static func readEvent(from reader: inout ByteReader) throws(DecodingError) -> StoreEvent {
        let actionName = try reader.string()
        guard let action = StoreAction(rawValue: actionName) else { throw DecodingError(description: "unknown action \(actionName)") }
        let node = try readExtern(from: &reader)
        let previous = try reader.bool() ? try readExtern(from: &reader) : nil
        return StoreEvent(action: action, node: node, prevNode: previous, etcdIndex: try reader.varint(), isRefresh: try reader.bool())
    }

    private static func write(_ node: NodeExtern, to writer: inout ByteWriter) {
        writer.bool(node.key != nil)
        if let key = node.key { writer.string(key) }
        writer.bool(node.value != nil)
        if let value = node.value { writer.string(value) }
        writer.bool(node.dir)
        writer.timestamp(node.expiration)
        writer.bool(node.ttl != nil)
        if let ttl = node.ttl { writer.int64(ttl) }
        writer.varint(node.modifiedIndex)
        writer.varint(node.createdIndex)
    }

    private static func readExtern(from reader: inout ByteReader) throws(DecodingError) -> NodeExtern {
        let key = try reader.bool() ? try reader.string() : nil
        let value = try reader.bool() ? try reader.string() : nil
        let dir = try reader.bool()
        let expiration = try reader.timestamp()
        let ttl = try reader.bool() ? try reader.int64() : nil
        return NodeExtern(key: key, value: value, dir: dir, expiration: expiration, ttl: ttl, modifiedIndex: try reader.varint(), createdIndex: try reader.varint())
    }
}
