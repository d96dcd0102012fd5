/// The servers a cluster test runs against, started with the very same etcd flags.
public enum ClusterBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case etcd
    case kvPeer

    public var description: String { self == .etcd ? "etcd" : "kv-peer" }

    /// `EtcdCluster.binary` (`$ETCD_BIN` or /usr/bin/etcd), or the `kv-peer` product built next to the tests.
    public func binary() throws -> String {
        switch self {
        case .etcd: EtcdCluster.binary
        case .kvPeer: try ServiceProcess.binaryPath(product: "kv-peer")
        }
    }

    /// Flags beyond the shared clustering ones. etcd writes its zap log to `logFile` itself; kv-peer logs to
    /// stdout and stderr, which go to the same file.
    func ownArguments(logFile: String) -> [String] {
        switch self {
        case .etcd: ["--enable-v2=true", "--logger", "zap", "--log-outputs", logFile]
        case .kvPeer: ["--log-level", "info"]
        }
    }
}
