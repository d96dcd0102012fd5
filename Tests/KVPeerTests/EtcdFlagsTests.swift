import Testing

@testable import KVPeer

/// Runs the parser and insists on `.run`, returning the configuration and warnings.
private func run(_ arguments: [String], _ environment: [String: String] = [:]) throws -> (KVPeerConfiguration, [String]) {
    let command = try EtcdFlags.parse(arguments: arguments, environment: environment)
    guard case .run(let configuration, let warnings) = command else {
        Issue.record("expected .run, got \(command)")
        throw ExpectedRun()
    }
    return (configuration, warnings)
}

private struct ExpectedRun: Error {}

/// The error the parser throws, or `nil` (recorded as an issue) if it does not throw.
private func failure(_ arguments: [String], _ environment: [String: String] = [:]) -> EtcdFlagsError? {
    do {
        let command = try EtcdFlags.parse(arguments: arguments, environment: environment)
        Issue.record("expected an error for \(arguments) \(environment), got \(command)")
        return nil
    } catch {
        return error
    }
}

private func url(_ text: String) -> EtcdURL {
    try! EtcdURL(parsing: text)
}

@Suite struct EtcdFlagsDefaultsTests {
    @Test("no flags: etcd 3.4 defaults with Flotilla's loopback and 2379+4001 client listeners, no warnings")
    func defaults() throws {
        let (configuration, warnings) = try run([])
        #expect(warnings.isEmpty)
        #expect(configuration == KVPeerConfiguration())
        #expect(configuration.name == "default")
        #expect(configuration.dataDir == "default.etcd")
        #expect(configuration.walDir == nil)
        #expect(configuration.snapshotCount == 100_000)
        #expect(configuration.heartbeatInterval == .milliseconds(100))
        #expect(configuration.electionTimeout == .milliseconds(1000))
        #expect(configuration.listenClientURLs == [url("http://127.0.0.1:2379"), url("http://127.0.0.1:4001")])
        #expect(configuration.listenPeerURLs == [url("http://127.0.0.1:2380")])
        #expect(configuration.advertiseClientURLs == [url("http://127.0.0.1:2379")])
        #expect(configuration.initialAdvertisePeerURLs == [url("http://127.0.0.1:2380")])
        #expect(configuration.initialCluster == [.init(name: "default", peerURL: url("http://127.0.0.1:2380"))])
        #expect(configuration.initialClusterState == .new)
        #expect(configuration.initialClusterToken == "etcd-cluster")
        #expect(configuration.cors == ["*"])
        #expect(configuration.enableV2 == false)
        #expect(configuration.discoveryFallback == .proxy)
        #expect(configuration.proxy == .off)
        #expect(configuration.proxyFailureWait == .seconds(5))
        #expect(configuration.proxyRefreshInterval == .seconds(30))
        #expect(configuration.proxyDialTimeout == .seconds(1))
        #expect(configuration.proxyWriteTimeout == .seconds(5))
        #expect(configuration.proxyReadTimeout == .zero)
        #expect(configuration.maxSnapshots == 5 && configuration.maxWALs == 5)
        #expect(configuration.strictReconfigCheck == true)
        #expect(configuration.clientTLS == KVPeerConfiguration.TLS() && configuration.peerTLS == KVPeerConfiguration.TLS())
        #expect(configuration.effectiveLogLevel == .info && configuration.logger == .capnslog && configuration.logOutputs == ["default"])
    }

    @Test("--name alone names the data dir and the default initial cluster after the member (etcd 3.4)")
    func nameDerivedDefaults() throws {
        let (configuration, _) = try run(["--name", "infra0"])
        #expect(configuration.dataDir == "infra0.etcd")
        #expect(configuration.initialCluster == [.init(name: "infra0", peerURL: url("http://127.0.0.1:2380"))])

        let (advertised, _) = try run(["--name", "infra1", "--initial-advertise-peer-urls", "http://10.0.0.2:2380,http://10.0.0.1:2380"])
        #expect(advertised.initialCluster.map(\.description) == ["infra1=http://10.0.0.1:2380", "infra1=http://10.0.0.2:2380"])

        let (explicitDir, _) = try run(["--name", "x", "--data-dir", "/var/lib/kv"])
        #expect(explicitDir.dataDir == "/var/lib/kv")
        let (emptyDir, _) = try run(["--name", "x", "--data-dir="])
        #expect(emptyDir.dataDir == "x.etcd")
    }

    @Test("help text lists every documented flag with its default")
    func helpText() throws {
        let command = try EtcdFlags.parse(arguments: ["--help"], environment: [:])
        guard case .help(let text) = command else {
            Issue.record("expected help")
            return
        }
        #expect(text == EtcdFlags.usage)
        #expect(text.contains("--listen-client-urls 'http://127.0.0.1:2379,http://127.0.0.1:4001'"))
        #expect(text.contains("--snapshot-count '100000'"))
        #expect(text.contains("ETCD_FOO_BAR"))
        for flag in EtcdFlags.definitions where flag.section != nil {
            #expect(text.contains("--\(flag.name) '"), "help misses --\(flag.name)")
        }
    }
}

@Suite struct EtcdFlagsSyntaxTests {
    @Test("one or two dashes, '=' or a separate argument", arguments: [
        ["-name", "x"], ["--name", "x"], ["-name=x"], ["--name=x"],
    ])
    func flagForms(arguments: [String]) throws {
        let (configuration, _) = try run(arguments)
        #expect(configuration.name == "x")
    }

    @Test("a value may itself start with a dash or contain '='")
    func oddValues() throws {
        #expect(try run(["--initial-cluster-token", "-tok"]).0.initialClusterToken == "-tok")
        #expect(try run(["--initial-cluster-token=a=b"]).0.initialClusterToken == "a=b")
        #expect(try run(["--initial-cluster-token="]).0.initialClusterToken == "")
    }

