/// A bounded wait that ran out. The message names what the test was waiting for.
public struct TimeoutError: Error, CustomStringConvertible {
    public let waitingFor: String
    public let timeout: Duration

    public init(waitingFor: String, timeout: Duration) {
        self.waitingFor = waitingFor
        self.timeout = timeout
    }

    public var description: String { "timed out after \(timeout) waiting for \(waitingFor)" }
}

/// Runs `operation`, failing with `TimeoutError` if it has not finished within `timeout`.
///
/// The operation is cancelled on timeout, so it must react to cancellation (everything in TestSupport does).
public func withTimeout<T: Sendable>(
    _ timeout: Duration,
    waitingFor what: String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimeoutError(waitingFor: what, timeout: timeout)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else {
            throw TimeoutError(waitingFor: what, timeout: timeout)
        }
        return first
    }
}
