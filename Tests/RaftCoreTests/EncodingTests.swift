import RaftCore
import SeededRandom
import Testing

@Suite("Binary encoding")
struct EncodingTests {
    static func sample(_ kind: MessageKind, _ rng: inout SplitMix64) -> Message {
        func bytes(_ n: UInt64) -> [UInt8] { (0..<Int(rng.next() % n)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        let entries = (0..<Int(rng.next() % 4)).map { i in
            Entry(term: rng.next(), index: UInt64(i), kind: rng.next() % 2 == 0 ? .normal : .confChange, data: bytes(40))
        }
        let snapshot =
            kind == .snapshot
            ? Snapshot(
                metadata: SnapshotMetadata(
                    index: rng.next(), term: rng.next() >> 40, confState: ConfState(voters: [1, 2, 3], learners: [9])),
                data: bytes(100)) : nil
        return Message(
            kind: kind, from: rng.next() % 10, to: rng.next(), term: rng.next() >> 3, logTerm: rng.next() % 1000,
            index: UInt64.max, entries: entries, commit: rng.next(), snapshot: snapshot, reject: rng.next() % 2 == 0,
            rejectHint: rng.next() % 300, isLeadershipTransfer: rng.next() % 2 == 0, context: bytes(20))
    }

    @Test(arguments: MessageKind.allCases)
    func messageRoundTrips(kind: MessageKind) throws {
        var rng = SplitMix64(seed: UInt64(kind.rawValue))
        for _ in 0..<50 {
            let message = Self.sample(kind, &rng)
            #expect(try Message(decoding: message.encoded()) == message)
        }
    }

    @Test func otherTypesRoundTrip() throws {
        let entry = Entry(term: 3, index: 1 << 40, kind: .confChange, data: [1, 2, 3])
        #expect(try Entry(decoding: entry.encoded()) == entry)
        for hard in [HardState(), HardState(term: 9, vote: 3, commit: 77)] {
            #expect(try HardState(decoding: hard.encoded()) == hard)
        }
        let change = ConfChange(kind: .addLearner, nodeID: 12, context: Array("http://peer:2380".utf8))
        #expect(try ConfChange(decoding: change.encoded()) == change)
        let snapshot = Snapshot(
            metadata: SnapshotMetadata(index: 10, term: 2, confState: ConfState(voters: [1, 2])), data: [0xFF])
        #expect(try Snapshot(decoding: snapshot.encoded()) == snapshot)
    }

    @Test func smallMessagesAreCompact() {
        let heartbeat = Message(kind: .heartbeat, from: 1, to: 2, term: 5, commit: 100)
        #expect(heartbeat.encoded().count <= 16)
    }

    @Test func everyTruncationThrows() throws {
        var rng = SplitMix64(seed: 99)
        let bytes = Self.sample(.snapshot, &rng).encoded()
        for length in 0..<bytes.count {
            #expect(throws: RaftError.self) { try Message(decoding: Array(bytes[..<length])) }
        }
        #expect(throws: RaftError.self) { try Message(decoding: bytes + [0]) }
    }

    @Test(arguments: 0..<4 as Range<UInt64>)
    func randomBytesNeverCrashTheDecoder(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var decoded = 0
        for _ in 0..<5_000 {
            var bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Bias towards plausible headers so decoding gets past the first bytes.
            if bytes.count > 3 && rng.next() % 2 == 0 {
                bytes[0] = 1
                bytes[1] = UInt8(1 + rng.next() % 14)
                bytes[2] = UInt8(rng.next() % 8)
            }
            do {
                _ = try Message(decoding: bytes)
                decoded += 1
            } catch {
                guard case .malformedEncoding = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
            }
            // Typed throws guarantee any failure is a RaftError; what matters here is not crashing.
            _ = try? Entry(decoding: bytes)
            _ = try? HardState(decoding: bytes)
            _ = try? Snapshot(decoding: bytes)
            _ = try? ConfChange(decoding: bytes)
        }
        #expect(decoded < 5_000)
    }

    @Test func oversizedLengthsAndVarintsAreRejected() {
        // version, kind, flags, 7 zero fields, then an entry count of 2^62.
        let hugeCount: [UInt8] = [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]
        #expect(throws: RaftError.self) { try Message(decoding: hugeCount) }
        let overlongVarint: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0]
        #expect(throws: RaftError.self) { try HardState(decoding: overlongVarint) }
    }
}
