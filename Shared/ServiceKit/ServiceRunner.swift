public import Logging
public import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a process's services as one `ServiceGroup`: SIGTERM/SIGINT start a graceful shutdown (reverse order
/// of `services`), a second signal or the deadline cancels what is left.
public enum ServiceRunner {
    public static func run(
        services: [any Service],
        logger: Logger,
        maximumGracefulShutdownDuration: Duration = .seconds(15)
    ) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [.sigquit],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = maximumGracefulShutdownDuration
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// The one machine-readable line each service prints once it has bound: `listening <what>=<url>`.
/// Scripts and tests wait for it to learn ports chosen with port 0.
public enum ReadyLine {
    public static func format(_ endpoints: [(name: String, url: String)]) -> String {
        "listening " + endpoints.map { "\($0.name)=\($0.url)" }.joined(separator: " ")
    }

    public static func announce(_ endpoints: [(name: String, url: String)]) {
        StandardStream.write(format(endpoints) + "\n", to: STDOUT_FILENO)
    }
}

/// Unbuffered writes to stdout or stderr, for executables' messages before logging is set up.
public enum StandardStreams {
    public enum Stream: Sendable { case output, error }

    public static func write(_ text: String, to stream: Stream) {
        StandardStream.write(text, to: stream == .output ? STDOUT_FILENO : STDERR_FILENO)
    }
}

/// The process environment as a dictionary, read once by executables (libraries take it as a parameter).
public enum ProcessEnvironment {
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let pair = String(cString: entry)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            cursor += 1
        }
        return result
    }
}

/// Unbuffered writes straight to a file descriptor: a ready line must not sit in a stdio buffer while a test
/// waits for it, and the C `stdout`/`stderr` globals are not concurrency-safe.
enum StandardStream {
    static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { raw in
                #if canImport(Glibc)
                Glibc.write(descriptor, raw.baseAddress, raw.count)
                #elseif canImport(Musl)
                Musl.write(descriptor, raw.baseAddress, raw.count)
                #else
                Darwin.write(descriptor, raw.baseAddress, raw.count)
                #endif
            }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }
}
