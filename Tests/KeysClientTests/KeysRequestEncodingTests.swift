import NIOCore
import NIOHTTP1
import Testing

@testable import KeysClient

@Suite struct KeysRequestEncodingTests {
    @Test("keys are escaped like Go's URL.EscapedPath", arguments: [
        ("a", "/a"), ("/a/b", "/a/b"), ("/with space", "/with%20space"), ("/q?x#y", "/q%3Fx%23y"),
        ("/pct%", "/pct%25"), ("/ü", "/%C3%BC"), ("/a:b@c+d=e", "/a:b@c+d=e"),
    ])
    func escapesKeys(key: String, expected: String) {
        #expect(KeysAPI.escapePath(key) == expected)
    }

    @Test("form values are encoded like url.Values.Encode")
    func encodesForms() {
        var query = KeysQuery()
        query.add("value", "a b&c=d/é")
        query.add("ttl", "5")
        #expect(query.encoded == "value=a+b%26c%3Dd%2F%C3%A9&ttl=5")
        #expect(KeysQuery().queryString == "")
    }

    @Test("TTLs round up to whole seconds, at least one")
    func ttlSeconds() {
        #expect(KeysAPI.seconds(.seconds(5)) == "5")
        #expect(KeysAPI.seconds(.milliseconds(1500)) == "2")
        #expect(KeysAPI.seconds(.milliseconds(10)) == "1")
    }

    @Test("a compare without a condition is refused before any request")
    func compareNeedsCondition() {
        #expect(throws: KeysClientError.self) { try KeysAPI.conditions(prevValue: nil, prevIndex: nil) }
        #expect(throws: KeysClientError.self) { try KeysAPI.conditions(prevValue: nil, prevIndex: 0) }
        #expect(throws: KeysClientError.self) { try KeysAPI.conditions(prevValue: "", prevIndex: nil) }
    }

    @Test("backoff grows exponentially to its cap, scaled by jitter")
    func backoff() {
        let backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(2))
        #expect(backoff.delay(attempt: 0, jitter: 1) == .milliseconds(50))
        #expect(backoff.delay(attempt: 3, jitter: 1) == .milliseconds(400))
        #expect(backoff.delay(attempt: 20, jitter: 1) == .seconds(2))
        #expect(backoff.delay(attempt: 20, jitter: 0.5) == .seconds(1))
        #expect(backoff.delay(attempt: 100, jitter: 1) == .seconds(2))
    }

    @Test("an etcd error body becomes a typed KeysError with code, message, cause and index")
    func decodesErrors() throws {
        let head = KeysAPI.ResponseHead(status: .preconditionFailed, headers: ["X-Etcd-Index": "17"])
        let body = ByteBuffer(string: #"{"errorCode":101,"message":"Compare failed","cause":"[a != b]","index":17}"# + "\n")
        let error = try #require(throws: KeysError.self) { try KeysAPI.decodeKeysResponse(head: head, body: body) }
        #expect(error == KeysError(code: .testFailed, message: "Compare failed", cause: "[a != b]", index: 17, status: 412))
    }

    @Test("an event body and its headers decode into a KeysResponse")
    func decodesEvents() throws {
        let head = KeysAPI.ResponseHead(
            status: .created,
            headers: ["X-Etcd-Index": "9", "X-Raft-Index": "120", "X-Raft-Term": "2", "X-Etcd-Cluster-Id": "cdf818194e3a8c32"]
        )
        let body = ByteBuffer(string: #"{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":9,"createdIndex":9}}"#)
        let response = try KeysAPI.decodeKeysResponse(head: head, body: body)
        #expect(response.action == .set)
        #expect(response.node == KeysNode(key: "/a", value: "1", modifiedIndex: 9, createdIndex: 9))
        #expect(response.etcdIndex == 9 && response.raftIndex == 120 && response.raftTerm == 2)
        #expect(response.clusterID == "cdf818194e3a8c32")
    }

    @Test("a non-JSON answer is a clear client error, not a crash")
    func rejectsGarbage() {
        let head = KeysAPI.ResponseHead(status: .ok, headers: [:])
        #expect(throws: KeysClientError.self) { try KeysAPI.decodeKeysResponse(head: head, body: ByteBuffer(string: "<html>")) }
        let bad = KeysAPI.ResponseHead(status: .badGateway, headers: [:])
        #expect(throws: KeysClientError.self) { try KeysAPI.decodeKeysResponse(head: bad, body: ByteBuffer(string: "oops")) }
    }
}
