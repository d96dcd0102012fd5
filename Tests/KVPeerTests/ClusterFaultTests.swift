import Foundation
import Linearizability
import Testing
import TestSupport

/// Process-level faults against a real Raft cluster — kill -9, SIGSTOP, restarts, membership changes, a member
/// that needs a snapshot, partitions — with concurrent clients whose histories must be linearizable and whose
/// acknowledged writes must all survive ("kv-peer: a Raft cluster that loses nothing"). Every test runs
/// against real etcd 3.4, and against kv-peer once it clusters, with the same flags.
///
/// `FLOTILLA_FAULT_PROFILE=long` makes loads and faults bigger; `FLOTILLA_FAULT_SEED` fixes the clients'
/// choices (each failure message names the seed).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ClusterFaultTestsSerial {
    static let backends: [ClusterBackend] = [.etcd, .kvPeer]
    let profile = FaultProfile.current

    @Test("replication: a write on any member is read from every member, and a watch on m2 sees a write on m0", arguments: ClusterFaultTestsSerial.backends)
    func replication(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let members = cluster.members
            for writer in members {
                let reply = try await cluster.request(writer, "PUT", "/v2/keys/replicated/\(writer.name)", body: .form("value=from-\(writer.name)"))
                #expect(reply.status == 201, "PUT on \(writer): \(reply)")
            }
            for reader in members {
                for writer in members {
                    let reply = try await cluster.request(reader, "GET", "/v2/keys/replicated/\(writer.name)?quorum=true")
                    #expect(reply.status == 200 && reply.value == "from-\(writer.name)", "\(writer)'s key read on \(reader): \(reply)")
                }
            }
            // waitIndex pins the event, so it does not matter whether the watch is armed before the write.
            let first = try await cluster.request(members[0], "PUT", "/v2/keys/watched", body: .form("value=before"))
            let index = try #require(modifiedIndex(first), "no modifiedIndex in \(first)")
            async let watched = cluster.request(members[2], "GET", "/v2/keys/watched?wait=true&waitIndex=\(index + 1)", timeout: .seconds(10))
            let second = try await cluster.request(members[0], "PUT", "/v2/keys/watched", body: .form("value=after"))
            let event = try await watched
            #expect(event.status == 200 && event.value == "after", "watch on m2: \(event)")
            #expect(event.json()?["action"] as? String == "set" && modifiedIndex(event) == modifiedIndex(second), "watch on m2: \(event), write: \(second)")
        }
    }

    @Test("kill -9 of the leader under load: a new leader, a linearizable history, no acknowledged write lost", arguments: ClusterFaultTestsSerial.backends)
    func killLeaderUnderLoad(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let load = ClusterLoad(cluster: cluster, profile: profile)
            try await load.run {
                try await load.progress(profile.before, "operations answered before the kill")
                let killed = try await cluster.leader()
                try await cluster.kill(killed)
                let successor = try await cluster.leader(timeout: .seconds(10))
                #expect(successor != killed)
            }
            try await verify(load, on: cluster.running)
        }
    }

    @Test("SIGSTOP of the leader: the others elect a leader and take writes; after SIGCONT it steps down and catches up", arguments: ClusterFaultTestsSerial.backends)
    func stopLeader(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let paused = try await cluster.leader()
            try await acknowledgedWrite(cluster, on: [paused], key: "paused", value: "before")
            let others = cluster.members.filter { $0 != paused }
            let stoppedFor = Duration.milliseconds(PeerCluster.electionTimeoutMilliseconds * profile.stopElectionTimeouts)
            let stoppedAt = ContinuousClock.now
            try cluster.signal(paused, SIGSTOP)
            let successor = try await cluster.leader(among: others, timeout: .seconds(10))
            #expect(successor != paused)
            try await acknowledgedWrite(cluster, on: others, key: "paused", value: "after")
            // The fault's own duration: stopped for that many election timeouts in all.
            let remaining = stoppedFor - (ContinuousClock.now - stoppedAt)
            if remaining > .zero { try await Task.sleep(for: remaining) }
            try cluster.signal(paused, SIGCONT)

            try await eventually("\(paused) to step down after SIGCONT, with a majority following another leader", timeout: .seconds(10)) {
                guard let leader = try? await cluster.leader(timeout: .seconds(1)), leader != paused else { return false }
                let stats = try? await cluster.request(paused, "GET", "/v2/stats/self", timeout: .seconds(1))
                return stats?.json()?["state"] as? String == "StateFollower"
            }
            try await eventually("\(paused)'s local (non-quorum) read of /paused to return the value written while it was stopped") {
                (try? await cluster.request(paused, "GET", "/v2/keys/paused", timeout: .seconds(1)))?.value == "after"
            }
        }
    }

    @Test("kill -9 of every member at once, then a restart: every acknowledged write is there and writes work again", arguments: ClusterFaultTestsSerial.backends)
    func restartAll(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let load = ClusterLoad(cluster: cluster, profile: profile)
            try await load.run {
                try await load.progress(profile.before, "operations answered before the kill")
                let everyone = cluster.members
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for member in everyone { group.addTask { try await cluster.kill(member) } }
                    try await group.waitForAll()
                }
                for member in everyone { try await cluster.start(member) }
                try await cluster.waitUntilHealthy(members: everyone, timeout: .seconds(30))
                _ = try await cluster.leader()
                try await acknowledgedWrite(cluster, on: everyone, key: "restarted", value: "yes")
            }
            try await verify(load, on: cluster.running)
        }
    }

    @Test("a member added and the leader removed under load: a linearizable history, no acknowledged write lost", arguments: ClusterFaultTestsSerial.backends)
    func membershipChangeUnderLoad(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 3) { cluster in
            let load = ClusterLoad(cluster: cluster, profile: profile)
            let joined = Observed<PeerCluster.Member?>(nil)
            try await load.run {
                try await load.progress(profile.before, "operations answered before the change")
                let added = try await cluster.addMember()
                joined.set(added)
                try await cluster.waitUntilHealthy(members: [added], timeout: .seconds(30))
                try await load.progress(profile.before / 2, "operations answered by four members")
                // The leader is the hardest member to remove: it must hand over once the change commits.
                let leaving = try await cluster.leader()
                let exitedByItself = try await cluster.removeMember(leaving)
                #expect(exitedByItself, "\(leaving) kept running after it was removed from the cluster")
                let successor = try await cluster.leader(timeout: .seconds(15))
                #expect(successor != leaving && cluster.members.count == 3, "members now: \(cluster.members)")
            }
            try await verify(load, on: cluster.running)
            // The newcomer serves the same data through a quorum.
            if let added = joined.value { try await load.checkAcknowledgedCreates(on: [added]) }
        }
    }

    @Test("a member down long enough to need a snapshot catches up after its restart", arguments: ClusterFaultTestsSerial.backends)
    func snapshotCatchUp(_ backend: ClusterBackend) async throws {
        let (snapshotCount, entriesKept) = backend.snapshotRetention
        try await PeerCluster.with(backend: backend, size: 3, extraArguments: ["--snapshot-count", "\(snapshotCount)"]) { cluster in
            let leader = try await cluster.leader()
            let lagging = try #require(cluster.members.first { $0 != leader })
            try await cluster.kill(lagging)
            // More entries than the leader keeps after compacting, so the log alone cannot catch the member up.
            let writes = entriesKept + 2 * snapshotCount + 200
            try await writeMany(cluster, on: cluster.running, count: writes)
            try await acknowledgedWrite(cluster, on: [leader], key: "snapshot/last", value: "\(writes)")
            try await cluster.start(lagging)
            try await eventually("\(lagging)'s local read of /snapshot/last after its restart", timeout: .seconds(30)) {
                (try? await cluster.request(lagging, "GET", "/v2/keys/snapshot/last", timeout: .seconds(1)))?.value == "\(writes)"
            }
            for index in [0, writes / 2, writes - 1] {
                let reply = try await cluster.request(lagging, "GET", "/v2/keys/snapshot/\(index)")
                #expect(reply.value == "\(index)", "\(lagging)'s local read of /snapshot/\(index): \(reply)")
            }
            if let line = backend.snapshotInstalledLogLine {
                let log = (try? String(contentsOfFile: lagging.logFile, encoding: .utf8)) ?? ""
                #expect(log.contains(line), "\(lagging) caught up without installing a snapshot (no \"\(line)\" in its log)")
            }
        }
    }

    @Test("5 members, kill -9 of two (the leader among them): the other three keep taking writes and quorum reads", arguments: ClusterFaultTestsSerial.backends)
    func fiveMembersLoseTwo(_ backend: ClusterBackend) async throws {
        try await PeerCluster.with(backend: backend, size: 5) { cluster in
            let leader = try await cluster.leader()
            let follower = try #require(cluster.members.first { $0 != leader })
            try await cluster.kill(leader)
            try await cluster.kill(follower)
            let survivors = cluster.running
            #expect(survivors.count == 3)
            let successor = try await cluster.leader(among: survivors, timeout: .seconds(10))
            #expect(![leader, follower].contains(successor))
            for writer in survivors {
                try await acknowledgedWrite(cluster, on: [writer], key: "five/\(writer.name)", value: "by-\(writer.name)")
            }
            for reader in survivors {
                for writer in survivors {
                    let reply = try await cluster.request(reader, "GET", "/v2/keys/five/\(writer.name)?quorum=true")
                    #expect(reply.status == 200 && reply.value == "by-\(writer.name)", "\(writer)'s key read on \(reader): \(reply)")
                }
            }
        }
    }

    @Test("partition: the isolated leader serves no quorum read, the majority goes on, all converge after healing", arguments: ClusterFaultTestsSerial.backends)
    func partitionedLeader(_ backend: ClusterBackend) async throws {
        if let reason = NetworkNamespaces.unavailableReason {
            print("skipping the partition test against \(backend): \(reason)")
            return
        }
        try await PeerCluster.with(backend: backend, size: 3, placement: .namespaces) { cluster in
            let load = ClusterLoad(cluster: cluster, profile: profile)
            try await load.run {
                try await load.progress(profile.before, "operations answered before the partition")
                let isolated = try await cluster.leader()
                try await cluster.isolate(isolated)
                let majority = cluster.members.filter { $0 != isolated }
                let successor = try await cluster.leader(among: majority, timeout: .seconds(10))
                #expect(successor != isolated)
                // A recorded write through the majority: from now on the isolated member's k0 is stale.
                try await eventually("a write of /lin/k0 acknowledged by the majority") {
                    if case .answered = await load.perform(client: -1, KeyedInput(key: "k0", .write("majority")), on: successor) { return true }
                    return false
                }
                try await quorumReadOnIsolatedSide(cluster, load, isolated, key: "k0")
                try await load.progress(profile.before / 2, "operations answered by the majority")
                try await cluster.heal(isolated)
                try await cluster.waitUntilHealthy(members: cluster.members, timeout: .seconds(20))
                _ = try await cluster.leader(timeout: .seconds(10))
            }
            try await verify(load, on: cluster.running)
            // Converged: every member's own copy of every key is the value a quorum read returns.
            let leader = try await cluster.leader()
            for key in load.keys {
                let agreed = try await cluster.request(leader, "GET", "/v2/keys/lin/\(key)?quorum=true").value
                for member in cluster.members {
                    try await eventually("\(member)'s local /lin/\(key) to be \(agreed ?? "absent")") {
                        (try? await cluster.request(member, "GET", "/v2/keys/lin/\(key)", timeout: .seconds(1)))?.value == agreed
                    }
                }
            }
        }
    }

    // MARK: Helpers

    /// A client on the isolated member's side of the partition (curl in its namespace) asks it for a quorum
    /// read. It must fail or time out; an answer enters the history, where a stale value is an anomaly.
    private func quorumReadOnIsolatedSide(_ cluster: PeerCluster, _ load: ClusterLoad, _ isolated: PeerCluster.Member, key: String) async throws {
        let network = try #require(cluster.network)
        let node = try #require(isolated.node)
        let id = load.recorder.invoke(client: -2, input: KeyedInput(key: key, .read))
        let curl = try await network.run(
            in: node, ["curl", "-s", "--noproxy", "*", "--max-time", "3", "-w", "\n%{http_code}", isolated.clientURL + "/v2/keys/lin/\(key)?quorum=true"]
        )
        var lines = curl.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let status = Int(lines.popLast() ?? "") ?? 0
        let reply = PeerCluster.Reply(status: status, headers: [:], body: lines.joined(separator: "\n"))
        // curl exit 7: no connection at all, so the read would prove nothing about the member.
        #expect(curl.exitCode != 7, "the client beside \(isolated) could not connect to it: \(curl)")
        print("quorum read on the isolated \(isolated): curl exit \(curl.exitCode.map(String.init) ?? "signal"), status \(status)")
        if let output = ClusterLoad.output(of: .read, reply) {
            load.recorder.complete(id, output: output)
            Issue.record("the isolated old leader \(isolated) answered a quorum read of /lin/\(key): \(reply)")
        }
    }

    /// A write acknowledged (2xx) by one of `members`, retried (bounded) across an election.
    private func acknowledgedWrite(_ cluster: PeerCluster, on members: [PeerCluster.Member], key: String, value: String) async throws {
        let last = Observed("no answer")
        do {
            try await eventually("a write of /\(key)=\(value) acknowledged by one of \(members)", timeout: .seconds(15)) {
                for member in members {
                    do {
                        let reply = try await cluster.request(member, "PUT", "/v2/keys/\(key)", body: .form("value=\(value)"))
                        if (200...201).contains(reply.status) { return true }
                        last.set("\(member): \(reply)")
                    } catch {
                        last.set("\(member): \(error)")
                    }
                }
                return false
            }
        } catch {
            throw cluster.failure("\(error); last answer: \(last.value)", members)
        }
    }

    /// `/snapshot/<i>` = `<i>` for i in 0..<count, 16 writers at a time spread over `members`, each write
    /// acknowledged (a few retries each).
    private func writeMany(_ cluster: PeerCluster, on members: [PeerCluster.Member], count: Int) async throws {
        let writers = 16
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in stride(from: writer, to: count, by: writers) {
                        let member = members[index % members.count]
                        var last = "no answer"
                        for _ in 0..<3 {
                            do {
                                let reply = try await cluster.request(member, "PUT", "/v2/keys/snapshot/\(index)", body: .form("value=\(index)"))
                                if (200...201).contains(reply.status) { last = ""; break }
                                last = "\(reply)"
                            } catch {
                                last = "\(error)"
                            }
                        }
                        if !last.isEmpty { throw cluster.failure("write \(index) of \(count) to \(member) failed 3 times: \(last)", [member]) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Final reads through a quorum, then the verdicts: linearizable, every acknowledged create present.
    private func verify(_ load: ClusterLoad, on members: [PeerCluster.Member]) async throws {
        try await load.readBack(on: members)
        load.checkLinearizable()
        try await load.checkAcknowledgedCreates(on: members)
        print("\(Test.current?.name ?? "fault test"): \(load.summary)")
    }

    private func modifiedIndex(_ reply: PeerCluster.Reply) -> Int? {
        (reply.json()?["node"] as? [String: Any])?["modifiedIndex"] as? Int
    }
}

extension ClusterBackend {
    /// `--snapshot-count` for the catch-up test, and how many entries a member keeps in its log after a
    /// snapshot (etcd 3.4: `snapshotCatchUpEntries`, 5000). A member further behind than that catches up only
    /// from a snapshot.
    var snapshotRetention: (snapshotCount: Int, entriesKept: Int) {
        switch self {
        case .etcd: (100, 5_000)
        // kv-peer keeps min(5000, --snapshot-count) entries behind a snapshot.
        case .kvPeer: (100, 100)
        }
    }

    /// What a member's log says once it has installed a snapshot from the leader; nil when not known.
    var snapshotInstalledLogLine: String? {
        switch self {
        case .etcd: "applied snapshot"
        case .kvPeer: "snapshot from the leader installed"
        }
    }
}
