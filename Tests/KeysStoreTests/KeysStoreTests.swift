import Testing

@testable import KeysStore

/// A store with a fixed clock: every rule of etcd's v2store, checked with explicit indexes and times.
struct Fixture {
    let store = KeysStore()
    var now = Timestamp(nanoseconds: 1_800_000_000_000_000_000)

    @discardableResult
    func apply(_ command: StoreCommand) throws -> StoreEvent {
        let (result, _) = store.apply(command, now: now)
        return try result.get()[0]
    }

    func fail(_ command: StoreCommand) -> StoreError? {
        let (result, _) = store.apply(command, now: now)
        if case .failure(let error) = result { return error }
        return nil
    }

    @discardableResult
    func set(_ key: String, _ value: String, ttl: Int64? = nil) throws -> StoreEvent {
        try apply(.set(key: key, value: value, dir: false, expiration: ttl.map { now.adding(seconds: $0) }, refresh: false))
    }

    func get(_ key: String, recursive: Bool = false, sorted: Bool = false) -> Result<StoreEvent, StoreError> {
        store.get(key, recursive: recursive, sorted: sorted, now: now)
    }

    func json(_ command: StoreCommand) throws -> String { EventJSON.string(try apply(command)) }
}

@Suite struct KeysStoreTests {
    @Test("set creates (201-style) then replaces, re-creating the node with a new createdIndex")
    func setAndReplace() throws {
        let f = Fixture()
        let first = try f.set("/a", "1")
        #expect(first.isCreated && first.index == 1)
        #expect(EventJSON.string(first) == #"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
        let second = try f.set("/a", "2")
        #expect(!second.isCreated)
        #expect(EventJSON.string(second) == #"{"action":"set","node":{"key":"/a","value":"2","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/a","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
        #expect(f.store.currentIndex == 2)
    }

    @Test("keys are cleaned like Go's path.Clean")
    func cleaning() {
        #expect(KeyPath.clean("a//b/./c/../d/") == "/a/b/d")
        #expect(KeyPath.clean("") == "/")
        #expect(KeyPath.clean("/") == "/")
        #expect(KeyPath.clean("/a/b") == "/a/b")
        #expect(KeyPath.clean("/..") == "/")
    }

    @Test("create refuses an existing key with 105; update needs one (100) and keeps createdIndex")
    func createAndUpdate() throws {
        let f = Fixture()
        try f.apply(.create(key: "/k", value: "v", dir: false, expiration: nil, unique: false))
        #expect(f.fail(.create(key: "/k", value: "w", dir: false, expiration: nil, unique: false)) == StoreError(code: 105, cause: "/k", index: 1))
        #expect(f.fail(.update(key: "/missing", value: "x", expiration: nil, refresh: false)) == StoreError(code: 100, cause: "/missing", index: 1))
        let updated = try f.apply(.update(key: "/k", value: "w", expiration: nil, refresh: false))
        #expect(updated.action == .update && updated.node.createdIndex == 1 && updated.node.modifiedIndex == 2)
        #expect(f.store.stats.createFail == 1 && f.store.stats.updateFail == 1 && f.store.stats.updateSuccess == 1)
    }

    @Test("compare-and-swap causes name the mismatch exactly; CAS on a directory is 102; missing is 100")
    func compareAndSwap() throws {
        let f = Fixture()
        try f.set("/k", "one")
        #expect(f.fail(.compareAndSwap(key: "/k", value: "x", prevValue: "two", prevIndex: 0, expiration: nil, refresh: false))?.cause == "[two != one]")
        #expect(f.fail(.compareAndSwap(key: "/k", value: "x", prevValue: "", prevIndex: 7, expiration: nil, refresh: false))?.cause == "[7 != 1]")
        #expect(f.fail(.compareAndSwap(key: "/k", value: "x", prevValue: "two", prevIndex: 7, expiration: nil, refresh: false))?.cause == "[two != one] [7 != 1]")
        let swapped = try f.apply(.compareAndSwap(key: "/k", value: "x", prevValue: "one", prevIndex: 1, expiration: nil, refresh: false))
        #expect(swapped.action == .compareAndSwap && swapped.node.createdIndex == 1 && swapped.prevNode?.value == "one")
        try f.apply(.set(key: "/d", value: "", dir: true, expiration: nil, refresh: false))
        #expect(f.fail(.compareAndSwap(key: "/d", value: "x", prevValue: "a", prevIndex: 0, expiration: nil, refresh: false))?.code == 102)
        #expect(f.fail(.compareAndSwap(key: "/nope", value: "x", prevValue: "a", prevIndex: 0, expiration: nil, refresh: false))?.code == 100)
    }

    @Test("directories: implicit parents, through-a-file is 104, delete rules 102/108, recursive delete")
    func directories() throws {
        let f = Fixture()
        let deep = try f.set("/a/b/c", "v")
        #expect(deep.index == 1)
        let parent = try f.get("/a").get()
        #expect(EventJSON.string(parent) == #"{"action":"get","node":{"key":"/a","dir":true,"nodes":[{"key":"/a/b","dir":true,"modifiedIndex":1,"createdIndex":1}],"modifiedIndex":1,"createdIndex":1}}"# + "\n")
        #expect(f.fail(.set(key: "/a/b/c/d", value: "x", dir: false, expiration: nil, refresh: false)) == StoreError(code: 104, cause: "/a/b/c", index: 1))
        #expect(throws: StoreError(code: 104, cause: "/a/b/c", index: 1)) { try f.get("/a/b/c/d").get() }
        #expect(f.fail(.delete(key: "/a", dir: false, recursive: false)) == StoreError(code: 102, cause: "/a", index: 1))
        #expect(f.fail(.delete(key: "/a", dir: true, recursive: false)) == StoreError(code: 108, cause: "/a", index: 1))
        let removed = try f.apply(.delete(key: "/a", dir: false, recursive: true))
        #expect(EventJSON.string(removed) == #"{"action":"delete","node":{"key":"/a","dir":true,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/a","dir":true,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
        #expect(throws: StoreError(code: 100, cause: "/a", index: 2)) { try f.get("/a/b").get() }
    }

