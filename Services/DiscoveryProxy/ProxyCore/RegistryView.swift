/// Why an instance left the view. An expired key means the instance stopped heartbeating (probably dead);
/// a deleted one was deregistered on purpose (probably draining) — the shell may treat them differently.
public enum RemovalReason: String, Hashable, Sendable {
    case deleted
    case expired
}

public struct RemovedInstance: Hashable, Sendable {
    public var service: String
    public var instance: String
    /// The endpoint it had.
    public var endpoint: InstanceEndpoint
    public var reason: RemovalReason

    public init(service: String, instance: String, endpoint: InstanceEndpoint, reason: RemovalReason) {
        self.service = service
        self.instance = instance
        self.endpoint = endpoint
        self.reason = reason
    }
}

/// What one call changed in a ``RegistryView``, so the shell rebuilds only what it must.
public struct RegistryChange: Equatable, Sendable {
    /// Services whose set of valid instances (or their endpoints) changed.
    public var servicesChanged: Set<String>
    /// Valid endpoints that went away, sorted by service then instance. An endpoint that changed appears
    /// here (reason `.deleted`) and its service in ``servicesChanged``.
    public var removedInstances: [RemovedInstance]
    public var routesChanged: Bool
    public var tcpChanged: Bool

    public init(
        servicesChanged: Set<String> = [], removedInstances: [RemovedInstance] = [], routesChanged: Bool = false,
        tcpChanged: Bool = false
    ) {
        self.servicesChanged = servicesChanged
        self.removedInstances = removedInstances
        self.routesChanged = routesChanged
        self.tcpChanged = tcpChanged
    }

    public var isEmpty: Bool {
        servicesChanged.isEmpty && removedInstances.isEmpty && !routesChanged && !tcpChanged
    }
}

/// The proxy's view of its keys in the keys API, fed by the watcher with plain calls:
/// - `<servicesPrefix>/<service>/<instance>`: an ``InstanceEndpoint``;
/// - `<proxyPrefix>/routes/<name>`: a ``RouteSpec``;
/// - `<proxyPrefix>/tcp/<name>`: a ``TCPListenerSpec``.
///
/// Any other key, deeper or elsewhere, is ignored. Keys are compared after collapsing repeated and
/// trailing slashes, as the keys API does.
///
/// A key whose value does not parse is treated as absent — the last good value is *not* kept — and its
/// reason is recorded in ``invalid``. Keeping a stale endpoint after its instance rewrote the key would send
/// traffic somewhere nobody vouches for any more; an operator sees the refusal on the status page instead.
///
/// Setting a key to the value it already has changes nothing and reports an empty change: instances
/// heartbeat by re-setting their key with a TTL, and that must cost the proxy nothing.
public struct RegistryView: Sendable {
    public let servicesPrefix: String
    public let proxyPrefix: String
    /// service → instance → endpoint; valid instances only, services without any are absent.
    public private(set) var services: [String: [String: InstanceEndpoint]] = [:]
    public private(set) var routes: [String: RouteSpec] = [:]
    public private(set) var tcpListeners: [String: TCPListenerSpec] = [:]
    /// Key → why its value was refused; the entry goes when the key gets a valid value or is removed.
    public private(set) var invalid: [String: ProxyConfigError] = [:]
    /// Raw value of every key in our part of the tree, valid or not: the heartbeat check, and what
    /// ``replace(under:with:)`` diffs against.
    private var values: [String: String] = [:]

    public init(servicesPrefix: String = "/services", proxyPrefix: String = "/proxy") {
        self.servicesPrefix = Self.normalize(servicesPrefix)
        self.proxyPrefix = Self.normalize(proxyPrefix)
    }

    /// A create, set, update or compareAndSwap of `key`.
    public mutating func set(key: String, value: String) -> RegistryChange {
        let key = Self.normalize(key)
        guard let kind = classify(key), values[key] != value else { return RegistryChange() }
        values[key] = value
        var change = RegistryChange()
        apply(kind, key: key, value: value, reason: .deleted, to: &change)
        return change
    }

    /// A delete or expiry of `key`, which may be a directory (`/services/web`, `/proxy/routes`, the prefix
    /// itself, `/`): everything below it goes, with `reason`.
    public mutating func remove(key: String, reason: RemovalReason) -> RegistryChange {
        let key = Self.normalize(key)
        // A key is a value or a directory, never both; the common case (one instance's key expiring) is a
        // single lookup, not a scan.
        let doomed = values[key] != nil ? [key] : values.keys.filter { Self.isKey($0, under: key) }
        var change = RegistryChange()
        for k in doomed {
            values[k] = nil
            if let kind = classify(k) {
                apply(kind, key: k, value: nil, reason: reason, to: &change)
            }
        }
        change.removedInstances.sort(by: Self.removalOrder)
        return change
    }

