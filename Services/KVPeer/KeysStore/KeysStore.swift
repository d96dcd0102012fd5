/// The etcd v2 keyspace: a tree of files and directories with TTLs, a global index, a 1000-event history
/// and live watchers. A pure core: it never reads a clock or does I/O, and the same commands applied in the
/// same order give the same store, which is what lets a log replicate it.
///
/// `@unchecked Sendable` without internal locking: its one owner (kv-peer's StoreService) touches it only
/// while holding a Mutex, and hands it to short synchronous closures that run inside that lock.
public final class KeysStore: @unchecked Sendable {
    public internal(set) var currentIndex: UInt64 = 0
    public private(set) var stats = StoreStats()
    let root = StoreNode(name: "", parent: nil, value: "", isDir: true, index: 0, expiration: nil)
    var history: EventHistory
    var hub = WatcherHub()
    var ttlHeap = TTLHeap()

    public init(historyCapacity: Int = 1000) {
        history = EventHistory(capacity: historyCapacity)
    }

    /// Number of live watchers (`stats/store.watchers`).
    public var watcherCount: Int { hub.count }

    /// The earliest expiration, so the owner knows when an expiry sweep is due.
    public var nextExpiration: Timestamp? { ttlHeap.top?.expiration }

    // MARK: Writes

    /// Applies one command. Returns the events it produced (one, or for `expire` any number) and the watcher
    /// notifications they caused. A failed command changes nothing but the failure counters.
    public func apply(_ command: StoreCommand, now: Timestamp) -> (Result<[StoreEvent], StoreError>, [WatchDelivery]) {
        var deliveries: [WatchDelivery] = []
        let result: Result<[StoreEvent], StoreError>
        switch command {
        case let .set(key, value, dir, expiration, refresh):
            result = set(key, value: value, dir: dir, expiration: expiration, refresh: refresh, now: now, deliveries: &deliveries).map { [$0] }
            count(result, success: \.setsSuccess, fail: \.setsFail)
        case let .create(key, value, dir, expiration, unique):
            result = create(key, value: value, dir: dir, expiration: expiration, unique: unique, now: now, deliveries: &deliveries).map { [$0] }
            // etcd's internalCreate also counts a set failure when the walk to the parent hits a file.
            if case .failure(let error) = result, error.code == StoreError.notDir { stats.setsFail += 1 }
            count(result, success: \.createSuccess, fail: \.createFail)
        case let .update(key, value, expiration, refresh):
            result = update(key, value: value, expiration: expiration, refresh: refresh, now: now, deliveries: &deliveries).map { [$0] }
            count(result, success: \.updateSuccess, fail: \.updateFail, etcdCountsAsSuccess: [StoreError.rootReadOnly, StoreError.notFile])
        case let .compareAndSwap(key, value, prevValue, prevIndex, expiration, refresh):
            result = compareAndSwap(
                key, value: value, prevValue: prevValue, prevIndex: prevIndex, expiration: expiration, refresh: refresh,
                now: now, deliveries: &deliveries
            ).map { [$0] }
            count(result, success: \.compareAndSwapSuccess, fail: \.compareAndSwapFail, etcdCountsAsSuccess: [StoreError.rootReadOnly])
        case let .delete(key, dir, recursive):
            result = delete(key, dir: dir, recursive: recursive, now: now, deliveries: &deliveries).map { [$0] }
            count(result, success: \.deleteSuccess, fail: \.deleteFail, etcdCountsAsSuccess: [StoreError.rootReadOnly])
        case let .compareAndDelete(key, prevValue, prevIndex):
            result = compareAndDelete(key, prevValue: prevValue, prevIndex: prevIndex, now: now, deliveries: &deliveries).map { [$0] }
            count(result, success: \.compareAndDeleteSuccess, fail: \.compareAndDeleteFail, etcdCountsAsSuccess: [StoreError.notFile, StoreError.testFailed])
        case let .expire(cutoff):
            result = .success(expireKeys(cutoff: cutoff, now: now, deliveries: &deliveries))
        }
        return (result, deliveries)
    }

