import HTTPServer
import Logging
import NIOCore
import NIOHTTP1
import ProxyCore
import Foundation
import Prometheus
import Synchronization

/// What every request handler shares: the routing state, the per-loop pools, the access log.
struct ProxyRuntime: Sendable {
    let state: ProxyState
    let pools: PoolDirectory
    let accessLog: AccessLog?
    let metrics: ProxyMetrics
    let logger: Logger
}

/// Proxies the requests of one client connection (HTTP/1.1) or one stream (HTTP/2) to upstream instances,
/// on the event loop: route, pick, connect or reuse, stream both ways with back-pressure, retry what may be
/// retried, answer what cannot be proxied. One request at a time; pipelined requests wait their turn.
final class HTTPProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamOwner {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Request bytes kept for a retry; a larger body is streamed without a copy and is not retried.
    static let replayLimit = 64 * 1024

    /// One request in flight. A class: the handler updates it from many callbacks, and copying a value this
    /// size in and out on each of them costs more than the request's own work.
    private final class Exchange {
        let head: HTTPRequestHead
        let upstreamHead: HTTPRequestHead
        let route: RouteRuntime
        let isIdempotent: Bool
        let isUpgrade: Bool
        let start: NIODeadline
        var tried: [Int] = []
        /// Parts received but not yet written to the current upstream connection (while it is being opened).
        var unsent: [HTTPServerRequestPart] = []
        var unsentBytes = 0
        /// Every body part so far, for a retry; nil once the body outgrew `replayLimit`.
        var replay: [HTTPServerRequestPart]? = []
        var replayBytes = 0
        var requestEnded = false
        var responseStarted = false
        var responseEnded = false
        var status = 0
        var bytesSent = 0
        var upstream: Upstream?
        var connection: UpstreamConnection?
        var connecting = false
        var attemptToken = 0
        var reuseUpstream = true
        var closeClientAfterResponse = false
        var timeout: Scheduled<Void>?
        /// What the last failed attempt would answer, if no other instance is left to try.
        var lastFailure: (status: HTTPResponseStatus, message: String)?
        /// A pooled connection the upstream had already closed was retried on a fresh one (once per request).
        var retriedStaleConnection = false
        /// The upstream head says how the body ends (length or chunked); a body part for a request whose head
        /// does not would reach the upstream unframed, as the start of another request. Decided once, with the
        /// head, not per body part.
        let bodyIsFramed: Bool

        init(head: HTTPRequestHead, upstreamHead: HTTPRequestHead, route: RouteRuntime, isIdempotent: Bool, isUpgrade: Bool, start: NIODeadline) {
            self.head = head
            self.upstreamHead = upstreamHead
            self.bodyIsFramed = upstreamHead.headers.contains(name: "content-length") || upstreamHead.headers.contains(name: "transfer-encoding")
            self.route = route
            self.isIdempotent = isIdempotent
            self.isUpgrade = isUpgrade
            self.start = start
        }
    }

    private let runtime: ProxyRuntime
    private let connection: ChannelHandlerServer.Connection
    private let client: ForwardingHeaders.Client
    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    /// A local answer (404, 503, 502) went out; the rest of the request body is read and dropped.
    private var discardingUntilEnd = false
    private var queued: [HTTPServerRequestPart] = []
    private var readPending = false
    private var switchingProtocols = false

