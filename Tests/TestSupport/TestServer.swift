public import HTTPServer
public import Logging
import NIOCore
import ServiceLifecycle

/// A `Server` running in a `ServiceGroup` on 127.0.0.1, on the port the kernel picked.
public struct TestServer: Sendable {
    public let port: Int
    public let scheme: String
    private let group: ServiceGroup
    private let stopped: Observed<Bool>

    fileprivate init(port: Int, scheme: String, group: ServiceGroup, stopped: Observed<Bool>) {
        self.port = port
        self.scheme = scheme
        self.group = group
        self.stopped = stopped
    }

    /// `http://127.0.0.1:<port><path>` (https with TLS).
    public func url(_ path: String = "/") -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }

    /// What a `SIGTERM` would do: stop accepting, drain, return from `run()`.
    public func triggerGracefulShutdown() async {
        await group.triggerGracefulShutdown()
    }

    /// Waits until the server's `run()` has returned.
    public func waitUntilStopped(timeout: Duration = .seconds(20)) async throws {
        try await stopped.wait(for: "the server to stop", timeout: timeout) { $0 }
    }

    public var hasStopped: Bool { stopped.value }
}

public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
}

/// A logger that drops everything, so passing tests stay quiet.
public func quietLogger(_ label: String = "test") -> Logger {
    Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
}

/// Runs `body` against a live server, then shuts it down gracefully and waits for it to stop, also when
/// `body` throws. The listener is always 127.0.0.1; the port in `configuration` is ignored (0 is used).
public func withTestServer<T>(
    _ configuration: ServerConfiguration = ServerConfiguration(),
    responder: Responder,
    logger: Logger = quietLogger(),
    _ body: (TestServer) async throws -> T
) async throws -> T {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let scheme = configuration.tls == nil ? "http" : "https"
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let server = Server(configuration: configuration, responder: responder, logger: logger) { address in
        portContinuation.yield(address.port ?? 0)
        portContinuation.finish()
    }
    let group = ServiceGroup(services: [server], logger: logger)
    let stopped = Observed(false)

    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer {
                portContinuation.finish()
                stopped.set(true)
            }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port != 0 else {
            try await tasks.waitForAll()
            throw TestServerError(description: "the server stopped before it was listening")
        }
        let handle = TestServer(port: port, scheme: scheme, group: group, stopped: stopped)
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(handle))
        } catch {
            outcome = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try outcome.get()
    }
}
