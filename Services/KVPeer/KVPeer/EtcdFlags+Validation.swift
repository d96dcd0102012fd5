extension KVPeerConfiguration {
    /// Parses `--initial-cluster` text (`name=url,name=url`, a name may repeat) into ordered pairs, as etcd's
    /// `types.NewURLsMap` reads it: empty elements are skipped, the first `=` splits name from URL, and every URL
    /// must pass the URL-flag rules (an element without `=` has an empty URL, which is refused).
    /// Discovery answers use the same format.
    public static func parseInitialCluster(_ text: String) throws(EtcdURLError) -> [InitialClusterMember] {
        var members: [InitialClusterMember] = []
        for element in text.split(separator: ",", omittingEmptySubsequences: true) {
            let name: Substring
            let url: Substring
            if let equals = element.firstIndex(of: "=") {
                name = element[..<equals]
                url = element[element.index(after: equals)...]
            } else {
                name = element
                url = ""
            }
            members.append(InitialClusterMember(name: String(name), peerURL: try EtcdURL(parsing: String(url))))
        }
        return members
    }
}

extension EtcdFlags {
    /// etcd's `maxElectionMs`.
    static let maximumElectionTimeoutMilliseconds: UInt64 = 50_000

    /// Everything etcd does between parsing flags and starting the server that can be decided without touching
    /// the disk, the network or DNS: 0.4 flag mapping, name-derived defaults, and the cross-field checks, in
    /// etcd's order. Appends warnings to `builder`.
    static func finish(_ builder: inout EtcdFlagsBuilder) throws(EtcdFlagsError) -> KVPeerConfiguration {
        if let file = builder.configFile {
            throw EtcdFlagsError(
                .validation,
                "--config-file=\(file): configuration files are not supported by kv-peer; give flags or ETCD_* variables instead"
            )
        }
        try resolveLogging(&builder)
        try mapLegacyAddresses(&builder)
        resolveCertificateAuthorities(&builder)

        var configuration = builder.configuration
        let name = configuration.name
        if builder.dataDir.isEmpty {
            builder.dataDir = "\(name).etcd"
        }
        configuration.dataDir = builder.dataDir

        // etcd 3.4 `configFromCmdLine`: discovery replaces the default initial cluster.
        let bootstrapsByDiscovery = configuration.discovery != nil || configuration.discoverySRV != nil
            || configuration.discoverySRVName != nil
        if bootstrapsByDiscovery && !builder.isSet("initial-cluster") {
            builder.initialCluster = ""
        }

        // etcd 3.4 `Config.Validate`, in its order.
        try checkBindURLs(configuration.listenPeerURLs)
        try checkBindURLs(configuration.listenClientURLs)
        try checkBindURLs(configuration.listenMetricsURLs)
        try checkHostURLs(configuration.initialAdvertisePeerURLs, flag: "initial-advertise-peer-urls")
        try checkHostURLs(configuration.advertiseClientURLs, flag: "advertise-client-urls")
        let bootstrapSources = [configuration.discovery != nil, !builder.initialCluster.isEmpty, configuration.discoverySRV != nil]
        if bootstrapSources.filter({ $0 }).count > 1 {
            throw EtcdFlagsError(
                .validation,
                #"multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv""#
            )
        }
        try checkTiming(configuration, warnings: &builder.warnings)
        let mayFallBackToProxy = configuration.discovery != nil && configuration.discoveryFallback == .proxy
        let mayBeProxy = configuration.proxy != .off || mayFallBackToProxy
        if !mayBeProxy && builder.isSet("listen-client-urls") && !builder.isSet("advertise-client-urls") {
            throw EtcdFlagsError(.validation, "-advertise-client-urls is required when -listen-client-urls is set explicitly")
        }

        try checkTLS(configuration, warnings: &builder.warnings)

        // etcd 3.4 `UpdateDefaultClusterFromName`: `--name x` alone names the default cluster after x.
        if name != "default" && builder.initialCluster == defaultInitialCluster {
            builder.initialCluster = configuration.initialAdvertisePeerURLs.map { "\(name)=\($0)" }.joined(separator: ",")
        }
        do throws(EtcdURLError) {
            configuration.initialCluster = try KVPeerConfiguration.parseInitialCluster(builder.initialCluster)
        } catch {
            throw EtcdFlagsError(.validation, "error setting up initial cluster: \(error.description)")
        }
        if configuration.proxy == .off {
            try verifyMembership(configuration)
        }
        return configuration
    }

    // MARK: Logging (etcd 3.4 `setupLogging`)

