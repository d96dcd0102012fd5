import Testing

@testable import KeysStore

@Suite struct WatchTests {
    func register(_ f: Fixture, _ key: String, recursive: Bool = false, stream: Bool = false, since: UInt64 = 0) throws -> WatcherID {
        guard case .registered(let id) = try f.store.watch(key, recursive: recursive, stream: stream, sinceIndex: since).get() else {
            throw StoreError(code: 0, index: 0)
        }
        return id
    }

    func deliveries(_ f: Fixture, _ command: StoreCommand) -> [WatchDelivery] {
        f.store.apply(command, now: f.now).1
    }

    @Test("exact, recursive and non-recursive directory watchers")
    func matching() throws {
        let f = Fixture()
        try f.set("/a/b", "0")
        let exact = try register(f, "/a/b")
        let recursive = try register(f, "/a", recursive: true)
        let flat = try register(f, "/a")
        let got = deliveries(f, .set(key: "/a/b", value: "1", dir: false, expiration: nil, refresh: false))
        #expect(Set(got.map(\.watcher)) == [exact, recursive])
        #expect(got.allSatisfy { $0.isFinal })
        #expect(f.store.watcherCount == 1)  // the non-recursive directory watcher is still waiting
        let own = deliveries(f, .update(key: "/a", value: "", expiration: nil, refresh: false))
        #expect(own.map(\.watcher) == [flat])
    }

    @Test("deleting a parent wakes a child's watcher with the parent's event")
    func parentDelete() throws {
        let f = Fixture()
        try f.set("/p/c/leaf", "v")
        let leaf = try register(f, "/p/c/leaf")
        let got = deliveries(f, .delete(key: "/p", dir: true, recursive: true))
        #expect(got.map(\.watcher) == [leaf])
        #expect(got.first?.event.node.key == "/p")
    }

    @Test("live recursive watchers skip keys hidden below the watched path")
    func hidden() throws {
        let f = Fixture()
        let all = try register(f, "/", recursive: true)
        let inside = try register(f, "/_h", recursive: true)
        let got = deliveries(f, .set(key: "/_h/x", value: "v", dir: false, expiration: nil, refresh: false))
        #expect(got.map(\.watcher) == [inside])
        f.store.removeWatcher(all)
        #expect(f.store.watcherCount == 0)
    }

    @Test("history: waitIndex finds past events; below the 1000-event window is 401 with etcd's cause")
    func historyWindow() throws {
        let f = Fixture()
        for i in 1...1005 { try f.set("/k\(i % 3)", "\(i)") }
        guard case .historical(let event) = try f.store.watch("/k1", recursive: false, stream: false, sinceIndex: 1000).get() else {
            Issue.record("expected history hit")
            return
        }
        #expect(event.index == 1000 && event.etcdIndex == 1005)
        let cleared = try #require(throws: StoreError.self) { try f.store.watch("/k1", recursive: false, stream: false, sinceIndex: 5).get() }
        #expect(cleared == StoreError(code: 401, cause: "the requested history has been cleared [6/5]", index: 1005))
    }

    @Test("a history scan matches a deleted directory by plain prefix, as etcd does")
    func historyPrefixQuirk() throws {
        let f = Fixture()
        try f.set("/a/b/x", "v")
        try f.apply(.delete(key: "/a/b", dir: true, recursive: true))
        guard case .historical(let event) = try f.store.watch("/a/bc", recursive: false, stream: false, sinceIndex: 2).get() else {
            Issue.record("expected the quirky prefix match")
            return
        }
        #expect(event.node.key == "/a/b")
    }

    @Test("stream watchers stay registered; one-shot watchers are removed after one event")
    func streamStays() throws {
        let f = Fixture()
        let stream = try register(f, "/s", stream: true)
        for value in ["1", "2"] {
            let got = deliveries(f, .set(key: "/s", value: value, dir: false, expiration: nil, refresh: false))
            #expect(got.map(\.watcher) == [stream] && got.allSatisfy { !$0.isFinal })
        }
        #expect(f.store.watcherCount == 1)
    }
}