    /// etcd's store methods count through a deferred check of a named `err`; some early returns never assign
    /// it, so etcd 3.4 counts those failures as successes (`etcdCountsAsSuccess`, by error code). Mirrored so
    /// `/v2/stats/store` moves exactly as etcd's does.
    private func count(
        _ result: Result<[StoreEvent], StoreError>, success: WritableKeyPath<StoreStats, UInt64>, fail: WritableKeyPath<StoreStats, UInt64>,
        etcdCountsAsSuccess: Set<Int> = []
    ) {
        switch result {
        case .success: stats[keyPath: success] += 1
        case .failure(let error) where etcdCountsAsSuccess.contains(error.code): stats[keyPath: success] += 1
        case .failure: stats[keyPath: fail] += 1
        }
    }

    /// A failed store read that did not go through `get`: etcd's v2 auth check reads `/2/enabled` (absent
    /// unless auth was ever enabled) on every keys request that passes validation.
    public func countFailedGet() { stats.getsFail += 1 }

    /// A successful store read that did not go through `get`: etcd's `/health` does a quorum GET of the root.
    public func countSuccessfulGet() { stats.getsSuccess += 1 }

    private func set(
        _ key: String, value: String, dir: Bool, expiration: Timestamp?, refresh: Bool, now: Timestamp,
        deliveries: inout [WatchDelivery]
    ) -> Result<StoreEvent, StoreError> {
        var value = value
        if refresh {
            switch lookup(KeyPath.clean(key)) {
            case .success(let node): value = node.value
            case .failure(let error): return .failure(error)
            }
        }
        return internalCreate(key, dir: dir, value: value, unique: false, replace: true, expiration: expiration, action: .set, now: now)
            .map { event in
                var event = event
                finish(&event, refresh: refresh, deliveries: &deliveries)
                return event
            }
    }

    private func create(
        _ key: String, value: String, dir: Bool, expiration: Timestamp?, unique: Bool, now: Timestamp,
        deliveries: inout [WatchDelivery]
    ) -> Result<StoreEvent, StoreError> {
        internalCreate(key, dir: dir, value: value, unique: unique, replace: false, expiration: expiration, action: .create, now: now)
            .map { event in
                var event = event
                finish(&event, refresh: false, deliveries: &deliveries)
                return event
            }
    }

    /// etcd `internalCreate`: walks (creating) the parents, then places a new file or directory.
    private func internalCreate(
        _ key: String, dir: Bool, value: String, unique: Bool, replace: Bool, expiration: Timestamp?,
        action: StoreAction, now: Timestamp
    ) -> Result<StoreEvent, StoreError> {
        let nextIndex = currentIndex + 1
        var path = key
        if unique { path += "/" + Self.zeroPadded(nextIndex) }
        path = KeyPath.clean(path)
        if path == "/" { return .failure(StoreError(code: StoreError.rootReadOnly, cause: "/", index: currentIndex)) }

        var components = KeyPath.components(path)
        let name = String(components.removeLast())
        let parent: StoreNode
        switch walkCreatingDirectories(components) {
        case .success(let node): parent = node
        case .failure(let error): return .failure(error)
        }
        var event = StoreEvent(action: action, node: NodeExtern(key: path, modifiedIndex: nextIndex, createdIndex: nextIndex), etcdIndex: nextIndex)
        if let existing = parent.children?[name] {
            guard replace else { return .failure(StoreError(code: StoreError.nodeExist, cause: path, index: currentIndex)) }
            if existing.isDir { return .failure(StoreError(code: StoreError.notFile, cause: path, index: currentIndex)) }
            event.prevNode = existing.repr(recursive: false, sorted: false, now: now, path: path)
            remove(existing)
        }
        let node = StoreNode(name: name, parent: parent, value: dir ? "" : value, isDir: dir, index: nextIndex, expiration: expiration)
        parent.children?[name] = node
        if dir { event.node.dir = true } else { event.node.value = value }
        if let expiration {
            ttlHeap.push(node)
            event.node.expiration = expiration
            event.node.ttl = expiration.remainingTTL(at: now)
        }
        currentIndex = nextIndex
        return .success(event)
    }

