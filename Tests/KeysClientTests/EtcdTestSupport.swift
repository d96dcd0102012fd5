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
