import Logging
import NIOCore
import NIOPosix
import ProxyCore
import Synchronization
import Prometheus

/// One TCP listener per `/proxy/tcp/<name>` key: bound when the key appears, re-bound when its address
/// changes, closed when it goes. Each accepted connection is joined to one instance of the service.
final class TCPListeners: Sendable {
    struct Status: Sendable {
        let spec: TCPListenerSpec
        let boundAddress: String?
        let error: String?
    }

    private final class Listener: Sendable {
        let spec: Mutex<TCPListenerSpec>
        let balancer: Mutex<Balancer>
        let channel: (any Channel)?
        let error: String?

        init(spec: TCPListenerSpec, channel: (any Channel)?, error: String?) {
            self.spec = Mutex(spec)
            self.balancer = Mutex(Balancer(policy: spec.policy))
            self.channel = channel
            self.error = error
        }
    }

    private let listeners = Mutex([String: Listener]())
    private let state: ProxyState
    private let logger: Logger

    init(state: ProxyState, logger: Logger) {
        self.state = state
        self.logger = logger
    }

    var status: [String: Status] {
        listeners.withLock { listeners in
            listeners.mapValues { listener in
                Status(spec: listener.spec.withLock { $0 }, boundAddress: listener.channel?.localAddress.map(Self.describe), error: listener.error)
            }
        }
    }

    /// Brings the listeners in line with `specs` (one caller at a time: the registry follower). A spec whose listen address is unchanged keeps its socket
    /// and its open connections; only what it proxies to changes.
    func reconcile(_ specs: [String: TCPListenerSpec]) async {
        let current = listeners.withLock { $0 }
        for (name, listener) in current {
            let spec = listener.spec.withLock { $0 }
            if let wanted = specs[name], wanted.listenHost == spec.listenHost, wanted.listenPort == spec.listenPort, listener.channel != nil {
                listener.spec.withLock { $0 = wanted }
                if wanted.policy != spec.policy { listener.balancer.withLock { $0 = Balancer(policy: wanted.policy) } }
                continue
            }
            _ = listeners.withLock { $0.removeValue(forKey: name) }
            try? await listener.channel?.close()
            if specs[name] == nil { logger.info("tcp listener closed", metadata: ["name": "\(name)"]) }
        }
        for (name, spec) in specs.sorted(by: { $0.key < $1.key }) where listeners.withLock({ $0[name] == nil }) {
            let listener = await bind(spec)
            listeners.withLock { $0[name] = listener }
        }
    }

    func closeAll() async {
        let all = listeners.withLock { listeners in
            defer { listeners = [:] }
            return Array(listeners.values)
        }
        for listener in all { try? await listener.channel?.close() }
    }

    private func bind(_ spec: TCPListenerSpec) async -> Listener {
        let holder = ListenerHolder()
        let state = self.state
        let logger = self.logger
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                // A client may shut its sending side and still read the answer (as psql's COPY does).
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                // Nothing is read from the client until its upstream is connected and glued.
                .childChannelOption(.autoRead, value: false)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard let listener = holder.listener else { throw ChannelError.ioOnClosedChannel }
                        try channel.pipeline.syncOperations.addHandler(TCPSessionStarter(listener: listener, state: state, logger: logger))
                    }
                }
                .bind(host: spec.listenHost, port: spec.listenPort)
                .get()
            let listener = Listener(spec: spec, channel: channel, error: nil)
            holder.set(TCPSessionTarget(spec: { listener.spec.withLock { $0 } }, choose: { pool, tried, now in
                UpstreamChooser.choose(from: pool, excluding: tried, now: now, balancer: listener.balancer)
            }))
            let address = channel.localAddress.map(Self.describe) ?? "?"
            logger.info("tcp listener bound", metadata: ["name": "\(spec.name)", "address": "\(address)", "service": "\(spec.service)"])
            return listener
        } catch {
            logger.error("tcp listener could not bind", metadata: ["name": "\(spec.name)", "listen": "\(spec.listenHost):\(spec.listenPort)", "error": "\(error)"])
            return Listener(spec: spec, channel: nil, error: "cannot listen on \(spec.listenHost):\(spec.listenPort): \(error)")
        }
    }

    static func describe(_ address: SocketAddress) -> String {
        "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }
}

