public import HTTPTypes

/// Collects routes, then freezes into an immutable `Responder`: nothing is mutable at request time.
///
/// Patterns are literal segments, `:name` parameters and a trailing `**` that captures the rest of the
/// path (empty included): `/v2/keys/**` matches `/v2/keys`, `/v2/keys/` and `/v2/keys/a/b`.
/// Literals beat parameters beat the tail, whatever order routes were added in.
public struct Router: Sendable {
    private var root = RouteNode()
    private var middleware: [any Middleware] = []
    /// Answers paths no route matches; the default is 404 `{"message":"Not found"}`.
    public var notFound: RequestHandler = { _, _ in throw HTTPError(.notFound, message: "Not found") }
    /// Answers a known path with a method it does not serve; given the allowed methods. The default is 405
    /// `{"message":"Method Not Allowed"}` with an `Allow` header.
    public var methodNotAllowed: @Sendable (_ allowed: [HTTPRequest.Method]) -> RequestHandler = { allowed in
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        return { _, _ in throw HTTPError(.methodNotAllowed, message: "Method Not Allowed", headerFields: [.allow: allow]) }
    }

    public init() {}

    /// Middleware wraps every route, including not-found and method-not-allowed answers,
    /// in the order added: the first added sees the request first.
    public mutating func use(_ middleware: any Middleware) { self.middleware.append(middleware) }

    public mutating func on(_ method: HTTPRequest.Method, _ pattern: String, handler: @escaping RequestHandler) {
        let segments = Self.segments(of: pattern)
        precondition(
            segments.dropLast().allSatisfy { $0 != "**" },
            "route \(pattern): ** may only be the last segment"
        )
        root.insert(segments[...], method: method, template: pattern, handler: handler)
    }

    public mutating func get(_ pattern: String, handler: @escaping RequestHandler) { on(.get, pattern, handler: handler) }
    public mutating func put(_ pattern: String, handler: @escaping RequestHandler) { on(.put, pattern, handler: handler) }
    public mutating func post(_ pattern: String, handler: @escaping RequestHandler) { on(.post, pattern, handler: handler) }
    public mutating func delete(_ pattern: String, handler: @escaping RequestHandler) { on(.delete, pattern, handler: handler) }

    public func buildResponder() -> Responder {
        Responder(root: root, middleware: middleware, notFound: notFound, methodNotAllowed: methodNotAllowed)
    }

    static func segments<S: StringProtocol>(of path: S) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true).map { Substring($0) }
    }
}

/// The frozen routing table plus middleware chain.
public struct Responder: Sendable {
    fileprivate let root: RouteNode
    private let middleware: [any Middleware]
    private let notFound: RequestHandler
    private let methodNotAllowed: @Sendable ([HTTPRequest.Method]) -> RequestHandler

    fileprivate init(
        root: RouteNode, middleware: [any Middleware], notFound: @escaping RequestHandler,
        methodNotAllowed: @escaping @Sendable ([HTTPRequest.Method]) -> RequestHandler
    ) {
        self.root = root
        self.middleware = middleware
        self.notFound = notFound
        self.methodNotAllowed = methodNotAllowed
    }

    public struct Match: Sendable {
        public let template: String
        public let parameters: RouteParameters
        let handler: RequestHandler
    }

    public enum Resolution: Sendable {
        case matched(Match)
        case methodNotAllowed(template: String, allowed: [HTTPRequest.Method])
        case notFound
    }

    /// Finds the route for a method and raw path. HEAD falls back to GET, as Go's ServeMux users expect.
    public func resolve(method: HTTPRequest.Method, path: Substring) -> Resolution {
        var parameters = RouteParameters()
        let segments = Router.segments(of: path)
        guard let (node, template) = root.find(segments[...], parameters: &parameters) else { return .notFound }
        if let handler = node.handlers[method] ?? (method == .head ? node.handlers[.get] : nil) {
            return .matched(Match(template: template, parameters: parameters, handler: handler))
        }
        let allowed = node.handlers.keys.sorted { $0.rawValue < $1.rawValue }
        return .methodNotAllowed(template: template, allowed: allowed)
    }