    @Test("the last occurrence of a flag wins")
    func lastWins() throws {
        #expect(try run(["--snapshot-count", "1", "-snapshot-count=2"]).0.snapshotCount == 2)
    }

    @Test("boolean spellings Go's strconv.ParseBool accepts", arguments: [
        ("--force-new-cluster", true), ("-force-new-cluster", true),
        ("--force-new-cluster=true", true), ("--force-new-cluster=1", true), ("--force-new-cluster=t", true),
        ("--force-new-cluster=T", true), ("--force-new-cluster=TRUE", true), ("--force-new-cluster=True", true),
        ("--force-new-cluster=false", false), ("--force-new-cluster=0", false), ("--force-new-cluster=f", false),
        ("--force-new-cluster=F", false), ("--force-new-cluster=FALSE", false), ("--force-new-cluster=False", false),
    ])
    func booleans(argument: String, expected: Bool) throws {
        #expect(try run([argument]).0.forceNewCluster == expected)
    }

    @Test("a boolean flag never consumes the next argument: '-flag false' leaves 'false' positional")
    func booleanTwoArguments() {
        let error = failure(["--strict-reconfig-check", "false"])
        #expect(error == EtcdFlagsError(.positionalArgument, "'false' is not a valid flag"))
        #expect(error?.exitCode == 1)
    }

    @Test("numbers as Go's flag package reads them (base prefixes, underscores)", arguments: [
        ("10", UInt64(10)), ("0x10", 16), ("0X1f", 31), ("010", 8), ("0o17", 15), ("0b101", 5), ("1_000", 1000), ("0", 0),
        ("18446744073709551615", UInt64.max),
    ])
    func numbers(text: String, expected: UInt64) throws {
        #expect(try run(["--snapshot-count", text]).0.snapshotCount == expected)
    }

    @Test("'--' ends the flags; anything after it is positional")
    func doubleDash() throws {
        #expect(try run(["--name", "x", "--"]).0.name == "x")
        #expect(failure(["--", "--name", "x"]) == EtcdFlagsError(.positionalArgument, "'--name' is not a valid flag"))
    }

    @Test("positional arguments are refused as etcd refuses them", arguments: [
        (["x"], "'x' is not a valid flag"),
        (["--name", "a", "b", "--data-dir", "d"], "'b' is not a valid flag"),
        (["-"], "'-' is not a valid flag"),
        (["-config", "/etc/etcd.conf"], "'/etc/etcd.conf' is not a valid flag"),
    ])
    func positional(arguments: [String], message: String) {
        #expect(failure(arguments) == EtcdFlagsError(.positionalArgument, message))
    }

