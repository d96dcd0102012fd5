import Foundation
import Testing
import TestSupport

/// `kv-peer --discovery <url>`: etcd's discovery protocol against a real etcd 3.4 as the discovery service.
@Suite(.timeLimit(.minutes(3)))
struct DiscoveryTests {
    static func put(_ url: String, _ value: String) async throws {
        let result = try await Curl.run(["-sf", "-XPUT", url, "--data-urlencode", "value=\(value)"])
        #expect(result.succeeded, "PUT \(url): \(result)")
    }

    static func discoveryArguments(_ url: String, peerPort: Int, extra: [String] = []) -> [String] {
        ["--discovery", url, "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPort)", "--initial-cluster-token", "discovery-test"] + extra
    }

    @Test("a member of a size-1 token registers itself and starts")
    func registersAndStarts() async throws {
        try await EtcdCluster.with(size: 1) { service in
            let token = service.clientURLs[0] + "/v2/keys/_etcd/registry/solo"
            try await Self.put(token + "/_config/size", "1")
            let peerPort = try LoopbackPorts.reserve(count: 1)[0]
            try await KVPeerProcess.with(name: "solo", arguments: Self.discoveryArguments(token, peerPort: peerPort)) { peer in
                let url = try peer.clientURL
                #expect((try await etcdctl(url, ["set", "/k", "v"])).stdout == "v\n")
                let registry = try await Curl.run(["-s", token])
                #expect(registry.stdout.contains(#""value":"solo=http://127.0.0.1:\#(peerPort)""#), "\(registry)")
                // Restarted on the same data directory, it does not register again (the key would be a duplicate).
                try await peer.restart()
                #expect((try await etcdctl(try peer.clientURL, ["get", "/k"])).stdout == "v\n")
            }
        }
    }

    @Test("three members that share a size-3 token find each other and form one replicated cluster")
    func threeMembersFormACluster() async throws {
        try await EtcdCluster.with(size: 1) { service in
            let token = service.clientURLs[0] + "/v2/keys/_etcd/registry/trio"
            try await Self.put(token + "/_config/size", "3")
            let peerPorts = try LoopbackPorts.reserve(count: 3)
            // Each member only prints its ready line once all three registered, so they start together.
            let started = Observed<[String: String]>([:])
            let finished = Observed(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, port) in peerPorts.enumerated() {
                    let arguments = Self.discoveryArguments(token, peerPort: port) + ["--listen-peer-urls", "http://127.0.0.1:\(port)"]
                    group.addTask {
                        do {
                            try await KVPeerProcess.with(name: "d\(index)", arguments: arguments) { peer in
                                let url = try peer.clientURL
                                started.update { $0["d\(index)"] = url }
                                try await finished.wait(for: "the test to finish", timeout: .seconds(120)) { $0 }
                            }
                        } catch {
                            // Said at once: the other members would otherwise wait for this one until the timeout.
                            started.update { $0["failed d\(index)"] = "\(error)" }
                            throw error
                        }
                    }
                }
                defer { finished.update { $0 = true } }
                let urls = try await started.wait(for: "three members to start", timeout: .seconds(60)) { $0.count == 3 }
                try #require(!urls.keys.contains { $0.hasPrefix("failed") }, "\(urls)")
                let members = try await Curl.run(["-s", urls["d0"]! + "/v2/members"])
                for index in 0..<3 {
                    #expect(members.stdout.contains(#""name":"d\#(index)""#), "\(members)")
                }
                #expect((try await etcdctl(urls["d1"]!, ["set", "/replicated", "yes"])).exitCode == 0)
                try await eventually("the write to reach d2", timeout: .seconds(10)) {
                    (try await Curl.run(["-s", urls["d2"]! + "/v2/keys/replicated"])).stdout.contains(#""value":"yes""#)
                }
                finished.update { $0 = true }
                try await group.waitForAll()
            }
        }
    }

    @Test("a surplus member falls back to proxying to the discovered cluster")
    func fullClusterFallsBackToProxy() async throws {
        try await EtcdCluster.with(size: 1) { cluster in
            // The etcd member's registration, as its own discovery would have written it.
            let token = cluster.clientURLs[0] + "/v2/keys/_etcd/registry/full"
            try await Self.put(token + "/_config/size", "1")
            for (index, member) in cluster.members.enumerated() {
                try await Self.put(token + "/\(index + 1)0", "\(member.name)=\(member.peerURL)")
            }
            try await Self.put(cluster.clientURLs[0] + "/v2/keys/hello", "from the cluster")
            let peerPort = try LoopbackPorts.reserve(count: 1)[0]
            try await KVPeerProcess.with(name: "fourth", arguments: Self.discoveryArguments(token, peerPort: peerPort)) { peer in
                let get = try await etcdctl(try peer.clientURL, ["get", "/hello"])
                #expect(get.stdout == "from the cluster\n", "\(get)")
                let set = try await etcdctl(try peer.clientURL, ["set", "/via-proxy", "yes"])
                #expect(set.exitCode == 0, "\(set)")
                #expect((try await Curl.run(["-s", cluster.clientURLs[0] + "/v2/keys/via-proxy?quorum=true"])).stdout.contains(#""value":"yes""#))
                // It did not register: the token still lists exactly the cluster's member.
                let registry = try await Curl.run(["-s", token])
                #expect(!registry.stdout.contains("fourth="), "\(registry)")
            }
        }
    }

    @Test("refusals carry etcd's messages")
    func refusals() async throws {
        let binary = try KVPeerProcess.binaryPath()
        try await EtcdCluster.with(size: 1) { service in
            let base = service.clientURLs[0] + "/v2/keys/_etcd/registry"
            try await Self.put(base + "/full/_config/size", "1")
            try await Self.put(base + "/full/aa", "other=http://127.0.0.1:1")
            try await Self.put(base + "/bad/_config/size", "three")
            let peerPort = try LoopbackPorts.reserve(count: 1)[0]
            let cases: [(String, [String], String)] = [
                (base + "/full", ["--discovery-fallback", "exit"], "discovery: cluster is full"),
                (base + "/nosize", [], "discovery: size key not found"),
                (base + "/bad", [], "discovery: size key is bad"),
                (service.clientURLs[0] + "/not-a-keys-url", [], "discovery: invalid URL"),
            ]
            for (url, extra, message) in cases {
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kv-discovery-\(UUID().uuidString)").path
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let arguments = Self.discoveryArguments(url, peerPort: peerPort, extra: extra) + [
                    "--data-dir", directory, "--listen-client-urls", "http://127.0.0.1:0", "--advertise-client-urls", "http://127.0.0.1:0",
                ]
                let result = try await BoundedCommand.run(binary, arguments, environment: [:], timeout: .seconds(30))
                #expect(result.exitCode == 1 && result.stderr.contains(message), "\(url) \(extra): \(result)")
            }
        }
    }
}
