/// Everything `kv-peer` is told on its command line and through `ETCD_*` variables, with etcd's meaning.
///
/// Built by ``EtcdFlags/parse(arguments:environment:)``, which accepts etcd's flags exactly as etcd (Go's `flag`
/// package) does. Defaults are etcd 3.4's except where Flotilla's flavour differs (noted on the property):
/// like etcd 2.x, kv-peer serves clients on 2379 *and* 4001, and it uses `127.0.0.1` instead of `localhost`.
/// Optional strings are `nil` where etcd would hold `""` ("not set").
public struct KVPeerConfiguration: Sendable, Equatable {
    // MARK: Member

    /// `--name`: this member's human-readable name, its key in `--initial-cluster`.
    public var name: String = "default"
    /// `--data-dir`: `"\(name).etcd"` when not given (or given empty).
    public var dataDir: String = "default.etcd"
    /// `--wal-dir`: a dedicated WAL directory; `nil` means `<data-dir>/member/wal`.
    public var walDir: String?
    /// `--snapshot-count`: committed entries between snapshots (etcd 3.4: 100000; 2.x: 10000).
    public var snapshotCount: UInt64 = 100_000
    /// `--heartbeat-interval` (milliseconds on the command line).
    public var heartbeatInterval: Duration = .milliseconds(100)
    /// `--election-timeout` (milliseconds on the command line).
    public var electionTimeout: Duration = .milliseconds(1000)
    /// `--listen-peer-urls` (sorted, as etcd sorts them). Flotilla default: `http://127.0.0.1:2380`.
    public var listenPeerURLs: [EtcdURL] = [EtcdURL(.http, host: "127.0.0.1", port: 2380)]
    /// `--listen-client-urls` (sorted). Flotilla default, like etcd 2.x: `http://127.0.0.1:2379,http://127.0.0.1:4001`.
    public var listenClientURLs: [EtcdURL] = [
        EtcdURL(.http, host: "127.0.0.1", port: 2379), EtcdURL(.http, host: "127.0.0.1", port: 4001),
    ]
    /// `--listen-metrics-urls` (3.4): extra listeners for `/metrics` and `/health`; empty by default.
    public var listenMetricsURLs: [EtcdURL] = []
    /// `--max-snapshots`: snapshot files to keep (0 = unlimited).
    public var maxSnapshots: UInt64 = 5
    /// `--max-wals`: WAL files to keep (0 = unlimited).
    public var maxWALs: UInt64 = 5
    /// `--cors`: allowed origins, in the order given, without duplicates. etcd 3.4 default `*` (every response
    /// carries CORS headers); an empty list (`--cors=`) turns CORS headers off, as in etcd 2.x.
    public var cors: [String] = ["*"]
    /// `--enable-v2`: recorded only. etcd 3.4 needs `--enable-v2=true` to serve `/v2`; kv-peer always serves it.
    public var enableV2: Bool = false
    /// `--enable-pprof`: etcd's `/debug/pprof`; recorded for the server to decide.
    public var enablePprof: Bool = false
    /// `--unsafe-no-fsync` (3.4): skip fsync on WAL writes. Loses data on power failure; for tests only.
    public var unsafeNoFsync: Bool = false

    // MARK: Clustering

    /// `--initial-advertise-peer-urls` (sorted). Flotilla default `http://127.0.0.1:2380`.
    public var initialAdvertisePeerURLs: [EtcdURL] = [EtcdURL(.http, host: "127.0.0.1", port: 2380)]
    /// `--initial-cluster`, in the order given; a name may appear several times (one entry per peer URL).
    /// Default `default=http://127.0.0.1:2380`; with only `--name x` given it becomes `x=<each advertised peer URL>`
    /// (etcd 3.4). Empty when bootstrapping through `--discovery` or `--discovery-srv`.
    public var initialCluster: [InitialClusterMember] = [
        InitialClusterMember(name: "default", peerURL: EtcdURL(.http, host: "127.0.0.1", port: 2380))
    ]
    /// `--initial-cluster-state`: `new` or `existing`.
    public var initialClusterState: ClusterState = .new
    /// `--initial-cluster-token`: mixed into the member and cluster IDs.
    public var initialClusterToken: String = "etcd-cluster"
    /// `--advertise-client-urls` (sorted). Flotilla default `http://127.0.0.1:2379`.
    public var advertiseClientURLs: [EtcdURL] = [EtcdURL(.http, host: "127.0.0.1", port: 2379)]
    /// `--discovery`: the discovery URL (etcd keeps it as text; so do we).
    public var discovery: String?
    /// `--discovery-fallback`: what to do when the discovery cluster is already full.
    public var discoveryFallback: DiscoveryFallback = .proxy
    /// `--discovery-proxy`: HTTP proxy for discovery traffic.
    public var discoveryProxy: String?
    /// `--discovery-srv`: DNS domain whose SRV records list the initial cluster.
    public var discoverySRV: String?
    /// `--discovery-srv-name` (3.4): suffix for the SRV service name.
    public var discoverySRVName: String?
    /// `--strict-reconfig-check`: reject member changes that would lose quorum (3.4 default `true`; 2.x `false`).
    public var strictReconfigCheck: Bool = true
    /// `--force-new-cluster`: unsafe recovery into a one-member cluster.
    public var forceNewCluster: Bool = false

    // MARK: v2 proxy

    /// `--proxy`: `off`, `readonly` or `on`.
    public var proxy: ProxyMode = .off
    /// `--proxy-failure-wait` (ms): how long an endpoint stays marked failed.
    public var proxyFailureWait: Duration = .milliseconds(5000)
    /// `--proxy-refresh-interval` (ms).
    public var proxyRefreshInterval: Duration = .milliseconds(30000)
    /// `--proxy-dial-timeout` (ms; 0 = none).
    public var proxyDialTimeout: Duration = .milliseconds(1000)
    /// `--proxy-write-timeout` (ms; 0 = none).
    public var proxyWriteTimeout: Duration = .milliseconds(5000)
    /// `--proxy-read-timeout` (ms; 0 = none, which watches need).
    public var proxyReadTimeout: Duration = .zero