    /// Runs the request through middleware and the matched route. `context` carries the route template
    /// and parameters once resolved here.
    public func respond(to request: Request, context: (_ template: String, _ parameters: RouteParameters) -> RequestContext) async throws -> Response {
        let handler: RequestHandler
        let requestContext: RequestContext
        switch resolve(method: request.method, path: request.path) {
        case .matched(let match):
            handler = match.handler
            requestContext = context(match.template, match.parameters)
        case .methodNotAllowed(let template, let allowed):
            handler = methodNotAllowed(allowed)
            requestContext = context(template, RouteParameters())
        case .notFound:
            handler = notFound
            requestContext = context("(unmatched)", RouteParameters())
        }
        return try await chain(handler)(request, requestContext)
    }

    private func chain(_ handler: @escaping RequestHandler) -> RequestHandler {
        middleware.reversed().reduce(handler) { next, middleware in
            { request, context in try await middleware.handle(request, context: context, next: next) }
        }
    }
}

/// One level of the route trie.
private struct RouteNode: Sendable {
    var literals: [Substring: RouteNode] = [:]
    var parameter: (name: String, node: Box)?
    var tail: (template: String, handlers: [HTTPRequest.Method: RequestHandler])?
    var handlers: [HTTPRequest.Method: RequestHandler] = [:]
    var template: String?

    /// Indirection so the recursive struct has a finite size.
    final class Box: Sendable {
        let node: RouteNode
        init(_ node: RouteNode) { self.node = node }
    }

    mutating func insert(_ segments: ArraySlice<Substring>, method: HTTPRequest.Method, template: String, handler: @escaping RequestHandler) {
        guard let first = segments.first else {
            precondition(handlers[method] == nil, "route \(method) \(template) registered twice")
            handlers[method] = handler
            self.template = template
            return
        }
        let rest = segments.dropFirst()
        if first == "**" {
            var entry = tail ?? (template, [:])
            precondition(entry.handlers[method] == nil, "route \(method) \(template) registered twice")
            entry.handlers[method] = handler
            entry.template = template
            tail = entry
        } else if first.hasPrefix(":") {
            let name = String(first.dropFirst())
            var child = parameter?.node.node ?? RouteNode()
            precondition(parameter == nil || parameter?.name == name, "route \(template): conflicting parameter names")
            child.insert(rest, method: method, template: template, handler: handler)
            parameter = (name, Box(child))
        } else {
            literals[first, default: RouteNode()].insert(rest, method: method, template: template, handler: handler)
        }
    }

    func find(_ segments: ArraySlice<Substring>, parameters: inout RouteParameters) -> (RouteNode, String)? {
        guard let first = segments.first else {
            if let template, !handlers.isEmpty { return (self, template) }
            return tailMatch(segments, parameters: &parameters)
        }
        let rest = segments.dropFirst()
        if let literal = literals[first], let found = literal.find(rest, parameters: &parameters) {
            return found
        }
        if let parameter {
            var attempt = parameters
            attempt.set(parameter.name, first)
            if let found = parameter.node.node.find(rest, parameters: &attempt) {
                parameters = attempt
                return found
            }
        }
        return tailMatch(segments, parameters: &parameters)
    }

    private func tailMatch(_ segments: ArraySlice<Substring>, parameters: inout RouteParameters) -> (RouteNode, String)? {
        guard let tail else { return nil }
        let joined: Substring
        if let first = segments.first, let last = segments.last {
            // Slice the original path so encoded characters and inner empty segments survive.
            let base = first.base
            joined = base[first.startIndex..<last.endIndex]
        } else {
            joined = ""
        }
        parameters.set("**", joined)
        var node = RouteNode()
        node.handlers = tail.handlers
        node.template = tail.template
        return (node, tail.template)
    }
}
