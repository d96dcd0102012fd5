/// The keys API implementations every service must work against: real etcd 3.4 and kv-peer.
public enum KeysBackend: String, CaseIterable, Sendable {
    case etcd
    case kvPeer = "kv-peer"

    /// Runs `body` with the client URL of a fresh single-member store.
    public func with<Result: Sendable>(_ body: @Sendable (String) async throws -> Result) async throws -> Result {
        switch self {
        case .etcd: try await EtcdCluster.with(size: 1) { cluster in try await body(cluster.clientURLs[0]) }
        case .kvPeer: try await KVPeerProcess.with { peer in try await body(try peer.clientURL) }
        }
    }
}
