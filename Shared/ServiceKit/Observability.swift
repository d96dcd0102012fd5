import GoJSON
public import Logging
import Metrics
public import Prometheus
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide logging and metrics set-up; executables call it once from `main`, libraries never do.
public enum Observability {
    /// Bootstraps swift-log (stderr, text or JSON) and swift-metrics (Prometheus), returning the root logger and
    /// the registry to serve at `/metrics`.
    public static func bootstrap(label: String, options: LoggingOptions) -> (Logger, PrometheusCollectorRegistry) {
        bootstrap(label: label, level: options.logLevel, format: options.logFormat)
    }

    /// The same for executables that take their own flags (kv-peer takes etcd's).
    public static func bootstrap(label: String, level: Logger.Level, format: LogFormat) -> (Logger, PrometheusCollectorRegistry) {
        switch format {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: label)
        logger.logLevel = level
        return (logger, registry)
    }
}

/// One JSON object per line on stderr: `{"ts":…,"level":…,"label":…,"msg":…,<metadata>}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private static let lock = Mutex(())

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let line = Self.render(
            timestamp: Self.timestamp(), level: event.level, label: label, message: "\(event.message)", metadata: fields
        )
        Self.lock.withLock { _ in
            StandardStream.write(line, to: STDERR_FILENO)
        }
    }

    static func render(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var out = "{\"ts\":\(quote(timestamp)),\"level\":\(quote(level.rawValue)),\"label\":\(quote(label)),\"msg\":\(quote(message))"
        for key in metadata.keys.sorted() {
            out += ",\(quote(key)):\(quote("\(metadata[key]!)"))"
        }
        return out + "}\n"
    }

    /// A JSON string literal, escaped as everywhere else in Flotilla (GoJSON).
    static func quote(_ string: String) -> String {
        var bytes: [UInt8] = []
        GoJSON.appendString(string, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1000), 6))Z"
    }
}