    init(runtime: ProxyRuntime, connection: ChannelHandlerServer.Connection) {
        self.runtime = runtime
        self.connection = connection
        self.client = ForwardingHeaders.Client(remoteAddress: connection.remoteAddress, isTLS: connection.isTLS)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data), context: context)
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if discardingUntilEnd {
            if case .end = part { discardingUntilEnd = false }
            return
        }
        guard exchange != nil else {
            guard case .head(let head) = part else { return }
            begin(head, context: context)
            return
        }
        if exchange!.requestEnded {
            // A pipelined request: it waits until the current response is out.
            queued.append(part)
            return
        }
        forward(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.connection?.channel.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if shouldHoldClientReads {
            readPending = true
        } else {
            context.read()
        }
    }

    private var shouldHoldClientReads: Bool {
        if !queued.isEmpty { return true }
        guard let exchange else { return false }
        if exchange.connecting { return exchange.unsentBytes >= Self.replayLimit }
        if let channel = exchange.connection?.channel { return !channel.isWritable }
        return false
    }

    private func resumeClientReads() {
        guard readPending, !shouldHoldClientReads, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.connection?.handler.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange {
            // The client is gone: its upstream connection is mid-request and cannot be reused.
            exchange.reuseUpstream = false
            finish(logStatus: exchange.responseStarted ? exchange.status : 499)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        runtime.logger.debug("client connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: request

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let isUpgrade = !connection.isHTTP2 && ForwardingHeaders.isUpgradeRequest(head)
        guard head.method != .CONNECT else {
            // A reverse proxy has no tunnels; HTTP/1's parser stops after CONNECT, so the connection ends too.
            respondLocally(head, status: .methodNotAllowed, message: "CONNECT is not supported by this proxy", closeAfter: true, context: context)
            return
        }
        let snapshot = runtime.state.snapshot
        let host = head.headers.first(name: "host")
        let path = head.uri.utf8.first == UInt8(ascii: "/") ? Substring(head.uri) : Substring(Self.pathOfAbsoluteURI(head.uri))
        guard let spec = snapshot.table.match(host: host, path: path), let route = snapshot.routes[spec.name] else {
            runtime.metrics.noRoute.increment()
            respondLocally(head, status: .notFound, message: "no route for host \(host ?? "(none)") and path \(path)", closeAfter: isUpgrade, context: context)
            return
        }
        let pool = snapshot.pools[spec.service] ?? []
        guard !pool.isEmpty else {
            runtime.metrics.noInstance.increment()
            respondLocally(head, status: .serviceUnavailable, message: "service \(spec.service) has no instance", retryAfter: true, closeAfter: isUpgrade, context: context)
            return
        }
        exchange = Exchange(
            head: head,
            upstreamHead: ForwardingHeaders.upstreamRequestHead(head, client: client, upgrade: isUpgrade, isHTTP2: connection.isHTTP2),
            route: route,
            isIdempotent: ForwardingHeaders.isIdempotent(head.method),
            isUpgrade: isUpgrade,
            start: .now()
        )
        attempt()
    }

    private func forward(_ part: HTTPServerRequestPart) {
        guard let exchange else { return }
        if case .body(let buffer) = part, buffer.readableBytes > 0, !exchange.bodyIsFramed {
            exchange.reuseUpstream = false
            fail(status: .badRequest, message: "a request body needs Content-Length or chunked framing for a \(exchange.head.method) request")
            return
        }
        if case .end = part { exchange.requestEnded = true }
        if case .body(let buffer) = part {
            if exchange.replay != nil {
                exchange.replayBytes += buffer.readableBytes
                if exchange.replayBytes > Self.replayLimit {
                    exchange.replay = nil
                } else {
                    exchange.replay!.append(part)
                }
            }
        } else if exchange.replay != nil {
            exchange.replay!.append(part)
        }
        if exchange.connecting || exchange.connection == nil {
            if case .body(let buffer) = part { exchange.unsentBytes += buffer.readableBytes }
            exchange.unsent.append(part)
            return
        }
        if let channel = exchange.connection?.channel {
            channel.write(Self.clientPart(part), promise: nil)
        }
        if exchange.requestEnded {
            armResponseTimeout()
            if exchange.responseEnded { complete() }
        }
    }

    private func attempt() {
        guard let exchange, let context else { return }
        // The pool as it is now: a retry must see instances that joined since the request began.
        let instances = runtime.state.snapshot.pools[exchange.route.spec.service] ?? []
        guard let upstream = exchange.route.choose(from: instances, excluding: exchange.tried, now: ProxyClock.now()) else {
            let failure = exchange.lastFailure ?? (.badGateway, "no instance of service \(exchange.route.spec.service) could be reached")
            fail(status: failure.status, message: failure.message)
            return
        }
        exchange.tried.append(upstream.id)
        exchange.upstream = upstream
        exchange.connecting = true
        exchange.attemptToken += 1
        exchange.reuseUpstream = true
        let token = exchange.attemptToken
        upstream.activeRequests.add(1, ordering: .relaxed)
        upstream.metrics.active.increment()

        let spec = exchange.route.spec
        let pool = runtime.pools.pool(for: context.eventLoop)
        if let idle = pool.takeIdle(upstream, idleTimeout: TimeAmount(spec.idleTimeout)) {
            connected(idle)
            return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        pool.connect(upstream, timeout: TimeAmount(spec.connectTimeout)).whenComplete { result in
            let handler = loopBound.value
            guard handler.exchange?.attemptToken == token, handler.exchange?.upstream === upstream else {
                // The request ended (client gone) while connecting: keep the connection for someone else.
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection): handler.connected(connection)
            case .failure(let error): handler.attemptFailed(error, connectFailure: true)
            }
        }
    }

    private func connected(_ upstreamConnection: UpstreamConnection) {
        guard let exchange else { return }
        exchange.connecting = false
        exchange.connection = upstreamConnection
        upstreamConnection.handler.owner = self
        var head = exchange.upstreamHead
        if !head.headers.contains(name: "host") {
            head.headers.add(name: "host", value: upstreamConnection.upstream.label)
        }
        let unsent = exchange.unsent
        exchange.unsent = []
        exchange.unsentBytes = 0
        let channel = upstreamConnection.channel
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        for part in unsent {
            channel.write(Self.clientPart(part), promise: nil)
        }
        channel.flush()
        if exchange.requestEnded { armResponseTimeout() }
        resumeClientReads()
    }

    private func armResponseTimeout() {
        guard let exchange, exchange.timeout == nil, !exchange.responseStarted, let context else { return }
        let token = exchange.attemptToken
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        exchange.timeout = context.eventLoop.scheduleTask(in: TimeAmount(exchange.route.spec.responseHeaderTimeout)) {
            let handler = loopBound.value
            guard let current = handler.exchange, current.attemptToken == token, !current.responseStarted else { return }
            handler.attemptFailed(ProxyTimeout(), connectFailure: false)
        }
    }

    /// An attempt failed before any response byte: count it against the instance, then retry or answer.
    private func attemptFailed(_ error: any Error, connectFailure: Bool) {
        guard let exchange, let upstream = exchange.upstream else { return }
        exchange.timeout?.cancel()
        exchange.timeout = nil
        if let connection = exchange.connection {
            connection.handler.owner = nil
            connection.channel.close(promise: nil)
        }
        exchange.connection = nil
        exchange.connecting = false
        upstream.activeRequests.subtract(1, ordering: .relaxed)
        upstream.metrics.active.decrement()
        upstream.metrics.failures.increment()
        if upstream.recordFailure(now: ProxyClock.now()) {
            runtime.logger.warning("instance ejected after repeated failures", metadata: ["service": "\(upstream.service)", "instance": "\(upstream.instance)"])
        }
        exchange.upstream = nil
        exchange.lastFailure = error is ProxyTimeout
            ? (.gatewayTimeout, "upstream \(upstream.label) did not answer within \(ProxyDuration.format(exchange.route.spec.responseHeaderTimeout))")
            : (.badGateway, "upstream \(upstream.label) failed: \(error)")
        let attemptsLeft = exchange.tried.count <= exchange.route.spec.retries
        // Nothing reached the upstream when the connect failed, so any request may go elsewhere; otherwise
        // only an idempotent one whose body is still complete in memory.
        let replayable = connectFailure || (exchange.isIdempotent && exchange.replay != nil)
        runtime.logger.debug("upstream attempt failed", metadata: ["instance": "\(upstream.label)", "error": "\(error)", "retry": "\(attemptsLeft && replayable)"])
        if attemptsLeft && replayable {
            if !connectFailure, let replay = exchange.replay {
                exchange.unsent = replay
                exchange.unsentBytes = exchange.replayBytes
            }
            upstream.metrics.retries.increment()
            attempt()
            return
        }
        fail(status: exchange.lastFailure!.status, message: exchange.lastFailure!.message)
    }

    // MARK: upstream side

    var isUpstreamReadPaused: Bool { !(context?.channel.isWritable ?? true) }

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard let exchange, let context else { return }
        switch part {
        case .head(let head) where head.status.code < 200 && head.status != .switchingProtocols:
            // An interim answer (100 Continue, 103 Early Hints) goes to the client at once; the final one follows.
            context.writeAndFlush(wrapOutboundOut(.head(ForwardingHeaders.clientResponseHead(head))), promise: nil)
        case .head(let head):
            exchange.timeout?.cancel()
            exchange.timeout = nil
            exchange.responseStarted = true
            exchange.status = Int(head.status.code)
            if head.status == .switchingProtocols, exchange.isUpgrade {
                // The bytes behind the 101 belong to the new protocol; the splice waits for the response's
                // end so that no HTTP part is left in flight when the codecs come out.
                switchingProtocols = true
                context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
                return
            }
            if !head.isKeepAlive { exchange.reuseUpstream = false }
            var clientHead = ForwardingHeaders.clientResponseHead(head)
            // Framing follows the client's version: an HTTP/1.1 client gets a chunked body where the upstream gave
            // no length, an HTTP/1.0 client (which cannot read chunks) a body that ends when the connection does.
            clientHead.version = exchange.head.version
            if exchange.head.version == .http1_0, !clientHead.headers.contains(name: "content-length") {
                exchange.closeClientAfterResponse = true
            }
            if exchange.isUpgrade {
                // The upgrade was refused; the client's parser stopped at the upgrade request, so this is the last response.
                exchange.closeClientAfterResponse = true
                clientHead.headers.replaceOrAdd(name: "connection", value: "close")
            }
            context.write(wrapOutboundOut(.head(clientHead)), promise: nil)
        case .body(let buffer):
            exchange.bytesSent += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            if switchingProtocols, let connection = exchange.connection {
                switchProtocols(upstreamConnection: connection, context: context)
                return
            }
            exchange.responseEnded = true
            exchange.upstream?.recordSuccess(now: ProxyClock.now())
            if !exchange.requestEnded {
                // The upstream answered before reading the whole body; the rest goes nowhere.
                exchange.reuseUpstream = false
                discardingUntilEnd = true
            }
            // The upstream connection goes back before the end is written: on HTTP/2 writing the end can
            // close the stream at once, and a closing stream must not take a healthy connection with it.
            releaseUpstream()
            if exchange.closeClientAfterResponse {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(trailers))).whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            }
            complete()
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamClosed(_ error: (any Error)?) {
        guard let exchange, exchange.connection != nil else { return }
        if !exchange.responseStarted {
            if let connection = exchange.connection, connection.reused, !exchange.retriedStaleConnection,
                exchange.isIdempotent, exchange.replay != nil, let upstream = exchange.upstream
            {
                // The upstream closed a pooled connection just as it was reused (its keep-alive timeout raced
                // ours): not the instance's fault. Once, try again on a fresh connection, uncounted.
                exchange.retriedStaleConnection = true
                exchange.timeout?.cancel()
                exchange.timeout = nil
                connection.handler.owner = nil
                exchange.connection = nil
                upstream.activeRequests.subtract(1, ordering: .relaxed)
                upstream.metrics.active.decrement()
                exchange.upstream = nil
                exchange.tried.removeAll { $0 == upstream.id }
                if let replay = exchange.replay {
                    exchange.unsent = replay
                    exchange.unsentBytes = exchange.replayBytes
                }
                attempt()
                return
            }
            attemptFailed(error ?? UpstreamClosedEarly(), connectFailure: false)
        } else if !exchange.responseEnded {
            // Cut mid-response: the client must see a broken response, not a short one that looks whole.
            exchange.upstream?.recordFailure(now: ProxyClock.now())
            self.exchange?.connection = nil
            finish(logStatus: exchange.status)
            context?.close(promise: nil)
        }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeClientReads() }
    }

    func upstreamRetired(_ event: UpstreamRetired) {
        guard let exchange else { return }
        exchange.reuseUpstream = false
        // An expired instance is presumed dead: a request still waiting for its answer goes elsewhere if it may.
        if event.phase == .ejected, !exchange.responseStarted, exchange.requestEnded,
            exchange.isIdempotent, exchange.replay != nil, exchange.tried.count <= exchange.route.spec.retries
        {
            attemptFailed(UpstreamClosedEarly(), connectFailure: false)
        }
    }

    // MARK: endings

    private func switchProtocols(upstreamConnection: UpstreamConnection, context: ChannelHandlerContext) {
        logAccess(status: 101)
        if let upstream = exchange?.upstream {
            upstream.activeRequests.subtract(1, ordering: .relaxed)
            upstream.metrics.active.decrement()
            upstream.metrics.countResponse(status: 101)
        }
        exchange?.timeout?.cancel()
        exchange = nil
        upstreamConnection.handler.owner = nil
        do {
            try GlueHandler.splice(
                client: context.channel, clientHandler: self,
                upstream: upstreamConnection.channel, upstreamHandlers: UpstreamConnectionPool.upstreamHandlerNames
            )
        } catch {
            runtime.logger.warning("switching protocols failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            upstreamConnection.channel.close(promise: nil)
        }
    }

    /// The request and its response are both complete: give the connection back and take the next request.
    private func complete() {
        guard let exchange, let context else { return }
        releaseUpstream()
        finish(logStatus: exchange.status)
        takeNextRequest(context: context)
    }

    /// Starts the pipelined request that waited for this one, if any, and reads on.
    private func takeNextRequest(context: ChannelHandlerContext) {
        let next = queued
        queued = []
        for part in next {
            receive(part, context: context)
        }
        // Parts written to the upstream here come from no client read, so no read-complete will flush them.
        exchange?.connection?.channel.flush()
        resumeClientReads()
    }

    /// Hands the upstream connection back to the pool, or closes it when it cannot carry another request.
    private func releaseUpstream() {
        guard let exchange, let connection = exchange.connection, let context else { return }
        connection.handler.owner = nil
        if exchange.reuseUpstream {
            runtime.pools.pool(for: context.eventLoop).release(connection)
        } else {
            connection.channel.close(promise: nil)
        }
        self.exchange?.connection = nil
    }

    /// Bookkeeping every request ends with, however it ended.
    private func finish(logStatus: Int) {
        guard let exchange else { return }
        exchange.timeout?.cancel()
        if let connection = exchange.connection {
            connection.handler.owner = nil
            connection.channel.close(promise: nil)
        }
        if let upstream = exchange.upstream {
            upstream.activeRequests.subtract(1, ordering: .relaxed)
            upstream.metrics.active.decrement()
            upstream.metrics.countResponse(status: logStatus)
        }
        exchange.upstream = nil
        logAccess(status: logStatus)
        self.exchange = nil
    }

    /// Ends the current attempt's claim on its instance (a local answer replaces its response).
    private func finishCounters() {
        guard let exchange else { return }
        exchange.timeout?.cancel()
        exchange.timeout = nil
        guard let upstream = exchange.upstream else { return }
        upstream.activeRequests.subtract(1, ordering: .relaxed)
        upstream.metrics.active.decrement()
        exchange.upstream = nil
    }

    private func fail(status: HTTPResponseStatus, message: String) {
        guard let exchange, let context else { return }
        runtime.metrics.upstreamErrors.increment()
        // Whatever was under way with the upstream stops here; its connection cannot carry another request.
        exchange.reuseUpstream = false
        releaseUpstream()
        finishCounters()
        let head = exchange.head
        let requestEnded = exchange.requestEnded
        self.exchange = nil
        writeLocal(head, status: status, message: message, retryAfter: false, closeAfter: exchange.isUpgrade, context: context)
        discardingUntilEnd = !requestEnded
        if requestEnded {
            takeNextRequest(context: context)
        } else {
            resumeClientReads()
        }
    }

    private func respondLocally(
        _ head: HTTPRequestHead, status: HTTPResponseStatus, message: String, retryAfter: Bool = false, closeAfter: Bool = false, context: ChannelHandlerContext
    ) {
        writeLocal(head, status: status, message: message, retryAfter: retryAfter, closeAfter: closeAfter, context: context)
        discardingUntilEnd = true
    }

    private func writeLocal(
        _ request: HTTPRequestHead, status: HTTPResponseStatus, message: String, retryAfter: Bool, closeAfter: Bool, context: ChannelHandlerContext
    ) {
        var body = context.channel.allocator.buffer(capacity: message.utf8.count + 1)
        body.writeString(message + "\n")
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.readableBytes))
        if retryAfter { headers.add(name: "retry-after", value: "1") }
        if closeAfter { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if closeAfter {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        runtime.accessLog?.record(
            client: client.address ?? "-", method: request.method.rawValue, uri: request.uri,
            version: connection.isHTTP2 ? "HTTP/2.0" : "HTTP/\(request.version.major).\(request.version.minor)",
            status: Int(status.code), bytes: request.method == .HEAD ? 0 : body.readableBytes
        )
    }

    private func logAccess(status: Int) {
        guard let accessLog = runtime.accessLog, let exchange else { return }
        let head = exchange.head
        accessLog.record(
            client: client.address ?? "-", method: head.method.rawValue, uri: head.uri,
            version: connection.isHTTP2 ? "HTTP/2.0" : "HTTP/\(head.version.major).\(head.version.minor)",
            status: status, bytes: exchange.bytesSent
        )
    }

    private static func clientPart(_ part: HTTPServerRequestPart) -> HTTPClientRequestPart {
        switch part {
        case .head(let head): .head(head)
        case .body(let buffer): .body(.byteBuffer(buffer))
        case .end(let trailers): .end(trailers)
        }
    }

    /// `http://host/path?q` as a proxy request target: the path part, `/` when there is none.
    private static func pathOfAbsoluteURI(_ uri: String) -> String {
        guard let schemeEnd = uri.range(of: "://") else { return "/" }
        let rest = uri[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return String(rest[slash...])
    }
}

@available(*, unavailable)
extension HTTPProxyHandler: Sendable {}

struct ProxyTimeout: Error, CustomStringConvertible {
    var description: String { "response header timeout" }
}

struct UpstreamClosedEarly: Error, CustomStringConvertible {
    var description: String { "upstream closed the connection before answering" }
}
