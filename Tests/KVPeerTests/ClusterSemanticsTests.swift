import Foundation
import Testing
import TestSupport

/// What a client of a cluster sees beyond plain reads and writes — TTLs across a leader change, the error when
/// there is no quorum, the members API — asked of real etcd 3.4 and of kv-peer with the same expectations.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ClusterSemanticsTests {
    @Test("a key's TTL runs out through the log: not before its time, once, on every member, across a leader kill", arguments: ClusterBackend.allCases)
    func ttlAcrossLeaderKill(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let leader = try await cluster.leader()
            let survivors = cluster.members.filter { $0 != leader }
            let ttl = 3.0
            let written = ContinuousClock.now
            let set = try await cluster.request(survivors[0], "PUT", "/v2/keys/leased?ttl=\(Int(ttl))", body: .form("value=v"))
            let index = try #require((set.json()?["node"] as? [String: Any])?["modifiedIndex"] as? Int, "\(set)")
            try await cluster.kill(leader)
            // Each survivor sees the expiry as the next event after the write, at the same index.
            var expiredAt: [Int] = []
            for member in survivors {
                let event = try await cluster.request(member, "GET", "/v2/keys/leased?wait=true&waitIndex=\(index + 1)", timeout: .seconds(15))
                #expect(event.json()?["action"] as? String == "expire", "\(member): \(event)")
                expiredAt.append(((event.json()?["node"] as? [String: Any])?["modifiedIndex"] as? Int) ?? -1)
            }
            let elapsed = ContinuousClock.now - written
            #expect(elapsed >= .seconds(ttl), "expired after \(elapsed), TTL \(ttl) s")
            #expect(Set(expiredAt).count == 1, "expire indexes differ between members: \(expiredAt)")
            let gone = try await cluster.request(survivors[1], "GET", "/v2/keys/leased?quorum=true")
            #expect(gone.status == 404 && gone.errorCode == 100, "\(gone)")
        }
    }

    @Test("a leader stopped with SIGTERM hands leadership over before it exits; the others go on at once", arguments: ClusterBackend.allCases)
    func gracefulHandOver(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let leader = try await cluster.leader()
            let survivors = cluster.members.filter { $0 != leader }
            try cluster.signal(leader, SIGTERM)
            try await eventually("\(leader) to exit after SIGTERM", timeout: .seconds(20)) { !cluster.isRunning(leader) }
            let successor = try await cluster.leader(among: survivors)
            let write = try await cluster.request(successor, "PUT", "/v2/keys/after-handover", body: .form("value=v"))
            #expect(write.status == 201, "\(write)")
            let log = (try? String(contentsOfFile: leader.logFile, encoding: .utf8)) ?? ""
            let handOver = backend == .etcd ? "leadership transfer finished" : "handing leadership over before stopping"
            #expect(log.contains(handOver), "\(leader) did not hand over (no \"\(handOver)\" in its log)")
        }
    }

    @Test("without a quorum a write fails with 500 and errorCode 300 (request timed out), and the survivor is unhealthy", arguments: ClusterBackend.allCases)
    func noQuorum(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let survivor = cluster.members[2]
            try await cluster.kill(cluster.members[0])
            try await cluster.kill(cluster.members[1])
            let write = try await cluster.request(survivor, "PUT", "/v2/keys/no-quorum", body: .form("value=v"), timeout: .seconds(20))
            #expect(write.status == 500 && write.errorCode == 300, "\(write)")
            #expect(write.json()?["message"] as? String == "Raft Internal Error", "\(write)")
            #expect((write.json()?["cause"] as? String)?.hasPrefix("etcdserver: request timed out") == true, "\(write)")
            let health = try await cluster.request(survivor, "GET", "/health", timeout: .seconds(10))
            #expect(health.status == 503 && health.body.contains(#""health":"false""#), "\(health)")
        }
    }

    @Test("the members API: leader, stats, peer /members and etcd's refusals", arguments: ClusterBackend.allCases)
    func membersAPI(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let leader = try await cluster.leader()
            let follower = try #require(cluster.members.first { $0 != leader })
            let listed = try await cluster.request(follower, "GET", "/v2/members")
            let members = try #require(listed.json()?["members"] as? [[String: Any]], "\(listed)")
            #expect(Set(members.compactMap { $0["name"] as? String }) == ["m0", "m1", "m2"], "\(listed)")
            let ids = Set(members.compactMap { $0["id"] as? String })

            let leaderMember = try await cluster.request(follower, "GET", "/v2/members/leader")
            #expect(leaderMember.json()?["name"] as? String == leader.name, "\(leaderMember)")

            try await eventually("the leader's stats to count both followers", timeout: .seconds(10)) {
                let stats = try await cluster.request(leader, "GET", "/v2/stats/leader")
                let followers = stats.json()?["followers"] as? [String: [String: Any]] ?? [:]
                let counted = followers.values.allSatisfy { (($0["counts"] as? [String: Any])?["success"] as? Int ?? 0) > 0 }
                return Set(followers.keys).count == 2 && Set(followers.keys).isSubset(of: ids) && counted
            }
            let notLeader = try await cluster.request(follower, "GET", "/v2/stats/leader")
            #expect(notLeader.status == 403 && notLeader.body == #"{"message":"not current leader"}"#, "\(notLeader)")
            let selfStats = try await cluster.request(follower, "GET", "/v2/stats/self")
            #expect(selfStats.json()?["state"] as? String == "StateFollower", "\(selfStats)")

            // The peer port lists members with numeric IDs, as etcd's peers do.
            var peerRequest = try await Curl.run(["-s", leader.peerURL + "/members"])
            let peerMembers = try JSONSerialization.jsonObject(with: Data(peerRequest.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(Set(peerMembers.compactMap { ($0["id"] as? NSNumber)?.uint64Value }.map { String($0, radix: 16) }) == ids, "\(peerRequest)")

            // With --strict-reconfig-check (the default) a change is refused (500) until this member has been
            // connected to every peer for etcd's 5 s health interval; then the duplicate URL is what is wrong.
            try await eventually("a duplicate peer URL to be refused as such", timeout: .seconds(15), poll: .milliseconds(500)) {
                let duplicate = try await cluster.request(follower, "POST", "/v2/members", body: .json(#"{"peerURLs":["\#(follower.peerURL)"]}"#))
                return duplicate.status == 409
            }
            let refusals: [(PeerCluster.Body?, String, Int, String?)] = [
                (.form("peerURLs=http://127.0.0.1:1"), "POST", 415, #"{"message":"Bad Content-Type application/x-www-form-urlencoded, accept application/json"}"#),
                (.json(#"{"peerURLs":["\#(follower.peerURL)"]}"#), "POST", 409, #"{"message":"membership: peerURL exists"}"#),
                (.json(#"{"peerURLs":[]}"#), "POST", 400, #"{"message":"no valid URLs given"}"#),
                (.json(#"{"peerURLs":["bogus"]}"#), "POST", 400, #"{"message":"URL scheme must be http, https, unix, or unixs: bogus"}"#),
                (.json(#"{"peerURLs":"#), "POST", 400, nil),
            ]
            for (body, method, status, message) in refusals {
                let reply = try await cluster.request(follower, method, "/v2/members", body: body)
                #expect(reply.status == status, "\(method) \(String(describing: body)): \(reply)")
                if let message { #expect(reply.body == message, "\(method) \(String(describing: body)): \(reply)") }
            }
            let unknown = try await cluster.request(follower, "DELETE", "/v2/members/abc")
            #expect(unknown.status == 404 && unknown.body == #"{"message":"No such member: abc"}"#, "\(unknown)")
            // PUT changes a member's peer URLs: to the ones it has (a no-op), never to another member's.
            let followerID = try #require(members.first { $0["name"] as? String == follower.name }?["id"] as? String)
            let same = try await cluster.request(leader, "PUT", "/v2/members/\(followerID)", body: .json(#"{"peerURLs":["\#(follower.peerURL)"]}"#))
            #expect(same.status == 204, "\(same)")
            let taken = try await cluster.request(leader, "PUT", "/v2/members/\(followerID)", body: .json(#"{"peerURLs":["\#(leader.peerURL)"]}"#))
            #expect(taken.status == 409 && taken.body == #"{"message":"membership: peerURL exists"}"#, "\(taken)")
            let missing = try await cluster.request(leader, "PUT", "/v2/members/abc", body: .json(#"{"peerURLs":["http://127.0.0.1:1"]}"#))
            #expect(missing.status == 404 && missing.body == #"{"message":"No such member: abc"}"#, "\(missing)")
            peerRequest = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", leader.peerURL + "/version"])
            #expect(peerRequest.stdout == "200", "\(peerRequest)")
        }
    }
}