    @Test("Go flag-package errors, with exit status 2", arguments: [
        (["--bogus"], "flag provided but not defined: -bogus"),
        (["-bogus=1"], "flag provided but not defined: -bogus"),
        (["--Name=x"], "flag provided but not defined: -Name"),
        (["--snapshot-count", "abc"], #"invalid value "abc" for flag -snapshot-count: parse error"#),
        (["--snapshot-count=-5"], #"invalid value "-5" for flag -snapshot-count: parse error"#),
        (["--snapshot-count=08"], #"invalid value "08" for flag -snapshot-count: parse error"#),
        (["--snapshot-count=1__0"], #"invalid value "1__0" for flag -snapshot-count: parse error"#),
        (["--snapshot-count=18446744073709551616"], #"invalid value "18446744073709551616" for flag -snapshot-count: value out of range"#),
        (["--heartbeat-interval", "1.5"], #"invalid value "1.5" for flag -heartbeat-interval: parse error"#),
        (["--force-new-cluster=yes"], #"invalid boolean value "yes" for -force-new-cluster: parse error"#),
        (["--force-new-cluster="], #"invalid boolean value "" for -force-new-cluster: parse error"#),
        (["--name"], "flag needs an argument: -name"),
        (["---name=x"], "bad flag syntax: ---name=x"),
        (["-=x"], "bad flag syntax: -=x"),
        (["--initial-cluster-state", "old"], #"invalid value "old" for flag -initial-cluster-state: invalid value"#),
        (["--proxy", "maybe"], #"invalid value "maybe" for flag -proxy: invalid value"#),
        (["--discovery-fallback=retry"], #"invalid value "retry" for flag -discovery-fallback: invalid value"#),
        (["--listen-client-urls", "x"], #"invalid value "x" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: x"#),
        (["--peers", "a,b"], #"invalid value "a,b" for flag -peers: flag "-peers" is no longer supported."#),
        (["--peers-file=/x"], #"invalid value "/x" for flag -peers-file: flag "-peers-file" is no longer supported."#),
        (["--name", "a", "--bogus", "-h"], "flag provided but not defined: -bogus"),
    ])
    func commandLineErrors(arguments: [String], message: String) {
        let error = failure(arguments)
        #expect(error == EtcdFlagsError(.commandLine, message))
        #expect(error?.exitCode == 2)
        #expect(error?.description == message)
    }

    @Test("-h, -help, --help ask for help, even after flags and before bad ones", arguments: [
        ["-h"], ["--h"], ["-help"], ["--help"], ["--help=1"], ["--name", "x", "-h", "--bogus"], ["-h", "positional"],
    ])
    func help(arguments: [String]) throws {
        #expect(try EtcdFlags.parse(arguments: arguments, environment: [:]) == .help(EtcdFlags.usage))
    }

    @Test("--version, but only if it is true and nothing positional follows")
    func version() throws {
        #expect(try EtcdFlags.parse(arguments: ["--version"], environment: [:]) == .version)
        #expect(try EtcdFlags.parse(arguments: ["-version=1", "--name", "x"], environment: [:]) == .version)
        #expect(try run(["--version=false"]).0 == KVPeerConfiguration())
        #expect(failure(["--version", "now"]) == EtcdFlagsError(.positionalArgument, "'now' is not a valid flag"))
        // The environment is read after --version is handled, as in etcd: a bad ETCD_* value does not matter.
        #expect(try EtcdFlags.parse(arguments: ["--version"], environment: ["ETCD_SNAPSHOT_COUNT": "x"]) == .version)
    }

    @Test("flag values are typed")
    func typedValues() throws {
        let (configuration, _) = try run([
            "--wal-dir", "/wal", "--heartbeat-interval=50", "--election-timeout=600", "--max-snapshots=0", "--max-wals=9",
            "--initial-cluster-state=existing", "--initial-cluster-token", "tok", "--discovery-fallback=exit",
            "--proxy-failure-wait=1", "--proxy-refresh-interval=2", "--proxy-dial-timeout=3", "--proxy-write-timeout=4",
            "--proxy-read-timeout=5", "--enable-v2", "--enable-pprof", "--strict-reconfig-check=false", "--unsafe-no-fsync",
            "--cipher-suites=A,B", "--log-package-levels=etcdserver=DEBUG",
        ])
        #expect(configuration.walDir == "/wal")
        #expect(configuration.heartbeatInterval == .milliseconds(50))
        #expect(configuration.electionTimeout == .milliseconds(600))
        #expect(configuration.maxSnapshots == 0 && configuration.maxWALs == 9)
        #expect(configuration.initialClusterState == .existing)
        #expect(configuration.initialClusterToken == "tok")
        #expect(configuration.discoveryFallback == .exit)
        #expect(configuration.proxyFailureWait == .milliseconds(1))
        #expect(configuration.proxyRefreshInterval == .milliseconds(2))
        #expect(configuration.proxyDialTimeout == .milliseconds(3))
        #expect(configuration.proxyWriteTimeout == .milliseconds(4))
        #expect(configuration.proxyReadTimeout == .milliseconds(5))
        #expect(configuration.enableV2 && configuration.enablePprof && configuration.unsafeNoFsync)
        #expect(configuration.strictReconfigCheck == false)
        #expect(configuration.cipherSuites == ["A", "B"])
        #expect(configuration.logPackageLevels == "etcdserver=DEBUG")
    }

    @Test("--enable-v2=false is recorded and accepted: kv-peer serves v2 regardless")
    func enableV2False() throws {
        let (configuration, warnings) = try run(["--enable-v2=false"])
        #expect(configuration.enableV2 == false)
        #expect(warnings.isEmpty)
    }

    @Test("--cors: 2.x leniency, '*', empty turns CORS off, duplicates dropped")
    func cors() throws {
        #expect(try run(["--cors", "https://example.com, http://a:1,https://example.com"]).0.cors == ["https://example.com", "http://a:1"])
        #expect(try run(["--cors="]).0.cors == [])
        #expect(try run(["--cors=*"]).0.cors == ["*"])
        #expect(
            failure(["--cors", "http://a b"])
                == EtcdFlagsError(.commandLine, #"invalid value "http://a b" for flag -cors: Invalid CORS origin: parse "http://a b": invalid character " " in host name"#)
        )
    }
}

@Suite struct EtcdFlagsEnvironmentTests {
    @Test("ETCD_* variables fill flags the command line did not set")
    func fallback() throws {
        let (configuration, warnings) = try run([], [
            "ETCD_NAME": "env0", "ETCD_SNAPSHOT_COUNT": "0x20", "ETCD_FORCE_NEW_CLUSTER": "1",
            "ETCD_INITIAL_CLUSTER": "env0=http://127.0.0.1:2380", "ETCD_PROXY_READ_TIMEOUT": "7", "PATH": "/bin",
        ])
        #expect(warnings.isEmpty)
        #expect(configuration.name == "env0")
        #expect(configuration.dataDir == "env0.etcd")
        #expect(configuration.snapshotCount == 32)
        #expect(configuration.forceNewCluster)
        #expect(configuration.proxyReadTimeout == .milliseconds(7))
    }

    @Test("the command line wins, and the shadowed variable is reported")
    func precedence() throws {
        let (configuration, warnings) = try run(["--snapshot-count", "5"], ["ETCD_SNAPSHOT_COUNT": "6"])
        #expect(configuration.snapshotCount == 5)
        #expect(warnings == ["recognized environment variable ETCD_SNAPSHOT_COUNT, but unused: shadowed by corresponding flag"])
    }

    @Test("unknown ETCD_* variables are reported, empty values ignored, other variables left alone")
    func warnings() throws {
        let (configuration, warnings) = try run([], ["ETCD_NAMEE": "x", "ETCD_NAME": "", "ETCDCTL_API": "2", "HOME": "/root"])
        #expect(configuration.name == "default")
        #expect(warnings == ["unrecognized environment variable ETCD_NAMEE=x"])
    }

    @Test("a bad value names the variable (exit 1)", arguments: [
        (["ETCD_SNAPSHOT_COUNT": "abc"], #"invalid value "abc" for ETCD_SNAPSHOT_COUNT: parse error"#),
        (["ETCD_DEBUG": "yes"], #"invalid value "yes" for ETCD_DEBUG: parse error"#),
        (["ETCD_PROXY": "sometimes"], #"invalid value "sometimes" for ETCD_PROXY: invalid value"#),
        (["ETCD_LISTEN_PEER_URLS": "http://h"], #"invalid value "http://h" for ETCD_LISTEN_PEER_URLS: URL address does not have the form "host:port": http://h"#),
        (["ETCD_PEERS": "a"], #"invalid value "a" for ETCD_PEERS: flag "-peers" is no longer supported."#),
    ])
    func badValue(environment: [String: String], message: String) {
        let error = failure([], environment)
        #expect(error == EtcdFlagsError(.environment, message))
        #expect(error?.exitCode == 1)
    }

    @Test("environment values count as set explicitly, as in etcd")
    func explicitFromEnvironment() {
        #expect(
            failure([], ["ETCD_LISTEN_CLIENT_URLS": "http://10.0.0.1:2379"])
                == EtcdFlagsError(.validation, "-advertise-client-urls is required when -listen-client-urls is set explicitly")
        )
    }

    @Test("CoreOS 0.4 units set ETCD_ADDR and ETCD_PEER_ADDR")
    func legacyEnvironment() throws {
        let (configuration, _) = try run([], [
            "ETCD_ADDR": "10.0.0.1:4001", "ETCD_PEER_ADDR": "10.0.0.1:7001", "ETCD_INITIAL_CLUSTER": "default=http://10.0.0.1:7001",
        ])
        #expect(configuration.advertiseClientURLs == [url("http://10.0.0.1:4001")])
        #expect(configuration.listenClientURLs == [url("http://[::]:4001")])
        #expect(configuration.initialAdvertisePeerURLs == [url("http://10.0.0.1:7001")])
        #expect(configuration.listenPeerURLs == [url("http://[::]:7001")])
    }

    @Test("every flag's variable name")
    func keys() {
        #expect(EtcdFlags.environmentKey(for: "initial-advertise-peer-urls") == "ETCD_INITIAL_ADVERTISE_PEER_URLS")
        #expect(EtcdFlags.environmentKey(for: "experimental-gRPC-addr") == "ETCD_EXPERIMENTAL_GRPC_ADDR")
        #expect(Set(EtcdFlags.flagNames).count == EtcdFlags.flagNames.count)
    }
}

@Suite struct EtcdURLTests {
    @Test("URLs etcd accepts", arguments: [
        ("http://127.0.0.1:2379", EtcdURL(.http, host: "127.0.0.1", port: 2379)),
        (" https://example.com:443 ", EtcdURL(.https, host: "example.com", port: 443)),
        ("HTTP://h:1", EtcdURL(.http, host: "h", port: 1)),
        ("http://[::1]:2380", EtcdURL(.http, host: "::1", port: 2380)),
        ("unix://localhost:12345", EtcdURL(.unix, host: "localhost", port: 12345)),
        ("unixs://s:1", EtcdURL(.unixs, host: "s", port: 1)),
        ("http://:0", EtcdURL(.http, host: "", port: 0)),
    ])
    func accepted(text: String, expected: EtcdURL) throws {
        #expect(try EtcdURL(parsing: text) == expected)
    }

    @Test("URLs etcd refuses, with its texts", arguments: [
        ("x", "URL scheme must be http, https, unix, or unixs: x"),
        ("", "URL scheme must be http, https, unix, or unixs: "),
        ("ftp://h:1", "URL scheme must be http, https, unix, or unixs: ftp://h:1"),
        ("localhost:2379", "URL scheme must be http, https, unix, or unixs: localhost:2379"),
        ("127.0.0.1:2379", #"parse "127.0.0.1:2379": first path segment in URL cannot contain colon"#),
        (":2379", #"parse ":2379": missing protocol scheme"#),
        ("http://h", #"URL address does not have the form "host:port": http://h"#),
        ("http:h:1", #"URL address does not have the form "host:port": http:h:1"#),
        ("http://a:b:1", #"URL address does not have the form "host:port": http://a:b:1"#),
        ("http://h:abc", #"parse "http://h:abc": invalid port ":abc" after host"#),
        ("http://[::1:80", #"parse "http://[::1:80": missing ']' in host"#),
        ("http://h:1/", "URL must not contain a path: http://h:1/"),
        ("http://h:1/v2", "URL must not contain a path: http://h:1/v2"),
        ("http://h\n:1", #"parse "http://h\n:1": net/url: invalid control character in URL"#),
        ("http://u@h:1", "URL must not contain user info, a query or a fragment: http://u@h:1"),
        ("http://h:1?x", "URL must not contain user info, a query or a fragment: http://h:1?x"),
        ("http://h:", #"URL address does not have the form "host:port": http://h:"#),
        ("http://h:70000", "URL port must be between 0 and 65535: http://h:70000"),
    ])
    func refused(text: String, message: String) {
        #expect(throws: EtcdURLError(message)) { try EtcdURL(parsing: text) }
    }

    @Test("lists are sorted by text, as etcd sorts them; an empty element is an error")
    func lists() throws {
        #expect(try EtcdURL.parseList("http://b:1,http://a:2").map(\.description) == ["http://a:2", "http://b:1"])
        #expect(throws: EtcdURLError("URL scheme must be http, https, unix, or unixs: ")) { try EtcdURL.parseList("http://a:1,") }
        #expect(url("http://[fe80::1]:2379").description == "http://[fe80::1]:2379")
        #expect(url("http://[fe80::1]:2379").hostPort == "[fe80::1]:2379")
    }
}

@Suite struct EtcdInitialClusterTests {
    @Test("name=url pairs in the given order; a name may repeat; empty elements are skipped")
    func parsing() throws {
        let members = try KVPeerConfiguration.parseInitialCluster("b=http://10.0.0.2:2380,a=http://10.0.0.1:2380,,a=http://10.0.0.1:7001")
        #expect(members.map(\.name) == ["b", "a", "a"])
        #expect(members.map(\.peerURL) == [url("http://10.0.0.2:2380"), url("http://10.0.0.1:2380"), url("http://10.0.0.1:7001")])
        #expect(try KVPeerConfiguration.parseInitialCluster("") == [])
    }

    @Test("bad members are refused with etcd's wrapping")
    func errors() {
        #expect(
            failure(["--initial-cluster", "default"])
                == EtcdFlagsError(.validation, "error setting up initial cluster: URL scheme must be http, https, unix, or unixs: ")
        )
        #expect(
            failure(["--initial-cluster", "default=http://127.0.0.1:2380,b=10.0.0.2:2380"])
                == EtcdFlagsError(.validation, #"error setting up initial cluster: parse "10.0.0.2:2380": first path segment in URL cannot contain colon"#)
        )
    }

    @Test("a three-member static cluster")
    func threeMembers() throws {
        let (configuration, warnings) = try run([
            "--name", "infra1", "--initial-advertise-peer-urls", "http://10.0.1.11:2380",
            "--listen-peer-urls", "http://10.0.1.11:2380", "--listen-client-urls", "http://10.0.1.11:2379,http://127.0.0.1:2379",
            "--advertise-client-urls", "http://10.0.1.11:2379", "--initial-cluster-token", "etcd-cluster-1",
            "--initial-cluster", "infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380,infra2=http://10.0.1.12:2380",
            "--initial-cluster-state", "new",
        ])
        #expect(warnings.isEmpty)
        #expect(configuration.initialCluster.map(\.name) == ["infra0", "infra1", "infra2"])
        #expect(configuration.initialPeerURLs(of: "infra1") == [url("http://10.0.1.11:2380")])
        #expect(configuration.listenClientURLs.map(\.description) == ["http://10.0.1.11:2379", "http://127.0.0.1:2379"])
    }

    @Test("the member must be in the cluster, with matching peer URLs (etcd messages)", arguments: [
        (["--name", "x", "--initial-cluster", "a=http://127.0.0.1:2380"],
         #"couldn't find local name "x" in the initial cluster configuration"#),
        (["--initial-cluster="], #"couldn't find local name "default" in the initial cluster configuration"#),
        (["--initial-advertise-peer-urls", "http://10.0.0.1:2380"],
         #"--initial-cluster has default=http://127.0.0.1:2380 but missing from --initial-advertise-peer-urls=http://10.0.0.1:2380 ("http://10.0.0.1:2380" != "http://127.0.0.1:2380")"#),
        (["--initial-cluster", "default=http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380,http://127.0.0.1:7001"],
         #"--initial-advertise-peer-urls has http://127.0.0.1:7001 but missing from --initial-cluster=default=http://127.0.0.1:2380,default=http://127.0.0.1:7001"#),
        (["--initial-cluster", "default=http://127.0.0.1:2380,default=http://127.0.0.1:2380"],
         #"failed to resolve http://127.0.0.1:2380 to match --initial-cluster=default=http://127.0.0.1:2380 (len(["http://127.0.0.1:2380"]) != len(["http://127.0.0.1:2380" "http://127.0.0.1:2380"]))"#),
        (["--initial-cluster", "default=http://127.0.0.1:2380,b=http://127.0.0.1:2380"],
         "initial cluster b=http://127.0.0.1:2380,default=http://127.0.0.1:2380 has duplicate url"),
        (["--initial-cluster-state", "existing", "--initial-cluster", "a=http://127.0.0.1:2380"],
         #"couldn't find local name "default" in the initial cluster configuration"#),
    ])
    func membership(arguments: [String], message: String) {
        #expect(failure(arguments) == EtcdFlagsError(.validation, message))
    }

    @Test("joining an existing cluster does not compare peer URLs (etcd VerifyJoinExisting)")
    func existing() throws {
        let (configuration, _) = try run([
            "--initial-cluster-state", "existing", "--initial-advertise-peer-urls", "http://10.0.0.9:2380",
            "--initial-cluster", "default=http://10.0.0.1:2380,b=http://10.0.0.2:2380",
        ])
        #expect(configuration.initialClusterState == .existing)
    }

    @Test("proxies need not be members; discovery replaces the default cluster")
    func proxiesAndDiscovery() throws {
        #expect(try run(["--proxy", "on", "--initial-cluster", "a=http://10.0.0.1:2380"]).0.proxy == .on)
        let (discovered, _) = try run(["--discovery", "https://discovery.etcd.io/abc"])
        #expect(discovered.discovery == "https://discovery.etcd.io/abc")
        #expect(discovered.initialCluster.isEmpty)
        let (srv, _) = try run(["--discovery-srv", "example.com"])
        #expect(srv.discoverySRV == "example.com" && srv.initialCluster.isEmpty)
    }
}

@Suite struct EtcdFlagsValidationTests {
    @Test("cross-field errors (exit 1)", arguments: [
        (["--listen-client-urls", "http://10.0.0.1:2379"], "-advertise-client-urls is required when -listen-client-urls is set explicitly"),
        (["--discovery", "https://d/x", "--initial-cluster", "default=http://127.0.0.1:2380"],
         #"multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv""#),
        (["--discovery", "https://d/x", "--discovery-srv", "example.com"],
         #"multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv""#),
        (["--initial-cluster-state", "existing", "--discovery", "https://d/x"],
         "discovery URL should not be set when joining existing initial cluster"),
        (["--listen-peer-urls", "http://example.com:2380"], "expected IP in URL for binding (http://example.com:2380)"),
        (["--listen-client-urls", "http://:2379", "--advertise-client-urls", "http://a:2379"], "expected IP in URL for binding (http://:2379)"),
        (["--advertise-client-urls", "http://:2379"], #"--advertise-client-urls "http://:2379" must be "host:port" (unexpected empty host (http://:2379))"#),
        (["--heartbeat-interval=0"], "--heartbeat-interval must be >0 (set to 0ms)"),
        (["--election-timeout=0"], "--election-timeout must be >0 (set to 0ms)"),
        (["--heartbeat-interval=100", "--election-timeout=100"], "--election-timeout[100ms] must be greater than --heartbeat-interval[100ms]"),
        (["--election-timeout=50001"], "--election-timeout[50001ms] is too long, and should be set less than 50000ms"),
        (["--heartbeat-interval=18446744073709551615"],
         "--election-timeout[1000ms] must be greater than --heartbeat-interval[18446744073709551615ms]"),
        (["--config-file", "/etc/etcd.yml"],
         "--config-file=/etc/etcd.yml: configuration files are not supported by kv-peer; give flags or ETCD_* variables instead"),
        (["--logger", "glog"], #"unknown logger option "glog""#),
        (["--log-level", "trace"], #"unknown log level "trace" (only supports debug, info, warn, error, dpanic, panic, fatal)"#),
        (["--log-outputs", "stderr,stdout"], #"--logger=capnslog supports only 1 value in '--log-outputs', got ["stderr" "stdout"]"#),
        (["--log-outputs", "/var/log/kv"], #"unknown log-output "/var/log/kv" (only supports "default", "stderr", "stdout")"#),
        (["--logger=zap", "--log-outputs", "default,stderr"], #"multi logoutput for "default" is not supported yet"#),
        (["--log-output", "stderr", "--log-outputs", "stderr"], "both '--log-output' and '--log-outputs' are set; only set '--log-outputs'"),
    ])
    func errors(arguments: [String], message: String) {
        let error = failure(arguments)
        #expect(error == EtcdFlagsError(.validation, message))
        #expect(error?.exitCode == 1)
    }

    @Test("--advertise-client-urls is not required of a process that may run as a proxy")
    func advertiseNotRequiredForProxies() throws {
        #expect(try run(["--proxy", "readonly", "--listen-client-urls", "http://10.0.0.1:2379"]).0.proxy == .readonly)
        let (fallback, _) = try run(["--discovery", "https://d/x", "--listen-client-urls", "http://10.0.0.1:2379"])
        #expect(fallback.advertiseClientURLs == [url("http://127.0.0.1:2379")])
        #expect(
            failure(["--discovery", "https://d/x", "--discovery-fallback", "exit", "--listen-client-urls", "http://10.0.0.1:2379"])
                == EtcdFlagsError(.validation, "-advertise-client-urls is required when -listen-client-urls is set explicitly")
        )
    }

    @Test("election timeout under 5x the heartbeat is a warning (etcd: error), above the heartbeat it must be")
    func timingWarning() throws {
        let (configuration, warnings) = try run(["--heartbeat-interval=10", "--election-timeout=30"])
        #expect(configuration.electionTimeout == .milliseconds(30))
        #expect(warnings == ["--election-timeout[30ms] should be at least as 5 times as --heartbeat-interval[10ms]"])
        #expect(try run(["--heartbeat-interval=10", "--election-timeout=50"]).1.isEmpty)
    }

    @Test("logging: --debug raises the effective level; --log-output is the deprecated alias")
    func logging() throws {
        let (debug, _) = try run(["--debug"])
        #expect(debug.debug && debug.effectiveLogLevel == .debug && debug.logLevel == .info)
        let (zap, _) = try run(["--logger=zap", "--log-level=warn", "--log-outputs=stdout,stderr,stdout"])
        #expect(zap.logger == .zap && zap.logLevel == .warn && zap.logOutputs == ["stderr", "stdout"])
        let (alias, warnings) = try run(["--log-output=stderr"])
        #expect(alias.logOutputs == ["stderr"])
        #expect(warnings == ["'--log-output' flag has been deprecated! Please use '--log-outputs'!"])
    }
}

@Suite struct EtcdFlagsTLSTests {
    @Test("client and peer TLS flags land in their own settings")
    func settings() throws {
        let (configuration, warnings) = try run([
            "--listen-client-urls", "https://127.0.0.1:2379", "--advertise-client-urls", "https://127.0.0.1:2379",
            "--cert-file", "c.pem", "--key-file", "k.pem", "--client-cert-auth", "--trusted-ca-file", "ca.pem",
            "--client-crl-file", "crl.pem", "--client-cert-allowed-hostname", "host",
            "--listen-peer-urls", "https://127.0.0.1:2380", "--initial-advertise-peer-urls", "https://127.0.0.1:2380",
            "--initial-cluster", "default=https://127.0.0.1:2380",
            "--peer-cert-file", "pc.pem", "--peer-key-file", "pk.pem", "--peer-client-cert-auth=true", "--peer-trusted-ca-file", "pca.pem",
            "--peer-crl-file", "pcrl.pem", "--peer-cert-allowed-cn", "cn", "--peer-cert-allowed-hostname", "ph",
        ])
        #expect(warnings.isEmpty)
        var client = KVPeerConfiguration.TLS()
        client.certFile = "c.pem"
        client.keyFile = "k.pem"
        client.clientCertAuth = true
        client.trustedCAFiles = ["ca.pem"]
        client.crlFile = "crl.pem"
        client.allowedHostname = "host"
        #expect(configuration.clientTLS == client)
        var peer = KVPeerConfiguration.TLS()
        peer.certFile = "pc.pem"
        peer.keyFile = "pk.pem"
        peer.clientCertAuth = true
        peer.trustedCAFiles = ["pca.pem"]
        peer.crlFile = "pcrl.pem"
        peer.allowedCN = "cn"
        peer.allowedHostname = "ph"
        #expect(configuration.peerTLS == peer)
    }

    @Test("2.x --ca-file / --peer-ca-file: trusted CA ahead of --trusted-ca-file, and client certificates required")
    func deprecatedCAFiles() throws {
        let (configuration, warnings) = try run([
            "--ca-file", "old.pem", "--trusted-ca-file", "new.pem", "--peer-ca-file", "peer-old.pem",
        ])
        #expect(configuration.clientTLS.trustedCAFiles == ["old.pem", "new.pem"])
        #expect(configuration.clientTLS.clientCertAuth && configuration.clientTLS.requiresClientCertificate)
        #expect(configuration.peerTLS.trustedCAFiles == ["peer-old.pem"] && configuration.peerTLS.clientCertAuth)
        #expect(warnings.contains("flag --ca-file is deprecated: use --trusted-ca-file and --client-cert-auth"))
        #expect(warnings.contains("flag --peer-ca-file is deprecated: use --peer-trusted-ca-file and --peer-client-cert-auth"))
    }

    @Test("TLS errors", arguments: [
        (["--cert-file", "c.pem"],
         "--cert-file and --key-file must be given together: KeyFile and CertFile must both be present[key: , cert: c.pem]"),
        (["--peer-key-file", "k.pem"],
         "--peer-cert-file and --peer-key-file must be given together: KeyFile and CertFile must both be present[key: k.pem, cert: ]"),
        (["--listen-client-urls", "https://127.0.0.1:2379", "--advertise-client-urls", "https://127.0.0.1:2379"],
         "TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379 with HTTPS scheme"),
        (["--listen-peer-urls", "https://127.0.0.1:2380"], "cannot listen on TLS for 127.0.0.1:2380: KeyFile and CertFile are not presented"),
    ])
    func errors(arguments: [String], message: String) {
        #expect(failure(arguments) == EtcdFlagsError(.validation, message))
    }

    @Test("auto TLS stands in for certificates; http listeners with certificates are warned about")
    func autoTLSAndWarnings() throws {
        let (auto, autoWarnings) = try run([
            "--listen-client-urls", "https://127.0.0.1:2379", "--advertise-client-urls", "https://127.0.0.1:2379", "--auto-tls",
            "--listen-peer-urls", "https://127.0.0.1:2380", "--peer-auto-tls",
        ])
        #expect(auto.clientTLS.autoTLS && auto.peerTLS.autoTLS && autoWarnings.isEmpty)

        let (_, warnings) = try run(["--cert-file", "c", "--key-file", "k", "--auto-tls", "--client-cert-auth"])
        #expect(warnings.contains("ignoring client auto TLS since certs given"))
        #expect(warnings.contains("The scheme of client url http://127.0.0.1:2379 is HTTP while client key/cert files are presented. Ignored client key/cert files."))
        #expect(warnings.contains("The scheme of client url http://127.0.0.1:4001 is HTTP while client cert auth (--client-cert-auth) is enabled. Ignored client cert auth for this url."))
    }
}

@Suite struct EtcdFlagsLegacyTests {
    @Test("0.4 -addr/-peer-addr advertise and bind [::] on the same port, as etcd 2 maps them")
    func addresses() throws {
        let (configuration, warnings) = try run([
            "-addr", "10.0.0.1:4001", "-peer-addr", "10.0.0.1:7001", "-initial-cluster", "default=http://10.0.0.1:7001",
        ])
        #expect(configuration.advertiseClientURLs == [url("http://10.0.0.1:4001")])
        #expect(configuration.listenClientURLs == [url("http://[::]:4001")])
        #expect(configuration.initialAdvertisePeerURLs == [url("http://10.0.0.1:7001")])
        #expect(configuration.listenPeerURLs == [url("http://[::]:7001")])
        #expect(warnings.contains("flag -addr is deprecated: use -advertise-client-urls instead"))
    }

    @Test("0.4 -bind-addr/-peer-bind-addr listen; with TLS files the scheme is https")
    func bindAddresses() throws {
        let (configuration, _) = try run(["-bind-addr", "127.0.0.1:4001", "-peer-bind-addr=0.0.0.0:7001"])
        #expect(configuration.listenClientURLs == [url("http://127.0.0.1:4001")])
        #expect(configuration.listenPeerURLs == [url("http://0.0.0.0:7001")])
        #expect(configuration.advertiseClientURLs == [url("http://127.0.0.1:2379")])

        let (secure, _) = try run(["-bind-addr", "127.0.0.1:4001", "-cert-file", "c", "-key-file", "k"])
        #expect(secure.listenClientURLs == [url("https://127.0.0.1:4001")])
    }

    @Test("0.4 address errors", arguments: [
        (["-addr", "10.0.0.1"], EtcdFlagsError(.commandLine, #"invalid value "10.0.0.1" for flag -addr: address 10.0.0.1: missing port in address"#)),
        (["-addr", "host:4001"], EtcdFlagsError(.commandLine, #"invalid value "host:4001" for flag -addr: bad IP in address specification"#)),
        (["-peer-addr", "10.0.0.1:x"], EtcdFlagsError(.commandLine, #"invalid value "10.0.0.1:x" for flag -peer-addr: bad port in address specification"#)),
        (["-addr", "10.0.0.1:4001", "-advertise-client-urls", "http://10.0.0.1:2379"],
         EtcdFlagsError(.validation, "Set only one of flags -advertise-client-urls and -addr")),
        (["-addr", "10.0.0.1:4001", "-listen-client-urls", "http://10.0.0.1:2379"],
         EtcdFlagsError(.validation, "Set only one of flags -listen-client-urls and -bind-addr")),
        (["-peer-bind-addr", "10.0.0.1:7001", "-listen-peer-urls", "http://10.0.0.1:2380"],
         EtcdFlagsError(.validation, "Set only one of flags -listen-peer-urls and -peer-bind-addr")),
    ])
    func addressErrors(arguments: [String], expected: EtcdFlagsError) {
        #expect(failure(arguments) == expected)
    }

    @Test("0.4 flags etcd 2 ignores are accepted, boolean-shaped, with a warning", arguments: EtcdFlags.ignoredFlagNames)
    func ignored(name: String) throws {
        let (configuration, warnings) = try run(["-\(name)"])
        #expect(configuration == KVPeerConfiguration())
        #expect(warnings == [#"flag "-\#(name)" is no longer supported - ignoring."#])
        #expect(try run(["--\(name)=anything"]).1.count == 1)
        #expect(try run([], [EtcdFlags.environmentKey(for: name): "5"]).1.count == 1)
    }

    @Test("etcd 3 v3-backend flags are checked as etcd checks them, then ignored with a warning")
    func noEffect() throws {
        let (configuration, warnings) = try run([
            "--quota-backend-bytes=8589934592", "--auto-compaction-retention", "1h", "--grpc-keepalive-timeout=20s",
            "--pre-vote", "--max-concurrent-streams", "100", "--listen-metrics-urls", "http://127.0.0.1:2381",
        ])
        #expect(configuration.listenMetricsURLs == [url("http://127.0.0.1:2381")])
        #expect(warnings == [
            "flag --quota-backend-bytes has no effect in kv-peer (etcd v3 only); ignoring",
            "flag --auto-compaction-retention has no effect in kv-peer (etcd v3 only); ignoring",
            "flag --grpc-keepalive-timeout has no effect in kv-peer (etcd v3 only); ignoring",
            "flag --pre-vote has no effect in kv-peer (etcd v3 only); ignoring",
            "flag --max-concurrent-streams has no effect in kv-peer (etcd v3 only); ignoring",
        ])
        #expect(
            failure(["--grpc-keepalive-timeout=20"])
                == EtcdFlagsError(.commandLine, #"invalid value "20" for flag -grpc-keepalive-timeout: parse error"#)
        )
        #expect(
            failure(["--max-concurrent-streams=0x10"])
                == EtcdFlagsError(
                    .commandLine, #"invalid value "0x10" for flag -max-concurrent-streams: strconv.ParseUint: parsing "0x10": invalid syntax"#
                )
        )
    }
}

@Suite struct EtcdFlagsGoTests {
    @Test("strconv.ParseUint(s, 0, 64)", arguments: [
        ("0", UInt64?(0)), ("7", 7), ("0x", nil), ("0b", nil), ("_1", nil), ("1_", nil), ("0x_1", 1), ("0_7", 7), ("+1", nil),
        ("", nil), (" 1", nil), ("0B11", 3), ("0O7", 7), ("09", nil),
    ])
    func parseUint(text: String, expected: UInt64?) {
        #expect((try? EtcdFlagsGo.parseUint(text).get()) == expected)
    }

    @Test("strconv.ParseInt(s, 0, 64)")
    func parseInt() {
        #expect((try? EtcdFlagsGo.parseInt("-9223372036854775808").get()) == Int64.min)
        #expect(EtcdFlagsGo.parseInt("9223372036854775808") == .failure(.range))
        #expect((try? EtcdFlagsGo.parseInt("-0x10").get()) == -16)
    }

    @Test("time.ParseDuration acceptance", arguments: [
        ("0", true), ("1h", true), ("1.5s", true), ("-2m3s", true), ("300ms", true), ("1us", true), ("1µs", true), (".5h", true),
        ("", false), ("1", false), ("h", false), ("1x", false), (".s", false), ("1h ", false),
    ])
    func durations(text: String, valid: Bool) {
        #expect(EtcdFlagsGo.isValidDuration(text) == valid)
    }

    @Test("net.ParseIP acceptance", arguments: [
        ("127.0.0.1", true), ("0.0.0.0", true), ("::", true), ("::1", true), ("fe80::1:2", true), ("1:2:3:4:5:6:7:8", true),
        ("::ffff:10.0.0.1", true), ("2001:db8::", true),
        ("localhost", false), ("1.2.3", false), ("256.1.1.1", false), ("01.2.3.4", false), ("1:2:3:4:5:6:7", false),
        ("1::2::3", false), ("1:2:3:4:5:6:7:8:9", false), ("fe80::1%eth0", false), ("", false), (":1", false), ("1:", false),
    ])
    func ips(text: String, valid: Bool) {
        #expect(EtcdFlagsGo.isIP(text) == valid)
    }

    @Test("net.SplitHostPort texts")
    func splitHostPort() {
        func split(_ s: String) -> String {
            switch EtcdFlagsGo.splitHostPort(s) {
            case .success(let pair): "\(pair.host)|\(pair.port)"
            case .failure(let error): error.description
            }
        }
        #expect(split("h:1") == "h|1")
        #expect(split("[::1]:2") == "::1|2")
        #expect(split(":") == "|")
        #expect(split("h") == "address h: missing port in address")
        #expect(split("a:b:c") == "address a:b:c: too many colons in address")
        #expect(split("[::1]") == "address [::1]: missing port in address")
        #expect(split("[::1:2") == "address [::1:2: missing ']' in address")
        #expect(split("[a]b:1") == "address [a]b:1: missing port in address")
        #expect(split("a]:1") == "address a]:1: unexpected ']' in address")
    }

    @Test("Go %q")
    func quoting() {
        #expect(EtcdFlagsGo.quote("a\"b\\c\n\u{01}é") == #""a\"b\\c\n\x01é""#)
        #expect(EtcdFlagsGo.quote(["a", "b"]) == #"["a" "b"]"#)
    }
}
