/// What parsing accumulates before the cross-field pass (``EtcdFlags`` `finish`) turns it into a configuration.
struct EtcdFlagsBuilder: Sendable {
    var configuration = KVPeerConfiguration()
    var warnings: [String] = []
    /// Flags set on the command line or from the environment — Go's `FlagSet.Visit` set, which etcd's
    /// "is set explicitly" checks consult.
    var setFlags: Set<String> = []

    /// `--data-dir` as given; "" means `<name>.etcd`.
    var dataDir = ""
    /// `--initial-cluster` as given (parsed late, as etcd does, so the name can rewrite the default first).
    var initialCluster = EtcdFlags.defaultInitialCluster
    var trustedCAFile: String?
    var peerTrustedCAFile: String?
    /// 2.x's deprecated `--ca-file` / `--peer-ca-file`.
    var caFile: String?
    var peerCAFile: String?
    /// 0.4's `-addr`, `-bind-addr`, `-peer-addr`, `-peer-bind-addr`.
    var addr: EtcdFlagsIPAddressPort?
    var bindAddr: EtcdFlagsIPAddressPort?
    var peerAddr: EtcdFlagsIPAddressPort?
    var peerBindAddr: EtcdFlagsIPAddressPort?
    /// 3.4's deprecated `--log-output`.
    var deprecatedLogOutput: [String]?
    var logLevel = "info"
    var logger = "capnslog"
    var configFile: String?
    var printVersion = false

    func isSet(_ flag: String) -> Bool { setFlags.contains(flag) }
}

/// 0.4's `ip:port` flag value (etcd 2.x `pkg/flags.IPAddressPort`).
struct EtcdFlagsIPAddressPort: Sendable, Equatable {
    var ip: String
    var port: Int

    static func parse(_ text: String) throws(EtcdFlagValueError) -> EtcdFlagsIPAddressPort {
        let trimmed = EtcdFlagsGo.trimSpace(text)
        let host: String
        let portText: String
        switch EtcdFlagsGo.splitHostPort(trimmed) {
        case .failure(let error): throw EtcdFlagValueError(error.description)
        case .success(let pair): (host, portText) = pair
        }
        guard EtcdFlagsGo.isIP(host) else { throw EtcdFlagValueError("bad IP in address specification") }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw EtcdFlagValueError("bad port in address specification")
        }
        return EtcdFlagsIPAddressPort(ip: host, port: port)
    }
}

/// A flag value's own complaint, before the parser wraps it Go-style (`invalid value "x" for flag -f: <text>`).
struct EtcdFlagValueError: Error, Equatable {
    let text: String
    init(_ text: String) { self.text = text }
}

/// One flag, as Go's `flag.FlagSet` knows it: a name, whether it is boolean (`IsBoolFlag`, so it never consumes the
/// next argument), and its `Set` method.
struct EtcdFlagDefinition: Sendable {
    enum Kind: Sendable { case value, boolean }

    /// Where the flag appears in `--help` (`nil`: accepted but not listed).
    enum Section: String, Sendable, CaseIterable {
        case member = "Member"
        case clustering = "Clustering"
        case proxy = "Proxy"
        case security = "Security"
        case logging = "Logging"
        case unsafe = "Unsafe"
        case profiling = "Profiling"
        case other = "Other"
    }

    typealias Setter = @Sendable (inout EtcdFlagsBuilder, String) throws(EtcdFlagValueError) -> Void

    let name: String
    let kind: Kind
    let section: Section?
    let defaultText: String
    let usage: String
    let set: Setter

    /// `ETCD_` + upper-cased name with dashes as underscores (etcd `flags.FlagToEnv`).
    var environmentKey: String { EtcdFlags.environmentKey(for: name) }
}

extension EtcdFlagDefinition {
    static func string(
        _ name: String, _ section: Section?, default defaultText: String = "", _ usage: String,
        _ store: @escaping @Sendable (inout EtcdFlagsBuilder, String?) -> Void
    ) -> Self {
        Self(name: name, kind: .value, section: section, defaultText: defaultText, usage: usage) { builder, value throws(EtcdFlagValueError) in
            store(&builder, value.isEmpty ? nil : value)
        }
    }

