import HTTPTypes
import NIOCore
public import Prometheus

extension Router {
    /// Serves the registry in Prometheus text format at `path` (default `/metrics`).
    public mutating func addMetricsRoute(_ registry: PrometheusCollectorRegistry, path: String = "/metrics") {
        get(path) { _, context in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            var buffer = context.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            return Response(
                headerFields: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(buffer: buffer)
            )
        }
    }
}