    private func update(
        _ key: String, value: String, expiration: Timestamp?, refresh: Bool, now: Timestamp, deliveries: inout [WatchDelivery]
    ) -> Result<StoreEvent, StoreError> {
        let path: String
        let node: StoreNode
        switch existingNode(key, rootError: StoreError.rootReadOnly, rootCause: "/") {
        case .success(let found): (path, node) = found
        case .failure(let error): return .failure(error)
        }
        if node.isDir, !value.isEmpty { return .failure(StoreError(code: StoreError.notFile, cause: path, index: currentIndex)) }
        let newValue = refresh ? node.value : value
        let nextIndex = currentIndex + 1
        var event = StoreEvent(action: .update, node: NodeExtern(key: path, modifiedIndex: nextIndex, createdIndex: node.createdIndex), etcdIndex: nextIndex)
        event.prevNode = node.repr(recursive: false, sorted: false, now: now, path: path)
        if node.isDir {
            // etcd's node.Write refuses directories, so a directory keeps its modifiedIndex (#603).
            event.node.dir = true
        } else {
            node.value = newValue
            node.modifiedIndex = nextIndex
            event.node.value = newValue
        }
        setExpiration(node, expiration, into: &event.node, now: now)
        currentIndex = nextIndex
        finish(&event, refresh: refresh, deliveries: &deliveries)
        return .success(event)
    }

    private func compareAndSwap(
        _ key: String, value: String, prevValue: String, prevIndex: UInt64, expiration: Timestamp?, refresh: Bool,
        now: Timestamp, deliveries: inout [WatchDelivery]
    ) -> Result<StoreEvent, StoreError> {
        let path: String
        let node: StoreNode
        switch existingNode(key, rootError: StoreError.rootReadOnly, rootCause: "/") {
        case .success(let found): (path, node) = found
        case .failure(let error): return .failure(error)
        }
        if node.isDir { return .failure(StoreError(code: StoreError.notFile, cause: path, index: currentIndex)) }
        if let cause = compareFailure(node, prevValue: prevValue, prevIndex: prevIndex) {
            return .failure(StoreError(code: StoreError.testFailed, cause: cause, index: currentIndex))
        }
        let newValue = refresh ? node.value : value
        currentIndex += 1
        var event = StoreEvent(action: .compareAndSwap, node: NodeExtern(key: path, modifiedIndex: currentIndex, createdIndex: node.createdIndex), etcdIndex: currentIndex)
        event.prevNode = node.repr(recursive: false, sorted: false, now: now, path: path)
        node.value = newValue
        node.modifiedIndex = currentIndex
        event.node.value = newValue
        setExpiration(node, expiration, into: &event.node, now: now)
        finish(&event, refresh: refresh, deliveries: &deliveries)
        return .success(event)
    }

    private func delete(_ key: String, dir: Bool, recursive: Bool, now: Timestamp, deliveries: inout [WatchDelivery]) -> Result<StoreEvent, StoreError> {
        let path: String
        let node: StoreNode
        switch existingNode(key, rootError: StoreError.rootReadOnly, rootCause: "/") {
        case .success(let found): (path, node) = found
        case .failure(let error): return .failure(error)
        }
        let dir = dir || recursive
        if node.isDir {
            guard dir else { return .failure(StoreError(code: StoreError.notFile, cause: path, index: currentIndex)) }
            if node.children?.isEmpty == false, !recursive {
                return .failure(StoreError(code: StoreError.dirNotEmpty, cause: path, index: currentIndex))
            }
        }
        return .success(removeNode(node, at: path, action: .delete, now: now, deliveries: &deliveries))
    }

    private func compareAndDelete(_ key: String, prevValue: String, prevIndex: UInt64, now: Timestamp, deliveries: inout [WatchDelivery]) -> Result<StoreEvent, StoreError> {
        // etcd's CompareAndDelete has no read-only check: the root is a directory, so 102, and its cause (the
        // internal `/1`) is trimmed to nothing by v2http.
        let path: String
        let node: StoreNode
        switch existingNode(key, rootError: StoreError.notFile, rootCause: "") {
        case .success(let found): (path, node) = found
        case .failure(let error): return .failure(error)
        }
        if node.isDir { return .failure(StoreError(code: StoreError.notFile, cause: path, index: currentIndex)) }
        if let cause = compareFailure(node, prevValue: prevValue, prevIndex: prevIndex) {
            return .failure(StoreError(code: StoreError.testFailed, cause: cause, index: currentIndex))
        }
        return .success(removeNode(node, at: path, action: .compareAndDelete, now: now, deliveries: &deliveries))
    }

