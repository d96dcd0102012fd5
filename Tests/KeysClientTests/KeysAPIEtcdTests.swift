import Foundation
import KeysClient
import Testing
import TestSupport

/// Every keys operation against a real etcd 3.4 with `--enable-v2=true`.
@Suite struct KeysAPIEtcdTests {
    @Test("set, get, create, update and their errors")
    func basicWrites() async throws {
        try await withEtcdKeys { keys, _ in
            let set = try await keys.set("/app/name", value: "flotilla")
            #expect(set.action == .set)
            #expect(set.node?.value == "flotilla")
            #expect(set.etcdIndex == set.node?.modifiedIndex)
            #expect(set.clusterID != nil && set.raftTerm != nil)

            let got = try await keys.get("/app/name")
            #expect(got.action == .get && got.node?.value == "flotilla")

            let created = try await keys.create("/app/fresh", value: "1")
            #expect(created.action == .create)
            let exists = try await #require(throws: KeysError.self) { try await keys.create("/app/fresh", value: "2") }
            #expect(exists.code == .nodeExist && exists.status == 412 && exists.cause == "/app/fresh")

            let updated = try await keys.update("/app/fresh", value: "3")
            #expect(updated.action == .update && updated.prevNode?.value == "1")
            let missing = try await #require(throws: KeysError.self) { try await keys.update("/app/none", value: "x") }
            #expect(missing.code == .keyNotFound && missing.status == 404 && missing.message == "Key not found")
            #expect(missing.index >= updated.etcdIndex)
        }
    }

    @Test("compare-and-swap and compare-and-delete on value and index")
    func compareOperations() async throws {
        try await withEtcdKeys { keys, _ in
            let first = try await keys.set("/cas", value: "one")
            let index = try #require(first.node?.modifiedIndex)
            let swapped = try await keys.compareAndSwap("/cas", value: "two", prevValue: "one")
            #expect(swapped.action == .compareAndSwap && swapped.node?.createdIndex == index)

            let stale = try await #require(throws: KeysError.self) {
                try await keys.compareAndSwap("/cas", value: "three", prevIndex: index)
            }
            #expect(stale.code == .testFailed && stale.cause == "[\(index) != \(swapped.index)]")
            let both = try await #require(throws: KeysError.self) {
                try await keys.compareAndSwap("/cas", value: "three", prevValue: "one", prevIndex: index)
            }
            #expect(both.cause == "[one != two] [\(index) != \(swapped.index)]")

            let wrongDelete = try await #require(throws: KeysError.self) { try await keys.compareAndDelete("/cas", prevValue: "one") }
            #expect(wrongDelete.code == .testFailed)
            let deleted = try await keys.compareAndDelete("/cas", prevIndex: swapped.index)
            #expect(deleted.action == .compareAndDelete && deleted.prevNode?.value == "two")
        }
    }

    @Test("directories: mkdir, recursive sorted listings, dir and recursive deletes")
    func directories() async throws {
        try await withEtcdKeys { keys, _ in
            let made = try await keys.mkdir("/dir")
            #expect(made.node?.dir == true)
            let again = try await #require(throws: KeysError.self) { try await keys.mkdir("/dir") }
            #expect(again.code == .nodeExist)

            for name in ["b", "a", "c/deep", "_hidden"] {
                _ = try await keys.set("/dir/\(name)", value: name)
            }
            let flat = try await keys.get("/dir", sorted: true)
            #expect(flat.node?.nodes?.map(\.key) == ["/dir/a", "/dir/b", "/dir/c"])
            #expect(flat.node?.nodes?.last?.nodes == nil)
            let deep = try await keys.get("/dir", recursive: true, sorted: true)
            #expect(deep.node?.allNodes.compactMap(\.value) == ["a", "b", "c/deep"])

            let notFile = try await #require(throws: KeysError.self) { try await keys.delete("/dir") }
            #expect(notFile.code == .notFile && notFile.status == 403)
            let notEmpty = try await #require(throws: KeysError.self) { try await keys.delete("/dir", dir: true) }
            #expect(notEmpty.code == .dirNotEmpty)
            let removed = try await keys.delete("/dir", recursive: true)
            #expect(removed.action == .delete && removed.node?.dir == true)

            let throughFile = try await #require(throws: KeysError.self) {
                _ = try await keys.set("/file", value: "x")
                return try await keys.get("/file/child")
            }
            #expect(throughFile.code == .notDir)
        }
    }

    @Test("TTL: remaining ttl on read, refresh keeps the value, expiry removes the key")
    func ttlAndRefresh() async throws {
        try await withEtcdKeys { keys, _ in
            let leased = try await keys.set("/ttl", value: "v", ttl: .seconds(30))
            #expect(leased.node?.ttl == 30 && leased.node?.expiration != nil)
            let refreshed = try await keys.refresh("/ttl", ttl: .seconds(60), prevIndex: leased.index)
            #expect(refreshed.node?.value == "v" && refreshed.node?.ttl == 60)
            #expect(refreshed.index > leased.index)

            let permanent = try await keys.set("/ttl", value: "v")
            #expect(permanent.node?.ttl == nil)

            _ = try await keys.set("/short", value: "gone soon", ttl: .seconds(1))
            try await eventually("a 1 s key expires") {
                do {
                    _ = try await keys.get("/short")
                    return false
                } catch let error as KeysError where error.code == .keyNotFound {
                    return true
                }
            }
        }
    }

    @Test("in-order keys, quorum reads and keys that need escaping")
    func inOrderAndEscaping() async throws {
        try await withEtcdKeys { keys, _ in
            let first = try await keys.createInOrder(in: "/queue", value: "job-1")
            let second = try await keys.createInOrder(in: "/queue", value: "job-2")
            #expect(first.action == .create)
            let firstKey = try #require(first.node?.key)
            #expect(firstKey == "/queue/" + String(format: "%020d", first.index))
            let listing = try await keys.get("/queue", sorted: true, quorum: true)
            #expect(listing.node?.nodes?.compactMap(\.value) == ["job-1", "job-2"])
            #expect(second.index > first.index)

            let odd = "/odd key/ü/a?b#c%d+e"
            _ = try await keys.set(odd, value: "a b&c=d")
            let back = try await keys.get(odd)
            #expect(back.node?.key == odd && back.node?.value == "a b&c=d")
        }
    }

    @Test("the root is read-only and errors carry etcd's index")
    func rootReadOnly() async throws {
        try await withEtcdKeys { keys, _ in
            let error = try await #require(throws: KeysError.self) { try await keys.delete("/", recursive: true) }
            #expect(error.code == .rootReadOnly && error.status == 400)
        }
    }
}
