import NIOCore
import NIOHTTP1
import NIOPosix
import ProxyCore

/// Whoever is using an upstream connection right now: the client-side handler of one request.
protocol UpstreamOwner: AnyObject {
    func upstreamRead(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamClosed(_ error: (any Error)?)
    func upstreamWritabilityChanged(isWritable: Bool)
    func upstreamRetired(_ event: UpstreamRetired)
    /// Reads from the upstream wait while this is true (the client is not keeping up).
    var isUpstreamReadPaused: Bool { get }
}

/// The last handler of an upstream connection: hands response parts to its owner and lets the owner hold
/// reads back. Without an owner (idle in the pool) any byte from the upstream is a protocol error.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var owner: (any UpstreamOwner)?
    private var pendingRead = false
    private(set) var isRetired = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let owner else {
            context.close(promise: nil)
            return
        }
        owner.upstreamRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let owner = self.owner
        self.owner = nil
        owner?.upstreamClosed(nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let owner = self.owner
        self.owner = nil
        owner?.upstreamClosed(error)
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        owner?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let retired = event as? UpstreamRetired {
            isRetired = true
            if let owner { owner.upstreamRetired(retired) } else { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if owner?.isUpstreamReadPaused == true {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// The owner caught up: let the read it held back through.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}

// @unchecked: made and used on one event loop; it only passes through that loop's futures.
struct UpstreamConnection: @unchecked Sendable {
    let channel: any Channel
    let handler: UpstreamHandler
    let upstream: Upstream
    /// Taken from the pool rather than dialled: the upstream may have closed it meanwhile.
    let reused: Bool
}

/// Idle keep-alive connections to upstreams for one event loop. A request's upstream connection lives on its
/// client connection's loop, so no byte crosses threads and the pool needs no lock.
// @unchecked: loop-confined; every entry point runs on `eventLoop` (asserted), which is what makes it safe.
final class UpstreamConnectionPool: @unchecked Sendable {
    private struct Idle {
        let channel: any Channel
        let handler: UpstreamHandler
        let upstream: Upstream
        let since: NIODeadline
    }

    static let upstreamHandlerNames = (encoder: "flotilla.upstream.encoder", decoder: "flotilla.upstream.decoder", handler: "flotilla.upstream.handler")

    let eventLoop: any EventLoop
    private var idle: [Int: [Idle]] = [:]
    private let maxIdlePerUpstream: Int
    private var sweeper: RepeatedTask?

    init(eventLoop: any EventLoop, maxIdlePerUpstream: Int = 256) {
        self.eventLoop = eventLoop
        self.maxIdlePerUpstream = maxIdlePerUpstream
    }

    /// A warm idle connection (most recent first), if there is one: the common case, with no future.
    func takeIdle(_ upstream: Upstream, idleTimeout: TimeAmount) -> UpstreamConnection? {
        eventLoop.assertInEventLoop()
        guard idle[upstream.id] != nil else { return nil }
        let now = NIODeadline.now()
        while var stack = idle[upstream.id], let last = stack.popLast() {
            idle[upstream.id] = stack.isEmpty ? nil : stack
            if last.channel.isActive, !last.handler.isRetired, now - last.since < idleTimeout {
                return UpstreamConnection(channel: last.channel, handler: last.handler, upstream: upstream, reused: true)
            }
            last.channel.close(promise: nil)
        }
        return nil
    }

    /// A new connection.
    func connect(_ upstream: Upstream, timeout: TimeAmount) -> EventLoopFuture<UpstreamConnection> {
        let names = Self.upstreamHandlerNames
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(HTTPRequestEncoder(), name: names.encoder)
                    try sync.addHandler(
                        ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .forward)),
                        name: names.decoder
                    )
                    try sync.addHandler(UpstreamHandler(), name: names.handler)
                }
            }
            .connect(host: upstream.endpoint.host, port: upstream.endpoint.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                upstream.register(channel)
                return UpstreamConnection(channel: channel, handler: handler, upstream: upstream, reused: false)
            }
    }

    /// Takes back a connection whose last response ended cleanly and that may carry another request.
    func release(_ connection: UpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.handler.owner = nil
        guard connection.channel.isActive, connection.upstream.isActive, !connection.handler.isRetired,
            idle[connection.upstream.id, default: []].count < maxIdlePerUpstream
        else {
            connection.channel.close(promise: nil)
            return
        }
        idle[connection.upstream.id, default: []].append(Idle(channel: connection.channel, handler: connection.handler, upstream: connection.upstream, since: .now()))
    }

    /// Closes idle connections older than their route's idle timeout; runs every second on the loop.
    func startSweeping(idleTimeout: TimeAmount) {
        eventLoop.assertInEventLoop()
        sweeper = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            sweep(olderThan: idleTimeout)
        }
    }

    func stop() {
        eventLoop.assertInEventLoop()
        sweeper?.cancel()
        sweeper = nil
        for stack in idle.values { for entry in stack { entry.channel.close(promise: nil) } }
        idle = [:]
    }

    private func sweep(olderThan limit: TimeAmount) {
        eventLoop.assertInEventLoop()
        let now = NIODeadline.now()
        for (id, stack) in idle {
            let (keep, drop) = stack.reduce(into: ([Idle](), [Idle]())) { result, entry in
                if entry.channel.isActive, !entry.handler.isRetired, now - entry.since < limit { result.0.append(entry) } else { result.1.append(entry) }
            }
            for entry in drop { entry.channel.close(promise: nil) }
            idle[id] = keep.isEmpty ? nil : keep
        }
    }
}

/// One pool per event loop of the group, made up front so lookups need no lock.
final class PoolDirectory: @unchecked Sendable {
    // @unchecked: the dictionary is written once in init; each pool is only touched on its own loop.
    private let pools: [ObjectIdentifier: UpstreamConnectionPool]

    init(group: any EventLoopGroup) {
        var pools: [ObjectIdentifier: UpstreamConnectionPool] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = UpstreamConnectionPool(eventLoop: loop)
        }
        self.pools = pools
    }

    func pool(for loop: any EventLoop) -> UpstreamConnectionPool {
        loop.assertInEventLoop()
        guard let pool = pools[ObjectIdentifier(loop)] else {
            preconditionFailure("event loop outside the proxy's group")
        }
        return pool
    }

    func startSweeping(idleTimeout: TimeAmount) {
        for pool in pools.values {
            pool.eventLoop.execute { pool.startSweeping(idleTimeout: idleTimeout) }
        }
    }

    func stop() {
        for pool in pools.values {
            pool.eventLoop.execute { pool.stop() }
        }
    }
}
