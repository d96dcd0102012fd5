import Foundation
import Testing
import TestSupport

/// The real python-etcd (Debian python3-etcd 0.4.5, importable only by /usr/bin/python3) driving a real kv-peer
/// process, and the same script driving a real etcd 3.4. Each script prints one JSON object of what the client
/// saw, with indexes relative to the store index when the script began; both servers must give exactly the
/// expected object. The key, watch and lock scripts also run against a member of a 3-member cluster of each.
@Suite(.serialized) struct PythonEtcdTests {
    @Test("write, read, set/get, ttl, refresh, delete and the exceptions they raise", arguments: [1, 3])
    func writeReadTTLDelete(members: Int) async throws {
        try await expectSameResult(members: members, script: """
            r = c.write("/py/a", "1")
            out["write"] = [r.action, r.key, r.value, r.newKey, rel(r.modifiedIndex), rel(r.createdIndex), rel(r.etcd_index)]
            r = c.write("/py/a", "2")
            out["overwrite"] = [r.action, r.value, r.newKey, r._prev_node.value, rel(r.createdIndex)]
            r = c.read("/py/a")
            out["read"] = [r.action, r.key, r.value, r.dir, r.ttl, rel(r.modifiedIndex), rel(r.etcd_index)]
            out["set_get"] = [c.set("/py/s", "v").value, c.get("/py/s").value]
            r = c.write("/py/t", "x", ttl=100)
            out["ttl"] = [r.ttl, r.expiration is not None]
            r = c.read("/py/t")
            out["ttl_read"] = [r.ttl in (99, 100), r.expiration is not None]
            r = c.refresh("/py/t", ttl=200)
            out["refresh"] = [r.action, r.value, r.ttl, rel(r.modifiedIndex)]
            r = c.write("/py/t", "y")
            out["ttl_cleared"] = [r.ttl, r.expiration]
            r = c.delete("/py/a")
            out["delete"] = [r.action, r.key, r.value, r._prev_node.value, rel(r.modifiedIndex)]
            out["gone"] = catch(lambda: c.read("/py/a"))
            out["delete_gone"] = catch(lambda: c.delete("/py/a"))
            out["contains"] = ["/py/s" in c, "/py/a" in c]
            out["empty_value"] = c.write("/py/e", "").value
            r = c.pop("/py/s")
            out["pop"] = [r.action, r.value]  # pop returns the previous node
            """,
            expected: """
            {"contains": [true, false], "delete": ["delete", "/py/a", null, "2", 7], "delete_gone": ["EtcdKeyNotFound", 100], \
            "empty_value": "", "gone": ["EtcdKeyNotFound", 100], "overwrite": ["set", "2", false, "1", 2], \
            "pop": [null, "v"], "read": ["get", "/py/a", "2", false, null, 2, 2], "refresh": ["update", "x", 200, 5], \
            "set_get": ["v", "v"], "ttl": [100, true], "ttl_cleared": [null, null], "ttl_read": [true, true], \
            "write": ["set", "/py/a", "1", true, 1, 1, 1]}
            """)
    }

    @Test("directories: create, list (recursive, sorted, leaves), in-order append, dir errors, delete", arguments: [1, 3])
    func directories(members: Int) async throws {
        try await expectSameResult(members: members, script: """
            r = c.write("/py/d", None, dir=True)
            out["mkdir"] = [r.action, r.dir, r.value]
            for k in ["b", "a", "c/x", "_hidden"]:
                c.write("/py/d/" + k, k)
            r = c.read("/py/d", recursive=True, sorted=True)
            out["subtree"] = [[n.key, n.dir, n.value] for n in r.get_subtree()]
            out["leaves"] = [n.key for n in r.leaves]
            out["shallow"] = sorted(n.key for n in c.read("/py/d").children)
            out["not_file"] = catch(lambda: c.write("/py/d", "value"))
            out["not_dir"] = catch(lambda: c.write("/py/d/a/under", "v"))
            out["exists"] = catch(lambda: c.write("/py/d", None, dir=True, prevExist=False))
            out["not_empty"] = catch(lambda: c.delete("/py/d", dir=True))
            out["root_read_only"] = catch(lambda: c.delete("/", recursive=True))
            jobs = [c.write("/py/q", "job%d" % i, append=True) for i in range(3)]
            out["append"] = [[j.action, j.value, j.key == "/py/q/%020d" % j.createdIndex] for j in jobs]
            out["queue"] = [n.value for n in c.read("/py/q", recursive=True, sorted=True).children]
            r = c.delete("/py/d", recursive=True)
            out["rm_r"] = [r.action, r.key, r.dir]
            out["rm_r_gone"] = catch(lambda: c.read("/py/d/c/x"))
            """,
            expected: """
            {"append": [["create", "job0", true], ["create", "job1", true], ["create", "job2", true]], \
            "exists": ["EtcdAlreadyExist", 105], "leaves": ["/py/d/a", "/py/d/b", "/py/d/c/x"], "mkdir": ["set", true, null], \
            "not_dir": ["EtcdNotDir", 104], "not_empty": ["EtcdDirNotEmpty", 108], "not_file": ["EtcdNotFile", 102], \
            "queue": ["job0", "job1", "job2"], "rm_r": ["delete", "/py/d", true], "rm_r_gone": ["EtcdKeyNotFound", 100], \
            "root_read_only": ["EtcdRootReadOnly", 107], "shallow": ["/py/d/a", "/py/d/b", "/py/d/c"], \
            "subtree": [["/py/d", true, null], ["/py/d/a", false, "a"], ["/py/d/b", false, "b"], ["/py/d/c", true, null], ["/py/d/c/x", false, "c/x"]]}
            """)
    }