    static func bool(
        _ name: String, _ section: Section?, default defaultValue: Bool = false, _ usage: String,
        _ store: @escaping @Sendable (inout EtcdFlagsBuilder, Bool) -> Void
    ) -> Self {
        Self(name: name, kind: .boolean, section: section, defaultText: "\(defaultValue)", usage: usage) { builder, value throws(EtcdFlagValueError) in
            guard let flag = EtcdFlagsGo.parseBool(value) else { throw EtcdFlagValueError(EtcdFlagsGo.parseError) }
            store(&builder, flag)
        }
    }

    /// Go's `UintVar` / `Uint64Var`: base prefixes allowed, `parse error` / `value out of range`.
    static func uint(
        _ name: String, _ section: Section?, default defaultText: String, _ usage: String,
        _ store: @escaping @Sendable (inout EtcdFlagsBuilder, UInt64) -> Void
    ) -> Self {
        Self(name: name, kind: .value, section: section, defaultText: defaultText, usage: usage) { builder, value throws(EtcdFlagValueError) in
            switch EtcdFlagsGo.parseUint(value) {
            case .success(let number): store(&builder, number)
            case .failure(let error): throw EtcdFlagValueError(error.flagText)
            }
        }
    }

    /// A `uint` flag counting milliseconds, stored as a `Duration`.
    static func milliseconds(
        _ name: String, _ section: Section?, default defaultText: String, _ usage: String,
        _ store: @escaping @Sendable (inout EtcdFlagsBuilder, Duration) -> Void
    ) -> Self {
        uint(name, section, default: defaultText, usage) { builder, ms in store(&builder, EtcdFlags.duration(milliseconds: ms)) }
    }

