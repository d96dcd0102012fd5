import NIOCore
import NIOHTTP1

/// Tells `HTTP1ConnectionGuard` that bytes arrived, before the decoder turns them into parts.
struct ReadActivityEvent: Sendable {}

/// Sits before the HTTP/1 decoder and reports every read as a user event (which passes through the decoder).
final class ReadActivityHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireUserInboundEventTriggered(ReadActivityEvent())
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension ReadActivityHandler: Sendable {}

/// Enforces the connection-level rules of HTTP/1.1 that the request loop should not have to think about:
/// idle and slow-header timeouts, keep-alive and `connection: close`, graceful quiescing, and answering
/// parser errors (400, or 431 for oversize headers) before closing.
final class HTTP1ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var machine = HTTP1ConnectionStateMachine()
    /// Whether the handlers behind asked for more bytes since the last read completed. A request body that
    /// stops arriving while nobody asked for it is back-pressure from this side (a proxy whose upstream is not
    /// reading), not a slow client, so the body timer waits instead of answering 408.
    private var readRequested = true
    private var timer: Scheduled<Void>?
    private var deadline: (HTTP1ConnectionStateMachine.Timer, NIODeadline)?
    private var scheduledAt = NIODeadline.distantFuture
    private let idleTimeout: TimeAmount
    private let headTimeout: TimeAmount

    init(idleTimeout: TimeAmount, headTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
        self.headTimeout = headTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        apply(HTTP1ConnectionStateMachine.initialTimer, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            apply(machine.requestHeadReceived(keepAlive: head.isKeepAlive), context: context)
        case .body:
            break
        case .end:
            apply(machine.requestEndReceived(), context: context)
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readRequested = false
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        readRequested = true
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ReadActivityEvent:
            apply(machine.bytesReceived(), context: context)
        case is ChannelShouldQuiesceEvent:
            switch machine.quiesce() {
            case .closeNow: context.close(promise: nil)
            case .closeAfterResponse: break
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch machine.parseErrorCaught() {
        case .respondAndClose:
            let status: HTTPResponseStatus = parseError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            respondAndClose(context: context, status: status)
        case .close:
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            if head.status.code >= 200, machine.responseHeadSent() {
                head.headers.replaceOrAdd(name: "connection", value: "close")
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            } else {
                context.write(data, promise: promise)
            }
        case .body:
            context.write(data, promise: promise)
        case .end:
            switch machine.responseEndSent() {
            case .keepOpen(let timerAction):
                context.write(data, promise: promise)
                apply(timerAction, context: context)
            case .close:
                closeAfterWriting(data, context: context, promise: promise)
            }
        }
    }

    /// Timers are lazy: arming only moves a deadline, and one scheduled task re-arms itself when it fires
    /// early. A keep-alive request would otherwise schedule and cancel up to three timers on the hot path.
    private func apply(_ action: HTTP1ConnectionStateMachine.TimerAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            return
        case .cancel:
            deadline = nil
        case .arm(let kind):
            let delay = kind == .idle ? idleTimeout : headTimeout
            // The loop's clock, not the wall clock: test loops advance time by hand.
            let due = context.eventLoop.now + delay
            deadline = (kind, due)
            // Only a deadline earlier than the pending tick needs a new task; a later one is picked up when it fires.
            if timer == nil || due < scheduledAt {
                timer?.cancel()
                schedule(at: due, context: context)
            }
        }
    }

    private func schedule(at when: NIODeadline, context: ChannelHandlerContext) {
        scheduledAt = when
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: when) {
            let (handler, context) = loopBound.value
            handler.timerTick(context: context)
        }
    }

    private func timerTick(context: ChannelHandlerContext) {
        timer = nil
        guard let (kind, due) = deadline else { return }
        guard due <= context.eventLoop.now else {
            schedule(at: due, context: context)
            return
        }
        if kind == .body && !readRequested {
            // Held back by us: count the gap again from now.
            apply(.arm(.body), context: context)
            return
        }
        deadline = nil
        switch machine.timerFired(kind) {
        case .ignore:
            break
        case .close:
            context.close(promise: nil)
        case .respondRequestTimeoutAndClose:
            respondAndClose(context: context, status: .requestTimeout)
        }
    }

    private func respondAndClose(context: ChannelHandlerContext, status: HTTPResponseStatus) {
        var headers = HTTPHeaders()
        headers.add(name: "connection", value: "close")
        headers.add(name: "content-length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        closeAfterWriting(wrapOutboundOut(.end(nil)), context: context, promise: nil)
        context.flush()
    }

    /// Closing right after `write` would drop the unflushed bytes; close once they are on the wire.
    private func closeAfterWriting(_ data: NIOAny, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let written = context.eventLoop.makePromise(of: Void.self)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { result in
            promise?.completeWith(result)
            loopBound.value.close(promise: nil)
        }
        context.write(data, promise: written)
    }
}

@available(*, unavailable)
extension HTTP1ConnectionGuard: Sendable {}