    /// etcd `DeleteExpiredKeys`: one `expire` event (and index) per expired node, children go with their directory.
    private func expireKeys(cutoff: Timestamp, now: Timestamp, deliveries: inout [WatchDelivery]) -> [StoreEvent] {
        var events: [StoreEvent] = []
        while let node = ttlHeap.top, let expiration = node.expiration, expiration <= cutoff {
            events.append(removeNode(node, at: node.path, action: .expire, now: now, deliveries: &deliveries))
            stats.expireCount += 1
        }
        return events
    }

    // MARK: Reads

    /// etcd `Get`: the node, one level deep unless `recursive`, children sorted by key when `sorted`.
    public func get(_ key: String, recursive: Bool, sorted: Bool, now: Timestamp) -> Result<StoreEvent, StoreError> {
        let path = KeyPath.clean(key)
        let node: StoreNode
        switch lookup(path) {
        case .success(let found): node = found
        case .failure(let error):
            stats.getsFail += 1
            return .failure(error)
        }
        stats.getsSuccess += 1
        var extern = NodeExtern(key: path == "/" ? nil : path, modifiedIndex: node.modifiedIndex, createdIndex: node.createdIndex)
        if let children = node.children {
            extern.dir = true
            let listing = node.listing(of: children, path: path, recursive: recursive, sorted: sorted, now: now)
            extern.nodes = listing.isEmpty ? nil : listing
        } else {
            extern.value = node.value
        }
        if let expiration = node.expiration {
            extern.expiration = expiration
            extern.ttl = expiration.remainingTTL(at: now)
        }
        return .success(StoreEvent(action: .get, node: extern, etcdIndex: currentIndex))
    }

    // MARK: Watches

    public enum WatchStart: Equatable, Sendable {
        /// A matching event was still in history; the watcher was not registered (etcd does the same, which
        /// is why a streaming watch from an old index delivers just one event).
        case historical(StoreEvent)
        case registered(WatcherID)
    }

    /// etcd `Watch`: scans history from `sinceIndex` (0: from the next index), else registers a live watcher.
    public func watch(_ key: String, recursive: Bool, stream: Bool, sinceIndex: UInt64) -> Result<WatchStart, StoreError> {
        let path = KeyPath.clean(key)
        let since = sinceIndex == 0 ? currentIndex + 1 : sinceIndex
        switch history.scan(key: path, recursive: recursive, index: since) {
        case .failure(var error):
            error.index = currentIndex
            return .failure(error)
        case .success(let event?):
            var event = event
            event.etcdIndex = currentIndex
            return .success(.historical(event))
        case .success(nil):
            let id = hub.add(key: path, recursive: recursive, stream: stream, sinceIndex: since)
            stats.watchers = UInt64(hub.count)
            return .success(.registered(id))
        }
    }

    public func removeWatcher(_ id: WatcherID) {
        hub.remove(id)
        stats.watchers = UInt64(hub.count)
    }

    // MARK: Helpers

    /// Records the event in history and tells watchers, except for refreshes, which history keeps silently.
    private func finish(_ event: inout StoreEvent, refresh: Bool, deliveries: inout [WatchDelivery]) {
        event.isRefresh = refresh
        history.append(event)
        if !refresh { hub.notify(event, into: &deliveries) }
        stats.watchers = UInt64(hub.count)
    }

    /// The node an update, compare or delete acts on. The root answers `rootError` (etcd's read-only set,
    /// or for compare-and-delete the not-a-file check that comes first).
    private func existingNode(_ key: String, rootError: Int, rootCause: String) -> Result<(String, StoreNode), StoreError> {
        let path = KeyPath.clean(key)
        if path == "/" { return .failure(StoreError(code: rootError, cause: rootCause, index: currentIndex)) }
        return lookup(path).map { (path, $0) }
    }

