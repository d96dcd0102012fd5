import Foundation
import TestSupport
import Testing

// Long-poll watches over a raw connection: the head arrives before any event exists, then the event
// (reference §8). Every wait is bounded and names what it waited for.

@Suite(.timeLimit(.minutes(1))) struct WatchTests {
    @Test("live watch: 200 head flushed first with X-Etcd-Index = start index, then one chunked event, then the end")
    func liveWatch() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/other", "value=1")
            try await withWatch(peer, "/v2/keys/w?wait=true") { watch in
                #expect(watch.head.status == 200)
                #expect(watch.head.header("Transfer-Encoding") == "chunked")
                expectKeysHeaders(watch.head, etcdIndex: 1)
                #expect(watch.body.text.isEmpty)
                #expect(try await peer.watcherCount() == 1)

                try await peer.put("/v2/keys/w", "value=hello")
                #expect(try await watch.events(1) == [#"{"action":"set","node":{"key":"/w","value":"hello","modifiedIndex":2,"createdIndex":2}}"# + "\n"])
                try await watch.waitForEnd()
            }
            try await peer.eventually("the one-shot watcher to be gone") { try await peer.watcherCount() == 0 }
        }
    }

    @Test("waitIndex hits history: answered at once with X-Etcd-Index = current index; a later index waits live")
    func historyHit() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/h", "value=1")  // 1
            try await peer.put("/v2/keys/h", "value=2")  // 2
            try await peer.put("/v2/keys/x", "value=3")  // 3
            let first = try await peer.get("/v2/keys/h?wait=true&waitIndex=1")
            #expect(first.body == #"{"action":"set","node":{"key":"/h","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectKeysHeaders(first, etcdIndex: 3)
            let second = try await peer.get("/v2/keys/h?wait=true&waitIndex=2")
            #expect(second.body.contains(#""value":"2","modifiedIndex":2"#))
            // Nothing for /h at index ≥ 3 yet: the watch is armed and waits.
            try await withWatch(peer, "/v2/keys/h?wait=true&waitIndex=3") { watch in
                #expect(watch.head.header("X-Etcd-Index") == "3")
                try await peer.put("/v2/keys/h", "value=4")
                #expect(try await watch.events(1)[0].contains(#""value":"4","modifiedIndex":4"#))
            }
            // A recursive watch from an index sees children; waitIndex=0 means "from now".
            #expect(try await peer.get("/v2/keys/?wait=true&recursive=true&waitIndex=3").body.contains(#""key":"/x""#))
        }
    }

    @Test("more than 1000 writes push an index out of history: 401 with the exact cause, HTTP 400, index = current")
    func historyCleared() async throws {
        try await withKVPeer { peer in
            // Concurrent writers so group commit keeps this quick; 1005 writes, indexes 1…1005.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<15 {
                    group.addTask {
                        for step in 0..<67 { try await peer.put("/v2/keys/busy/\(writer)", "value=\(step)") }
                    }
                }
                try await group.waitForAll()
            }
            let oldest: UInt64 = 1005 - 999
            let cleared = try await peer.get("/v2/keys/busy/0?wait=true&waitIndex=5")
            expectError(cleared, status: 400, 401, "the requested history has been cleared [\(oldest)/5]", index: 1005)
            #expect(cleared.body.contains(#""message":"The event in requested index is outdated and cleared""#))
            let kept = try await peer.get("/v2/keys/busy?wait=true&recursive=true&waitIndex=\(oldest)")
            #expect(kept.status == 200 && kept.body.contains(#""modifiedIndex":\#(oldest)"#), "\(kept)")
        }
    }

    @Test("stream=true: several events on one response, one JSON object per line")
    func stream() async throws {
        try await withKVPeer { peer in
            try await withWatch(peer, "/v2/keys/s?wait=true&stream=true&recursive=true") { watch in
                #expect(watch.head.status == 200)
                try await peer.put("/v2/keys/s/a", "value=1")
                try await peer.put("/v2/keys/s/a", "value=2")
                try await peer.delete("/v2/keys/s/a")
                let events = try await watch.events(3)
                #expect(events.count == 3)
                #expect(events[0] == #"{"action":"set","node":{"key":"/s/a","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
                #expect(events[1].hasPrefix(#"{"action":"set","node":{"key":"/s/a","value":"2","modifiedIndex":2"#))
                #expect(events[2].hasPrefix(#"{"action":"delete","node":{"key":"/s/a","modifiedIndex":3,"createdIndex":2}"#))
                #expect(!watch.body.finished)
                #expect(try await peer.watcherCount() == 1)
            }
            // etcd quirk (#2854): a stream whose waitIndex hits history gets that one event and is never
            // registered for live ones, so it stays open with nothing more to say.
            try await peer.eventually("the first stream watcher to be dropped") { try await peer.watcherCount() == 0 }
            try await withWatch(peer, "/v2/keys/s/a?wait=true&stream=true&waitIndex=1") { watch in
                let events = try await watch.events(1)
                #expect(events[0].contains(#""value":"1","modifiedIndex":1"#))
                #expect(watch.head.header("X-Etcd-Index") == "3")
                #expect(try await peer.watcherCount() == 0)
                #expect(!watch.body.finished)
            }
        }
    }

    @Test("graceful shutdown ends open watches promptly instead of waiting out the drain deadline")
    func shutdownEndsWatches() async throws {
        let opened = Observed<[WatchStream]>([])
        let shutdownStart = Observed<ContinuousClock.Instant?>(nil)
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/h", "value=1")
            opened.set([
                try await peer.watch("/v2/keys/w?wait=true"),
                try await peer.watch("/v2/keys/s?wait=true&stream=true"),
                try await peer.watch("/v2/keys/h?wait=true&stream=true&waitIndex=1"),
            ])
            try await opened.value[2].events(1)
            shutdownStart.set(.now)
        }
        let elapsed = ContinuousClock.now - (shutdownStart.value ?? .now)
        #expect(elapsed < .seconds(5), "shutdown with open watches took \(elapsed)")
        for watch in opened.value {
            try await watch.client.received.wait(for: "the watch connection to end") { $0.closed }
            await watch.close()
        }
    }

    @Test("a recursive delete of a parent wakes a watcher on a child; a non-recursive dir watch ignores children")
    func parentDelete() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/p/q/r", "value=1")  // 1
            try await withWatch(peer, "/v2/keys/p?wait=true") { dirWatch in
                try await withWatch(peer, "/v2/keys/p/q/r?wait=true") { childWatch in
                    try await peer.put("/v2/keys/p/other", "value=2")  // 2: not for either watcher
                    try await peer.delete("/v2/keys/p?recursive=true")  // 3
                    let expected = #"{"action":"delete","node":{"key":"/p","dir":true,"modifiedIndex":3,"createdIndex":1},"prevNode":{"key":"/p","dir":true,"modifiedIndex":1,"createdIndex":1}}"# + "\n"
                    #expect(try await childWatch.events(1) == [expected])
                    #expect(try await dirWatch.events(1) == [expected])
                }
            }
            // History replays the same containment rule.
            #expect(try await peer.get("/v2/keys/p/q/r?wait=true&waitIndex=2").body.contains(#""key":"/p","dir":true,"modifiedIndex":3"#))
        }
    }

    @Test("live recursive watchers skip hidden-relative keys; a refresh wakes nobody and history skips it")
    func hiddenAndRefresh() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/r?ttl=5", "value=v")  // 1
            try await withWatch(peer, "/v2/keys/?wait=true&recursive=true") { rootWatch in
                try await withWatch(peer, "/v2/keys/r?wait=true") { keyWatch in
                    try await peer.put("/v2/keys/app/_hidden", "value=x")  // 2: hidden below /
                    try await peer.put("/v2/keys/r?refresh=true&ttl=10")  // 3: refresh
                    try await peer.put("/v2/keys/r?prevExist=true", "value=changed")  // 4
                    #expect(try await keyWatch.events(1)[0].hasPrefix(#"{"action":"update","node":{"key":"/r","value":"changed","modifiedIndex":4"#))
                    #expect(try await rootWatch.events(1)[0].hasPrefix(#"{"action":"update","node":{"key":"/r","value":"changed","modifiedIndex":4"#))
                }
            }
            // History: waitIndex at the refresh returns the next real event; the hidden event is replayed (etcd quirk).
            #expect(try await peer.get("/v2/keys/r?wait=true&waitIndex=3").body.contains(#""modifiedIndex":4"#))
            #expect(try await peer.get("/v2/keys/?wait=true&recursive=true&waitIndex=2").body.contains(#""key":"/app/_hidden""#))
        }
    }

    @Test("a watcher is removed when its client disconnects (stats/store watchers back to 0)")
    func disconnect() async throws {
        try await withKVPeer { peer in
            let watches = [
                try await peer.watch("/v2/keys/a?wait=true"),
                try await peer.watch("/v2/keys/b?wait=true&stream=true"),
            ]
            #expect(try await peer.watcherCount() == 2)
            for watch in watches { await watch.close() }
            try await peer.eventually("watchers to be dropped after disconnect") { try await peer.watcherCount() == 0 }
            // The server is still fine and the keys can be written (nobody left to notify).
            #expect(try await peer.put("/v2/keys/a", "value=1").status == 201)
        }
    }

    @Test("watch errors: 404-free watch on a missing key, bad waitIndex is 203 with index 0, wait on PUT is 209")
    func watchErrors() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/k", "value=1")
            expectError(try await peer.get("/v2/keys/k?wait=true&waitIndex=-1"), status: 400, 203, #"invalid value for "waitIndex""#, index: 0)
            expectError(try await peer.put("/v2/keys/k?wait=true", "value=1"), status: 400, 209, #""wait" can only be used with GET requests"#, index: 0)
            try await withWatch(peer, "/v2/keys/not/yet?wait=true") { watch in
                #expect(watch.head.status == 200)
                try await peer.put("/v2/keys/not/yet", "value=1")
                #expect(try await watch.events(1)[0].contains(#""key":"/not/yet""#))
            }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct DurabilityTests {
    @Test("restart on the same data dir: keys, dirs, TTLs, the index and waitIndex history come back")
    func restart() async throws {
        let directory = temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = TestClock()
        try await withKVPeer(dataDirectory: directory, clock: clock) { peer in
            try await peer.put("/v2/keys/a", "value=1")  // 1
            try await peer.put("/v2/keys/dir/b?ttl=100", "value=2")  // 2
            try await peer.put("/v2/keys/a?prevValue=1", "value=3")  // 3
            try await peer.delete("/v2/keys/gone")  // fails, no index
            try await peer.post("/v2/keys/queue", "value=q")  // 4
        }
        try await withKVPeer(dataDirectory: directory, clock: clock) { peer in
            let a = try await peer.get("/v2/keys/a")
            #expect(a.body == #"{"action":"get","node":{"key":"/a","value":"3","modifiedIndex":3,"createdIndex":1}}"# + "\n")
            expectKeysHeaders(a, etcdIndex: 4, term: 3)
            #expect(try await peer.get("/v2/keys/dir/b").body.contains(#""value":"2","expiration":"2027-01-15T08:01:40.1234Z","ttl":100"#))
            #expect(try await peer.get("/v2/keys/queue/00000000000000000004").status == 200)
            let history = try await peer.get("/v2/keys/a?wait=true&waitIndex=1")
            #expect(history.body == #"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            #expect(history.header("X-Etcd-Index") == "4")
            #expect(try await peer.put("/v2/keys/c", "value=new").header("X-Etcd-Index") == "5")
        }
    }
}