    /// The result of a full read of `prefix` (initial load, or resync after the watch fell behind): the
    /// view below `prefix` becomes exactly `entries`, anything absent counting as deleted. Entries outside
    /// `prefix` are ignored, since the read did not cover their neighbours. A later entry for the same key
    /// wins.
    public mutating func replace(under prefix: String, with entries: [(key: String, value: String)]) -> RegistryChange {
        let prefix = Self.normalize(prefix)
        var wanted: [String: String] = [:]
        for entry in entries {
            let key = Self.normalize(entry.key)
            if Self.isKey(key, under: prefix), classify(key) != nil {
                wanted[key] = entry.value
            }
        }
        var change = RegistryChange()
        for key in values.keys where Self.isKey(key, under: prefix) && wanted[key] == nil {
            values[key] = nil
            if let kind = classify(key) {
                apply(kind, key: key, value: nil, reason: .deleted, to: &change)
            }
        }
        for (key, value) in wanted where values[key] != value {
            values[key] = value
            if let kind = classify(key) {
                apply(kind, key: key, value: value, reason: .deleted, to: &change)
            }
        }
        change.removedInstances.sort(by: Self.removalOrder)
        return change
    }

    // MARK: - Keys

    private enum KeyKind {
        case instance(service: String, instance: String)
        case route(String)
        case tcp(String)
    }

    private func classify(_ key: String) -> KeyKind? {
        if let rest = Self.components(of: key, under: proxyPrefix), rest.count == 2 {
            switch rest[0] {
            case "routes": return .route(String(rest[1]))
            case "tcp": return .tcp(String(rest[1]))
            default: break
            }
        }
        if let rest = Self.components(of: key, under: servicesPrefix), rest.count == 2 {
            return .instance(service: String(rest[0]), instance: String(rest[1]))
        }
        return nil
    }

    /// `/a//b/` → `/a/b`; the root is `/`.
    static func normalize(_ key: String) -> String {
        "/" + key.split(separator: "/").joined(separator: "/")
    }

    static func isKey(_ key: String, under directory: String) -> Bool {
        directory == "/" || key == directory || (key.hasPrefix(directory) && key.dropFirst(directory.count).first == "/")
    }

    private static func components(of key: String, under directory: String) -> [Substring]? {
        guard isKey(key, under: directory) else { return nil }
        let rest = directory == "/" ? key[...] : key.dropFirst(directory.count)
        return rest.split(separator: "/")
    }

    private static func removalOrder(_ a: RemovedInstance, _ b: RemovedInstance) -> Bool {
        (a.service, a.instance) < (b.service, b.instance)
    }

    // MARK: - Applying one key

    /// Brings the parsed state of `key` in line with `value` (`nil`: the key is gone). `reason` applies to
    /// an endpoint that disappears because of this.
    private mutating func apply(
        _ kind: KeyKind, key: String, value: String?, reason: RemovalReason, to change: inout RegistryChange
    ) {
        invalid[key] = nil
        switch kind {
        case .instance(let service, let instance):
            var new: InstanceEndpoint?
            if let value {
                do { new = try InstanceEndpoint.parse(value) } catch { invalid[key] = error }
            }
            let old = services[service]?[instance]
            guard old != new else { return }
            if let old {
                change.removedInstances.append(
                    RemovedInstance(service: service, instance: instance, endpoint: old, reason: reason))
            }
            services[service, default: [:]][instance] = new
            if services[service]?.isEmpty == true {
                services[service] = nil
            }
            change.servicesChanged.insert(service)
        case .route(let name):
            var new: RouteSpec?
            if let value {
                do { new = try RouteSpec.parse(name: name, json: value) } catch { invalid[key] = error }
            }
            guard routes[name] != new else { return }
            routes[name] = new
            change.routesChanged = true
        case .tcp(let name):
            var new: TCPListenerSpec?
            if let value {
                do { new = try TCPListenerSpec.parse(name: name, json: value) } catch { invalid[key] = error }
            }
            guard tcpListeners[name] != new else { return }
            tcpListeners[name] = new
            change.tcpChanged = true
        }
    }
}
