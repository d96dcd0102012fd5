public import Logging
public import NIOCore

/// Per-request facts that are not part of the HTTP message itself.
public struct RequestContext: Sendable {
    public let requestID: String
    /// The route template that matched (`/v2/keys/**`, `/v2/members/:id`), never the raw path: it is what
    /// metrics and logs are labelled with, so their cardinality stays bounded.
    public let routeTemplate: String
    public let parameters: RouteParameters
    public let remoteAddress: SocketAddress?
    public let allocator: ByteBufferAllocator
    public let isHTTP2: Bool
    let baseLogger: Logger

    public init(
        requestID: String,
        routeTemplate: String,
        parameters: RouteParameters = RouteParameters(),
        remoteAddress: SocketAddress? = nil,
        allocator: ByteBufferAllocator = ByteBufferAllocator(),
        isHTTP2: Bool = false,
        logger: Logger
    ) {
        self.requestID = requestID
        self.routeTemplate = routeTemplate
        self.parameters = parameters
        self.remoteAddress = remoteAddress
        self.allocator = allocator
        self.isHTTP2 = isHTTP2
        self.baseLogger = logger
    }

    /// The server's logger with `http.request.id` attached; built on use, so requests that never log pay nothing.
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "http.request.id"] = "\(requestID)"
        return logger
    }
}

/// Values captured by `:name` segments and the `**` tail of a route.
public struct RouteParameters: Sendable, Equatable {
    private var storage: [(String, Substring)] = []

    public init() {}

    mutating func set(_ name: String, _ value: Substring) { storage.append((name, value)) }

    /// The raw (still percent-encoded) value.
    public subscript(name: String) -> Substring? {
        storage.first { $0.0 == name }?.1
    }

    /// Everything matched by a trailing `**`, without its leading slash.
    public var tail: Substring? { self["**"] }

    public static func == (lhs: RouteParameters, rhs: RouteParameters) -> Bool {
        lhs.storage.elementsEqual(rhs.storage) { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

/// A function from request to response: a route handler, or a middleware chain ending in one.
public typealias RequestHandler = @Sendable (Request, RequestContext) async throws -> Response

public protocol Middleware: Sendable {
    func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response
}
