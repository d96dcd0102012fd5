import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The body parts of the request being served, pulled from the connection's (or stream's) inbound parts.
///
/// `@unchecked Sendable`: the iterator is touched only by the task serving this connection. A handler reads
/// the body inline, inside `serve`, before the loop takes the iterator back; nothing reads concurrently.
final class RequestBodyStream: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>
    private let limit: Int
    private var received = 0
    private var continuePending: Bool
    private(set) var finished = false
    /// Set when the client sent `Expect: 100-continue` and no one ever asked for the body.
    var continueNeverSent: Bool { continuePending }

    init(
        iterator: NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>,
        limit: Int,
        expectsContinue: Bool
    ) {
        self.iterator = iterator
        self.outbound = outbound
        self.limit = limit
        self.continuePending = expectsContinue
    }

    func next() async throws -> ByteBuffer? {
        guard !finished else { return nil }
        if continuePending {
            // Like Go's net/http: only tell the client to send its body once a handler wants it.
            continuePending = false
            try await outbound.write(.head(HTTPResponse(status: .continue)))
        }
        while let part = try await iterator.next() {
            switch part {
            case .body(let buffer):
                received += buffer.readableBytes
                guard received <= limit else {
                    throw HTTPError(.contentTooLarge, message: "request body exceeds \(limit) bytes")
                }
                return buffer
            case .end:
                finished = true
                return nil
            case .head:
                throw HTTPError(.badRequest, message: "request head inside a body")
            }
        }
        finished = true
        throw RequestBodyError.connectionClosed
    }

    /// Reads and discards what the handler left unread, so the connection can carry the next request.
    /// False when that would mean reading past the body limit, or the client never got its 100-continue:
    /// the connection must then close instead.
    func drain() async -> Bool {
        guard !finished else { return true }
        guard !continuePending else { return false }
        do {
            while try await next() != nil {}
            return true
        } catch {
            return false
        }
    }

    func takeIterator() -> NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator { iterator }

    static func stream(_ stream: RequestBodyStream) -> RequestBody { RequestBody(source: .stream(stream)) }
}

enum RequestBodyError: Error {
    case connectionClosed
}