    @Test("set over a directory is 102, set dir over a file replaces it, and the root is read-only")
    func replaceRules() throws {
        let f = Fixture()
        try f.apply(.set(key: "/d", value: "", dir: true, expiration: nil, refresh: false))
        #expect(f.fail(.set(key: "/d", value: "v", dir: false, expiration: nil, refresh: false))?.code == 102)
        #expect(f.fail(.set(key: "/d", value: "", dir: true, expiration: nil, refresh: false))?.code == 102)
        try f.set("/f", "v")
        let replaced = try f.apply(.set(key: "/f", value: "ignored", dir: true, expiration: nil, refresh: false))
        #expect(replaced.node.dir && replaced.node.value == nil && replaced.prevNode?.value == "v")
        #expect(f.fail(.delete(key: "/", dir: true, recursive: true)) == StoreError(code: 107, cause: "/", index: 3))
        #expect(f.fail(.set(key: "/", value: "v", dir: false, expiration: nil, refresh: false))?.code == 107)
    }

    @Test("hidden keys are left out of listings but readable directly; sorted listings order by bytes")
    func hiddenAndSorted() throws {
        let f = Fixture()
        for key in ["b", "a10", "A", "a9", "_hidden", "a"] { try f.set("/d/\(key)", key) }
        let listing = try f.get("/d", sorted: true).get()
        #expect(listing.node.nodes?.compactMap(\.key) == ["/d/A", "/d/a", "/d/a10", "/d/a9", "/d/b"])
        #expect(try f.get("/d/_hidden").get().node.value == "_hidden")
        let root = try f.get("/").get()
        #expect(root.node.key == nil && root.node.modifiedIndex == 0)
        #expect(EventJSON.string(root).hasPrefix(#"{"action":"get","node":{"dir":true,"nodes":[{"key":"/d","dir":true,"modifiedIndex":1"#))
    }

    @Test("in-order keys are named by the zero-padded index")
    func inOrder() throws {
        let f = Fixture()
        let job = try f.apply(.create(key: "/q", value: "job", dir: false, expiration: nil, unique: true))
        #expect(job.node.key == "/q/00000000000000000001" && job.action == .create)
    }

    @Test("TTL: expiration and ttl rendered, remaining ttl rounds up, expire emits one event per node")
    func ttlAndExpiry() throws {
        var f = Fixture()
        let leased = try f.set("/t", "v", ttl: 5)
        #expect(leased.node.ttl == 5)
        #expect(leased.node.expiration?.rfc3339 == "2027-01-15T08:00:05Z")
        f.now = Timestamp(nanoseconds: f.now.nanoseconds + 1_500_000_000)
        #expect(try f.get("/t").get().node.ttl == 4)
        try f.apply(.set(key: "/dir", value: "", dir: true, expiration: f.now.adding(seconds: 1), refresh: false))
        try f.set("/dir/child", "c")
        #expect(f.store.nextExpiration == f.now.adding(seconds: 1))

        let (result, _) = f.store.apply(.expire(cutoff: f.now.adding(seconds: 10)), now: f.now)
        let expired = try result.get()
        #expect(expired.map(\.action) == [.expire, .expire])
        #expect(expired.map { $0.node.key } == ["/dir", "/t"])
        #expect(expired[0].node.dir && expired[0].prevNode?.ttl == 1)
        #expect(f.store.stats.expireCount == 2)
        #expect(f.store.nextExpiration == nil)
        #expect(throws: StoreError.self) { try f.get("/dir/child").get() }
    }

    @Test("refresh keeps the value, consumes an index, and wakes no watcher")
    func refresh() throws {
        let f = Fixture()
        try f.set("/r", "v", ttl: 10)
        guard case .registered(let watcher) = try f.store.watch("/r", recursive: false, stream: false, sinceIndex: 0).get() else {
            Issue.record("expected a live watcher")
            return
        }
        let (result, deliveries) = f.store.apply(.update(key: "/r", value: "", expiration: f.now.adding(seconds: 20), refresh: true), now: f.now)
        let refreshed = try result.get()[0]
        #expect(refreshed.node.value == "v" && refreshed.index == 2 && deliveries.isEmpty)
        let (_, later) = f.store.apply(.set(key: "/r", value: "w", dir: false, expiration: nil, refresh: false), now: f.now)
        #expect(later.map(\.watcher) == [watcher])
        // A watch from the refresh's index skips it and returns the next real change.
        guard case .historical(let event) = try f.store.watch("/r", recursive: false, stream: false, sinceIndex: 2).get() else {
            Issue.record("expected history")
            return
        }
        #expect(event.index == 3)
    }

    @Test("errors render with etcd's field order and message")
    func errorJSON() {
        #expect(EventJSON.string(StoreError(code: 100, cause: "/foo", index: 6)) == #"{"errorCode":100,"message":"Key not found","cause":"/foo","index":6}"# + "\n")
        #expect(EventJSON.string(StoreError(code: 209, index: 0)) == #"{"errorCode":209,"message":"Invalid field","index":0}"# + "\n")
        #expect(StoreError(code: 401, index: 0).httpStatus == 400 && StoreError(code: 101, index: 0).httpStatus == 412)
    }
}
