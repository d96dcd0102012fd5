import HTTPServer
import KeysStore
import Testing

@testable import KVPeer

// etcd's parseKeyRequest and the applierV2store decision table, without a server (reference §2).

private let now = Timestamp(nanoseconds: 1_800_000_000_000_000_000)

private func parse(_ method: KeysRequest.Method, _ query: String, key: String = "/k") -> Result<KeysRequest, StoreError> {
    KeysRequest.parse(method: method, key: key, form: FormParameters(decoding: query), now: now)
}

private func operation(_ method: KeysRequest.Method, _ query: String) throws -> KeysRequest.Operation {
    try parse(method, query).get().operation
}

@Suite struct KeysRequestScalarTests {
    @Test("Go strconv.ParseBool: exactly 1 t T TRUE true True / 0 f F FALSE false False")
    func bools() {
        for text in ["1", "t", "T", "TRUE", "true", "True"] { #expect(KeysRequest.parseBool(text) == true, "\(text)") }
        for text in ["0", "f", "F", "FALSE", "false", "False"] { #expect(KeysRequest.parseBool(text) == false, "\(text)") }
        for text in ["yes", "on", "y", "maybe", "", "tRUE", " true", "2"] { #expect(KeysRequest.parseBool(text) == nil, "\(text)") }
    }

    @Test("Go strconv.ParseUint(s, 10, 64): no sign, no spaces, no fraction, no unit, no overflow; leading zeros fine")
    func unsigned() {
        #expect(KeysRequest.parseUInt("005") == 5)
        #expect(KeysRequest.parseUInt("0") == 0)
        #expect(KeysRequest.parseUInt("18446744073709551615") == .max)
        for text in ["-1", "1.5", "+5", " 5", "5 ", "5s", "", "0x10", "18446744073709551616", "١"] {
            #expect(KeysRequest.parseUInt(text) == nil, "\(text)")
        }
    }
}

@Suite struct KeysRequestValidationTests {
    /// (method, query, code, cause): every validation error of etcd 3.4, answered with index 0.
    static let invalid: [(KeysRequest.Method, String, Int, String)] = [
        (.put, "prevIndex=x", 203, #"invalid value for "prevIndex""#),
        (.put, "prevIndex=-1", 203, #"invalid value for "prevIndex""#),
        (.get, "wait=true&waitIndex=1.5", 203, #"invalid value for "waitIndex""#),
        (.get, "recursive=yes", 209, #"invalid value for "recursive""#),
        (.get, "sorted=on", 209, #"invalid value for "sorted""#),
        (.get, "wait=y", 209, #"invalid value for "wait""#),
        (.put, "dir=yes", 209, #"invalid value for "dir""#),
        (.get, "quorum=maybe", 209, #"invalid value for "quorum""#),
        (.get, "wait=true&stream=yes", 209, #"invalid value for "stream""#),
        (.put, "wait=true", 209, #""wait" can only be used with GET requests"#),
        (.post, "wait=true", 209, #""wait" can only be used with GET requests"#),
        (.delete, "wait=true", 209, #""wait" can only be used with GET requests"#),
        (.head, "wait=true", 209, #""wait" can only be used with GET requests"#),
        (.put, "prevValue=", 201, #""prevValue" cannot be empty"#),
        (.delete, "prevValue=", 201, #""prevValue" cannot be empty"#),
        (.put, "noValueOnSuccess=yes", 209, #"invalid value for "noValueOnSuccess""#),
        (.put, "ttl=-1", 202, #"invalid value for "ttl""#),
        (.put, "ttl=1.5", 202, #"invalid value for "ttl""#),
        (.put, "ttl=%205", 202, #"invalid value for "ttl""#),
        (.put, "ttl=5s", 202, #"invalid value for "ttl""#),
        (.put, "ttl=+5", 202, #"invalid value for "ttl""#),
        (.put, "prevExist=yes", 209, "invalid value for prevExist"),
        (.put, "prevExist=", 209, "invalid value for prevExist"),
        (.put, "refresh=yes", 209, "invalid value for refresh"),
        (.put, "refresh=true&ttl=5&value=x", 211, "A value was provided on a refresh"),
        (.put, "refresh=true", 212, "No TTL value set"),
        (.put, "refresh=true&ttl=", 212, "No TTL value set"),
        // etcd's order: indexes, then bools, then wait-on-non-GET, prevValue, noValueOnSuccess, ttl, prevExist, refresh.
        (.put, "dir=yes&prevIndex=x", 203, #"invalid value for "prevIndex""#),
        (.put, "prevValue=&recursive=2", 209, #"invalid value for "recursive""#),
        (.put, "ttl=x&prevValue=", 201, #""prevValue" cannot be empty"#),
        (.put, "prevExist=x&ttl=x", 202, #"invalid value for "ttl""#),
    ]

    @Test("every validation error: etcd's code and cause, index 0", arguments: invalid.indices)
    func validation(_ row: Int) {
        let (method, query, code, cause) = Self.invalid[row]
        #expect(parse(method, query) == .failure(StoreError(code: code, cause: cause, index: 0)), "\(method) \(query)")
    }

    @Test("wait is fine on GET, explicit =false flags are accepted, unknown parameters are ignored")
    func accepted() throws {
        let request = try parse(.get, "recursive=false&sorted=false&quorum=false&consistent=true&wait=true&waitIndex=005").get()
        #expect(request.wait && request.waitIndex == 5 && !request.recursive)
        #expect(throws: Never.self) { try parse(.put, "refresh=true&ttl=5&value=").get() }
        #expect(throws: Never.self) { try parse(.put, "refresh=false").get() }
    }

    @Test("ttl becomes an absolute expiration from the request's clock; ttl= means none; ttl=0 is now")
    func ttl() throws {
        #expect(try parse(.put, "ttl=5").get().expiration == now.adding(seconds: 5))
        #expect(try parse(.put, "ttl=").get().expiration == nil)
        #expect(try parse(.put, "").get().expiration == nil)
        #expect(try parse(.put, "ttl=0").get().expiration == now)
        #expect(try parse(.put, "ttl=18446744073709551615").get().expiration == Timestamp(nanoseconds: .max))
    }

    @Test("form precedence: body values first, then query; the first value wins (body ttl= beats query ttl=5)")
    func precedence() throws {
        let body = FormParameters(decoding: "ttl=&value=body")
        let query = FormParameters(decoding: "ttl=5&value=query")
        let request = try KeysRequest.parse(method: .put, key: "/k", form: body.merging(query), now: now).get()
        #expect(request.value == "body")
        #expect(request.expiration == nil)
        #expect(try parse(.put, "value=a&value=b").get().value == "a")
    }
}

@Suite struct KeysRequestOperationTests {
    private static let ttl5 = now.adding(seconds: 5)

    @Test("PUT decision table, rows in etcd's order")
    func putTable() throws {
        #expect(try operation(.put, "prevExist=true&value=v") == .write(.update(key: "/k", value: "v", expiration: nil, refresh: false)))
        #expect(try operation(.put, "prevExist=true&prevValue=a&value=v") == .write(.compareAndSwap(key: "/k", value: "v", prevValue: "a", prevIndex: 0, expiration: nil, refresh: false)))
        #expect(try operation(.put, "prevExist=true&prevIndex=3") == .write(.compareAndSwap(key: "/k", value: "", prevValue: "", prevIndex: 3, expiration: nil, refresh: false)))
        #expect(try operation(.put, "prevExist=true&prevIndex=0") == .write(.update(key: "/k", value: "", expiration: nil, refresh: false)))
        // prevExist=false ignores prevValue and prevIndex.
        #expect(try operation(.put, "prevExist=false&prevValue=a&prevIndex=3&value=v&dir=true") == .write(.create(key: "/k", value: "v", dir: true, expiration: nil, unique: false)))
        #expect(try operation(.put, "prevValue=a&value=v&ttl=5") == .write(.compareAndSwap(key: "/k", value: "v", prevValue: "a", prevIndex: 0, expiration: Self.ttl5, refresh: false)))
        #expect(try operation(.put, "prevIndex=7") == .write(.compareAndSwap(key: "/k", value: "", prevValue: "", prevIndex: 7, expiration: nil, refresh: false)))
        #expect(try operation(.put, "prevIndex=0&value=v") == .write(.set(key: "/k", value: "v", dir: false, expiration: nil, refresh: false)))
        #expect(try operation(.put, "dir=true&value=ignored") == .write(.set(key: "/k", value: "ignored", dir: true, expiration: nil, refresh: false)))
    }

    @Test("refresh flows into set, update and compareAndSwap")
    func refresh() throws {
        #expect(try operation(.put, "refresh=true&ttl=5") == .write(.set(key: "/k", value: "", dir: false, expiration: Self.ttl5, refresh: true)))
        #expect(try operation(.put, "refresh=true&ttl=5&prevExist=true") == .write(.update(key: "/k", value: "", expiration: Self.ttl5, refresh: true)))
        #expect(try operation(.put, "refresh=true&ttl=5&prevValue=a") == .write(.compareAndSwap(key: "/k", value: "", prevValue: "a", prevIndex: 0, expiration: Self.ttl5, refresh: true)))
    }

    @Test("DELETE: prevValue or prevIndex>0 makes a compareAndDelete, otherwise a delete with dir/recursive")
    func deleteTable() throws {
        #expect(try operation(.delete, "prevValue=a") == .write(.compareAndDelete(key: "/k", prevValue: "a", prevIndex: 0)))
        #expect(try operation(.delete, "prevIndex=4&recursive=true") == .write(.compareAndDelete(key: "/k", prevValue: "", prevIndex: 4)))
        #expect(try operation(.delete, "prevIndex=0&dir=true") == .write(.delete(key: "/k", dir: true, recursive: false)))
        #expect(try operation(.delete, "recursive=true") == .write(.delete(key: "/k", dir: false, recursive: true)))
    }

    @Test("GET: quorum beats wait; wait is a watch; HEAD is a plain read; POST is a unique create")
    func reads() throws {
        #expect(try operation(.get, "wait=true&quorum=true&recursive=true") == .read(recursive: true, sorted: false, quorum: true))
        #expect(try operation(.get, "wait=true&recursive=true&stream=true&waitIndex=9") == .watch(recursive: true, stream: true, sinceIndex: 9))
        #expect(try operation(.get, "sorted=true") == .read(recursive: false, sorted: true, quorum: false))
        #expect(try operation(.head, "recursive=true") == .read(recursive: true, sorted: false, quorum: false))
        #expect(try operation(.post, "value=job&ttl=5") == .write(.create(key: "/k", value: "job", dir: false, expiration: Self.ttl5, unique: true)))
    }
}