    static func resolveLogging(_ builder: inout EtcdFlagsBuilder) throws(EtcdFlagsError) {
        guard let logger = KVPeerConfiguration.LoggerKind(rawValue: builder.logger) else {
            throw EtcdFlagsError(.validation, "unknown logger option \(EtcdFlagsGo.quote(builder.logger))")
        }
        builder.configuration.logger = logger
        guard let level = KVPeerConfiguration.LogLevel(rawValue: builder.logLevel) else {
            let known = KVPeerConfiguration.LogLevel.allCases.map(\.rawValue).joined(separator: ", ")
            throw EtcdFlagsError(.validation, "unknown log level \(EtcdFlagsGo.quote(builder.logLevel)) (only supports \(known))")
        }
        builder.configuration.logLevel = level
        if let deprecated = builder.deprecatedLogOutput {
            if builder.isSet("log-outputs") {
                throw EtcdFlagsError(.validation, "both '--log-output' and '--log-outputs' are set; only set '--log-outputs'")
            }
            builder.warnings.append("'--log-output' flag has been deprecated! Please use '--log-outputs'!")
            builder.configuration.logOutputs = deprecated
        }
        let outputs = builder.configuration.logOutputs
        switch logger {
        case .capnslog:
            guard outputs.count == 1 else {
                throw EtcdFlagsError(
                    .validation, "--logger=capnslog supports only 1 value in '--log-outputs', got \(EtcdFlagsGo.quote(outputs))"
                )
            }
            guard ["default", "stderr", "stdout"].contains(outputs[0]) else {
                throw EtcdFlagsError(
                    .validation, #"unknown log-output \#(EtcdFlagsGo.quote(outputs[0])) (only supports "default", "stderr", "stdout")"#
                )
            }
        case .zap:
            if outputs.count > 1 && outputs.contains("default") {
                throw EtcdFlagsError(.validation, #"multi logoutput for "default" is not supported yet"#)
            }
        }
    }

    // MARK: etcd 0.4 addresses (etcd 2.3 `SetBindAddrFromAddr` + `URLsFromFlags`)

    static func mapLegacyAddresses(_ builder: inout EtcdFlagsBuilder) throws(EtcdFlagsError) {
        let replacements = [
            ("addr", "advertise-client-urls"), ("bind-addr", "listen-client-urls"),
            ("peer-addr", "initial-advertise-peer-urls"), ("peer-bind-addr", "listen-peer-urls"),
        ]
        for (old, new) in replacements where builder.isSet(old) {
            builder.warnings.append("flag -\(old) is deprecated: use -\(new) instead")
        }
        if builder.peerBindAddr == nil, let peerAddr = builder.peerAddr {
            builder.peerBindAddr = EtcdFlagsIPAddressPort(ip: "::", port: peerAddr.port)
            builder.setFlags.insert("peer-bind-addr")
        }
        if builder.bindAddr == nil, let addr = builder.addr {
            builder.bindAddr = EtcdFlagsIPAddressPort(ip: "::", port: addr.port)
            builder.setFlags.insert("bind-addr")
        }
        let peerTLS = builder.configuration.peerTLS
        let clientTLS = builder.configuration.clientTLS
        if let url = try legacyURL(builder, urlsFlag: "listen-peer-urls", addrFlag: "peer-bind-addr", builder.peerBindAddr, peerTLS) {
            builder.configuration.listenPeerURLs = [url]
        }
        if let url = try legacyURL(builder, urlsFlag: "initial-advertise-peer-urls", addrFlag: "peer-addr", builder.peerAddr, peerTLS) {
            builder.configuration.initialAdvertisePeerURLs = [url]
        }
        if let url = try legacyURL(builder, urlsFlag: "listen-client-urls", addrFlag: "bind-addr", builder.bindAddr, clientTLS) {
            builder.configuration.listenClientURLs = [url]
        }
        if let url = try legacyURL(builder, urlsFlag: "advertise-client-urls", addrFlag: "addr", builder.addr, clientTLS) {
            builder.configuration.advertiseClientURLs = [url]
        }
    }

    private static func legacyURL(
        _ builder: EtcdFlagsBuilder, urlsFlag: String, addrFlag: String, _ address: EtcdFlagsIPAddressPort?,
        _ tls: KVPeerConfiguration.TLS
    ) throws(EtcdFlagsError) -> EtcdURL? {
        guard let address else { return nil }
        if builder.isSet(urlsFlag) {
            throw EtcdFlagsError(.validation, "Set only one of flags -\(urlsFlag) and -\(addrFlag)")
        }
        return EtcdURL(tls.isEmpty ? .http : .https, host: address.ip, port: address.port)
    }

    // MARK: TLS

    /// etcd 2.x: `--ca-file` joins the trusted pool ahead of `--trusted-ca-file` and demands client certificates.
    static func resolveCertificateAuthorities(_ builder: inout EtcdFlagsBuilder) {
        builder.configuration.clientTLS.trustedCAFiles = [builder.caFile, builder.trustedCAFile].compactMap { $0 }
        builder.configuration.peerTLS.trustedCAFiles = [builder.peerCAFile, builder.peerTrustedCAFile].compactMap { $0 }
        if builder.caFile != nil {
            builder.configuration.clientTLS.clientCertAuth = true
            builder.warnings.append("flag --ca-file is deprecated: use --trusted-ca-file and --client-cert-auth")
        }
        if builder.peerCAFile != nil {
            builder.configuration.peerTLS.clientCertAuth = true
            builder.warnings.append("flag --peer-ca-file is deprecated: use --peer-trusted-ca-file and --peer-client-cert-auth")
        }
    }

    static func checkTLS(_ configuration: KVPeerConfiguration, warnings: inout [String]) throws(EtcdFlagsError) {
        for (tls, side, prefix) in [(configuration.clientTLS, "client", ""), (configuration.peerTLS, "peer", "peer-")] {
            if (tls.certFile == nil) != (tls.keyFile == nil) {
                throw EtcdFlagsError(
                    .validation,
                    "--\(prefix)cert-file and --\(prefix)key-file must be given together: KeyFile and CertFile must both be present[key: \(tls.keyFile ?? ""), cert: \(tls.certFile ?? "")]"
                )
            }
            if tls.autoTLS && !tls.isEmpty {
                warnings.append("ignoring \(side) auto TLS since certs given")
            }
        }
        for url in configuration.listenClientURLs {
            let tls = configuration.clientTLS
            if url.scheme.isSecure {
                if tls.isEmpty && !tls.autoTLS {
                    throw EtcdFlagsError(
                        .validation, "TLS key/cert (--cert-file, --key-file) must be provided for client url \(url) with HTTPS scheme"
                    )
                }
            } else {
                if !tls.isEmpty {
                    warnings.append("The scheme of client url \(url) is HTTP while client key/cert files are presented. Ignored client key/cert files.")
                }
                if tls.clientCertAuth {
                    warnings.append(
                        "The scheme of client url \(url) is HTTP while client cert auth (--client-cert-auth) is enabled. Ignored client cert auth for this url."
                    )
                }
            }
        }
        for url in configuration.listenPeerURLs {
            let tls = configuration.peerTLS
            if url.scheme.isSecure {
                if tls.isEmpty && !tls.autoTLS {
                    throw EtcdFlagsError(.validation, "cannot listen on TLS for \(url.hostPort): KeyFile and CertFile are not presented")
                }
            } else {
                if !tls.isEmpty {
                    warnings.append("The scheme of peer url \(url) is HTTP while peer key/cert files are presented. Ignored peer key/cert files.")
                }
                if tls.clientCertAuth {
                    warnings.append(
                        "The scheme of peer url \(url) is HTTP while client cert auth (--peer-client-cert-auth) is enabled. Ignored client cert auth for this url."
                    )
                }
            }
        }
    }

    // MARK: URLs (etcd 3.4 `checkBindURLs`, `checkHostURLs`)

    /// Listen URLs name an IP (or `localhost`), never a host name; unix sockets are exempt.
    static func checkBindURLs(_ urls: [EtcdURL]) throws(EtcdFlagsError) {
        for url in urls where !url.scheme.isUnixSocket {
            if url.host == "localhost" { continue }
            if !EtcdFlagsGo.isIP(url.host) {
                throw EtcdFlagsError(.validation, "expected IP in URL for binding (\(url))")
            }
        }
    }

    /// Advertised URLs need a host.
    static func checkHostURLs(_ urls: [EtcdURL], flag: String) throws(EtcdFlagsError) {
        for url in urls where url.host.isEmpty {
            let all = urls.map(\.description).joined(separator: ",")
            throw EtcdFlagsError(
                .validation, #"--\#(flag) \#(EtcdFlagsGo.quote(all)) must be "host:port" (unexpected empty host (\#(url)))"#
            )
        }
    }

    // MARK: Raft timing

    static func checkTiming(_ configuration: KVPeerConfiguration, warnings: inout [String]) throws(EtcdFlagsError) {
        let tick = milliseconds(configuration.heartbeatInterval)
        let election = milliseconds(configuration.electionTimeout)
        if tick == 0 {
            throw EtcdFlagsError(.validation, "--heartbeat-interval must be >0 (set to \(tick)ms)")
        }
        if election == 0 {
            throw EtcdFlagsError(.validation, "--election-timeout must be >0 (set to \(election)ms)")
        }
        if election <= tick {
            throw EtcdFlagsError(
                .validation, "--election-timeout[\(election)ms] must be greater than --heartbeat-interval[\(tick)ms]"
            )
        }
        let (fiveTicks, overflow) = tick.multipliedReportingOverflow(by: 5)
        if overflow || fiveTicks > election {
            // etcd makes this an error; kv-peer only warns, so tests may run raft with tighter timings.
            warnings.append("--election-timeout[\(election)ms] should be at least as 5 times as --heartbeat-interval[\(tick)ms]")
        }
        if election > maximumElectionTimeoutMilliseconds {
            throw EtcdFlagsError(
                .validation,
                "--election-timeout[\(election)ms] is too long, and should be set less than \(maximumElectionTimeoutMilliseconds)ms"
            )
        }
    }

    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(seconds, 0)) * 1000 + UInt64(max(attoseconds, 0) / 1_000_000_000_000_000)
    }

    // MARK: Bootstrap (etcd 3.4 `ServerConfig.VerifyBootstrap` / `VerifyJoinExisting`)

    /// The checks etcd makes when a member starts on an empty data dir. (etcd skips them when the data dir already
    /// holds a member; kv-peer's flags for a restart are the ones that passed on the first start, so running them
    /// every time refuses nothing etcd would have accepted in practice.)
    static func verifyMembership(_ configuration: KVPeerConfiguration) throws(EtcdFlagsError) {
        let name = configuration.name
        if configuration.initialClusterState == .existing && configuration.discovery != nil {
            throw EtcdFlagsError(.validation, "discovery URL should not be set when joining existing initial cluster")
        }
        // With discovery the cluster is whatever the discovery service returns; with SRV, what DNS returns.
        guard configuration.discovery == nil && configuration.discoverySRV == nil else { return }

        let own = configuration.initialPeerURLs(of: name)
        if own.isEmpty {
            throw EtcdFlagsError(.validation, "couldn't find local name \(EtcdFlagsGo.quote(name)) in the initial cluster configuration")
        }
        if configuration.initialClusterState == .new {
            try advertiseMatchesCluster(name: name, initial: own, advertised: configuration.initialAdvertisePeerURLs)
        }
        var seen: Set<EtcdURL> = []
        for member in configuration.initialCluster where !seen.insert(member.peerURL).inserted {
            let listing = EtcdFlagsGo.sortedStrings(configuration.initialCluster.map(\.description)).joined(separator: ",")
            throw EtcdFlagsError(.validation, "initial cluster \(listing) has duplicate url")
        }
    }

    /// etcd 3.4 `advertiseMatchesCluster`, comparing URL text (etcd would also resolve host names through DNS).
    private static func advertiseMatchesCluster(name: String, initial: [EtcdURL], advertised: [EtcdURL]) throws(EtcdFlagsError) {
        let initialURLs = EtcdFlagsGo.sortedStrings(initial.map(\.description))
        let advertisedURLs = EtcdFlagsGo.sortedStrings(advertised.map(\.description))
        guard initialURLs != advertisedURLs else { return }

        let reason: String
        if initialURLs.count != advertisedURLs.count {
            reason = "len(\(EtcdFlagsGo.quote(advertisedURLs))) != len(\(EtcdFlagsGo.quote(initialURLs)))"
        } else {
            let (a, b) = zip(advertisedURLs, initialURLs).first { $0 != $1 }!
            reason = "\(EtcdFlagsGo.quote(a)) != \(EtcdFlagsGo.quote(b))"
        }
        let advertisedText = advertisedURLs.joined(separator: ",")
        let advertisedAsCluster = advertisedURLs.map { "\(name)=\($0)" }.joined(separator: ",")

        let missingFromAdvertised = EtcdFlagsGo.sortedStrings(Array(Set(initialURLs).subtracting(advertisedURLs)))
        if !missingFromAdvertised.isEmpty {
            let listing = missingFromAdvertised.map { "\(name)=\($0)" }.joined(separator: ",")
            throw EtcdFlagsError(
                .validation, "--initial-cluster has \(listing) but missing from --initial-advertise-peer-urls=\(advertisedText) (\(reason))"
            )
        }
        let missingFromCluster = EtcdFlagsGo.sortedStrings(Array(Set(advertisedURLs).subtracting(initialURLs)))
        if !missingFromCluster.isEmpty {
            throw EtcdFlagsError(
                .validation,
                "--initial-advertise-peer-urls has \(missingFromCluster.joined(separator: ",")) but missing from --initial-cluster=\(advertisedAsCluster)"
            )
        }
        throw EtcdFlagsError(.validation, "failed to resolve \(advertisedText) to match --initial-cluster=\(advertisedAsCluster) (\(reason))")
    }
}
