import KVPeer
import Prometheus
import Testing

// Members, machines, stats, version, health, auth, metrics, and the mux-level answers (404, 405, OPTIONS)
// (reference §1, §10).

private func identity(port: Int) -> MemberIdentity {
    MemberIdentity(name: "node1", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:\(port)"], clusterToken: "etcd-cluster")
}

@Suite(.timeLimit(.minutes(1))) struct ClusterEndpointTests {
    @Test("/v2/members and /v2/members/leader: etcd's member object, X-Etcd-Cluster-Id, the bound client URL")
    func members() async throws {
        try await withKVPeer { peer in
            let member = identity(port: peer.port)
            let object = #"{"id":"\#(member.hexID)","name":"node1","peerURLs":["http://127.0.0.1:2380"],"clientURLs":["http://127.0.0.1:\#(peer.port)"]}"#
            for path in ["/v2/members", "/v2/members/"] {
                let members = try await peer.get(path)
                #expect(members.status == 200)
                #expect(members.body == #"{"members":["# + object + "]}\n", "\(path)")
                #expect(members.header("Content-Type") == "application/json")
                #expect(members.header("X-Etcd-Cluster-Id") == member.hexClusterID)
                #expect(!members.has("X-Etcd-Index"))
                expectCORS(members)
            }
            let leader = try await peer.get("/v2/members/leader")
            #expect(leader.body == object + "\n")
            #expect(leader.header("X-Etcd-Cluster-Id") == member.hexClusterID)
            // Keys responses carry the same cluster id.
            #expect(try await peer.put("/v2/keys/k", "value=v").header("X-Etcd-Cluster-Id") == member.hexClusterID)
            #expect(member.hexID.allSatisfy(\.isHexDigit) && member.hexID.lowercased() == member.hexID)
        }
    }

    @Test("/v2/machines: text/plain client URLs; /version, /health: exact JSON without cluster or etcd headers")
    func machinesVersionHealth() async throws {
        try await withKVPeer { peer in
            let machines = try await peer.get("/v2/machines")
            #expect(machines.status == 200 && machines.body == "http://127.0.0.1:\(peer.port)")
            #expect(machines.header("Content-Type") == "text/plain; charset=utf-8")

            let version = try await peer.get("/version")
            #expect(version.status == 200 && version.body == #"{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}"#)
            #expect(version.header("Content-Type") == "application/json")
            let health = try await peer.get("/health")
            #expect(health.status == 200 && health.body == #"{"health":"true"}"#)
            #expect(try await peer.get("/health?exclude=NOSPACE").status == 200)
            for reply in [version, health] {
                #expect(!reply.has("X-Etcd-Cluster-Id") && !reply.has("X-Etcd-Index") && !reply.has("X-Raft-Index"), "\(reply)")
                expectCORS(reply)
            }
            let auth = try await peer.get("/v2/auth/enable")
            #expect(auth.status == 200 && auth.body == "{\"enabled\":false}\n")
            #expect(auth.header("X-Etcd-Cluster-Id") == identity(port: peer.port).hexClusterID)
        }
    }

    @Test("/v2/stats/self and /v2/stats/leader: a single leader; start time and uptime from the server clock")
    func statsSelfAndLeader() async throws {
        try await withKVPeer { peer in
            let id = identity(port: peer.port).hexID
            // The member answers once it has elected itself (it serves no client before), so the clock moves on
            // only after the leader's start time was taken.
            _ = try await peer.get("/v2/stats/self")
            peer.clock?.advance(seconds: 1.5)
            let stats = try await peer.get("/v2/stats/self")
            #expect(stats.status == 200)
            #expect(stats.body == #"{"name":"node1","id":"\#(id)","state":"StateLeader","startTime":"2027-01-15T08:00:00.1234Z","leaderInfo":{"leader":"\#(id)","uptime":"1.5s","startTime":"2027-01-15T08:00:00.1234Z"},"recvAppendRequestCnt":0,"sendAppendRequestCnt":0}"#)
            let leader = try await peer.get("/v2/stats/leader")
            #expect(leader.body == #"{"leader":"\#(id)","followers":{}}"#)
            for reply in [stats, leader] {
                #expect(reply.header("Content-Type") == "application/json")
                #expect(!reply.has("X-Etcd-Cluster-Id") && !reply.has("X-Etcd-Index"), "\(reply)")
            }
        }
    }

    /// Expected counts measured on etcd 3.4.23 for the same requests: every keys request that passes validation
    /// also reads `/2/enabled` for the auth check (one failed get each), and a failed compareAndDelete counts as a success.
    @Test("/v2/stats/store: every counter in etcd's order, moving as etcd's do; validation failures are not counted")
    func statsStore() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/a", "value=1")
            _ = try await peer.get("/v2/keys/a")
            _ = try await peer.get("/v2/keys/missing")
            _ = try await peer.put("/v2/keys/a?prevExist=false", "value=1")
            try await peer.put("/v2/keys/b?prevExist=false", "value=1")
            try await peer.put("/v2/keys/a?prevExist=true", "value=2")
            _ = try await peer.put("/v2/keys/zz?prevExist=true", "value=2")
            _ = try await peer.put("/v2/keys/a?prevValue=nope", "value=3")
            try await peer.put("/v2/keys/a?prevValue=2", "value=3")
            _ = try await peer.delete("/v2/keys/missing")
            try await peer.delete("/v2/keys/b")
            _ = try await peer.delete("/v2/keys/a?prevValue=nope")
            try await peer.delete("/v2/keys/a?prevValue=3")
            _ = try await peer.put("/v2/keys/a?ttl=bad", "value=1")
            let stats = try await peer.get("/v2/stats/store")
            #expect(stats.body == #"{"getsSuccess":1,"getsFail":14,"setsSuccess":1,"setsFail":0,"deleteSuccess":1,"deleteFail":1,"updateSuccess":1,"updateFail":1,"createSuccess":1,"createFail":1,"compareAndSwapSuccess":1,"compareAndSwapFail":1,"compareAndDeleteSuccess":2,"compareAndDeleteFail":0,"expireCount":0,"watchers":0}"#)
            #expect(stats.header("Content-Type") == "application/json")
            #expect(!stats.has("X-Etcd-Cluster-Id") && !stats.has("X-Etcd-Index"))
        }
    }

    @Test("/metrics serves the registry as Prometheus text")
    func metrics() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(name: "kvpeer_test_marker_total").increment(by: Int64(3))
        try await withKVPeer(registry: registry) { peer in
            let metrics = try await peer.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            #expect(metrics.body.contains("kvpeer_test_marker_total 3"), "\(metrics.body)")
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct MuxAnswerTests {
    @Test("unknown paths: 404 text/plain \"404 page not found\" with CORS headers", arguments: ["/nope", "/v2", "/v2/nope", "/v3/kv/range", "/v2/stats/nope", "/v1"])
    func notFound(_ path: String) async throws {
        try await withKVPeer { peer in
            let reply = try await peer.get(path)
            #expect(reply.status == 404)
            #expect(reply.body == "404 page not found\n")
            #expect(reply.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(reply.header("X-Content-Type-Options") == "nosniff")
            #expect(!reply.has("X-Etcd-Index"))
            expectCORS(reply)
        }
    }

    @Test("405: keys allow HEAD,GET,PUT,POST,DELETE; stats, version and health allow GET")
    func methodNotAllowed() async throws {
        try await withKVPeer { peer in
            for (method, path, allow) in [
                ("PATCH", "/v2/keys/k", "HEAD,GET,PUT,POST,DELETE"), ("TRACE", "/v2/keys", "HEAD,GET,PUT,POST,DELETE"),
                ("PATCH", "/v2/keys/", "HEAD,GET,PUT,POST,DELETE"),
                ("POST", "/version", "GET"), ("PUT", "/health", "GET"), ("DELETE", "/v2/stats/store", "GET"),
                ("POST", "/v2/stats/self", "GET"),
            ] {
                let reply = try await peer.request(method, path, body: "value=x")
                #expect(reply.status == 405 && reply.reason == "Method Not Allowed", "\(method) \(path): \(reply)")
                #expect(reply.body == "Method Not Allowed\n")
                #expect(reply.header("Allow") == allow, "\(method) \(path)")
                #expect(reply.header("Content-Type") == "text/plain; charset=utf-8")
                #expect(!reply.has("X-Etcd-Index"))
                expectCORS(reply)
            }
            // Nothing was written by the PATCH.
            #expect(try await peer.get("/v2/keys/k").status == 404)
        }
    }

    @Test("OPTIONS on any path: 200, empty body, CORS headers")
    func options() async throws {
        try await withKVPeer { peer in
            for path in ["/v2/keys/k", "/v2/keys", "/version", "/nope", "/v2/members"] {
                let reply = try await peer.request("OPTIONS", path)
                #expect(reply.status == 200 && reply.body.isEmpty, "\(path): \(reply)")
                #expect(reply.header("Content-Length") == "0")
                expectCORS(reply)
            }
            #expect(try await peer.get("/v2/keys/k").status == 404)
        }
    }
}
