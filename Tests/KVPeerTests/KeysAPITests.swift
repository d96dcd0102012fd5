import Foundation
import KVPeer
import Testing

// `/v2/keys` over HTTP against an in-process kv-peer: exact bodies, statuses and headers (reference §2–§7).

@Suite(.timeLimit(.minutes(1))) struct KeysWriteTests {
    @Test("set: 201 for a new key, 200 with prevNode over an existing one; etcd headers; Go escaping; trailing newline")
    func set() async throws {
        try await withKVPeer { peer in
            let first = try await peer.put("/v2/keys/message", "value=Hello")
            #expect(first.status == 201 && first.reason == "Created")
            #expect(first.body == #"{"action":"set","node":{"key":"/message","value":"Hello","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectKeysHeaders(first, etcdIndex: 1)
            // Header names go out in etcd's canonical spelling.
            let names = Set(first.headers.map(\.name))
            #expect(names.isSuperset(of: ["X-Etcd-Index", "X-Raft-Index", "X-Raft-Term", "X-Etcd-Cluster-Id"]), "\(names)")

            let second = try await peer.put("/v2/keys/message", "value=a%26b%3Cc%3E")
            #expect(second.status == 200)
            #expect(second.body == #"{"action":"set","node":{"key":"/message","value":"a\u0026b\u003cc\u003e","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/message","value":"Hello","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectKeysHeaders(second, etcdIndex: 2)
            #expect(UInt64(second.header("X-Raft-Index") ?? "") ?? 0 > UInt64(first.header("X-Raft-Index") ?? "") ?? 0)

            let get = try await peer.get("/v2/keys/message")
            #expect(get.status == 200)
            #expect(get.body == #"{"action":"get","node":{"key":"/message","value":"a\u0026b\u003cc\u003e","modifiedIndex":2,"createdIndex":2}}"# + "\n")
            expectKeysHeaders(get, etcdIndex: 2)

            // A PUT without a value sets "", which is still rendered.
            let empty = try await peer.put("/v2/keys/empty")
            #expect(empty.body == #"{"action":"set","node":{"key":"/empty","value":"","modifiedIndex":3,"createdIndex":3}}"# + "\n")
        }
    }

    @Test("create (prevExist=false) 201, then 105 with index = current; update keeps createdIndex; prevExist=true on missing is 100")
    func createAndUpdate() async throws {
        try await withKVPeer { peer in
            let created = try await peer.put("/v2/keys/c?prevExist=false", "value=1")
            #expect(created.status == 201)
            #expect(created.body == #"{"action":"create","node":{"key":"/c","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectError(try await peer.put("/v2/keys/c?prevExist=false", "value=2"), status: 412, 105, "/c", index: 1)

            let updated = try await peer.put("/v2/keys/c?prevExist=true", "value=2")
            #expect(updated.status == 200)
            #expect(updated.body == #"{"action":"update","node":{"key":"/c","value":"2","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/c","value":"1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectKeysHeaders(updated, etcdIndex: 2)
            expectError(try await peer.put("/v2/keys/missing?prevExist=true", "value=2"), status: 404, 100, "/missing", index: 2)
            // prevExist=false ignores prevValue/prevIndex entirely.
            #expect(try await peer.put("/v2/keys/d?prevExist=false&prevValue=zzz&prevIndex=99", "value=x").status == 201)
        }
    }

    @Test("compareAndSwap: success keeps createdIndex; 101 causes for value, index and both; 100 on missing; 102 on a dir")
    func compareAndSwap() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/k", "value=one")
            let swapped = try await peer.put("/v2/keys/k?prevValue=one", "value=two")
            #expect(swapped.status == 200)
            #expect(swapped.body == #"{"action":"compareAndSwap","node":{"key":"/k","value":"two","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/k","value":"one","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectError(try await peer.put("/v2/keys/k?prevValue=one", "value=x"), status: 412, 101, "[one != two]", index: 2)
            expectError(try await peer.put("/v2/keys/k?prevIndex=1", "value=x"), status: 412, 101, "[1 != 2]", index: 2)
            expectError(try await peer.put("/v2/keys/k?prevValue=one&prevIndex=1", "value=x"), status: 412, 101, "[one != two] [1 != 2]", index: 2)
            #expect(try await peer.put("/v2/keys/k?prevIndex=2&prevExist=true", "value=three").body.hasPrefix(#"{"action":"compareAndSwap""#))
            expectError(try await peer.put("/v2/keys/nope?prevValue=a", "value=x"), status: 404, 100, "/nope", index: 3)
            try await peer.put("/v2/keys/dir?dir=true")
            expectError(try await peer.put("/v2/keys/dir?prevValue=a", "value=x"), status: 403, 102, "/dir", index: 4)
        }
    }

    @Test("delete and compareAndDelete: delete-style node, createdIndex of the removed node, causes on mismatch")
    func deletes() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/k", "value=v")
            let deleted = try await peer.delete("/v2/keys/k")
            #expect(deleted.status == 200)
            #expect(deleted.body == #"{"action":"delete","node":{"key":"/k","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/k","value":"v","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectKeysHeaders(deleted, etcdIndex: 2)
            expectError(try await peer.delete("/v2/keys/k"), status: 404, 100, "/k", index: 2)

            try await peer.put("/v2/keys/k", "value=v")
            expectError(try await peer.delete("/v2/keys/k?prevValue=w"), status: 412, 101, "[w != v]", index: 3)
            expectError(try await peer.delete("/v2/keys/k?prevIndex=1"), status: 412, 101, "[1 != 3]", index: 3)
            let cad = try await peer.delete("/v2/keys/k?prevValue=v&prevIndex=3")
            #expect(cad.body == #"{"action":"compareAndDelete","node":{"key":"/k","modifiedIndex":4,"createdIndex":3},"prevNode":{"key":"/k","value":"v","modifiedIndex":3,"createdIndex":3}}"# + "\n")
            expectError(try await peer.delete("/v2/keys/k?prevIndex=3"), status: 404, 100, "/k", index: 4)
            // The DELETE body is never parsed: a form body with a wrong prevValue still deletes.
            try await peer.put("/v2/keys/k", "value=v")
            let ignored = try await peer.request("DELETE", "/v2/keys/k", body: "prevValue=wrong&dir=zzz")
            #expect(ignored.status == 200 && ignored.body.hasPrefix(#"{"action":"delete""#), "\(ignored)")
        }
    }

    @Test("noValueOnSuccess: just the action for set/create/update/CAS, same status and headers; no effect on delete")
    func noValueOnSuccess() async throws {
        try await withKVPeer { peer in
            let set = try await peer.put("/v2/keys/k?noValueOnSuccess=true", "value=1")
            #expect(set.status == 201 && set.body == "{\"action\":\"set\"}\n")
            expectKeysHeaders(set, etcdIndex: 1)
            #expect(try await peer.put("/v2/keys/c?noValueOnSuccess=true&prevExist=false", "value=1").body == "{\"action\":\"create\"}\n")
            #expect(try await peer.put("/v2/keys/k?noValueOnSuccess=true&prevExist=true", "value=2").body == "{\"action\":\"update\"}\n")
            #expect(try await peer.put("/v2/keys/k?noValueOnSuccess=true&prevValue=2", "value=3").body == "{\"action\":\"compareAndSwap\"}\n")
            let delete = try await peer.delete("/v2/keys/k?noValueOnSuccess=true")
            #expect(delete.body.hasPrefix(#"{"action":"delete","node":{"key":"/k""#))
            // A failure still renders the error.
            expectError(try await peer.put("/v2/keys/c?noValueOnSuccess=true&prevExist=false", "value=1"), status: 412, 105, "/c", index: 5)
        }
    }

    @Test("form vs query: body first; body ignored unless form-encoded (charset and fleet params allowed)")
    func formPrecedence() async throws {
        try await withKVPeer { peer in
            let both = try await peer.put("/v2/keys/p?ttl=5&value=query", "ttl=&value=body")
            #expect(both.body == #"{"action":"set","node":{"key":"/p","value":"body","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            let queryOnly = try await peer.put("/v2/keys/p?value=query", "other=1")
            #expect(queryOnly.body.contains(#""value":"query""#))
            let plain = try await peer.request("PUT", "/v2/keys/p", body: "value=ignored", contentType: "text/plain")
            #expect(plain.body.hasPrefix(#"{"action":"set","node":{"key":"/p","value":"","#), "\(plain)")
            let json = try await peer.request("PUT", "/v2/keys/p", body: "value=ignored", contentType: "application/json")
            #expect(json.body.contains(#""value":"""#))
            let none = try await peer.request("PUT", "/v2/keys/p", body: "value=ignored", contentType: nil)
            #expect(none.body.contains(#""value":"""#))
            let charset = try await peer.request("PUT", "/v2/keys/p", body: "value=a+b%21", contentType: "application/x-www-form-urlencoded; charset=UTF-8")
            #expect(charset.body.contains(#""value":"a b!""#), "\(charset)")
            let fleet = try await peer.request("PUT", "/v2/keys/p", body: "value=fleet", contentType: "application/x-www-form-urlencoded; param=value")
            #expect(fleet.body.contains(#""value":"fleet""#), "\(fleet)")
            // POST bodies are parsed as well.
            let post = try await peer.request("POST", "/v2/keys/q", body: "value=posted", contentType: "Application/X-WWW-Form-Urlencoded")
            #expect(post.status == 201 && post.body.contains(#""value":"posted""#), "\(post)")
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct KeysValidationOverHTTPTests {
    @Test("every validation error over HTTP: 400, etcd's body, X-Etcd-Index 0, before the store is touched")
    func validation() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/k", "value=v")
            for (method, query, code, cause) in KeysRequestValidationTests.invalid {
                let reply = try await peer.request(method.rawValue, "/v2/keys/k?\(query)")
                if method == .head {
                    #expect(reply.status == 400 && reply.header("X-Etcd-Index") == "0" && reply.body.isEmpty, "HEAD \(query): \(reply)")
                } else {
                    expectError(reply, status: 400, code, cause, index: 0)
                }
            }
            // The same parameters in a form body are validated the same way.
            expectError(try await peer.put("/v2/keys/k", "ttl=5s"), status: 400, 202, #"invalid value for "ttl""#, index: 0)
            expectError(try await peer.post("/v2/keys/k", "prevIndex=x"), status: 400, 203, #"invalid value for "prevIndex""#, index: 0)
            // Nothing was written by any of them.
            #expect(try await peer.get("/v2/keys/k").body == #"{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":1,"createdIndex":1}}"# + "\n")
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct KeysTreeTests {
    @Test("directories: create, listing, sorted recursive, empty dir without nodes, dir-over-file, write through a file")
    func directories() async throws {
        try await withKVPeer { peer in
            let dir = try await peer.put("/v2/keys/dir?dir=true", "value=ignored")
            #expect(dir.status == 201 && dir.body == #"{"action":"set","node":{"key":"/dir","dir":true,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectError(try await peer.put("/v2/keys/dir?dir=true"), status: 403, 102, "/dir", index: 1)
            expectError(try await peer.put("/v2/keys/dir?dir=true&prevExist=false"), status: 412, 105, "/dir", index: 1)
            expectError(try await peer.put("/v2/keys/dir", "value=v"), status: 403, 102, "/dir", index: 1)
            expectError(try await peer.put("/v2/keys/dir?prevExist=true", "value=v"), status: 403, 102, "/dir", index: 1)
            #expect(try await peer.get("/v2/keys/dir").body == #"{"action":"get","node":{"key":"/dir","dir":true,"modifiedIndex":1,"createdIndex":1}}"# + "\n")

            try await peer.put("/v2/keys/dir/b", "value=2")  // 2
            try await peer.put("/v2/keys/dir/a10", "value=3")  // 3
            try await peer.put("/v2/keys/dir/A/x", "value=4")  // 4: /dir/A created at 4 too
            try await peer.put("/v2/keys/dir/a9", "value=5")  // 5
            let sorted = try await peer.get("/v2/keys/dir?recursive=true&sorted=true")
            #expect(sorted.body == #"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/A","dir":true,"nodes":[{"key":"/dir/A/x","value":"4","modifiedIndex":4,"createdIndex":4}],"modifiedIndex":4,"createdIndex":4},{"key":"/dir/a10","value":"3","modifiedIndex":3,"createdIndex":3},{"key":"/dir/a9","value":"5","modifiedIndex":5,"createdIndex":5},{"key":"/dir/b","value":"2","modifiedIndex":2,"createdIndex":2}],"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            expectKeysHeaders(sorted, etcdIndex: 5)
            // One level deep without recursive: the sub-directory has no nodes.
            let shallow = try await peer.get("/v2/keys/dir?sorted=true")
            #expect(shallow.body.contains(#"{"key":"/dir/A","dir":true,"modifiedIndex":4,"createdIndex":4}"#), "\(shallow.body)")
            // recursive/sorted on a file are ignored; the trailing slash is dropped.
            #expect(try await peer.get("/v2/keys/dir/b/?recursive=true&sorted=true").body == #"{"action":"get","node":{"key":"/dir/b","value":"2","modifiedIndex":2,"createdIndex":2}}"# + "\n")

            expectError(try await peer.get("/v2/keys/dir/b/c"), status: 400, 104, "/dir/b", index: 5)
            expectError(try await peer.put("/v2/keys/dir/b/c", "value=x"), status: 400, 104, "/dir/b", index: 5)
            expectError(try await peer.post("/v2/keys/dir/b", "value=x"), status: 400, 104, "/dir/b", index: 5)

            let over = try await peer.put("/v2/keys/dir/b?dir=true")
            #expect(over.status == 200 && over.body == #"{"action":"set","node":{"key":"/dir/b","dir":true,"modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/dir/b","value":"2","modifiedIndex":2,"createdIndex":2}}"# + "\n")
            // A directory's modifiedIndex never moves when its children change.
            #expect(try await peer.get("/v2/keys/dir").body.hasSuffix(#""modifiedIndex":1,"createdIndex":1}}"# + "\n"))
        }
    }

    @Test("directory deletes: 102 without flags, 108 non-empty with dir=true, one event with recursive; dir=true on a file")
    func directoryDeletes() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/d/x", "value=1")
            expectError(try await peer.delete("/v2/keys/d"), status: 403, 102, "/d", index: 1)
            expectError(try await peer.delete("/v2/keys/d?dir=true"), status: 403, 108, "/d", index: 1)
            let deleted = try await peer.delete("/v2/keys/d?recursive=true")
            #expect(deleted.body == #"{"action":"delete","node":{"key":"/d","dir":true,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/d","dir":true,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            try await peer.put("/v2/keys/e?dir=true")
            #expect(try await peer.delete("/v2/keys/e?dir=true").status == 200)
            try await peer.put("/v2/keys/f", "value=1")
            #expect(try await peer.delete("/v2/keys/f?recursive=true").status == 200)
        }
    }

    @Test("root: listable without key/indexes, read-only with 107 (HTTP 400, cause /)")
    func root() async throws {
        try await withKVPeer { peer in
            #expect(try await peer.get("/v2/keys").body == "{\"action\":\"get\",\"node\":{\"dir\":true}}\n")
            try await peer.put("/v2/keys/a", "value=1")
            let listing = try await peer.get("/v2/keys/")
            #expect(listing.body == #"{"action":"get","node":{"dir":true,"nodes":[{"key":"/a","value":"1","modifiedIndex":1,"createdIndex":1}]}}"# + "\n")
            expectError(try await peer.put("/v2/keys/", "value=1"), status: 400, 107, "/", index: 1)
            expectError(try await peer.put("/v2/keys?prevValue=x", "value=1"), status: 400, 107, "/", index: 1)
            expectError(try await peer.delete("/v2/keys/?recursive=true"), status: 400, 107, "/", index: 1)
        }
    }

    @Test("hidden keys: left out of listings (recursive too), readable when addressed, hidden dir lists its children")
    func hidden() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/app/_lock", "value=me")
            try await peer.put("/v2/keys/app/_conf/size", "value=3")
            #expect(try await peer.get("/v2/keys/app?recursive=true").body == #"{"action":"get","node":{"key":"/app","dir":true,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            #expect(try await peer.get("/v2/keys/app/_lock").body.contains(#""value":"me""#))
            #expect(try await peer.get("/v2/keys/app/_conf").body.contains(#""nodes":[{"key":"/app/_conf/size","value":"3""#))
        }
    }

    @Test("POST: in-order keys named by the zero-padded index, 201 create, sorted listing in creation order")
    func inOrder() async throws {
        try await withKVPeer { peer in
            let first = try await peer.post("/v2/keys/queue", "value=job1")
            #expect(first.status == 201)
            #expect(first.body == #"{"action":"create","node":{"key":"/queue/00000000000000000001","value":"job1","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            try await peer.put("/v2/keys/other", "value=x")
            let third = try await peer.post("/v2/keys/queue?ttl=5")
            #expect(third.body == #"{"action":"create","node":{"key":"/queue/00000000000000000003","value":"","expiration":"2027-01-15T08:00:05.1234Z","ttl":5,"modifiedIndex":3,"createdIndex":3}}"# + "\n")
            let dir = try await peer.post("/v2/keys/queue?dir=true")
            #expect(dir.body.contains(#""key":"/queue/00000000000000000004","dir":true"#))
            let top = try await peer.post("/v2/keys", "value=top")
            #expect(top.body.contains(#""key":"/00000000000000000005""#), "\(top)")
            let listing = try await peer.get("/v2/keys/queue?recursive=true&sorted=true").body
            let positions = ["01", "03", "04"].compactMap { listing.range(of: "\"/queue/000000000000000000\($0)\"")?.lowerBound }
            #expect(positions.count == 3 && positions == positions.sorted(), "\(listing)")
        }
    }

    @Test("quorum=true beats wait=true (a plain get, at once); HEAD is GET's status and headers without a body")
    func quorumAndHead() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/k", "value=v")
            let quorum = try await peer.get("/v2/keys/k?wait=true&quorum=true")
            #expect(quorum.body == #"{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            #expect(quorum.header("Transfer-Encoding") == nil)

            let get = try await peer.get("/v2/keys/k")
            let head = try await peer.request("HEAD", "/v2/keys/k")
            #expect(head.status == 200 && head.body.isEmpty)
            expectKeysHeaders(head, etcdIndex: 1)
            #expect(head.header("Content-Length") == get.header("Content-Length"))
            let missing = try await peer.request("HEAD", "/v2/keys/missing")
            #expect(missing.status == 404 && missing.header("X-Etcd-Index") == "1")
            expectError(try await peer.request("GET", "/v2/keys/k?wait=true&quorum=yes"), status: 400, 209, #"invalid value for "quorum""#, index: 0)
            let headWait = try await peer.request("HEAD", "/v2/keys/k?wait=true")
            #expect(headWait.status == 400 && headWait.header("X-Etcd-Index") == "0")
        }
    }

    @Test("failed writes do not consume an index; implicit parents take the index of the write that made them")
    func indexes() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/a", "value=1")
            _ = try await peer.put("/v2/keys/a?prevExist=false", "value=1")
            _ = try await peer.delete("/v2/keys/missing")
            _ = try await peer.put("/v2/keys/a?prevValue=nope", "value=2")
            let next = try await peer.put("/v2/keys/x/y/z", "value=1")
            #expect(next.header("X-Etcd-Index") == "2")
            #expect(try await peer.get("/v2/keys/x").body.contains(#"{"key":"/x/y","dir":true,"modifiedIndex":2,"createdIndex":2}"#))
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct KeysTTLTests {
    @Test("ttl text: RFC 3339 UTC expiration with trimmed nanoseconds, remaining ttl rounded up; set/CAS without ttl is permanent")
    func ttlText() async throws {
        try await withKVPeer { peer in
            let set = try await peer.put("/v2/keys/t?ttl=5", "value=v")
            #expect(set.body == #"{"action":"set","node":{"key":"/t","value":"v","expiration":"2027-01-15T08:00:05.1234Z","ttl":5,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            peer.clock?.advance(seconds: 2.5)
            #expect(try await peer.get("/v2/keys/t").body == #"{"action":"get","node":{"key":"/t","value":"v","expiration":"2027-01-15T08:00:05.1234Z","ttl":3,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            let updated = try await peer.put("/v2/keys/t?prevExist=true&ttl=10", "value=w")
            #expect(updated.body == #"{"action":"update","node":{"key":"/t","value":"w","expiration":"2027-01-15T08:00:12.6234Z","ttl":10,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/t","value":"v","expiration":"2027-01-15T08:00:05.1234Z","ttl":3,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            let swapped = try await peer.put("/v2/keys/t?prevValue=w", "value=x")
            #expect(swapped.body == #"{"action":"compareAndSwap","node":{"key":"/t","value":"x","modifiedIndex":3,"createdIndex":1},"prevNode":{"key":"/t","value":"w","expiration":"2027-01-15T08:00:12.6234Z","ttl":10,"modifiedIndex":2,"createdIndex":1}}"# + "\n")
            try await peer.put("/v2/keys/t?ttl=7", "value=y")
            #expect(try await peer.put("/v2/keys/t", "value=z").body.contains(#""node":{"key":"/t","value":"z","modifiedIndex":5"#))
            // A directory's TTL can be changed by an update with prevExist=true.
            try await peer.put("/v2/keys/d?dir=true&ttl=5")
            let dirUpdate = try await peer.put("/v2/keys/d?dir=true&prevExist=true&ttl=9")
            #expect(dirUpdate.body.hasPrefix(#"{"action":"update","node":{"key":"/d","dir":true,"expiration":"2027-01-15T08:00:11.6234Z","ttl":9,"modifiedIndex":7,"createdIndex":6}"#), "\(dirUpdate)")
        }
    }

    @Test("ttl=0: expiration = now, no ttl field, gone at the next sweep with an expire event")
    func ttlZero() async throws {
        try await withKVPeer { peer in
            let set = try await peer.put("/v2/keys/z?ttl=0", "value=v")
            #expect(set.body == #"{"action":"set","node":{"key":"/z","value":"v","expiration":"2027-01-15T08:00:00.1234Z","modifiedIndex":1,"createdIndex":1}}"# + "\n")
            try await peer.eventually("the ttl=0 key to expire") { try await peer.get("/v2/keys/z").status == 404 }
            let event = try await peer.get("/v2/keys/z?wait=true&waitIndex=2")
            #expect(event.body == #"{"action":"expire","node":{"key":"/z","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/z","value":"v","expiration":"2027-01-15T08:00:00.1234Z","modifiedIndex":1,"createdIndex":1}}"# + "\n")
        }
    }

    @Test("expiry: one index per expired node, dir expiry is one event (dir:true) that wakes child watchers, expireCount")
    func expiry() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/t?ttl=1", "value=v")  // 1
            try await peer.put("/v2/keys/d?dir=true&ttl=2")  // 2
            try await peer.put("/v2/keys/d/c", "value=child")  // 3
            peer.clock?.advance(seconds: 1)
            try await peer.eventually("/t to expire") { try await peer.get("/v2/keys/t").status == 404 }
            expectError(try await peer.get("/v2/keys/t"), status: 404, 100, "/t", index: 4)
            #expect(try await peer.get("/v2/keys/t?wait=true&waitIndex=4").body == #"{"action":"expire","node":{"key":"/t","modifiedIndex":4,"createdIndex":1},"prevNode":{"key":"/t","value":"v","expiration":"2027-01-15T08:00:01.1234Z","modifiedIndex":1,"createdIndex":1}}"# + "\n")

            try await withWatch(peer, "/v2/keys/d/c?wait=true") { watch in
                #expect(watch.head.header("X-Etcd-Index") == "4")
                peer.clock?.advance(seconds: 1)
                let events = try await watch.events(1)
                #expect(events == [#"{"action":"expire","node":{"key":"/d","dir":true,"modifiedIndex":5,"createdIndex":2},"prevNode":{"key":"/d","dir":true,"expiration":"2027-01-15T08:00:02.1234Z","modifiedIndex":2,"createdIndex":2}}"# + "\n"])
            }
            expectError(try await peer.get("/v2/keys/d/c"), status: 404, 100, "/d", index: 5)
            #expect(try await peer.get("/v2/stats/store").body.contains(#""expireCount":2,"#))
        }
    }

    @Test("a ttl=1 key on the real clock disappears between ~1 s and a bounded deadline, never before 1 s")
    func wallClockExpiry() async throws {
        try await withKVPeer(clock: nil) { peer in
            let start = ContinuousClock.now
            let set = try await peer.put("/v2/keys/t?ttl=1", "value=v")
            #expect(set.body.contains(#""ttl":1,"#))
            // Generous: the expiry sweep runs every 500 ms on the leader, but a CI run with cluster fault tests
            // alongside can starve a 2-core machine for seconds.
            try await peer.eventually("the ttl=1 key to expire", timeout: .seconds(20)) { try await peer.get("/v2/keys/t").status == 404 }
            #expect(ContinuousClock.now - start >= .milliseconds(900))
        }
    }

    @Test("refresh: set re-creates with the value kept, update keeps createdIndex, CAS keeps the value, each takes an index")
    func refresh() async throws {
        try await withKVPeer { peer in
            try await peer.put("/v2/keys/r?ttl=5", "value=v")  // 1
            let set = try await peer.put("/v2/keys/r?refresh=true&ttl=10")
            #expect(set.status == 200)
            #expect(set.body == #"{"action":"set","node":{"key":"/r","value":"v","expiration":"2027-01-15T08:00:10.1234Z","ttl":10,"modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/r","value":"v","expiration":"2027-01-15T08:00:05.1234Z","ttl":5,"modifiedIndex":1,"createdIndex":1}}"# + "\n")
            let update = try await peer.put("/v2/keys/r?refresh=true&ttl=20&prevExist=true", "value=")
            #expect(update.body.hasPrefix(#"{"action":"update","node":{"key":"/r","value":"v","expiration":"2027-01-15T08:00:20.1234Z","ttl":20,"modifiedIndex":3,"createdIndex":2}"#), "\(update)")
            let cas = try await peer.put("/v2/keys/r?refresh=true&ttl=30&prevValue=v")
            #expect(cas.body.hasPrefix(#"{"action":"compareAndSwap","node":{"key":"/r","value":"v","expiration":"2027-01-15T08:00:30.1234Z","ttl":30,"modifiedIndex":4,"createdIndex":2}"#), "\(cas)")
            expectError(try await peer.put("/v2/keys/missing?refresh=true&ttl=5"), status: 404, 100, "/missing", index: 4)
            expectError(try await peer.put("/v2/keys/r?refresh=true&ttl=5", "value=x"), status: 400, 211, "A value was provided on a refresh", index: 0)
            expectError(try await peer.put("/v2/keys/r?refresh=true"), status: 400, 212, "No TTL value set", index: 0)
            // refresh=false is an ordinary set: no value means "".
            #expect(try await peer.put("/v2/keys/r?refresh=false").body.hasPrefix(#"{"action":"set","node":{"key":"/r","value":"","modifiedIndex":5"#))
        }
    }
}