    // MARK: Security

    /// `--cert-file`, `--key-file`, `--client-cert-auth`, `--trusted-ca-file`, `--auto-tls`, `--client-crl-file`,
    /// `--client-cert-allowed-hostname`, and 2.x's deprecated `--ca-file`.
    public var clientTLS = TLS()
    /// `--peer-cert-file`, `--peer-key-file`, `--peer-client-cert-auth`, `--peer-trusted-ca-file`, `--peer-auto-tls`,
    /// `--peer-crl-file`, `--peer-cert-allowed-cn`, `--peer-cert-allowed-hostname`, and 2.x's `--peer-ca-file`.
    public var peerTLS = TLS()
    /// `--cipher-suites` (3.4): TLS cipher suite names for clients and peers; empty = the TLS library's choice.
    public var cipherSuites: [String] = []

    // MARK: Logging

    /// `--log-level` (3.4). See ``effectiveLogLevel`` for the level `--debug` implies.
    public var logLevel: LogLevel = .info
    /// `--logger` (3.4): recorded; kv-peer logs through swift-log either way.
    public var logger: LoggerKind = .capnslog
    /// `--log-outputs` (3.4; `--log-output` is its deprecated alias): sorted, without duplicates.
    public var logOutputs: [String] = ["default"]
    /// `--debug` (2.x, deprecated in 3.4): debug-level logging.
    public var debug: Bool = false
    /// `--log-package-levels` (2.x/capnslog): e.g. `etcdserver=DEBUG`; recorded only.
    public var logPackageLevels: String?

    /// Creates the configuration etcd would run with if given no flags (with Flotilla's loopback defaults).
    public init() {}

    /// `debug` when `--debug` is set, else ``logLevel``.
    public var effectiveLogLevel: LogLevel { debug ? .debug : logLevel }

    /// True unless `--proxy` is `off`: the process runs as a v2 proxy, not a member.
    public var isProxy: Bool { proxy != .off }

    /// The URLs `--initial-cluster` lists for `member`, in the order given.
    public func initialPeerURLs(of member: String) -> [EtcdURL] {
        initialCluster.filter { $0.name == member }.map(\.peerURL)
    }
}

extension KVPeerConfiguration {
    /// One `name=url` entry of `--initial-cluster`.
    public struct InitialClusterMember: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var peerURL: EtcdURL

        public init(name: String, peerURL: EtcdURL) {
            self.name = name
            self.peerURL = peerURL
        }

        public var description: String { "\(name)=\(peerURL)" }
    }

    /// `--initial-cluster-state`.
    public enum ClusterState: String, Sendable, Equatable, CaseIterable {
        /// Bootstrap a new cluster from `--initial-cluster` (or discovery).
        case new
        /// Join a cluster that already runs (after `member add`).
        case existing
    }

    /// `--discovery-fallback`.
    public enum DiscoveryFallback: String, Sendable, Equatable, CaseIterable {
        /// Run as a proxy when the discovery cluster is full.
        case proxy
        /// Exit when the discovery cluster is full.
        case exit
    }

    /// `--proxy`.
    public enum ProxyMode: String, Sendable, Equatable, CaseIterable {
        case off
        /// Forward reads; answer every non-GET with 501.
        case readonly
        case on
    }

    /// `--log-level` values etcd 3.4 knows.
    public enum LogLevel: String, Sendable, Equatable, CaseIterable {
        case debug, info, warn, error, dpanic, panic, fatal
    }

    /// `--logger` values etcd 3.4 knows.
    public enum LoggerKind: String, Sendable, Equatable, CaseIterable {
        case capnslog, zap
    }

    /// One side's TLS settings (client-facing or peer-facing), as etcd's `transport.TLSInfo` plus auto-TLS.
    public struct TLS: Sendable, Equatable {
        /// `--cert-file` / `--peer-cert-file`.
        public var certFile: String?
        /// `--key-file` / `--peer-key-file`.
        public var keyFile: String?
        /// `--client-cert-auth` / `--peer-client-cert-auth`, or implied by 2.x's `--ca-file` / `--peer-ca-file`.
        public var clientCertAuth: Bool = false
        /// CA bundles that verify the other side's certificates: 2.x's deprecated `--ca-file` first (if given),
        /// then `--trusted-ca-file`, exactly the pool etcd 2.x builds (`TLSInfo.cafiles()`).
        public var trustedCAFiles: [String] = []
        /// `--auto-tls` / `--peer-auto-tls`: self-signed certificates under `<data-dir>/fixtures/…` when no cert is given.
        public var autoTLS: Bool = false
        /// `--client-crl-file` / `--peer-crl-file` (3.4).
        public var crlFile: String?
        /// `--client-cert-allowed-hostname` / `--peer-cert-allowed-hostname` (3.4).
        public var allowedHostname: String?
        /// `--peer-cert-allowed-cn` (3.4; peer side only).
        public var allowedCN: String?

        public init() {}

        /// etcd's `TLSInfo.Empty()`: neither a certificate nor a key was given.
        public var isEmpty: Bool { certFile == nil && keyFile == nil }

        /// Whether the server must demand and verify client certificates: `--client-cert-auth`, or any trusted CA
        /// (etcd 3.4 `TLSInfo.ServerConfig`; 2.x did the same for `--ca-file`).
        public var requiresClientCertificate: Bool { clientCertAuth || !trustedCAFiles.isEmpty }
    }
}