    /// etcd `internalGet`: follows `path`; a file on the way is 104 (cause: its path), a missing node 100
    /// (cause: the first missing path).
    func lookup(_ path: String) -> Result<StoreNode, StoreError> {
        var node = root
        var walked = ""
        for component in KeyPath.components(path) {
            guard let children = node.children else {
                return .failure(StoreError(code: StoreError.notDir, cause: walked.isEmpty ? "/" : walked, index: currentIndex))
            }
            walked += "/" + component
            guard let child = children[String(component)] else {
                return .failure(StoreError(code: StoreError.keyNotFound, cause: walked, index: currentIndex))
            }
            node = child
        }
        return .success(node)
    }

    /// etcd `walk(dirName, checkDir)`: creates missing directories with the next index, fails on a file.
    private func walkCreatingDirectories(_ components: [Substring]) -> Result<StoreNode, StoreError> {
        var node = root
        var walked = ""
        for component in components {
            walked += "/" + component
            let name = String(component)
            if let child = node.children?[name] {
                guard child.isDir else { return .failure(StoreError(code: StoreError.notDir, cause: walked, index: currentIndex)) }
                node = child
            } else {
                let directory = StoreNode(name: name, parent: node, value: "", isDir: true, index: currentIndex + 1, expiration: nil)
                node.children?[name] = directory
                node = directory
            }
        }
        return .success(node)
    }

    private func compareFailure(_ node: StoreNode, prevValue: String, prevIndex: UInt64) -> String? {
        let indexMatches = prevIndex == 0 || node.modifiedIndex == prevIndex
        let valueMatches = prevValue.isEmpty || node.value == prevValue
        switch (valueMatches, indexMatches) {
        case (true, true): return nil
        case (true, false): return "[\(prevIndex) != \(node.modifiedIndex)]"
        case (false, true): return "[\(prevValue) != \(node.value)]"
        case (false, false): return "[\(prevValue) != \(node.value)] [\(prevIndex) != \(node.modifiedIndex)]"
        }
    }

    private func setExpiration(_ node: StoreNode, _ expiration: Timestamp?, into extern: inout NodeExtern, now: Timestamp) {
        node.expiration = expiration
        ttlHeap.update(node)
        extern.expiration = expiration
        extern.ttl = expiration.map { $0.remainingTTL(at: now) }
    }

    /// delete, compare-and-delete and expire alike: one index, one event for the node (a directory takes its
    /// subtree with it), watchers of every removed path told.
    private func removeNode(_ node: StoreNode, at path: String, action: StoreAction, now: Timestamp, deliveries: inout [WatchDelivery]) -> StoreEvent {
        currentIndex += 1
        var event = StoreEvent(action: action, node: NodeExtern(key: path, modifiedIndex: currentIndex, createdIndex: node.createdIndex), etcdIndex: currentIndex)
        event.prevNode = node.repr(recursive: false, sorted: false, now: now, path: path)
        event.node.dir = node.isDir
        removeNotifying(node, path: path, event: event, deliveries: &deliveries)
        finish(&event, refresh: false, deliveries: &deliveries)
        return event
    }

    /// Unlinks a node and its subtree, telling watchers of every removed path (etcd's delete callback).
    private func removeNotifying(_ node: StoreNode, path: String, event: StoreEvent, deliveries: inout [WatchDelivery]) {
        visit(node, path: path) { removedPath in hub.notifyWatchers(event, at: removedPath, deleted: true, into: &deliveries) }
        remove(node)
    }

    private func visit(_ node: StoreNode, path: String, _ body: (String) -> Void) {
        if let children = node.children {
            for (name, child) in children { visit(child, path: KeyPath.join(path, name[...]), body) }
        }
        body(path)
    }

    private func remove(_ node: StoreNode) {
        node.parent?.children?[node.name] = nil
        dropFromHeap(node)
    }

    private func dropFromHeap(_ node: StoreNode) {
        if node.heapIndex >= 0 { ttlHeap.remove(node) }
        node.children?.values.forEach(dropFromHeap)
    }

    static func zeroPadded(_ index: UInt64) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