/// What a new TCP session needs from its listener, read when the session starts.
struct TCPSessionTarget: Sendable {
    let spec: @Sendable () -> TCPListenerSpec
    let choose: @Sendable ([Upstream], [Int], Duration) -> Upstream?
}

/// Set once, right after bind: sessions accepted before that (there are none; the initializer runs later) are refused.
private final class ListenerHolder: Sendable {
    private let target = Mutex<TCPSessionTarget?>(nil)
    var listener: TCPSessionTarget? { target.withLock { $0 } }
    func set(_ value: TCPSessionTarget) { target.withLock { $0 = value } }
}

/// Connects a freshly accepted client to an instance (trying others when a connect fails), then glues the two.
final class TCPSessionStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let listener: TCPSessionTarget
    private let state: ProxyState
    private let logger: Logger
    private var tried: [Int] = []

    init(listener: TCPSessionTarget, state: ProxyState, logger: Logger) {
        self.listener = listener
        self.state = state
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        connectNext(context: context)
    }

    private func connectNext(context: ChannelHandlerContext) {
        let spec = listener.spec()
        let pool = state.snapshot.pools[spec.service] ?? []
        guard tried.count <= spec.retries, let upstream = listener.choose(pool, tried, ProxyClock.now()) else {
            logger.notice("tcp session refused: no instance reachable", metadata: ["listener": "\(spec.name)", "service": "\(spec.service)"])
            context.close(promise: nil)
            return
        }
        tried.append(upstream.id)
        let client = context.channel
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(TimeAmount(spec.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EjectionCloser())
                }
            }
            .connect(host: upstream.endpoint.host, port: upstream.endpoint.port)
            .whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let upstreamChannel):
                    guard client.isActive else {
                        upstreamChannel.close(promise: nil)
                        return
                    }
                    upstream.recordSuccess(now: ProxyClock.now())
                    upstream.register(upstreamChannel)
                    upstream.activeRequests.add(1, ordering: .relaxed)
                    upstream.metrics.active.increment()
                    client.closeFuture.whenComplete { _ in
                        upstream.activeRequests.subtract(1, ordering: .relaxed)
                        upstream.metrics.active.decrement()
                        upstreamChannel.close(promise: nil)
                    }
                    let (clientGlue, upstreamGlue) = GlueHandler.matchedPair()
                    do {
                        try upstreamChannel.pipeline.syncOperations.addHandler(upstreamGlue)
                        try context.pipeline.syncOperations.addHandler(clientGlue)
                        context.pipeline.syncOperations.removeHandler(handler, promise: nil)
                        // Reads were held until the glue was in; from here the glue paces them.
                        try client.syncOptions?.setOption(.autoRead, value: true)
                    } catch {
                        client.close(promise: nil)
                        upstreamChannel.close(promise: nil)
                    }
                case .failure(let error):
                    upstream.metrics.failures.increment()
                    upstream.recordFailure(now: ProxyClock.now())
                    handler.logger.debug("tcp upstream connect failed", metadata: ["instance": "\(upstream.label)", "error": "\(error)"])
                    handler.connectNext(context: context)
                }
            }
    }
}

@available(*, unavailable)
extension TCPSessionStarter: Sendable {}

/// A TCP session to an instance whose key expired is cut at once (the instance is presumed dead); one whose
/// key was deleted drains, bounded by the drain timeout.
final class EjectionCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let retired = event as? UpstreamRetired, retired.phase == .ejected {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension EjectionCloser: Sendable {}
