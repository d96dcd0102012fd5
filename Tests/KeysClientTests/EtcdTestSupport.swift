import KeysClient
import Logging
import TestSupport

/// Runs `body` with a KeysAPI pointed at a fresh real etcd of `size` members.
func withEtcdKeys<Result: Sendable>(
    size: Int = 1,
    configure: @Sendable (inout KeysClientConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (KeysAPI, EtcdCluster) async throws -> Result
) async throws -> Result {
    try await EtcdCluster.with(size: size) { cluster in
        var configuration = KeysClientConfiguration(endpoints: cluster.clientURLs)
        configure(&configuration)
        return try await KeysAPI.withClient(configuration: configuration, logger: Logger(label: "test")) { keys in
            try await body(keys, cluster)
        }
    }
}

/// Awaits `condition` with a bounded number of polls; fails with `message` instead of hanging.
func eventually(
    _ message: String, timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out after \(timeout): \(message)")
    throw TimedOut(message: message)
}

struct TimedOut: Error { let message: String }

import Testing
