@testable import HTTPServer
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The guard on an embedded channel with a hand-driven clock: how the body timer tells a slow client from a
/// handler that holds reads back on purpose.
@Suite("HTTP1ConnectionGuard")
struct HTTP1ConnectionGuardTests {
    static let headTimeout = TimeAmount.seconds(10)

    /// A channel whose request head arrived and whose body is under way (Content-Length: 10, nothing sent yet).
    static func channelInBody() throws -> (EmbeddedChannel, EmbeddedEventLoop) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(HTTP1ConnectionGuard(idleTimeout: .seconds(75), headTimeout: headTimeout))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        channel.pipeline.fireUserInboundEventTriggered(ReadActivityEvent())
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "10")
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/upload", headers: headers)))
        _ = try channel.readInbound(as: HTTPServerRequestPart.self)
        channel.pipeline.fireChannelReadComplete()
        return (channel, loop)
    }

    @Test("a body that stops while the handler holds reads back is not a slow client")
    func heldReadsDoNotTimeOut() throws {
        let (channel, loop) = try Self.channelInBody()
        // Nobody asked for more bytes: three head timeouts pass without a 408.
        loop.advanceTime(by: Self.headTimeout * 3)
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
        #expect(channel.isActive)
        // Once the handler asks again, a client that then sends nothing is cut off as before.
        channel.read()
        loop.advanceTime(by: Self.headTimeout + .seconds(1))
        #expect(!channel.isActive)
    }

    @Test("a client that stops sending its body while reads are requested is cut off")
    func slowClientTimesOut() throws {
        let (channel, loop) = try Self.channelInBody()
        channel.read()
        loop.advanceTime(by: Self.headTimeout - .seconds(1))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }
}
