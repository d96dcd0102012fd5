import Testing

// etcd 0.4's v1 API shapes (reference §11): flat objects with `index`, `newKey`, `prevValue`, `testAndSet`,
// and an array for a directory. Field order is 0.4's `store.Response`: action, key, dir, prevValue, value,
// newKey, expiration, ttl, index.

@Suite(.timeLimit(.minutes(1))) struct LegacyV1Tests {
    @Test("set (new key, then over it), get, HEAD, delete")
    func setGetDelete() async throws {
        try await withKVPeer { peer in
            let created = try await peer.post("/v1/keys/message", "value=Hello")
            #expect(created.status == 200)
            #expect(created.body == #"{"action":"set","key":"/message","value":"Hello","newKey":true,"index":1}"# + "\n")
            #expect(created.header("Content-Type") == "application/json")
            #expect(created.header("X-Etcd-Index") == "1")

            let replaced = try await peer.put("/v1/keys/message", "value=World")
            #expect(replaced.body == #"{"action":"set","key":"/message","prevValue":"Hello","value":"World","index":2}"# + "\n")

            let get = try await peer.get("/v1/keys/message")
            #expect(get.body == #"{"action":"get","key":"/message","value":"World","index":2}"# + "\n")
            let head = try await peer.request("HEAD", "/v1/keys/message")
            #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == get.header("Content-Length"))

            let deleted = try await peer.delete("/v1/keys/message")
            #expect(deleted.body == #"{"action":"delete","key":"/message","prevValue":"World","index":3}"# + "\n")
            let missing = try await peer.get("/v1/keys/message")
            #expect(missing.status == 404 && missing.body == etcdError(100, "/message", index: 3))
        }
    }

    @Test("testAndSet with prevValue, create-if-absent with an empty prevValue, and their failures")
    func testAndSet() async throws {
        try await withKVPeer { peer in
            let created = try await peer.post("/v1/keys/lock", "value=a&prevValue=")
            #expect(created.body == #"{"action":"testAndSet","key":"/lock","value":"a","index":1}"# + "\n")
            let exists = try await peer.post("/v1/keys/lock", "value=b&prevValue=")
            #expect(exists.body == etcdError(105, "/lock", index: 1))

            let swapped = try await peer.post("/v1/keys/lock", "value=b&prevValue=a")
            #expect(swapped.body == #"{"action":"testAndSet","key":"/lock","prevValue":"a","value":"b","index":2}"# + "\n")
            let failed = try await peer.post("/v1/keys/lock", "value=c&prevValue=a")
            #expect(failed.status == 412 && failed.body.hasPrefix(#"{"errorCode":101,"message":"Compare failed""#), "\(failed)")
            #expect(try await peer.get("/v1/keys/lock").body.contains(#""value":"b""#))
        }
    }

    @Test("ttl adds expiration and ttl; a missing value is error 200; a bad ttl is 202")
    func ttlAndErrors() async throws {
        try await withKVPeer { peer in
            let set = try await peer.put("/v1/keys/t?ttl=5", "value=v")
            #expect(set.body == #"{"action":"set","key":"/t","value":"v","newKey":true,"expiration":"2027-01-15T08:00:05.1234Z","ttl":5,"index":1}"# + "\n")
            let noValue = try await peer.put("/v1/keys/t", "ttl=5")
            #expect(noValue.status == 400 && noValue.body == etcdError(200, "Set", index: 1))
            #expect(noValue.body.contains(#""message":"Value is Required in POST form""#))
            let badTTL = try await peer.put("/v1/keys/t", "value=v&ttl=soon")
            #expect(badTTL.status == 400 && badTTL.body.hasPrefix(#"{"errorCode":202,"#))
        }
    }

    @Test("a directory reads as an array of {action,key,value|dir,index}")
    func directory() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v1/keys/dir/a", "value=1")  // 1
            try await peer.put("/v1/keys/dir/sub/x", "value=2")  // 2
            try await peer.put("/v1/keys/dir/_hidden", "value=3")  // 3
            let listing = try await peer.get("/v1/keys/dir")
            #expect(listing.status == 200)
            let a = #"{"action":"get","key":"/dir/a","value":"1","index":1}"#
            let sub = #"{"action":"get","key":"/dir/sub","dir":true,"index":2}"#
            #expect(listing.body == "[\(a),\(sub)]\n" || listing.body == "[\(sub),\(a)]\n", "\(listing.body)")
            #expect(try await peer.get("/v1/keys/dir/sub/x").body == #"{"action":"get","key":"/dir/sub/x","value":"2","index":2}"# + "\n")
        }
    }

    @Test("/v1/watch: history from index= (GET or POST form), else the next change")
    func watch() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v1/keys/w", "value=1")  // 1
            try await peer.put("/v1/keys/w", "value=2")  // 2
            let fromHistory = try await peer.post("/v1/watch/w", "index=1")
            #expect(fromHistory.body == #"{"action":"set","key":"/w","value":"1","newKey":true,"index":1}"# + "\n")
            let viaQuery = try await peer.get("/v1/watch/w?index=2")
            #expect(viaQuery.body == #"{"action":"set","key":"/w","prevValue":"1","value":"2","index":2}"# + "\n")
            let bad = try await peer.get("/v1/watch/w?index=x")
            #expect(bad.status == 400 && bad.body.hasPrefix(#"{"errorCode":203,"#))

            try await withThrowingTaskGroup(of: HTTPReply.self) { group in
                group.addTask { try await peer.get("/v1/watch/w") }
                try await peer.eventually("the v1 watcher to register") { try await peer.watcherCount() == 1 }
                try await peer.put("/v1/keys/w", "value=3")
                let live = try #require(try await group.next())
                #expect(live.body == #"{"action":"set","key":"/w","prevValue":"2","value":"3","index":3}"# + "\n")
            }
            #expect(try await peer.watcherCount() == 0)
        }
    }
}
