import NIOCore
import NIOEmbedded
import TestSupport
import Testing

@testable import HTTPServer

/// One accepted connection on a `NIOAsyncTestingChannel`, configured exactly as `Server` configures real
/// sockets (`Server.configureConnection`), optionally served by the real `RequestLoop`. The test plays the
/// client: it writes bytes, advances the fake clock, and reads every byte the server wrote.
final class ConnectionHarness: Sendable {
    enum Negotiated: Equatable, Sendable {
        case pending, http1, http2, failed
    }

    let channel: NIOAsyncTestingChannel
    let limits: ServerConfiguration.Limits
    /// Everything the server wrote to the socket, and whether it closed it.
    let written: Observed<ReceivedBytes>
    let negotiated = Observed(Negotiated.pending)
    fileprivate let negotiation: EventLoopFuture<NegotiatedConnection>

    private init(
        channel: NIOAsyncTestingChannel,
        limits: ServerConfiguration.Limits,
        written: Observed<ReceivedBytes>,
        negotiation: EventLoopFuture<NegotiatedConnection>
    ) {
        self.channel = channel
        self.written = written
        self.limits = limits
        self.negotiation = negotiation
    }

    static func make(limits: ServerConfiguration.Limits) async throws -> ConnectionHarness {
        let channel = NIOAsyncTestingChannel()
        let written = Observed(ReceivedBytes())
        try await channel.pipeline.addHandler(WireRecorder(written: written)).get()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 50_000)).get()
        let negotiation = try await channel.testingEventLoop.executeInContext {
            try Server.configureConnection(channel, sslContext: nil, limits: limits, drainTimeout: .seconds(5))
        }
        let harness = ConnectionHarness(channel: channel, limits: limits, written: written, negotiation: negotiation)
        channel.closeFuture.whenComplete { _ in written.update { $0.closed = true } }
        negotiation.whenComplete { result in
            switch result {
            case .success(.http1): harness.negotiated.set(.http1)
            case .success(.http2): harness.negotiated.set(.http2)
            case .failure: harness.negotiated.set(.failed)
            }
        }
        return harness
    }

    /// Sends bytes as one read, then asks for the next read as a socket channel with auto-read does (the
    /// server's handlers decide whether that request reaches the socket).
    func send(_ text: String) async throws {
        try await send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeInbound(ByteBuffer(bytes: bytes))
        channel.pipeline.read()
    }

    var text: String { written.value.text }
    var isClosed: Bool { written.value.closed }

    /// Waits until `condition` holds for what the server wrote; a timeout reports what it did write.
    func waitForWritten(_ what: String, until condition: @escaping @Sendable (ReceivedBytes) -> Bool) async throws -> String {
        do {
            return try await written.wait(for: what, until: condition).text
        } catch let timeout as TimeoutError {
            let current = written.value
            throw TimeoutError(
                waitingFor: "\(timeout.waitingFor); closed: \(current.closed), written: \(current.text.debugDescription)",
                timeout: timeout.timeout
            )
        }
    }

    /// Waits until the server has written `needle`; returns everything written so far.
    @discardableResult
    func waitForText(containing needle: String) async throws -> String {
        try await waitForWritten("the server to write \(needle.debugDescription)") { $0.text.contains(needle) }
    }

    /// Waits until the server has written `count` responses (counted by status lines) and `tail`.
    @discardableResult
    func waitForResponses(_ count: Int, endingWith tail: String) async throws -> String {
        try await waitForWritten("\(count) responses ending with \(tail.debugDescription)") {
            $0.text.occurrences(of: "HTTP/1.1 ") >= count && $0.text.hasSuffix(tail)
        }
    }

    @discardableResult
    func waitForClose() async throws -> String {
        try await waitForWritten("the server to close the connection") { $0.closed }
    }

    func advanceTime(by amount: Duration) async {
        await channel.testingEventLoop.advanceTime(by: TimeAmount(amount))
    }

    /// Runs `body` against a fresh connection. With a responder, the connection is served by the real
    /// request loop once negotiated (HTTP/1 only; HTTP/2 negotiation is checked on the wire).
    static func with(
        limits: ServerConfiguration.Limits = .testing(),
        responder: Responder? = nil,
        _ body: (ConnectionHarness) async throws -> Void
    ) async throws {
        let harness = try await make(limits: limits)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                guard let responder, case .http1(let connection)? = try? await harness.negotiation.get() else { return }
                let loop = RequestLoop(responder: responder, maxBodyBytes: limits.maxBodyBytes, logger: quietLogger())
                await loop.serve(connection, isHTTP2: false)
            }
            do {
                try await body(harness)
            } catch {
                try? await harness.channel.close()
                throw error
            }
            if harness.channel.isActive { try? await harness.channel.close() }
            try await group.waitForAll()
        }
        _ = try await harness.channel.finish(acceptAlreadyClosed: true)
    }
}

/// The first handler of the pipeline: records every byte headed for the socket.
private final class WireRecorder: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = IOData

    let written: Observed<ReceivedBytes>

    init(written: Observed<ReceivedBytes>) {
        self.written = written
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .byteBuffer(let buffer) = unwrapOutboundIn(data) {
            written.update { $0.bytes.append(contentsOf: buffer.readableBytesView) }
        }
        context.write(data, promise: promise)
    }
}

extension String {
    func occurrences(of needle: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
