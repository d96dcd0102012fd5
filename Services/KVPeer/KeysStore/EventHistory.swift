/// The global ring of the last `capacity` events (etcd keeps 1000), one per index, so a watcher can resume
/// from an index instead of missing what happened between two long polls.
struct EventHistory {
    let capacity: Int
    private(set) var events: [StoreEvent] = []
    private var front = 0

    init(capacity: Int) {
        self.capacity = capacity
        events.reserveCapacity(capacity)
    }

    var startIndex: UInt64 { events.isEmpty ? 0 : events[front].index }
    var lastIndex: UInt64 { events.isEmpty ? 0 : events[(front + events.count - 1) % events.count].index }

    mutating func append(_ event: StoreEvent) {
        if events.count < capacity {
            events.append(event)
        } else {
            events[front] = event
            front = (front + 1) % capacity
        }
    }

    /// The events from oldest to newest.
    var ordered: [StoreEvent] { Array(events[front...] + events[..<front]) }

    /// etcd `EventHistory.scan`: the first event at or after `index` that a watch on `key` would see.
    /// Refreshes are skipped; a delete or expire of a directory containing `key` matches by plain string
    /// prefix, as etcd's history scan does.
    func scan(key: String, recursive: Bool, index: UInt64) -> Result<StoreEvent?, StoreError> {
        if index < startIndex {
            return .failure(StoreError(
                code: StoreError.eventIndexCleared,
                cause: "the requested history has been cleared [\(startIndex)/\(index)]",
                index: 0
            ))
        }
        guard !events.isEmpty, index <= lastIndex else { return .success(nil) }
        let prefix = key.hasSuffix("/") ? key : key + "/"
        let offset = Int(index - startIndex)
        for step in offset..<events.count {
            let event = events[(front + step) % events.count]
            if event.isRefresh { continue }
            let eventKey = event.node.key ?? "/"
            var matches = eventKey == key || (recursive && eventKey.hasPrefix(prefix))
            if (event.action == .delete || event.action == .expire), let previous = event.prevNode, previous.dir,
                key.hasPrefix(previous.key ?? "/")
            {
                matches = true
            }
            if matches { return .success(event) }
        }
        return .success(nil)
    }

    /// Rebuilds the ring from a snapshot, oldest first.
    init(capacity: Int, restoring ordered: [StoreEvent]) {
        self.init(capacity: capacity)
        for event in ordered.suffix(capacity) { append(event) }
    }
}
