import Testing

@testable import KeysStore

@Suite struct CodingTests {
    static let commands: [StoreCommand] = [
        .set(key: "/a b/ü", value: "v\n\"", dir: false, expiration: Timestamp(nanoseconds: 1_700_000_000_123_456_789), refresh: false),
        .set(key: "/d", value: "", dir: true, expiration: nil, refresh: true),
        .create(key: "/q", value: "job", dir: false, expiration: nil, unique: true),
        .update(key: "/k", value: "", expiration: Timestamp(nanoseconds: -5), refresh: true),
        .compareAndSwap(key: "/k", value: "new", prevValue: "old", prevIndex: 1 << 40, expiration: nil, refresh: false),
        .delete(key: "/dir", dir: true, recursive: true),
        .compareAndDelete(key: "/k", prevValue: "", prevIndex: 7),
        .expire(cutoff: Timestamp(nanoseconds: 42)),
    ]

    @Test("every command survives its log encoding", arguments: commands)
    func commandRoundTrip(command: StoreCommand) throws {
        #expect(try StoreCommand(decoding: command.encoded) == command)
    }

    @Test("truncated or padded payloads are decoding errors, never crashes")
    func badPayloads() {
        for command in Self.commands {
            let bytes = command.encoded
            for cut in 0..<bytes.count {
                #expect(throws: DecodingError.self) { try StoreCommand(decoding: Array(bytes[..<cut])) }
            }
            #expect(throws: DecodingError.self) { try StoreCommand(decoding: bytes + [0]) }
        }
        #expect(throws: DecodingError.self) { try StoreCommand(decoding: [99]) }
    }

    @Test("a snapshot restores tree, index, TTLs and history into a fresh store")
    func snapshotRoundTrip() throws {
        let f = Fixture()
        try f.set("/a/b", "1")
        try f.set("/t", "ttl", ttl: 5)
        try f.set("/_hidden", "h")
        try f.apply(.update(key: "/t", value: "", expiration: f.now.adding(seconds: 9), refresh: true))
        let bytes = f.store.snapshot()

        let restored = KeysStore()
        try restored.restore(from: bytes)
        #expect(restored.currentIndex == f.store.currentIndex)
        #expect(restored.get("/", recursive: true, sorted: true, now: f.now) == f.store.get("/", recursive: true, sorted: true, now: f.now))
        #expect(restored.nextExpiration == f.now.adding(seconds: 9))
        #expect(try restored.watch("/a/b", recursive: false, stream: false, sinceIndex: 1).get() == f.store.watch("/a/b", recursive: false, stream: false, sinceIndex: 1).get())
        #expect(restored.snapshot() .count == bytes.count)
        #expect(throws: DecodingError.self) { try KeysStore().restore(from: Array(bytes.dropLast())) }
    }
}
