import NIOCore
import NIOPosix

/// What a raw connection has received so far.
public struct ReceivedBytes: Sendable {
    public var bytes: [UInt8] = []
    public var closed = false

    public init() {}

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A plain TCP client for speaking exact bytes to a server: garbage, slow heads, abrupt disconnects.
public final class RawClient: Sendable {
    public let received: Observed<ReceivedBytes>
    private let channel: any Channel

    private init(channel: any Channel, received: Observed<ReceivedBytes>) {
        self.channel = channel
        self.received = received
    }

    public static func connect(host: String = "127.0.0.1", port: Int) async throws -> RawClient {
        let received = Observed(ReceivedBytes())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(received: received))
                }
            }
            .connect(host: host, port: port)
            .get()
        channel.closeFuture.whenComplete { _ in received.update { $0.closed = true } }
        return RawClient(channel: channel, received: received)
    }

    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Closes the socket from this side.
    public func close() async {
        try? await channel.close()
    }

    /// Waits until what was received contains `needle`; returns everything received so far.
    @discardableResult
    public func waitForText(containing needle: String, timeout: Duration = .seconds(10)) async throws -> String {
        try await received.wait(for: "response containing \(needle.debugDescription)", timeout: timeout) {
            $0.text.contains(needle)
        }.text
    }

    /// Waits until the server closes the connection; returns everything received.
    @discardableResult
    public func waitForClose(timeout: Duration = .seconds(10)) async throws -> String {
        try await received.wait(for: "the server to close the connection", timeout: timeout) { $0.closed }.text
    }

    /// Runs `body` with a connected client and closes it afterwards, also when `body` throws.
    public static func with<T>(port: Int, _ body: (RawClient) async throws -> T) async throws -> T {
        let client = try await connect(port: port)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let received: Observed<ReceivedBytes>

    init(received: Observed<ReceivedBytes>) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received.update { $0.bytes.append(contentsOf: buffer.readableBytesView) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        received.update { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset by the server ends the connection like a close.
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension Collector: Sendable {}
