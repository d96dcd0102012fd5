public import Metrics
import HTTPTypes
import Synchronization

/// Counts requests and times them, labelled by route template, method and status: never by raw path,
/// so a keys API with millions of keys still has a handful of series. Handles are cached per label set:
/// creating them goes through the factory's lock and allocates, which a hot path should not pay per request.
public struct MetricsMiddleware: Middleware {
    private let factory: any MetricsFactory
    private let handles = HandleCache()

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    public func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status, since: start)
            return response
        } catch let error as any HTTPResponseError {
            record(request, context, status: error.status, since: start)
            throw error
        } catch {
            record(request, context, status: .internalServerError, since: start)
            throw error
        }
    }

    /// Clients choose the method; anything outside the standard set shares one label so series stay bounded.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .put, .post, .delete, .patch, .options, .connect, .trace: method.rawValue
        default: "OTHER"
        }
    }

    private func record(_ request: Request, _ context: RequestContext, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let key = HandleCache.Key(route: context.routeTemplate, method: Self.methodLabel(request.method), status: status.code)
        let (counter, timer) = handles.handles(for: key, factory: factory)
        counter.increment()
        timer.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }
}

private final class HandleCache: Sendable {
    struct Key: Hashable, Sendable {
        let route: String
        let method: String
        let status: Int
    }

    private let cache = Mutex<[Key: (Counter, Metrics.Timer)]>([:])

    func handles(for key: Key, factory: any MetricsFactory) -> (Counter, Metrics.Timer) {
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let dimensions = [("route", key.route), ("method", key.method), ("status", String(key.status))]
        let created = (
            Counter(label: "http_server_requests_total", dimensions: dimensions, factory: factory),
            Metrics.Timer(label: "http_server_request_duration_seconds", dimensions: Array(dimensions.prefix(2)), factory: factory)
        )
        return cache.withLock { cache in
            if let raced = cache[key] { return raced }
            cache[key] = created
            return created
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
