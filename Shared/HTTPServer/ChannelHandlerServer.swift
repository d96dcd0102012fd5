public import Logging
public import NIOCore
import HTTPTypes
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
public import ServiceLifecycle

/// The same listener as `Server` (HTTP/1.1 and h2c on one port, TLS with ALPN and SNI, connection limit,
/// timeouts, graceful drain) but requests go to a channel handler on the event loop instead of the async
/// request loop. For byte-shuffling work such as a reverse proxy: the per-request async round trip is the
/// largest cost of `Server` (BENCHMARKS.md §1), and a proxy must also take over a connection after `101`.
///
/// The handler made by `makeHandler` sits behind the HTTP codecs and speaks `HTTPServerRequestPart` in and
/// `HTTPServerResponsePart` out, on HTTP/1.1 connections and on every HTTP/2 stream alike.
public struct ChannelHandlerServer: Service {
    public struct Connection: Sendable {
        public let remoteAddress: SocketAddress?
        public let isTLS: Bool
        public let isHTTP2: Bool
    }

    public typealias MakeHandler = @Sendable (_ channel: any Channel, _ connection: Connection) throws -> any ChannelHandler

    /// Takes the HTTP/1 handlers out of `channel` after a `101 Switching Protocols`: what follows them then sees
    /// raw `ByteBuffer`s. The decoder goes last so the bytes it still holds (sent right behind the upgrade
    /// request) pass on; `done` runs once they have.
    public static func removeHTTP1Handlers(from channel: any Channel, done: @escaping @Sendable () -> Void) throws {
        let sync = channel.pipeline.syncOperations
        for name in [activityHandlerName, guardHandlerName] {
            sync.removeHandler(name: name, promise: nil)
        }
        if let upgrader = try? sync.context(handlerType: HTTPServerUpgradeHandler.self) {
            sync.removeHandler(context: upgrader, promise: nil)
        }
        if let validator = try? sync.context(handlerType: NIOHTTPResponseHeadersValidator.self) {
            sync.removeHandler(context: validator, promise: nil)
        }
        sync.removeHandler(context: try sync.context(handlerType: HTTPResponseEncoder.self), promise: nil)
        let decoderRemoved = channel.eventLoop.makePromise(of: Void.self)
        decoderRemoved.futureResult.whenComplete { _ in done() }
        sync.removeHandler(context: try sync.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: decoderRemoved)
    }

    static let activityHandlerName = "flotilla.http1.activity"
    static let guardHandlerName = "flotilla.http1.guard"

    public let configuration: ServerConfiguration
    private let makeHandler: MakeHandler
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) async -> Void

    public init(
        configuration: ServerConfiguration,
        logger: Logger,
        makeHandler: @escaping MakeHandler,
        onListening: @escaping @Sendable (SocketAddress) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.makeHandler = makeHandler
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let sslContext = try configuration.tls.map(Server.makeSSLContext)
        let limits = configuration.limits
        let tracker = ConnectionTracker(maxConnections: limits.maxConnections)
        let makeHandler = self.makeHandler
        let drainTimeout = configuration.shutdownDrainTimeout
        let logger = self.logger
        let serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                guard tracker.tryAcquireSlot() else {
                    return channel.close()
                }
                tracker.register(channel)
                channel.closeFuture.whenComplete { _ in
                    tracker.unregister(channel)
                    tracker.releaseSlot()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel, sslContext: sslContext, limits: limits, drainTimeout: drainTimeout, makeHandler: makeHandler, logger: logger)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        guard let address = serverChannel.localAddress else {
            throw HTTPError(.internalServerError, message: "listener has no local address")
        }
        logger.info("listening", metadata: ["http.address": "\(address)", "tls": "\(sslContext != nil)"])
        await onListening(address)

        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await serverChannel.closeFuture.get()
            } onCancel: {
                serverChannel.close(promise: nil)
            }
            if Task.isCancelled {
                tracker.closeAll()
                return
            }
            if await !tracker.waitUntilDrained(timeout: drainTimeout) {
                logger.notice("drain deadline passed, closing connections", metadata: ["connections": "\(tracker.activeCount)"])
                tracker.closeAll()
            }
        } onGracefulShutdown: {
            logger.info("graceful shutdown: no longer accepting connections")
            serverChannel.close(promise: nil)
            tracker.beginShutdown()
        }
    }

    private static func configure(
        _ channel: any Channel,
        sslContext: NIOSSLContext?,
        limits: ServerConfiguration.Limits,
        drainTimeout: Duration,
        makeHandler: @escaping MakeHandler,
        logger: Logger
    ) throws {
        let sync = channel.pipeline.syncOperations
        if let sslContext {
            try sync.addHandler(NIOSSLServerHandler(context: sslContext))
        }
        let isTLS = sslContext != nil
        let remoteAddress = channel.remoteAddress
        let promise = channel.eventLoop.makePromise(of: Bool.self)
        promise.futureResult.whenFailure { error in
            logger.trace("connection closed before its protocol was known", metadata: ["error": "\(error)"])
        }
        let sniffer = ProtocolSniffer(timeout: TimeAmount(limits.requestHeadTimeout), promise: promise) { channel, verdict in
            let connection = Connection(remoteAddress: remoteAddress, isTLS: isTLS, isHTTP2: verdict == .http2)
            switch verdict {
            case .http2:
                try configureHTTP2(channel, connection: connection, limits: limits, drainTimeout: drainTimeout, makeHandler: makeHandler)
            case .http1, .needMore:
                try configureHTTP1(channel, connection: connection, limits: limits, makeHandler: makeHandler)
            }
            return true
        }
        try sync.addHandler(sniffer)
    }

    private static func configureHTTP1(
        _ channel: any Channel,
        connection: Connection,
        limits: ServerConfiguration.Limits,
        makeHandler: MakeHandler
    ) throws {
        let sync = channel.pipeline.syncOperations
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
        try sync.addHandler(ReadActivityHandler(), name: activityHandlerName)
        // NIO's own set-up pairs the decoder with the encoder, which is how a response to HEAD is written
        // without a body. An upgrade configuration without upgraders changes nothing but makes the decoder keep
        // bytes that follow an upgrade request for whoever switches protocols.
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: false,
            withServerUpgrade: (upgraders: [], completionHandler: { _ in }),
            withErrorHandling: false,
            withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: decoderLimits
        )
        try sync.addHandler(
            HTTP1ConnectionGuard(idleTimeout: TimeAmount(limits.idleTimeout), headTimeout: TimeAmount(limits.requestHeadTimeout)),
            name: guardHandlerName
        )
        try sync.addHandler(try makeHandler(channel, connection))
    }

    private static func configureHTTP2(
        _ channel: any Channel,
        connection: Connection,
        limits: ServerConfiguration.Limits,
        drainTimeout: Duration,
        makeHandler: @escaping MakeHandler
    ) throws {
        let sync = channel.pipeline.syncOperations
        var connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
        connectionConfiguration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: max(limits.maxHeaderBytes * 4, 64 * 1024)),
        ]
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: TimeAmount(limits.idleTimeout), maxAge: nil, maxGraceTime: TimeAmount(drainTimeout), keepalive: nil)
        )
        _ = try sync.configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: connectionConfiguration,
            streamConfiguration: .init(),
            streamDelegate: management.http2StreamDelegate
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let streamSync = stream.pipeline.syncOperations
                try streamSync.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try streamSync.addHandler(try makeHandler(stream, connection))
            }
        }
        // Behind the HTTP/2 handler: it manages idle time and graceful GOAWAY from frames, not bytes.
        try sync.addHandler(management)
    }
}
