import HTTPServer
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import TestSupport

/// A real HTTP/1.1 backend on 127.0.0.1 port 0, built on the shared server module, that says who it is.
///
/// - any path: `200`, body `<name>\n`, header `x-backend: <name>`
/// - `/headers`: the request's headers, one `name: value` per line
/// - `POST /echo`: the body streamed back as it arrives (chunked)
/// - `/slow?ms=N`: answers after N ms (with `&only=<name>`, only that backend is slow)
/// - `/reset`: closes the connection without answering
/// - `/health`: 200 while `healthy`, else 503
/// - `Upgrade: echo`: `101`, then every byte is echoed (`Upgrade: greet`: the same, after a greeting line)
/// - `Expect: 100-continue`: a `100 Continue` before reading the body
final class TestBackend: Sendable {
    let name: String
    let port: Int
    let hits = Observed(0)
    let healthy = Mutex(true)
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(name: String, port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.name = name
        self.port = port
        self.task = task
        self.group = group
    }

    static func start(name: String, port: Int = 0) async throws -> TestBackend {
        let bound = Observed<Int?>(nil)
        let box = Mutex<TestBackend?>(nil)
        let server = ChannelHandlerServer(
            configuration: ServerConfiguration(host: "127.0.0.1", port: port, shutdownDrainTimeout: .seconds(1)),
            logger: quietLogger()
        ) { _, _ in
            BackendHandler(name: name, backend: { box.withLock { $0 } })
        } onListening: { address in
            bound.set(address.port)
        }
        let group = ServiceGroup(services: [server], logger: quietLogger())
        let task = Task { try await group.run() }
        let port = try await bound.wait(for: "backend \(name) to listen", timeout: .seconds(10)) { $0 != nil }!
        let backend = TestBackend(name: name, port: port, task: task, group: group)
        box.withLock { $0 = backend }
        return backend
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Stops as a real server does on SIGTERM: no new connections, idle ones closed, busy ones after their response.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}

private final class BackendHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let name: String
    private let backend: @Sendable () -> TestBackend?
    private var echoing = false
    private var head: HTTPRequestHead?

    init(name: String, backend: @escaping @Sendable () -> TestBackend?) {
        self.name = name
        self.backend = backend
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            backend()?.hits.update { $0 += 1 }
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
            }
            if head.uri == "/echo" {
                echoing = true
                var headers = HTTPHeaders()
                headers.add(name: "x-backend", value: name)
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            }
        case .body(let buffer):
            if echoing { context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        case .end:
            guard let head else { return }
            self.head = nil
            if head.headers.first(name: "upgrade") == "echo" || head.headers.first(name: "upgrade") == "greet" {
                // After the request's end: nothing of HTTP may reach the echo once it is in place.
                upgrade(context: context, greeting: head.headers.first(name: "upgrade") == "greet" ? "greetings\n" : nil)
                return
            }
            if echoing {
                echoing = false
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch path {
        case "/reset":
            context.close(promise: nil)
        case "/slow":
            var query: [String: String] = [:]
            for pair in head.uri.split(separator: "?").dropFirst().first?.split(separator: "&") ?? [] {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { query[parts[0]] = parts[1] }
            }
            let ms = query["only"].map { $0 == name } == false ? 0 : Int(query["ms"] ?? "") ?? 100
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
                let (handler, context) = loopBound.value
                handler.respond(status: .ok, body: "\(handler.name)\n", context: context)
            }
        case "/headers":
            let lines = head.headers.map { "\($0.name.lowercased()): \($0.value)" }.joined(separator: "\n")
            respond(status: .ok, body: lines + "\n", context: context)
        case "/health":
            let healthy = backend()?.healthy.withLock { $0 } ?? true
            respond(status: healthy ? .ok : .serviceUnavailable, body: healthy ? "ok\n" : "sick\n", context: context)
        default:
            respond(status: .ok, body: "\(name)\n", context: context)
        }
    }

    private func respond(status: HTTPResponseStatus, body: String, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "x-backend", value: name)
        headers.add(name: "content-length", value: String(body.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func upgrade(context: ChannelHandlerContext, greeting: String? = nil) {
        var headers = HTTPHeaders()
        headers.add(name: "connection", value: "upgrade")
        headers.add(name: "upgrade", value: greeting == nil ? "echo" : "greet")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
        let pipeline = context.pipeline.syncOperations
        do {
            try pipeline.addHandler(RawEcho())
            pipeline.removeHandler(self, promise: nil)
            let channel = context.channel
            try ChannelHandlerServer.removeHTTP1Handlers(from: channel) {
                // Bytes of the new protocol in the same segment as the 101, as a WebSocket server's greeting is.
                if let greeting { channel.writeAndFlush(ByteBuffer(string: greeting), promise: nil) }
            }
        } catch {
            context.close(promise: nil)
        }
    }
}

/// Echoes raw bytes: the upgraded protocol of `TestBackend`, and the TCP test server.
final class RawEcho: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// A TCP echo server on 127.0.0.1 port 0 that greets each connection with its name.
struct TCPEchoServer: Sendable {
    let name: String
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start(name: String) async throws -> TCPEchoServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Greeter(name: name))
                    try channel.pipeline.syncOperations.addHandler(RawEcho())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TCPEchoServer(name: name, channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Greeter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let name: String
        init(name: String) { self.name = name }
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "hello from \(name)\n")), promise: nil)
            context.fireChannelActive()
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.fireChannelRead(data)
        }
    }
}
