/// How a `KeysAPI` reaches the cluster.
public struct KeysClientConfiguration: Sendable {
    /// Base URLs of the keys API (`http://127.0.0.1:2379`); tried in order, the last one that answered first.
    public var endpoints: [String]
    /// Deadline of one ordinary request (not of watches).
    public var requestTimeout: Duration
    /// Deadline of one watch long-poll; when it passes the watch simply polls again from the same index.
    public var watchPollTimeout: Duration
    /// Connection establishment limit per endpoint, kept short so failover is quick.
    public var connectTimeout: Duration
    /// Largest response body read (a recursive GET of a big tree can be large).
    public var maxResponseBytes: Int
    /// Delay between retries of a watch whose endpoints all failed.
    public var backoff: Backoff
    /// Keep-alive connections kept per endpoint; as many requests run at once before the rest queue.
    public var maxConnectionsPerEndpoint: Int

    public init(
        endpoints: [String],
        requestTimeout: Duration = .seconds(5),
        watchPollTimeout: Duration = .seconds(300),
        connectTimeout: Duration = .seconds(1),
        maxResponseBytes: Int = 64 * 1024 * 1024,
        backoff: Backoff = Backoff(),
        maxConnectionsPerEndpoint: Int = 8
    ) {
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.requestTimeout = requestTimeout
        self.watchPollTimeout = watchPollTimeout
        self.connectTimeout = connectTimeout
        self.maxResponseBytes = maxResponseBytes
        self.backoff = backoff
        self.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
    }
}

/// Capped exponential backoff with full jitter, so a cluster coming back is not hit by every client at once.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(2)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before retry number `attempt` (0-based), given a random fraction in 0...1.
    public func delay(attempt: Int, jitter: Double) -> Duration {
        let exponent = min(attempt, 30)
        let ceiling = min(maximum, initial * (1 << exponent))
        return ceiling * max(0, min(1, jitter))
    }
}
