/// Min-heap of nodes by expiration, so the expiry sweep touches only what is due.
struct TTLHeap {
    private(set) var nodes: [StoreNode] = []

    var top: StoreNode? { nodes.first }
    var count: Int { nodes.count }

    mutating func push(_ node: StoreNode) {
        node.heapIndex = nodes.count
        nodes.append(node)
        siftUp(nodes.count - 1)
    }

    mutating func remove(_ node: StoreNode) {
        let index = node.heapIndex
        guard index >= 0, index < nodes.count, nodes[index] === node else { return }
        let last = nodes.count - 1
        swapAt(index, last)
        nodes.removeLast()
        node.heapIndex = -1
        if index < nodes.count {
            siftDown(index)
            siftUp(index)
        }
    }

    /// Re-positions a node whose expiration changed, adding or removing it as needed.
    mutating func update(_ node: StoreNode) {
        if node.heapIndex >= 0 { remove(node) }
        if node.expiration != nil { push(node) }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        guard a != b else { return }
        nodes.swapAt(a, b)
        nodes[a].heapIndex = a
        nodes[b].heapIndex = b
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (nodes[a].expiration ?? Timestamp(nanoseconds: .max)) < (nodes[b].expiration ?? Timestamp(nanoseconds: .max))
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < nodes.count else { return }
            var smallest = left
            if left + 1 < nodes.count, less(left + 1, left) { smallest = left + 1 }
            guard less(smallest, parent) else { return }
            swapAt(smallest, parent)
            parent = smallest
        }
    }
}