    @Test("compare-and-swap and compare-and-delete: prevValue, prevIndex, prevExist, test_and_set, update(), failures", arguments: [1, 3])
    func compareAndSwap(members: Int) async throws {
        try await expectSameResult(members: members, script: """
            r = c.write("/py/cas", "1")
            out["cas_value"] = c.write("/py/cas", "2", prevValue="1").action
            out["cas_value_fail"] = catch(lambda: c.write("/py/cas", "3", prevValue="1"))
            r = c.read("/py/cas")
            out["cas_index"] = c.write("/py/cas", "3", prevIndex=r.modifiedIndex).value
            out["cas_index_fail"] = catch(lambda: c.write("/py/cas", "4", prevIndex=r.modifiedIndex))
            out["test_and_set"] = c.test_and_set("/py/cas", "5", "3").value
            out["test_and_set_fail"] = catch(lambda: c.test_and_set("/py/cas", "6", "nope"))
            out["cas_missing"] = catch(lambda: c.write("/py/none", "x", prevValue="a"))
            out["create"] = c.write("/py/new", "n", prevExist=False).action
            out["create_fail"] = catch(lambda: c.write("/py/new", "n", prevExist=False))
            out["update"] = c.write("/py/new", "m", prevExist=True).action
            out["update_missing"] = catch(lambda: c.write("/py/none", "m", prevExist=True))
            o = c.read("/py/cas")
            o.value = "7"
            out["update_obj"] = [c.update(o).value, c.read("/py/cas").value]
            o.value = "8"
            out["update_obj_stale"] = catch(lambda: c.update(o))
            out["cad_fail"] = catch(lambda: c.delete("/py/cas", prevValue="wrong"))
            out["cad_index_fail"] = catch(lambda: c.delete("/py/cas", prevIndex=1))
            out["cad"] = c.delete("/py/cas", prevValue="7").action
            """,
            expected: """
            {"cad": "compareAndDelete", "cad_fail": ["EtcdCompareFailed", 101], "cad_index_fail": ["EtcdCompareFailed", 101], \
            "cas_index": "3", "cas_index_fail": ["EtcdCompareFailed", 101], "cas_missing": ["EtcdKeyNotFound", 100], \
            "cas_value": "compareAndSwap", "cas_value_fail": ["EtcdCompareFailed", 101], "create": "create", \
            "create_fail": ["EtcdAlreadyExist", 105], "test_and_set": "5", "test_and_set_fail": ["EtcdCompareFailed", 101], \
            "update": "update", "update_missing": ["EtcdKeyNotFound", 100], "update_obj": ["7", "7"], \
            "update_obj_stale": ["EtcdCompareFailed", 101]}
            """)
    }

    @Test("watch: from an index in history, recursive, live (from the next index, written by another thread), parent delete, wait/waitIndex", arguments: [1, 3])
    func watchWithIndex(members: Int) async throws {
        try await expectSameResult(members: members, script: """
            import threading
            w1 = c.write("/py/w/k", "one")
            w2 = c.write("/py/w/k", "two")
            r = c.watch("/py/w/k", index=w1.modifiedIndex, timeout=10)
            out["history"] = [r.action, r.value, rel(r.modifiedIndex)]
            r = c.read("/py/w/k", wait=True, waitIndex=w2.modifiedIndex, timeout=10)
            out["wait_read"] = [r.action, r.value, rel(r.modifiedIndex), r._prev_node.value]
            r = c.watch("/py/w", index=w1.modifiedIndex + 1, recursive=True, timeout=10)
            out["recursive"] = [r.action, r.key, r.value]
            # Live: watch from the next index; the writer may run before or after the watch arms.
            nxt = c.read("/py/w/k").etcd_index + 1
            t = threading.Thread(target=lambda: c.write("/py/w/other", "live"))
            t.start()
            r = c.watch("/py/w", index=nxt, recursive=True, timeout=10)
            t.join()
            out["live"] = [r.action, r.key, r.value, rel(r.modifiedIndex)]
            c.delete("/py/w", recursive=True)
            r = c.watch("/py/w/k", index=nxt + 1, timeout=10)
            out["parent_deleted"] = [r.action, r.key, r.dir]
            """,
            expected: """
            {"history": ["set", "one", 1], "live": ["set", "/py/w/other", "live", 3], \
            "parent_deleted": ["delete", "/py/w", true], "recursive": ["set", "/py/w/k", "two"], \
            "wait_read": ["set", "two", 2, "one"]}
            """)
    }

