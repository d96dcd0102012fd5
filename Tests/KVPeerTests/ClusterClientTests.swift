import Foundation
import Testing
import TestSupport

/// Clients, proxies and TLS against a real 3-member kv-peer cluster (separate processes talking over their
/// peer URLs): what etcd users point at a cluster must work unchanged.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ClusterClientTests {
    /// Three kv-peer processes forming one cluster on reserved loopback peer ports; `body` gets their client
    /// URLs (m0, m1, m2). Members print their ready line once bound, before any election, so they start in turn.
    static func withCluster<Result: Sendable>(
        scheme: String = "http", extra: [String] = [],
        _ body: @Sendable (_ clients: [String], _ peers: [String]) async throws -> Result
    ) async throws -> Result {
        let ports = try LoopbackPorts.reserve(count: 3)
        let peers = ports.map { "\(scheme)://127.0.0.1:\($0)" }
        let initialCluster = peers.enumerated().map { "m\($0.offset)=\($0.element)" }.joined(separator: ",")
        let token = "cluster-clients-\(UUID().uuidString.prefix(8))"
        let arguments = peers.map { peer in
            [
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", initialCluster, "--initial-cluster-token", token,
                "--heartbeat-interval", "50", "--election-timeout", "500",
            ] + extra
        }
        return try await KVPeerProcess.with(name: "m0", arguments: arguments[0]) { m0 in
            try await KVPeerProcess.with(name: "m1", arguments: arguments[1]) { m1 in
                try await KVPeerProcess.with(name: "m2", arguments: arguments[2]) { m2 in
                    let clients = try [m0.clientURL, m1.clientURL, m2.clientURL]
                    for client in clients {
                        try await eventually("\(client) to serve after the election", timeout: .seconds(20)) {
                            (try await Curl.run(["-s", "--max-time", "2", client + "/health"])).stdout.contains("true")
                        }
                    }
                    return try await body(clients, peers)
                }
            }
        }
    }

    @Test("etcdctl (v2) over all three members: writes anywhere, reads everywhere, member list, cluster-health")
    func etcdctlAgainstACluster() async throws {
        try await Self.withCluster { clients, _ in
            let all = clients.joined(separator: ",")
            #expect((try await etcdctl(clients[1], ["set", "/etcdctl/a", "1"])).stdout == "1\n")
            #expect((try await etcdctl(clients[2], ["mk", "/etcdctl/b", "2"])).stdout == "2\n")
            for client in clients {
                let listing = try await etcdctl(client, ["--no-sync", "ls", "--sort", "--quorum", "/etcdctl"])
                #expect(listing.stdout == "/etcdctl/a\n/etcdctl/b\n", "\(client): \(listing)")
            }
            let members = try await etcdctl(all, ["member", "list"])
            #expect(members.stdout.split(separator: "\n").count == 3, "\(members)")
            #expect(members.stdout.contains("isLeader=true"), "\(members)")
            for name in ["m0", "m1", "m2"] { #expect(members.stdout.contains("name=\(name) "), "\(members)") }
            let health = try await etcdctl(all, ["cluster-health"])
            #expect(health.stdout.hasSuffix("cluster is healthy\n"), "\(health)")
        }
    }

    @Test("python-etcd writes through one member and reads (quorum) through another")
    func pythonEtcdAgainstACluster() async throws {
        try await Self.withCluster { clients, _ in
            let write = try await PythonEtcdTests.run(PythonEtcdTests.preamble + """
                r = c.write("/py/cluster", "v1")
                r = c.test_and_set("/py/cluster", "v2", "v1")
                print(json.dumps([r.action, r.value]))
                """, against: clients[0])
            #expect(write == #"["compareAndSwap", "v2"]"#)
            let read = try await PythonEtcdTests.run(PythonEtcdTests.preamble + """
                r = c.read("/py/cluster", quorum=True)
                print(json.dumps([r.value, len(c.machines)]))
                """, against: clients[2])
            #expect(read == #"["v2", 3]"#)
        }
    }

    @Test("a kv-peer proxy (--proxy on) in front of a kv-peer cluster learns its members and survives one's death")
    func proxyInFrontOfACluster() async throws {
        try await Self.withCluster { clients, peers in
            let arguments = [
                "--proxy", "on", "--data-dir", "{dir}/proxy.etcd", "--initial-cluster", "m0=\(peers[0])",
                "--proxy-refresh-interval", "200", "--proxy-failure-wait", "200",
            ]
            try await KVPeerProcess.with(name: "proxy", arguments: arguments) { proxy in
                let url = try proxy.clientURL
                #expect((try await etcdctl(url, ["set", "/via-proxy", "yes"])).exitCode == 0)
                #expect((try await Curl.run(["-s", clients[2] + "/v2/keys/via-proxy?quorum=true"])).stdout.contains(#""value":"yes""#))
                // Only m0 was named; the cluster's own /members told the proxy about m1 and m2.
                try await eventually("the proxy to remember all three members", timeout: .seconds(10)) {
                    let remembered = (try? String(contentsOfFile: proxy.directory.appendingPathComponent("proxy.etcd/proxy/cluster").path, encoding: .utf8)) ?? ""
                    return peers.allSatisfy { remembered.contains($0) }
                }
            }
        }
    }

    @Test("a member that cannot reach a quorum holds clients (as etcd does) and still stops at once on SIGTERM")
    func withoutQuorumStopsPromptly() async throws {
        let ports = try LoopbackPorts.reserve(count: 3)
        let peers = ports.map { "http://127.0.0.1:\($0)" }
        let arguments = [
            "--listen-peer-urls", peers[0], "--initial-advertise-peer-urls", peers[0],
            "--initial-cluster", "m0=\(peers[0]),m1=\(peers[1]),m2=\(peers[2])", "--initial-cluster-token", "alone",
        ]
        try await KVPeerProcess.with(name: "m0", arguments: arguments) { member in
            // m1 and m2 never start: no leader, so the member is never ready and a client waits.
            let held = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", try member.clientURL + "/v2/keys/k"])
            #expect(held.stdout == "000" && held.exitCode == 28, "\(held)")
            async let waiting = Curl.run(["-s", "--max-time", "30", try member.clientURL + "/v2/keys/k"])
            try await Task.sleep(for: .milliseconds(200))  // the request is in flight (no event to await: it is held)
            let started = ContinuousClock.now
            let exit = try await member.kill(SIGTERM)
            #expect(ContinuousClock.now - started < .seconds(5), "SIGTERM took \(ContinuousClock.now - started): \(exit)")
            _ = try await waiting
        }
    }

    @Test("peers speak TLS when given peer certificates; a plain-HTTP peer request is refused")
    func peerTLS() async throws {
        try await SelfSignedCertificate.with { certificate in
            let tls = [
                "--peer-cert-file", certificate.certificatePath, "--peer-key-file", certificate.privateKeyPath,
                "--peer-trusted-ca-file", certificate.certificatePath, "--peer-client-cert-auth",
            ]
            try await Self.withCluster(scheme: "https", extra: tls) { clients, peers in
                #expect((try await etcdctl(clients[0], ["set", "/tls", "replicated"])).exitCode == 0)
                #expect((try await Curl.run(["-s", clients[2] + "/v2/keys/tls?quorum=true"])).stdout.contains(#""value":"replicated""#))
                let members = try await Curl.run(["-s", clients[1] + "/v2/members"])
                #expect(members.stdout.contains(peers[2]), "\(members)")
                // Without a client certificate the peer port does not talk.
                let plain = try await Curl.run(["-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", peers[0] + "/members"])
                #expect(plain.stdout == "000", "\(plain)")
                let authenticated = try await Curl.run([
                    "-s", "--cacert", certificate.certificatePath, "--cert", certificate.certificatePath, "--key", certificate.privateKeyPath, peers[0] + "/members",
                ])
                #expect(authenticated.stdout.contains(#""name":"m2""#), "\(authenticated)")
            }
        }
    }
}

/// etcd settings kv-peer does not implement are refused at start with a message, never silently ignored.
@Suite struct UnsupportedSettingsTests {
    @Test("--force-new-cluster, --discovery-srv, --auto-tls and --peer-auto-tls: exit 1 naming the flag", arguments: [
        (["--force-new-cluster"], "--force-new-cluster is not supported"),
        (["--discovery-srv", "example.com", "--initial-cluster", ""], "--discovery-srv is not supported"),
        (["--auto-tls"], "--auto-tls is not supported"),
        (["--peer-auto-tls"], "--peer-auto-tls is not supported"),
    ])
    func refused(arguments: [String], message: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kv-unsupported-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await BoundedCommand.run(
            try KVPeerProcess.binaryPath(), ["--data-dir", directory, "--listen-client-urls", "http://127.0.0.1:0", "--advertise-client-urls", "http://127.0.0.1:0", "--listen-peer-urls", "http://127.0.0.1:0"] + arguments,
            environment: [:], timeout: .seconds(30)
        )
        #expect(result.exitCode == 1 && result.stderr.contains(message), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/member"), "a refused member must not create its data")
    }
}
