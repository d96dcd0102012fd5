/// Identifies a registered watcher; the shell maps it to the connection waiting for events.
public struct WatcherID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public var description: String { "w\(rawValue)" }
}

/// An event to hand to a watcher. `isFinal`: the watcher is one-shot and is now unregistered.
public struct WatchDelivery: Equatable, Sendable {
    public let watcher: WatcherID
    public let event: StoreEvent
    public let isFinal: Bool
}

/// Live watchers by path (etcd `watcherHub`). Notifying walks every prefix of the event's key, so a
/// recursive watcher on `/a` hears about `/a/b/c`; deleting a directory notifies watchers of every removed
/// path directly.
struct WatcherHub {
    private struct Watcher {
        let id: WatcherID
        let recursive: Bool
        let stream: Bool
        let sinceIndex: UInt64
    }

    private var watchers: [String: [Watcher]] = [:]
    private var paths: [WatcherID: String] = [:]
    private var nextID: UInt64 = 1

    var count: Int { paths.count }

    mutating func add(key: String, recursive: Bool, stream: Bool, sinceIndex: UInt64) -> WatcherID {
        let id = WatcherID(rawValue: nextID)
        nextID += 1
        watchers[key, default: []].append(Watcher(id: id, recursive: recursive, stream: stream, sinceIndex: sinceIndex))
        paths[id] = key
        return id
    }

    mutating func remove(_ id: WatcherID) {
        guard let path = paths.removeValue(forKey: id) else { return }
        watchers[path]?.removeAll { $0.id == id }
        if watchers[path]?.isEmpty == true { watchers[path] = nil }
    }

    /// etcd `watcherHub.notify`: watchers at `/`, then each prefix of the key, then the key itself.
    mutating func notify(_ event: StoreEvent, into deliveries: inout [WatchDelivery]) {
        guard !watchers.isEmpty else { return }
        let key = event.node.key ?? "/"
        notifyWatchers(event, at: "/", deleted: false, into: &deliveries)
        var current = ""
        for component in KeyPath.components(key) {
            current += "/" + component
            notifyWatchers(event, at: current, deleted: false, into: &deliveries)
        }
    }

    /// etcd `notifyWatchers`: the watchers registered exactly at `path`.
    mutating func notifyWatchers(_ event: StoreEvent, at path: String, deleted: Bool, into deliveries: inout [WatchDelivery]) {
        guard var list = watchers[path] else { return }
        let eventKey = event.node.key ?? "/"
        let originalPath = eventKey == path
        guard originalPath || !KeyPath.isHidden(watchPath: path, keyPath: eventKey) else { return }
        list.removeAll { watcher in
            guard (watcher.recursive || originalPath || deleted), event.index >= watcher.sinceIndex else { return false }
            deliveries.append(WatchDelivery(watcher: watcher.id, event: event, isFinal: !watcher.stream))
            if !watcher.stream { paths[watcher.id] = nil }
            return !watcher.stream
        }
        watchers[path] = list.isEmpty ? nil : list
    }
}