    @Test("Client(host, port): /version, cluster_version, machines, members, leader, stats")
    func clusterInformation() async throws {
        try await expectSameResult(script: """
            url = "http://%s:%s" % (sys.argv[1], sys.argv[2])
            out["version"] = [c.version, c.cluster_version]
            out["machines"] = [m == url for m in c.machines]
            leader = c.leader
            out["leader"] = [sorted(leader.keys()), leader["name"], leader["clientURLs"] == [url]]
            out["members"] = [m["name"] for m in c.members.values()]
            out["stats"] = [c.stats["state"], c.stats["leaderInfo"]["leader"] == leader["id"], sorted(c.store_stats.keys())]
            out["leader_stats"] = [c.leader_stats["leader"] == leader["id"], c.leader_stats["followers"]]
            """,
            expected: """
            {"leader": [["clientURLs", "id", "name", "peerURLs"], "m0", true], "leader_stats": [true, {}], \
            "machines": [true], "members": ["m0"], "stats": ["StateLeader", true, ["compareAndDeleteFail", \
            "compareAndDeleteSuccess", "compareAndSwapFail", "compareAndSwapSuccess", "createFail", "createSuccess", \
            "deleteFail", "deleteSuccess", "expireCount", "getsFail", "getsSuccess", "setsFail", "setsSuccess", \
            "updateFail", "updateSuccess", "watchers"]], "version": ["3.4.23", "3.4.0"]}
            """)
    }

    @Test("etcd.Lock: acquire, contend (non-blocking), release, context manager", arguments: [1, 3])
    func lock(members: Int) async throws {
        try await expectSameResult(members: members, script: """
            lock = etcd.Lock(c, "job")
            out["acquired"] = lock.acquire(lock_ttl=60)
            out["holds"] = lock.is_acquired
            other = etcd.Lock(c, "job")
            out["other_nonblocking"] = other.acquire(blocking=False, lock_ttl=60)
            lock.release()
            out["released"] = lock.is_acquired
            out["other_after_release"] = other.acquire(blocking=False, lock_ttl=60)
            other.release()
            with etcd.Lock(c, "ctx") as l:
                out["with"] = l.is_acquired
            """,
            expected: """
            {"acquired": true, "holds": true, "other_after_release": true, "other_nonblocking": false, \
            "released": false, "with": true}
            """)
    }

    // MARK: Helpers

    /// Runs the script body against kv-peer and against etcd — a lone member each, or a member of a 3-member
    /// cluster of each (python-etcd talks to the one member it is given) — and both must print `expected`.
    func expectSameResult(members: Int = 1, script body: String, expected: String) async throws {
        let script = Self.preamble + body + "\nprint(json.dumps(out, sort_keys=True))\n"
        try await withKVPeerAndEtcd(members: members) { kv, etcd in
            let kvResult = try await Self.run(script, against: kv)
            let etcdResult = try await Self.run(script, against: etcd)
            #expect(kvResult == expected, "kv-peer printed\n\(kvResult)\nexpected\n\(expected)")
            #expect(etcdResult == expected, "etcd printed\n\(etcdResult)\nexpected\n\(expected)")
        }
    }

    static let preamble = """
        import etcd, json, sys
        c = etcd.Client(host=sys.argv[1], port=int(sys.argv[2]))
        base = c.read("/").etcd_index
        def rel(index):
            return None if index is None else index - base
        def catch(action):
            try:
                action()
                return "no exception"
            except etcd.EtcdException as e:
                return [type(e).__name__, e.payload.get("errorCode") if isinstance(e.payload, dict) else None]
        out = {}

        """

    static func run(_ script: String, against endpoint: String) async throws -> String {
        let hostPort = endpoint.dropFirst("http://".count).split(separator: ":")
        let output = try await BoundedCommand.run("/usr/bin/python3", ["-c", script, String(hostPort[0]), String(hostPort[1])], timeout: .seconds(60))
        guard output.exitCode == 0, !output.timedOut else {
            Issue.record("python-etcd script failed against \(endpoint): \(output)")
            return ""
        }
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
