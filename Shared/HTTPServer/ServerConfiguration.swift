/// Everything that shapes one listening HTTP server. Defaults follow what nginx and Go's net/http do for
/// the same knobs, tightened where a cluster-internal API server can afford it.
public struct ServerConfiguration: Sendable {
    /// Host to bind. Tests and local clusters use 127.0.0.1; port 0 picks a free port.
    public var host: String
    public var port: Int
    public var tls: TLSOptions?
    public var limits: Limits
    /// How long a graceful shutdown waits for in-flight requests (long-poll watches included) before
    /// they are cancelled.
    public var shutdownDrainTimeout: Duration
    /// Listen backlog handed to the kernel.
    public var backlog: Int32

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        tls: TLSOptions? = nil,
        limits: Limits = Limits(),
        shutdownDrainTimeout: Duration = .seconds(10),
        backlog: Int32 = 1024
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.shutdownDrainTimeout = shutdownDrainTimeout
        self.backlog = backlog
    }

    public struct Limits: Sendable {
        /// Total bytes of header names and values in one request; more is answered 431.
        public var maxHeaderBytes: Int
        /// Largest request body a handler may read; a declared or streamed body above it is answered 413.
        public var maxBodyBytes: Int
        /// A keep-alive connection with no request in progress is closed after this long.
        public var idleTimeout: Duration
        /// Once the first byte of a request has arrived, its whole head must follow within this time
        /// (slowloris); the same bound applies to the gap between reads of a request body.
        public var requestHeadTimeout: Duration
        /// Connections served at once; further clients wait in the kernel's accept queue.
        public var maxConnections: Int
        /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS advertised to every client.
        public var maxConcurrentStreams: Int

        public init(
            maxHeaderBytes: Int = 32 * 1024,
            maxBodyBytes: Int = 4 * 1024 * 1024,
            idleTimeout: Duration = .seconds(75),
            requestHeadTimeout: Duration = .seconds(10),
            maxConnections: Int = 10_000,
            maxConcurrentStreams: Int = 250
        ) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxBodyBytes = maxBodyBytes
            self.idleTimeout = idleTimeout
            self.requestHeadTimeout = requestHeadTimeout
            self.maxConnections = maxConnections
            self.maxConcurrentStreams = maxConcurrentStreams
        }
    }
}

/// TLS material as paths on disk, the way etcd's `--cert-file`/`--key-file`/`--trusted-ca-file` take it.
public struct TLSOptions: Sendable, Equatable {
    public var certificateChainPath: String
    public var privateKeyPath: String
    /// CA bundle used to verify client certificates.
    public var trustedCAPath: String?
    /// Require and verify a client certificate (etcd's `--client-cert-auth`).
    public var requireClientCertificate: Bool
    /// Certificates chosen by the name a client asks for (SNI); the default pair above serves any other name
    /// and clients that send none.
    public var namedCertificates: [NamedCertificate]

    public init(
        certificateChainPath: String,
        privateKeyPath: String,
        trustedCAPath: String? = nil,
        requireClientCertificate: Bool = false,
        namedCertificates: [NamedCertificate] = []
    ) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.trustedCAPath = trustedCAPath
        self.requireClientCertificate = requireClientCertificate
        self.namedCertificates = namedCertificates
    }
}

/// A certificate served to clients that ask for `serverName` (exact, or `*.example.com` for any one label).
public struct NamedCertificate: Sendable, Equatable {
    public var serverName: String
    public var certificateChainPath: String
    public var privateKeyPath: String

    public init(serverName: String, certificateChainPath: String, privateKeyPath: String) {
        self.serverName = serverName.lowercased()
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }

    /// Exact names win over wildcards; a wildcard covers exactly one label (`*.a.com` covers `b.a.com`).
    public static func select(_ requested: String, from certificates: [NamedCertificate]) -> NamedCertificate? {
        let name = requested.lowercased()
        if let exact = certificates.first(where: { $0.serverName == name }) { return exact }
        guard let dot = name.firstIndex(of: ".") else { return nil }
        let wildcard = "*" + name[dot...]
        return certificates.first { $0.serverName == wildcard }
    }
}
