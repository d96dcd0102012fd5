import HTTPTypes
import Logging
import NIOCore
import NIOHTTP2
import NIOHTTPTypes
import NIOHTTPTypesHTTP2
import Synchronization

/// The one request loop behind HTTP/1.1 connections and HTTP/2 streams: both arrive as an async channel of
/// `HTTPRequestPart`s, so routing, limits, error rendering and streaming are written once.
struct RequestLoop: Sendable {
    let responder: Responder
    let maxBodyBytes: Int
    /// Enforced here for HTTP/2, whose HPACK decoder is given headroom above it (see `Server.configureHTTP2`);
    /// the HTTP/1 decoder already enforces it while parsing.
    let maxHeaderBytes: Int
    let logger: Logger

    init(responder: Responder, maxBodyBytes: Int, maxHeaderBytes: Int = .max, logger: Logger) {
        self.responder = responder
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.logger = logger
    }

    /// Serves requests until the client is done, the connection must close, or the task is cancelled.
    func serve(_ channel: HTTPStreamChannel, isHTTP2: Bool) async {
        let remoteAddress = channel.channel.remoteAddress
        let allocator = channel.channel.allocator
        do {
            let closeWatcher = ChannelCloseWatcher(channel.channel)
            try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                while let part = try await iterator.next() {
                    guard case .head(let head) = part else {
                        throw HTTPError(.badRequest, message: "request body without a head")
                    }
                    let body = RequestBodyStream(
                        iterator: iterator,
                        outbound: outbound,
                        limit: maxBodyBytes,
                        expectsContinue: head.headerFields[.expect]?.lowercased() == "100-continue"
                    )
                    let keepOpen = try await exchange(
                        head, body: body, outbound: outbound, closeWatcher: closeWatcher,
                        connection: (remoteAddress, allocator, isHTTP2)
                    )
                    iterator = body.takeIterator()
                    guard keepOpen else {
                        if isHTTP2, !body.finished { await Self.stopRequestBody(on: channel.channel) }
                        return
                    }
                }
            }
        } catch {
            logger.trace("connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// One request and its response. Returns false when the connection cannot carry another request.
    private func exchange(
        _ head: HTTPRequest,
        body: RequestBodyStream,
        outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>,
        closeWatcher: ChannelCloseWatcher,
        connection: (remote: SocketAddress?, allocator: ByteBufferAllocator, isHTTP2: Bool)
    ) async throws -> Bool {
        let start = ContinuousClock.now
        let requestID = RequestIDGenerator.next()
        var response: Response
        if var rejection = Self.rejectBeforeReading(head, maxBodyBytes: maxBodyBytes, maxHeaderBytes: maxHeaderBytes) {
            // The unread body would have to be swallowed to reuse the connection; closing is cheaper.
            // HTTP/2 forbids connection-specific fields (the write would fail); ending the stream suffices.
            if !connection.isHTTP2 { rejection.headerFields[.connection] = "close" }
            _ = try await write(rejection.response(allocator: connection.allocator), for: head, outbound: outbound, closeWatcher: closeWatcher)
            return false
        } else {
            let request = Request(head: head, body: RequestBodyStream.stream(body))
            do {
                response = try await responder.respond(to: request) { template, parameters in
                    RequestContext(
                        requestID: requestID, routeTemplate: template, parameters: parameters,
                        remoteAddress: connection.remote, allocator: connection.allocator,
                        isHTTP2: connection.isHTTP2, logger: logger
                    )
                }
            } catch let error as any HTTPResponseError {
                response = error.response(allocator: connection.allocator)
            } catch is CancellationError {
                return false
            } catch {
                logger.debug("handler failed", metadata: ["http.request.id": "\(requestID)", "error": "\(error)"])
                response = HTTPError(.internalServerError).response(allocator: connection.allocator)
            }
        }

        let completed = try await write(response, for: head, outbound: outbound, closeWatcher: closeWatcher)
        logger.debug(
            "request",
            metadata: [
                "http.request.id": "\(requestID)", "http.method": "\(head.method)", "http.path": "\(head.path ?? "")",
                "http.status": "\(response.status.code)", "duration": "\(ContinuousClock.now - start)",
            ]
        )
        guard completed else { return false }
        return await body.drain()
    }

    /// RFC 9113 §8.1: after a complete response, ask the client to stop sending the rest of the request body
    /// with RST_STREAM(NO_ERROR). Merely closing the stream resets it with CANCEL, which tells the client to
    /// discard the response it has just received (curl does).
    private static func stopRequestBody(on stream: any Channel) async {
        try? await stream.eventLoop.submit {
            let codec = try stream.pipeline.syncOperations.context(handlerType: HTTP2FramePayloadToHTTPServerCodec.self)
            codec.writeAndFlush(NIOAny(HTTP2Frame.FramePayload.rstStream(.noError)), promise: nil)
        }.get()
    }

    /// Answers that need no handler: a declared body over the limit, or an expectation we cannot meet.
    static func rejectBeforeReading(_ head: HTTPRequest, maxBodyBytes: Int, maxHeaderBytes: Int = .max) -> HTTPError? {
        if maxHeaderBytes != .max {
            let headerBytes = head.headerFields.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count }
            if headerBytes > maxHeaderBytes {
                return HTTPError(.requestHeaderFieldsTooLarge, message: "request headers exceed \(maxHeaderBytes) bytes")
            }
        }
        if let expect = head.headerFields[.expect], expect.lowercased() != "100-continue" {
            return HTTPError(.expectationFailed, message: "unsupported expectation \(expect)")
        }
        if let length = head.headerFields[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            return HTTPError(.contentTooLarge, message: "request body exceeds \(maxBodyBytes) bytes")
        }
        return nil
    }

    /// Writes the response; false when the client went away or the body producer failed mid-stream.
    private func write(
        _ response: Response,
        for request: HTTPRequest,
        outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>,
        closeWatcher: ChannelCloseWatcher
    ) async throws -> Bool {
        var head = HTTPResponse(status: response.status, headerFields: response.headerFields)
        switch response.body.storage {
        case .buffer(let buffer):
            head.headerFields[.contentLength] = String(buffer.readableBytes)
            if request.method == .head || buffer.readableBytes == 0 {
                try await outbound.write(contentsOf: [.head(head), .end(nil)])
            } else {
                try await outbound.write(contentsOf: [.head(head), .body(buffer), .end(nil)])
            }
            return true
        case .stream(let produce):
            try await outbound.write(.head(head))
            if request.method == .head {
                try await outbound.write(.end(nil))
                return true
            }
            let writer = ResponseBodyWriter { buffer in try await outbound.write(.body(buffer)) }
            let finished = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    do {
                        try await produce(writer)
                        return true
                    } catch {
                        logger.debug("response stream ended early", metadata: ["error": "\(error)"])
                        return false
                    }
                }
                // Long-polls may wait for hours: the producer must learn at once that nobody is listening.
                group.addTask {
                    await closeWatcher.waitForClose()
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            guard finished else { return false }
            try await outbound.write(.end(nil))
            return true
        }
    }
}

/// Request ids unique within the process and unlikely to collide across processes: a random prefix
/// chosen at start plus a counter.
enum RequestIDGenerator {
    private static let prefix = String(UInt32.random(in: .min ... .max), radix: 16)
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        return prefix + "-" + String(value, radix: 16)
    }
}
