import NIOCore

/// Buffers the first bytes of a connection until `PrefaceClassifier` can tell HTTP/1 from HTTP/2, asks
/// `configure` to build the right pipeline behind it, then leaves the pipeline, replaying what it held.
///
/// Unlike a classifier that judges only the first read, a preface split across reads is fine. A client that
/// sends nothing decisive within `timeout` is disconnected.
final class ProtocolSniffer<Negotiated: Sendable>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        case buffering(ByteBuffer?)
        case configured
    }

    private var state: State = .buffering(nil)
    private var pending: [ByteBuffer] = []
    private let timeout: TimeAmount
    private var timeoutTask: Scheduled<Void>?
    private let promise: EventLoopPromise<Negotiated>
    private let configure: (any Channel, PrefaceVerdict) throws -> Negotiated

    /// `configure` runs on the event loop with `.http1` or `.http2` and must add the protocol's handlers at
    /// the end; its result fulfils `promise`. A connection that closes first fails the promise.
    init(
        timeout: TimeAmount,
        promise: EventLoopPromise<Negotiated>,
        configure: @escaping (any Channel, PrefaceVerdict) throws -> Negotiated
    ) {
        self.timeout = timeout
        self.promise = promise
        self.configure = configure
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeoutTask = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeoutTask?.cancel()
        timeoutTask = nil
        if case .buffering = state {
            promise.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .buffering = state {
            state = .configured
            promise.fail(ChannelError.ioOnClosedChannel)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS handshake failures and resets before the first request: nothing to answer.
        if case .buffering = state {
            state = .configured
            promise.fail(error)
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .buffering(let buffered) = state else {
            context.fireChannelRead(data)
            return
        }
        var incoming = unwrapInboundIn(data)
        var all: ByteBuffer
        if var buffered {
            buffered.writeBuffer(&incoming)
            all = buffered
        } else {
            all = incoming
        }
        let verdict = PrefaceClassifier.classify(all.readableBytesView)
        guard verdict != .needMore else {
            state = .buffering(all)
            return
        }
        state = .configured
        timeoutTask?.cancel()
        do {
            promise.succeed(try configure(context.channel, verdict))
        } catch {
            promise.fail(error)
            context.close(promise: nil)
            return
        }
        pending.append(all)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        // Replay before leaving: the handlers configured behind us must see the bytes in order.
        let replay = pending
        pending = []
        for buffer in replay {
            context.fireChannelRead(wrapInboundOut(buffer))
        }
        if !replay.isEmpty { context.fireChannelReadComplete() }
        context.leavePipeline(removalToken: removalToken)
    }
}

@available(*, unavailable)
extension ProtocolSniffer: Sendable {}
