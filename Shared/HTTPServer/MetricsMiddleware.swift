public import Metrics
import HTTPTypes

/// Counts requests and times them, labelled by route template, method and status: never by raw path,
/// so a keys API with millions of keys still has a handful of series.
public struct MetricsMiddleware: Middleware {
    private let factory: any MetricsFactory

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    public func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
        let start = ContinuousClock.now
        let status: HTTPResponse.Status
        do {
            let response = try await next(request, context)
            status = response.status
            record(request, context, status: status, since: start)
            return response
        } catch let error as any HTTPResponseError {
            record(request, context, status: error.status, since: start)
            throw error
        } catch {
            record(request, context, status: .internalServerError, since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: RequestContext, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let dimensions = [
            ("route", context.routeTemplate), ("method", request.method.rawValue), ("status", String(status.code)),
        ]
        Counter(label: "http_server_requests_total", dimensions: dimensions, factory: factory).increment()
        Metrics.Timer(label: "http_server_request_duration_seconds", dimensions: Array(dimensions.prefix(2)), factory: factory)
            .recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
