import KeysClient
import Logging
import ProxyCore
import ServiceKit
import ServiceLifecycle
import Synchronization

/// How the proxy's view of the keys API is doing, for `/status` and `/metrics`: a watcher that stalls
/// silently is the bug every earlier etcd-driven proxy shipped (proxy.md §3B).
final class WatchStatus: Sendable {
    struct Snapshot: Sendable {
        var index: UInt64 = 0
        var lastSync: ContinuousClock.Instant?
        var resyncs = 0
        var reachable = false
        var lastError: String?
        var loaded = false
    }

    private let state = Mutex(Snapshot())

    var snapshot: Snapshot { state.withLock { $0 } }

    func synced(index: UInt64) {
        state.withLock { state in
            state.index = max(state.index, index)
            state.lastSync = .now
            state.reachable = true
            state.lastError = nil
            state.loaded = true
        }
    }

    func resynced() { state.withLock { $0.resyncs += 1 } }

    func failed(_ error: any Error) {
        state.withLock { state in
            state.reachable = false
            state.lastError = "\(error)"
        }
    }
}

/// Follows `/services` and `/proxy` in the keys API: one recursive read of each, then one watch per prefix
/// continuing from the read's index, plus a full re-read every `resyncInterval` that only acts on real
/// differences. While the keys API is unreachable the last known table stays in force.
final class RegistryFollower: Service, Sendable {
    let keys: KeysAPI
    let state: ProxyState
    let tcp: TCPListeners
    let status: WatchStatus
    let servicesPrefix: String
    let proxyPrefix: String
    let resyncInterval: Duration
    let logger: Logger
    /// The view and, per prefix, the index its last full read reflects: a watch event at or below it is already
    /// in the view (a periodic re-read overtook the watch), and applying it again could undo a newer state.
    private struct State {
        var view: RegistryView
        var readAt: [String: UInt64] = [:]
    }

    private let view: Mutex<State>
    private let tcpDoorbell: AsyncStream<Void>
    private let tcpChanged: AsyncStream<Void>.Continuation

    init(keys: KeysAPI, state: ProxyState, tcp: TCPListeners, status: WatchStatus, servicesPrefix: String, proxyPrefix: String, resyncInterval: Duration, logger: Logger) {
        self.keys = keys
        self.state = state
        self.tcp = tcp
        self.status = status
        self.servicesPrefix = servicesPrefix
        self.proxyPrefix = proxyPrefix
        self.resyncInterval = resyncInterval
        self.logger = logger
        self.view = Mutex(State(view: RegistryView(servicesPrefix: servicesPrefix, proxyPrefix: proxyPrefix)))
        (tcpDoorbell, tcpChanged) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.reconcileListeners() }
                group.addTask { try await self.followForever() }
                try await group.next()
                group.cancelAll()
            }
        }
        await tcp.closeAll()
    }

    /// TCP listeners bind and close asynchronously; one task does it, always for the newest view.
    private func reconcileListeners() async {
        for await _ in tcpDoorbell {
            await tcp.reconcile(view.withLock { $0.view.tcpListeners })
        }
    }

    private func followForever() async throws {
        var failures = 0
        while !Task.isCancelled {
            do {
                let servicesIndex = try await reload(servicesPrefix)
                let proxyIndex = try await reload(proxyPrefix)
                failures = 0
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.follow(self.servicesPrefix, after: servicesIndex) }
                    group.addTask { try await self.follow(self.proxyPrefix, after: proxyIndex) }
                    group.addTask { try await self.resyncPeriodically() }
                    try await group.next()
                    group.cancelAll()
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                failures += 1
                status.failed(error)
                logger.warning("keys API unreachable; keeping the last known routing table", metadata: ["error": "\(error)"])
                // Shutdown arrives as cancellation, often during this wait: a normal end, not an error.
                guard (try? await Task.sleep(for: Backoff().delay(attempt: failures, jitter: Double.random(in: 0.5...1)))) != nil else { return }
            }
        }
    }

    /// Reads everything below `prefix` and replaces that part of the view; returns the index to watch after.
    @discardableResult
    private func reload(_ prefix: String) async throws -> UInt64 {
        let entries: [(key: String, value: String)]
        let index: UInt64
        do {
            let response = try await keys.get(prefix, recursive: true)
            entries = response.node.map(Self.leaves) ?? []
            index = response.etcdIndex
        } catch let error as KeysError where error.code == .keyNotFound {
            entries = []
            index = error.index
        }
        let change = view.withLock { state in
            state.readAt[prefix] = index
            return state.view.replace(under: prefix, with: entries)
        }
        publish(change)
        status.synced(index: index)
        return index
    }

    private func follow(_ prefix: String, after index: UInt64) async throws {
        for try await event in keys.watch(prefix, recursive: true, after: index) {
            switch event {
            case .event(let response):
                apply(response, under: prefix)
                status.synced(index: response.index)
            case .resync(let response):
                status.resynced()
                logger.notice("watch fell behind the keys API's event history; re-read", metadata: ["prefix": "\(prefix)"])
                let entries = response.node.map(Self.leaves) ?? []
                let change = view.withLock { state in
                    state.readAt[prefix] = response.etcdIndex
                    return state.view.replace(under: prefix, with: entries)
                }
                publish(change)
                status.synced(index: response.etcdIndex)
            }
        }
        throw WatchEnded(prefix: prefix)
    }

    private func resyncPeriodically() async throws {
        while true {
            try await Task.sleep(for: resyncInterval)
            try await reload(servicesPrefix)
            try await reload(proxyPrefix)
        }
    }

    private func apply(_ response: KeysResponse, under prefix: String) {
        guard let node = response.node, let key = node.key, !(node.dir && !response.action.removesNode) else { return }
        let change = view.withLock { state -> RegistryChange in
            guard response.index > state.readAt[prefix, default: 0] else { return RegistryChange() }
            if response.action.removesNode {
                return state.view.remove(key: key, reason: response.action == .expire ? .expired : .deleted)
            }
            return state.view.set(key: key, value: node.value ?? "")
        }
        publish(change)
    }

    /// Rebuilds the routing table under the view's lock, so two watches can never publish out of order.
    private func publish(_ change: RegistryChange) {
        guard !change.isEmpty else { return }
        view.withLock { current in
            for (key, error) in current.view.invalid {
                logger.debug("ignoring invalid key", metadata: ["key": "\(key)", "error": "\(error)"])
            }
            state.rebuild(from: current.view, removals: change.removedInstances)
        }
        if change.tcpChanged { tcpChanged.yield() }
    }

    var currentView: RegistryView { view.withLock { $0.view } }

    static func leaves(_ node: KeysNode) -> [(key: String, value: String)] {
        if !node.dir {
            guard let key = node.key else { return [] }
            return [(key, node.value ?? "")]
        }
        return (node.nodes ?? []).flatMap(leaves)
    }
}

struct WatchEnded: Error, CustomStringConvertible {
    let prefix: String
    var description: String { "the watch of \(prefix) ended" }
}