    /// etcd's `SelectiveStringValue`: one of a fixed set, else `invalid value`.
    static func choice<Choice: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ section: Section?, default defaultValue: Choice, _ usage: String,
        _ store: @escaping @Sendable (inout EtcdFlagsBuilder, Choice) -> Void
    ) -> Self where Choice.RawValue == String {
        Self(name: name, kind: .value, section: section, defaultText: defaultValue.rawValue, usage: usage) { builder, value throws(EtcdFlagValueError) in
            guard let choice = Choice(rawValue: value) else { throw EtcdFlagValueError("invalid value") }
            store(&builder, choice)
        }
    }

    /// etcd's URL list flags (`types.NewURLs`): every element valid, result sorted.
    static func urls(
        _ name: String, _ section: Section?, default defaultText: String = "", _ usage: String,
        _ store: @escaping @Sendable (inout EtcdFlagsBuilder, [EtcdURL]) -> Void
    ) -> Self {
        Self(name: name, kind: .value, section: section, defaultText: defaultText, usage: usage) { builder, value throws(EtcdFlagValueError) in
            do throws(EtcdURLError) {
                store(&builder, try EtcdURL.parseList(value))
            } catch {
                throw EtcdFlagValueError(error.description)
            }
        }
    }

    /// 0.4's `ip:port` flags (etcd 2.x maps them onto the URL flags after parsing).
    static func ipAddressPort(
        _ name: String, _ usage: String,
        _ store: @escaping @Sendable (inout EtcdFlagsBuilder, EtcdFlagsIPAddressPort) -> Void
    ) -> Self {
        Self(name: name, kind: .value, section: nil, defaultText: "", usage: usage) { builder, value throws(EtcdFlagValueError) in
            store(&builder, try EtcdFlagsIPAddressPort.parse(value))
        }
    }

    /// etcd's `IgnoredFlag`: boolean-shaped (so `-config /x` leaves `/x` as a positional argument, as in etcd),
    /// accepts any value, warns.
    static func ignored(_ name: String) -> Self {
        Self(name: name, kind: .boolean, section: nil, defaultText: "", usage: "") { builder, _ throws(EtcdFlagValueError) in
            builder.warnings.append(#"flag "-\#(name)" is no longer supported - ignoring."#)
        }
    }

    /// etcd's `DeprecatedFlag`: takes a value and always refuses it.
    static func deprecated(_ name: String) -> Self {
        Self(name: name, kind: .value, section: nil, defaultText: "", usage: "") { _, _ throws(EtcdFlagValueError) in
            throw EtcdFlagValueError(#"flag "-\#(name)" is no longer supported."#)
        }
    }

    enum ValueShape: Sendable { case boolean, unsigned, unsigned32, signed, duration, text, urls }

    /// An etcd 3.4 flag that only concerns the v3 backend (or etcd internals kv-peer does not have): its value is
    /// checked as etcd checks it, then dropped with a warning.
    static func noEffect(_ name: String, _ shape: ValueShape) -> Self {
        let warning = "flag --\(name) has no effect in kv-peer (etcd v3 only); ignoring"
        return Self(name: name, kind: shape == .boolean ? .boolean : .value, section: nil, defaultText: "", usage: "") { builder, value throws(EtcdFlagValueError) in
            switch shape {
            case .boolean:
                guard EtcdFlagsGo.parseBool(value) != nil else { throw EtcdFlagValueError(EtcdFlagsGo.parseError) }
            case .unsigned:
                if case .failure(let error) = EtcdFlagsGo.parseUint(value) { throw EtcdFlagValueError(error.flagText) }
            case .unsigned32:
                // etcd's Uint32Value: base 10, and the raw strconv error.
                if case .failure(let error) = EtcdFlagsGo.parseUint(value, base: 10, bits: 32) {
                    let why = error == .syntax ? "invalid syntax" : "value out of range"
                    throw EtcdFlagValueError("strconv.ParseUint: parsing \(EtcdFlagsGo.quote(value)): \(why)")
                }
            case .signed:
                if case .failure(let error) = EtcdFlagsGo.parseInt(value) { throw EtcdFlagValueError(error.flagText) }
            case .duration:
                guard EtcdFlagsGo.isValidDuration(value) else { throw EtcdFlagValueError(EtcdFlagsGo.parseError) }
            case .text:
                break
            case .urls:
                do throws(EtcdURLError) { _ = try EtcdURL.parseList(value) } catch { throw EtcdFlagValueError(error.description) }
            }
            builder.warnings.append(warning)
        }
    }
}

extension EtcdFlags {
    static let defaultInitialCluster = "default=http://127.0.0.1:2380"

    /// Every flag kv-peer accepts, in `--help` order. Names and value syntax are etcd's (2.3 and 3.4).
    static let definitions: [EtcdFlagDefinition] = {
        typealias D = EtcdFlagDefinition
        var all: [D] = [
            // Member
            .string("name", .member, default: "default", "Human-readable name for this member.") { $0.configuration.name = $1 ?? "" },
            .string("data-dir", .member, default: "${name}.etcd", "Path to the data directory.") { $0.dataDir = $1 ?? "" },
            .string("wal-dir", .member, "Path to the dedicated wal directory.") { $0.configuration.walDir = $1 },
            .uint("snapshot-count", .member, default: "100000", "Number of committed transactions to trigger a snapshot to disk.") {
                $0.configuration.snapshotCount = $1
            },
            .milliseconds("heartbeat-interval", .member, default: "100", "Time (in milliseconds) of a heartbeat interval.") {
                $0.configuration.heartbeatInterval = $1
            },
            .milliseconds("election-timeout", .member, default: "1000", "Time (in milliseconds) for an election to timeout.") {
                $0.configuration.electionTimeout = $1
            },
            .urls("listen-peer-urls", .member, default: "http://127.0.0.1:2380", "List of URLs to listen on for peer traffic.") {
                $0.configuration.listenPeerURLs = $1
            },
            .urls(
                "listen-client-urls", .member, default: "http://127.0.0.1:2379,http://127.0.0.1:4001",
                "List of URLs to listen on for client traffic."
            ) { $0.configuration.listenClientURLs = $1 },
            .urls("listen-metrics-urls", .member, "List of URLs to listen on for the metrics and health endpoints.") {
                $0.configuration.listenMetricsURLs = $1
            },
            .uint("max-snapshots", .member, default: "5", "Maximum number of snapshot files to retain (0 is unlimited).") {
                $0.configuration.maxSnapshots = $1
            },
            .uint("max-wals", .member, default: "5", "Maximum number of wal files to retain (0 is unlimited).") {
                $0.configuration.maxWALs = $1
            },
            D(
                name: "cors", kind: .value, section: .member, defaultText: "*",
                usage: "Comma-separated white list of origins for CORS, or cross-origin resource sharing, (empty means off, * means allow all)."
            ) { builder, value throws(EtcdFlagValueError) in
                builder.configuration.cors = try EtcdFlags.parseCORS(value)
            },
            .bool("enable-v2", .member, "Accepted for etcd 3.4 compatibility; kv-peer always serves the v2 API.") {
                $0.configuration.enableV2 = $1
            },

            // Clustering
            .urls(
                "initial-advertise-peer-urls", .clustering, default: "http://127.0.0.1:2380",
                "List of this member's peer URLs to advertise to the rest of the cluster."
            ) { $0.configuration.initialAdvertisePeerURLs = $1 },
            .string("initial-cluster", .clustering, default: "default=http://127.0.0.1:2380", "Initial cluster configuration for bootstrapping.") {
                $0.initialCluster = $1 ?? ""
            },
            .choice(
                "initial-cluster-state", .clustering, default: KVPeerConfiguration.ClusterState.new,
                "Initial cluster state ('new' or 'existing')."
            ) { $0.configuration.initialClusterState = $1 },
            .string("initial-cluster-token", .clustering, default: "etcd-cluster", "Initial cluster token for the etcd cluster during bootstrap.") {
                $0.configuration.initialClusterToken = $1 ?? ""
            },
            .urls(
                "advertise-client-urls", .clustering, default: "http://127.0.0.1:2379",
                "List of this member's client URLs to advertise to the public."
            ) { $0.configuration.advertiseClientURLs = $1 },
            .string("discovery", .clustering, "Discovery URL used to bootstrap the cluster.") { $0.configuration.discovery = $1 },
            .choice(
                "discovery-fallback", .clustering, default: KVPeerConfiguration.DiscoveryFallback.proxy,
                "Expected behavior ('exit' or 'proxy') when discovery services fails."
            ) { $0.configuration.discoveryFallback = $1 },
            .string("discovery-proxy", .clustering, "HTTP proxy to use for traffic to discovery service.") { $0.configuration.discoveryProxy = $1 },
            .string("discovery-srv", .clustering, "DNS srv domain used to bootstrap the cluster.") { $0.configuration.discoverySRV = $1 },
            .string("discovery-srv-name", .clustering, "Suffix to the dns srv name queried when bootstrapping.") {
                $0.configuration.discoverySRVName = $1
            },
            .bool("strict-reconfig-check", .clustering, default: true, "Reject reconfiguration requests that would cause quorum loss.") {
                $0.configuration.strictReconfigCheck = $1
            },

            // Proxy
            .choice("proxy", .proxy, default: KVPeerConfiguration.ProxyMode.off, "Proxy mode setting ('off', 'readonly' or 'on').") {
                $0.configuration.proxy = $1
            },
            .milliseconds("proxy-failure-wait", .proxy, default: "5000", "Time (in milliseconds) an endpoint will be held in a failed state.") {
                $0.configuration.proxyFailureWait = $1
            },
            .milliseconds("proxy-refresh-interval", .proxy, default: "30000", "Time (in milliseconds) of the endpoints refresh interval.") {
                $0.configuration.proxyRefreshInterval = $1
            },
            .milliseconds("proxy-dial-timeout", .proxy, default: "1000", "Time (in milliseconds) for a dial to timeout.") {
                $0.configuration.proxyDialTimeout = $1
            },
            .milliseconds("proxy-write-timeout", .proxy, default: "5000", "Time (in milliseconds) for a write to timeout.") {
                $0.configuration.proxyWriteTimeout = $1
            },
            .milliseconds("proxy-read-timeout", .proxy, default: "0", "Time (in milliseconds) for a read to timeout.") {
                $0.configuration.proxyReadTimeout = $1
            },

            // Security
            .string("cert-file", .security, "Path to the client server TLS cert file.") { $0.configuration.clientTLS.certFile = $1 },
            .string("key-file", .security, "Path to the client server TLS key file.") { $0.configuration.clientTLS.keyFile = $1 },
            .bool("client-cert-auth", .security, "Enable client cert authentication.") { $0.configuration.clientTLS.clientCertAuth = $1 },
            .string("client-crl-file", .security, "Path to the client certificate revocation list file.") { $0.configuration.clientTLS.crlFile = $1 },
            .string("client-cert-allowed-hostname", .security, "Allowed TLS hostname for client cert authentication.") {
                $0.configuration.clientTLS.allowedHostname = $1
            },
            .string("trusted-ca-file", .security, "Path to the client server TLS trusted CA cert file.") { $0.trustedCAFile = $1 },
            .string("ca-file", .security, "DEPRECATED: Path to the client server TLS CA file (implies --client-cert-auth).") { $0.caFile = $1 },
            .bool("auto-tls", .security, "Client TLS using generated certificates.") { $0.configuration.clientTLS.autoTLS = $1 },
            .string("peer-cert-file", .security, "Path to the peer server TLS cert file.") { $0.configuration.peerTLS.certFile = $1 },
            .string("peer-key-file", .security, "Path to the peer server TLS key file.") { $0.configuration.peerTLS.keyFile = $1 },
            .bool("peer-client-cert-auth", .security, "Enable peer client cert authentication.") {
                $0.configuration.peerTLS.clientCertAuth = $1
            },
            .string("peer-trusted-ca-file", .security, "Path to the peer server TLS trusted CA file.") { $0.peerTrustedCAFile = $1 },
            .string("peer-ca-file", .security, "DEPRECATED: Path to the peer server TLS CA file (implies --peer-client-cert-auth).") {
                $0.peerCAFile = $1
            },
            .bool("peer-auto-tls", .security, "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.") {
                $0.configuration.peerTLS.autoTLS = $1
            },
            .string("peer-crl-file", .security, "Path to the peer certificate revocation list file.") { $0.configuration.peerTLS.crlFile = $1 },
            .string("peer-cert-allowed-cn", .security, "Required CN for client certs connecting to the peer endpoint.") {
                $0.configuration.peerTLS.allowedCN = $1
            },
            .string("peer-cert-allowed-hostname", .security, "Allowed TLS hostname for inter peer authentication.") {
                $0.configuration.peerTLS.allowedHostname = $1
            },
            D(
                name: "cipher-suites", kind: .value, section: .security, defaultText: "",
                usage: "Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated)."
            ) { builder, value throws(EtcdFlagValueError) in
                builder.configuration.cipherSuites = value.isEmpty ? [] : value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            },

            // Logging
            .string("logger", .logging, default: "capnslog", "Specify 'zap' for structured logging or 'capnslog'.") { $0.logger = $1 ?? "" },
            D(
                name: "log-outputs", kind: .value, section: .logging, defaultText: "default",
                usage: "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets."
            ) { builder, value throws(EtcdFlagValueError) in
                builder.configuration.logOutputs = EtcdFlags.uniqueSortedStrings(value)
            },
            D(name: "log-output", kind: .value, section: nil, defaultText: "default", usage: "DEPRECATED: use --log-outputs.") {
                builder, value throws(EtcdFlagValueError) in
                builder.deprecatedLogOutput = EtcdFlags.uniqueSortedStrings(value)
            },
            .string("log-level", .logging, default: "info", "Configures log level. Only supports debug, info, warn, error, panic, or fatal.") {
                $0.logLevel = $1 ?? ""
            },
            .bool("debug", .logging, "DEPRECATED: Enable debug-level logging (use --log-level=debug).") { $0.configuration.debug = $1 },
            .string("log-package-levels", .logging, "DEPRECATED: Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG').") {
                $0.configuration.logPackageLevels = $1
            },

            // Unsafe
            .bool("force-new-cluster", .unsafe, "Force to create a new one member cluster.") { $0.configuration.forceNewCluster = $1 },
            .bool("unsafe-no-fsync", .unsafe, "Disables fsync, unsafe, will cause data loss.") { $0.configuration.unsafeNoFsync = $1 },

            // Profiling
            .bool("enable-pprof", .profiling, "Enable runtime profiling data via HTTP server. Address is at client URL + \"/debug/pprof/\"") {
                $0.configuration.enablePprof = $1
            },

            // Other
            .bool("version", .other, "Print the version and exit.") { $0.printVersion = $1 },
            .string("config-file", nil, "Not supported by kv-peer (etcd 3.4 YAML configuration).") { $0.configFile = $1 },

            // etcd 0.4 (mapped by etcd 2.x)
            .ipAddressPort("addr", "DEPRECATED: Use -advertise-client-urls instead.") { $0.addr = $1 },
            .ipAddressPort("bind-addr", "DEPRECATED: Use -listen-client-urls instead.") { $0.bindAddr = $1 },
            .ipAddressPort("peer-addr", "DEPRECATED: Use -initial-advertise-peer-urls instead.") { $0.peerAddr = $1 },
            .ipAddressPort("peer-bind-addr", "DEPRECATED: Use -listen-peer-urls instead.") { $0.peerBindAddr = $1 },
            .deprecated("peers"),
            .deprecated("peers-file"),
        ]
        // etcd 2.3 and 3.4 `ignored`: 0.4 flags that are accepted and dropped.
        all += EtcdFlags.ignoredFlagNames.map(D.ignored)
        // etcd 3.4 (and 2.3 experimental) flags for the v3 backend and etcd internals.
        all += [
            D.noEffect("quota-backend-bytes", .signed),
            .noEffect("backend-batch-interval", .duration),
            .noEffect("backend-batch-limit", .signed),
            .noEffect("max-txn-ops", .unsigned),
            .noEffect("max-request-bytes", .unsigned),
            .noEffect("max-concurrent-streams", .unsigned32),
            .noEffect("grpc-keepalive-min-time", .duration),
            .noEffect("grpc-keepalive-interval", .duration),
            .noEffect("grpc-keepalive-timeout", .duration),
            .noEffect("initial-election-tick-advance", .boolean),
            .noEffect("pre-vote", .boolean),
            .noEffect("host-whitelist", .text),
            .noEffect("experimental-peer-skip-client-san-verification", .boolean),
            .noEffect("auto-compaction-retention", .text),
            .noEffect("auto-compaction-mode", .text),
            .noEffect("metrics", .text),
            .noEffect("auth-token", .text),
            .noEffect("bcrypt-cost", .unsigned),
            .noEffect("auth-token-ttl", .unsigned),
            .noEffect("enable-grpc-gateway", .boolean),
            .noEffect("experimental-initial-corrupt-check", .boolean),
            .noEffect("experimental-corrupt-check-time", .duration),
            .noEffect("experimental-enable-v2v3", .text),
            .noEffect("experimental-backend-bbolt-freelist-type", .text),
            .noEffect("experimental-enable-lease-checkpoint", .boolean),
            .noEffect("experimental-enable-lease-checkpoint-persist", .boolean),
            .noEffect("experimental-compaction-batch-limit", .signed),
            .noEffect("experimental-watch-progress-notify-interval", .duration),
            .noEffect("experimental-warning-apply-duration", .duration),
            .noEffect("experimental-v3demo", .boolean),
            .noEffect("experimental-gRPC-addr", .text),
            .noEffect("experimental-auto-compaction-retention", .signed),
        ]
        return all
    }()

    /// etcd 2.3's `ignored` list (3.4 adds only `test.*` coverage flags).
    static let ignoredFlagNames = [
        "cluster-active-size", "cluster-remove-delay", "cluster-sync-interval", "config", "force", "max-result-buffer",
        "max-retry-attempts", "peer-heartbeat-interval", "peer-election-timeout", "retry-interval", "snapshot", "v", "vv",
    ]

    static let definitionsByName: [String: EtcdFlagDefinition] = {
        Dictionary(definitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }()

    static func environmentKey(for flag: String) -> String {
        "ETCD_" + String(flag.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    static func duration(milliseconds ms: UInt64) -> Duration {
        Duration(secondsComponent: Int64(ms / 1000), attosecondsComponent: Int64(ms % 1000) * 1_000_000_000_000_000)
    }

    /// etcd's `UniqueStringsValue`: split on commas, duplicates dropped, sorted.
    static func uniqueSortedStrings(_ value: String) -> [String] {
        EtcdFlagsGo.sortedStrings(Array(Set(value.split(separator: ",", omittingEmptySubsequences: false).map(String.init))))
    }

    /// etcd 2.x's `CORSInfo.Set`: comma-separated origins, trimmed, empty ones skipped, `*` or anything Go's
    /// `url.Parse` accepts. (etcd 3.4 demands `scheme://host:port` origins, which refuses ordinary origins such as
    /// `https://example.com`; kv-peer keeps 2.x's leniency.) Order kept, duplicates dropped.
    static func parseCORS(_ value: String) throws(EtcdFlagValueError) -> [String] {
        var origins: [String] = []
        for piece in value.split(separator: ",", omittingEmptySubsequences: false) {
            let origin = EtcdFlagsGo.trimSpace(String(piece))
            if origin.isEmpty { continue }
            if origin != "*" {
                do throws(EtcdURLError) { _ = try EtcdFlagsGo.goURLParse(origin) } catch { throw EtcdFlagValueError("Invalid CORS origin: \(error.description)") }
            }
            if !origins.contains(origin) { origins.append(origin) }
        }
        return origins
    }
}
