import Foundation
import Testing
import TestSupport

/// `kv-peer --proxy on|readonly` (etcd 2's proxy mode) in front of a real 3-member etcd 3.4 cluster.
@Suite(.timeLimit(.minutes(3)))
struct ProxyModeTests {
    static func proxyArguments(_ cluster: EtcdCluster, members: [EtcdCluster.Member], mode: String = "on") -> [String] {
        [
            "--proxy", mode, "--data-dir", "{dir}/proxy.etcd",
            "--initial-cluster", members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","),
            "--listen-client-urls", "http://127.0.0.1:0", "--proxy-refresh-interval", "200", "--proxy-failure-wait", "1000",
        ]
    }

    @Test("forwards reads, writes and watches; learns the members and survives losing the one it was given")
    func forwardsAndFollowsMembership() async throws {
        try await EtcdCluster.with(size: 3) { cluster in
            // Only m0 is named: the proxy must learn m1 and m2 from the cluster's own member list.
            try await KVPeerProcess.with(name: "proxy", arguments: Self.proxyArguments(cluster, members: [cluster.members[0]])) { proxy in
                let url = try proxy.clientURL
                let set = try await etcdctl(url, ["set", "/greeting", "hello"])
                #expect(set.exitCode == 0 && set.stdout == "hello\n", "\(set)")
                // Written through the proxy, readable on any member: it went to the cluster, not to a local store.
                let direct = try await Curl.run(["-s", cluster.clientURLs[2] + "/v2/keys/greeting?quorum=true"])
                #expect(direct.stdout.contains(#""value":"hello""#), "\(direct)")
                let get = try await etcdctl(url, ["get", "/greeting"])
                #expect(get.stdout == "hello\n", "\(get)")
                let members = try await Curl.run(["-s", url + "/v2/members"])
                #expect(members.stdout.contains(cluster.members[2].peerURL), "\(members)")

                // A long-poll watch passes through and ends when the event arrives. Writes keep coming until the
                // watch has seen one, since nothing tells the test when the watch is armed.
                let watched = Observed<String?>(nil)
                let watch = Task {
                    let answer = try await Curl.run(["-s", "--max-time", "20", url + "/v2/keys/greeting?wait=true"])
                    watched.set(answer.stdout)
                }
                try await eventually("the watch through the proxy to see an update") {
                    _ = try await Curl.run(["-s", "-XPUT", cluster.clientURLs[1] + "/v2/keys/greeting", "-d", "value=again"])
                    return watched.value?.contains(#""value":"again""#) == true
                }
                try await watch.value

                cluster.kill(cluster.members[0].name)
                try await eventually("writes through the proxy after m0 is gone", timeout: .seconds(20)) {
                    (try await etcdctl(url, ["set", "/after", "m0-gone"])).exitCode == 0
                }
                #expect((try await etcdctl(url, ["get", "/after"])).stdout == "m0-gone\n")
                let remembered = try String(contentsOfFile: proxy.directory.appendingPathComponent("proxy.etcd/proxy/cluster").path, encoding: .utf8)
                #expect(remembered.contains(cluster.members[1].peerURL), "\(remembered)")
            }
        }
    }

    @Test("readonly proxies answer 501 to anything but GET")
    func readonlyRefusesWrites() async throws {
        try await EtcdCluster.with(size: 1) { cluster in
            _ = try await Curl.run(["-s", "-XPUT", cluster.clientURLs[0] + "/v2/keys/k", "-d", "value=v"])
            try await KVPeerProcess.with(name: "proxy", arguments: Self.proxyArguments(cluster, members: cluster.members, mode: "readonly")) { proxy in
                let url = try proxy.clientURL
                let put = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-XPUT", url + "/v2/keys/k", "-d", "value=w"])
                #expect(put.stdout == "501", "\(put)")
                let get = try await Curl.run(["-s", url + "/v2/keys/k"])
                #expect(get.stdout.contains(#""value":"v""#), "\(get)")
            }
        }
    }

    @Test("with no reachable member the proxy answers 503, not a hang")
    func noEndpoints() async throws {
        let deadPeer = try LoopbackPorts.reserve(count: 1)[0]
        let arguments = [
            "--proxy", "on", "--data-dir", "{dir}/proxy.etcd", "--initial-cluster", "gone=http://127.0.0.1:\(deadPeer)",
            "--listen-client-urls", "http://127.0.0.1:0",
        ]
        try await KVPeerProcess.with(name: "proxy", arguments: arguments) { proxy in
            let answer = try await Curl.run(["-s", "-w", "\n%{http_code}", try proxy.clientURL + "/v2/keys/k"])
            #expect(answer.stdout == "zero endpoints currently available\n\n503", "\(answer)")
        }
    }
}
