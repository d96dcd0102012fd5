import HTTPServer
import NIOCore

/// Joins two channels byte for byte, each direction with back-pressure: a side reads only while the other
/// side can write. Used for TCP proxying and for connections after `101 Switching Protocols`.
final class GlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    private init() {}

    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    /// Turns an HTTP/1 client connection and its upstream connection into one byte pipe: glue goes in at the
    /// end of both pipelines, then the HTTP handlers come out (decoders last, so bytes they hold pass on, and
    /// are flushed once they have: a greeting that came with the `101` must not wait for the next read).
    static func splice(
        client: any Channel, clientHandler: any RemovableChannelHandler,
        upstream: any Channel, upstreamHandlers: (encoder: String, decoder: String, handler: String)
    ) throws {
        let (clientGlue, upstreamGlue) = matchedPair()
        let clientPipeline = client.pipeline.syncOperations
        let upstreamPipeline = upstream.pipeline.syncOperations
        // Each direction may end on its own from here on (a client that sends, then shuts its side, then reads).
        try clientPipeline.addHandler(clientGlue)
        try upstreamPipeline.addHandler(upstreamGlue)
        try client.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
        try upstream.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
        clientPipeline.removeHandler(clientHandler, promise: nil)
        upstreamPipeline.removeHandler(name: upstreamHandlers.handler, promise: nil)
        upstreamPipeline.removeHandler(name: upstreamHandlers.encoder, promise: nil)
        let upstreamDecoderRemoved = upstream.eventLoop.makePromise(of: Void.self)
        upstreamPipeline.removeHandler(name: upstreamHandlers.decoder, promise: upstreamDecoderRemoved)
        upstreamDecoderRemoved.futureResult.whenComplete { _ in
            client.flush()
            upstream.read()
        }
        try ChannelHandlerServer.removeHTTP1Handlers(from: client) {
            upstream.flush()
            client.read()
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // Half-close travels on: the peer learns the other side is done sending.
            partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    /// The partner's peer finished sending: pass the end on once everything before it is written (closing
    /// the output straight away could drop writes still queued).
    private func partnerWriteEOF() {
        guard let context else { return }
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer())).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
    }

    /// The partner is gone: close, after what it sent us last is written.
    private func partnerCloseFull() {
        guard let context else { return }
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer())).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}
