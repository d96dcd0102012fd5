import KeysClient
import Synchronization
import Testing
import TestSupport

/// Leases and leader election on real etcd, with real TTL expiry.
@Suite struct LeaseEtcdTests {
    @Test("a lease excludes others, renews past its TTL, releases, and expires when abandoned")
    func leaseLifecycle() async throws {
        try await withEtcdKeys { keys, _ in
            // A 2 s TTL renewed every 0.5 s: 1.5 s of slack per renewal, so a loaded machine cannot make it lapse.
            let lease = try #require(try await keys.acquireLease("/lock", value: "a", ttl: .seconds(2)))
            #expect(try await keys.acquireLease("/lock", value: "b", ttl: .seconds(1)) == nil)

            // Renew across more than one TTL: the lease must survive.
            var current = lease
            for _ in 0..<6 {
                try await Task.sleep(for: .milliseconds(500))
                current = try await keys.renewLease(current)
            }
            #expect(try await keys.get("/lock").node?.value == "a")
            #expect(current.modifiedIndex > lease.modifiedIndex)

            // A stale copy of the lease cannot renew or release it.
            await #expect(throws: LeaseLostError.self) { try await keys.renewLease(lease) }
            try await keys.releaseLease(current)
            let taken = try #require(try await keys.acquireLease("/lock", value: "b", ttl: .seconds(1)))

            // Abandoned: no renewals. It expires and a third party takes over.
            try await eventually("abandoned lease expires and is taken over") {
                try await keys.acquireLease("/lock", value: "c", ttl: .seconds(5)) != nil
            }
            await #expect(throws: LeaseLostError.self) { try await keys.renewLease(taken) }
        }
    }

    @Test("leader election: one leader at a time, the next is elected when the first steps down")
    func election() async throws {
        try await withEtcdKeys { keys, _ in
            let first = LeaderElection(client: keys, key: "/leader", candidate: "one", ttl: .seconds(2))
            let second = LeaderElection(client: keys, key: "/leader", candidate: "two", ttl: .seconds(2))
            let (stepDown, stepDownNow) = AsyncStream<Void>.makeStream()
            let (secondLeads, secondLeadsNow) = AsyncStream<String>.makeStream()

            let firstTerm = Task {
                try await first.withLeadership { _ in
                    for await _ in stepDown { break }
                    return "one done"
                }
            }
            try await eventually("first candidate leads") { try await first.leader() == "one" }

            let secondTerm = Task {
                try await second.withLeadership { _ in
                    secondLeadsNow.yield(try await second.leader() ?? "nobody")
                    return "two done"
                }
            }
            // Outlast the first leader's TTL: renewal must keep it in office and the second must wait.
            try await Task.sleep(for: .seconds(3))
            #expect(try await first.leader() == "one")

            stepDownNow.yield()
            #expect(try await firstTerm.value == "one done")
            var iterator = secondLeads.makeAsyncIterator()
            #expect(await iterator.next() == "two")
            #expect(try await secondTerm.value == "two done")
            #expect(try await first.leader() == nil)
        }
    }

    @Test("a leader whose key is taken away loses leadership and its work is cancelled")
    func leadershipLost() async throws {
        try await withEtcdKeys { keys, _ in
            let election = LeaderElection(client: keys, key: "/leader", candidate: "one", ttl: .seconds(2), renewInterval: .milliseconds(100))
            let (started, startedNow) = AsyncStream<Void>.makeStream()
            let term = Task {
                try await election.withLeadership { _ in
                    startedNow.yield()
                    try await Task.sleep(for: .seconds(60))
                    return "never"
                }
            }
            for await _ in started { break }
            _ = try await keys.delete("/leader")
            await #expect(throws: LeaseLostError.self) { try await term.value }
        }
    }
}
