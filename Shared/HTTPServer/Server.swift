public import Logging
public import NIOCore
import HTTPTypes
import NIOHTTP1
import NIOHTTP2
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOHTTPTypesHTTP2
import NIOPosix
import NIOSSL
public import ServiceLifecycle

/// One listening HTTP server: HTTP/1.1, cleartext HTTP/2 (prior knowledge) on the same port, and with TLS
/// HTTP/2 or HTTP/1.1 by ALPN. Run it in a `ServiceGroup`; a graceful shutdown stops accepting, lets
/// in-flight requests finish within `shutdownDrainTimeout`, then cancels what is left.
public struct Server: Service {
    public let configuration: ServerConfiguration
    private let responder: Responder
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) async -> Void

    /// `onListening` runs once the socket is bound, with the real address (port 0 resolved); services
    /// print their ready line from it.
    public init(
        configuration: ServerConfiguration,
        responder: Responder,
        logger: Logger,
        onListening: @escaping @Sendable (SocketAddress) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let sslContext = try configuration.tls.map(Self.makeSSLContext)
        let limits = configuration.limits
        let serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configureConnection(channel, sslContext: sslContext, limits: limits, drainTimeout: configuration.shutdownDrainTimeout)
                }
            }
        guard let address = serverChannel.channel.localAddress else {
            throw HTTPError(.internalServerError, message: "listener has no local address")
        }
        logger.info("listening", metadata: ["http.address": "\(address)", "tls": "\(sslContext != nil)"])
        await onListening(address)

        let tracker = ConnectionTracker(maxConnections: limits.maxConnections)
        let loop = RequestLoop(responder: responder, maxBodyBytes: limits.maxBodyBytes, maxHeaderBytes: limits.maxHeaderBytes, logger: logger)
        try await withGracefulShutdownHandler {
            try await serverChannel.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    var accepted = connections.makeAsyncIterator()
                    while await tracker.acquireSlot() {
                        guard let negotiation = try? await accepted.next() else {
                            tracker.releaseSlot()
                            break
                        }
                        group.addTask {
                            defer { tracker.releaseSlot() }
                            await Self.serve(negotiation, loop: loop, tracker: tracker, logger: logger)
                        }
                    }
                    if await !tracker.waitUntilDrained(timeout: configuration.shutdownDrainTimeout) {
                        logger.notice("drain deadline passed, cancelling in-flight requests", metadata: ["connections": "\(tracker.activeCount)"])
                        group.cancelAll()
                    }
                }
            }
        } onGracefulShutdown: {
            logger.info("graceful shutdown: no longer accepting connections")
            serverChannel.channel.close(promise: nil)
            tracker.beginShutdown()
        }
    }

    private static func serve(
        _ negotiation: EventLoopFuture<NegotiatedConnection>,
        loop: RequestLoop,
        tracker: ConnectionTracker,
        logger: Logger
    ) async {
        let negotiated: NegotiatedConnection
        do {
            negotiated = try await negotiation.get()
        } catch {
            logger.trace("connection closed before its protocol was known", metadata: ["error": "\(error)"])
            return
        }
        switch negotiated {
        case .http1(let channel):
            tracker.register(channel.channel)
            defer { tracker.unregister(channel.channel) }
            await loop.serve(channel, isHTTP2: false)
        case .http2(let connection, let streams):
            tracker.register(connection)
            defer { tracker.unregister(connection) }
            await withDiscardingTaskGroup { group in
                do {
                    for try await stream in streams.inbound {
                        group.addTask { await loop.serve(stream, isHTTP2: true) }
                    }
                } catch {
                    logger.trace("http/2 connection ended", metadata: ["error": "\(error)"])
                }
            }
            connection.close(promise: nil)
        }
    }

    /// Called on the event loop for every accepted socket. Returns the future of the negotiated protocol.
    static func configureConnection(
        _ channel: any Channel,
        sslContext: NIOSSLContext?,
        limits: ServerConfiguration.Limits,
        drainTimeout: Duration
    ) throws -> EventLoopFuture<NegotiatedConnection> {
        let sync = channel.pipeline.syncOperations
        if let sslContext {
            try sync.addHandler(NIOSSLServerHandler(context: sslContext))
        }
        let promise = channel.eventLoop.makePromise(of: NegotiatedConnection.self)
        let sniffer = ProtocolSniffer(timeout: TimeAmount(limits.requestHeadTimeout), promise: promise) { channel, verdict in
            switch verdict {
            case .http2:
                return try configureHTTP2(channel, limits: limits, drainTimeout: drainTimeout)
            case .http1, .needMore:
                return try configureHTTP1(channel, secure: sslContext != nil, limits: limits)
            }
        }
        try sync.addHandler(sniffer)
        return promise.futureResult
    }

    static func configureHTTP1(_ channel: any Channel, secure: Bool, limits: ServerConfiguration.Limits) throws -> NegotiatedConnection {
        let sync = channel.pipeline.syncOperations
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
        try sync.addHandler(ReadActivityHandler())
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: false,
            withServerUpgrade: nil,
            withErrorHandling: false,
            withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: decoderLimits
        )
        try sync.addHandler(
            HTTP1ConnectionGuard(idleTimeout: TimeAmount(limits.idleTimeout), headTimeout: TimeAmount(limits.requestHeadTimeout))
        )
        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: secure))
        return .http1(try HTTPStreamChannel(wrappingChannelSynchronously: channel))
    }

    static func configureHTTP2(_ channel: any Channel, limits: ServerConfiguration.Limits, drainTimeout: Duration) throws -> NegotiatedConnection {
        var http2 = NIOHTTP2Handler.Configuration()
        http2.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            // HPACK treats an oversize header list as a connection error (GOAWAY); the headroom lets the
            // request loop answer moderately oversize headers with 431 on the stream instead, as HTTP/1 does.
            HTTP2Setting(parameter: .maxHeaderListSize, value: max(limits.maxHeaderBytes * 4, 64 * 1024)),
        ]
        let management = NIOHTTP2ServerConnectionManagementHandler.Configuration(
            maxIdleTime: TimeAmount(limits.idleTimeout),
            maxAge: nil,
            maxGraceTime: TimeAmount(drainTimeout),
            keepalive: nil
        )
        let streams = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
            mode: .server,
            connectionManagerConfiguration: management,
            http2HandlerConfiguration: http2
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTPServerCodec())
                return try HTTPStreamChannel(wrappingChannelSynchronously: stream)
            }
        }
        return .http2(connection: channel, streams: streams)
    }

    static func makeSSLContext(_ options: TLSOptions) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(options.certificateChainPath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: options.privateKeyPath, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.applicationProtocols = ["h2", "http/1.1"]
        if let ca = options.trustedCAPath {
            tls.trustRoots = .file(ca)
        }
        tls.certificateVerification = options.requireClientCertificate ? .noHostnameVerification : .none
        if !options.namedCertificates.isEmpty {
            // Loaded once here, so a missing file fails start-up rather than a handshake.
            let loaded = try options.namedCertificates.map { named in
                var override = NIOSSLContextConfigurationOverride()
                override.certificateChain = try NIOSSLCertificate.fromPEMFile(named.certificateChainPath).map { .certificate($0) }
                override.privateKey = .privateKey(try NIOSSLPrivateKey(file: named.privateKeyPath, format: .pem))
                return (named, override)
            }
            let certificates = loaded.map(\.0)
            let overrides = Dictionary(uniqueKeysWithValues: loaded.map { ($0.0.serverName, $0.1) })
            tls.sslContextCallback = { values, promise in
                let chosen = values.serverHostname.flatMap { NamedCertificate.select($0, from: certificates) }
                promise.succeed(chosen.flatMap { overrides[$0.serverName] } ?? .noChanges)
            }
        }
        return try NIOSSLContext(configuration: tls)
    }
}
