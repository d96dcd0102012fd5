import Foundation
@testable import KVPeer
import KVStorage
import KeysStore
import NIOCore
import RaftCore
import SeededRandom
import Testing
import TestSupport

/// What kv-peer puts into Raft entries, snapshots and peer requests: every value survives a round trip, and
/// bytes that are not one of them are refused with an error, never a crash.
@Suite struct ReplicationEncodingTests {
    static let members = [
        ClusterMember(id: 0xa1, name: "m0", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379", "http://127.0.0.1:4001"]),
        ClusterMember(id: 0xFFFF_FFFF_FFFF_FFFF, name: "", peerURLs: ["https://10.0.0.2:2380", "https://10.0.0.3:2380"]),
        ClusterMember(id: 7, name: "ünïcode ✓", peerURLs: ["http://h:1"]),
    ]

    @Test("replicated entries round-trip: writes, member attributes, peer URL updates")
    func entries() throws {
        let samples: [ReplicatedEntry] = [
            .command(requestID: 1, .set(key: "/a", value: "v", dir: false, expiration: nil, refresh: false)),
            .command(requestID: .max, .expire(cutoff: Timestamp(nanoseconds: 1_700_000_000_000_000_000))),
            .command(requestID: 42, .compareAndSwap(key: "/k", value: "", prevValue: "x", prevIndex: 9, expiration: Timestamp(nanoseconds: 5), refresh: true)),
            .attributes(requestID: 3, memberID: 0xa1, name: "m0", clientURLs: ["http://127.0.0.1:2379"]),
            .attributes(requestID: 4, memberID: 1, name: "", clientURLs: []),
            .peerURLs(requestID: 5, memberID: 2, urls: ["http://a:1", "http://b:2"]),
        ]
        for sample in samples {
            #expect(try ReplicatedEntry(decoding: sample.encoded) == sample)
        }
    }

    @Test("membership and the store travel together in a snapshot; removed IDs are kept")
    func snapshots() throws {
        var members = ClusterMembers(Self.members)
        members.removed = [99, 100]
        let store = KeysStore()
        _ = store.apply(.set(key: "/x", value: "1", dir: false, expiration: nil, refresh: false), now: Timestamp(nanoseconds: 0))
        let snapshot = StateMachineSnapshot(members: members, store: store.snapshot())
        let decoded = try StateMachineSnapshot(decoding: snapshot.encoded)
        #expect(decoded.members == members)
        #expect(decoded.members.sorted.map(\.id) == [7, 0xa1, .max])
        let restored = KeysStore()
        try restored.restore(from: decoded.store)
        #expect(restored.currentIndex == 1)
    }

    @Test("membership change contexts round-trip")
    func changeContexts() throws {
        for member in Self.members {
            let context = MembershipChangeContext(requestID: member.id &+ 1, member: member)
            #expect(try MembershipChangeContext(decoding: context.encoded) == context)
        }
    }

    @Test("a batch of Raft messages survives the peer request body")
    func frames() throws {
        let messages = [
            Message(kind: .append, from: 1, to: 2, term: 3, logTerm: 2, index: 10, entries: [Entry(term: 3, index: 11, data: [1, 2, 3])], commit: 9),
            Message(kind: .heartbeat, from: 1, to: 2, term: 3, context: [7]),
            Message(kind: .snapshot, from: 1, to: 2, term: 3, snapshot: Snapshot(metadata: SnapshotMetadata(index: 5, term: 2, confState: ConfState(voters: [1, 2])), data: [9])),
        ]
        var body = ByteBuffer()
        for message in messages { RaftFrames.append(message, to: &body) }
        #expect(try RaftFrames.decode(body) == messages)
        #expect(try RaftFrames.decode(ByteBuffer()) == [])
    }

    @Test("garbage is refused with an error: entries, snapshots, contexts, peer bodies (2000 seeds)")
    func garbage() {
        var random = SplitMix64(seed: 0x5EED)
        let valid = ReplicatedEntry.attributes(requestID: 3, memberID: 0xa1, name: "m0", clientURLs: ["http://127.0.0.1:2379"]).encoded
        var body = ByteBuffer()
        RaftFrames.append(Message(kind: .heartbeat, from: 1, to: 2, term: 3), to: &body)
        let frame = Array(body.readableBytesView)
        for _ in 0..<2000 {
            // Random bytes, and valid encodings cut short or with one byte flipped.
            var bytes = (0..<random.below(40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            switch random.below(3) {
            case 0: break
            case 1: bytes = Array(valid.prefix(random.below(valid.count)))
            default:
                bytes = valid
                bytes[random.below(bytes.count)] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            }
            _ = try? ReplicatedEntry(decoding: bytes)
            _ = try? StateMachineSnapshot(decoding: bytes)
            _ = try? MembershipChangeContext(decoding: bytes)
            _ = try? RaftFrames.decode(ByteBuffer(bytes: bytes))
            _ = try? RaftFrames.decode(ByteBuffer(bytes: Array(frame.prefix(random.below(frame.count)))))
        }
        #expect(throws: (any Error).self) { try ReplicatedEntry(decoding: []) }
        #expect(throws: (any Error).self) { try ReplicatedEntry(decoding: [9, 1]) }
        #expect(throws: (any Error).self) { try RaftFrames.decode(ByteBuffer(bytes: [0, 0, 0, 9, 1])) }
    }

    @Test("a data directory written before Raft (entries, no snapshot) is refused with a message, not misread")
    func preRaftDirectory() throws {
        let directory = temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (wal, _) = try WriteAheadLog.open(directory: directory + "/member/wal")
        let command = StoreCommand.set(key: "/a", value: "1", dir: false, expiration: nil, refresh: false)
        try wal.append([WALEntry(term: 2, index: 1, data: command.encoded)], hardState: KVStorage.HardState(term: 2, vote: 1, commit: 1), sync: true)
        wal.close()
        let member = MemberIdentity(name: "old", peerURLs: ["http://127.0.0.1:2380"], clientURLs: [], clusterToken: "etcd-cluster")
        #expect {
            _ = try StoreService(dataDirectory: directory, snapshotCount: 100, member: member, logger: quietLogger("kv-peer"))
        } throws: { error in
            "\(error)".contains("written by a kv-peer without Raft replication")
        }
    }

    @Test("IDs as etcd derives them: stable for the same URLs and token, different per token and per time added")
    func identifiers() {
        let a = ClusterMember.id(peerURLs: ["http://b:2", "http://a:1"], clusterToken: "t")
        #expect(a == ClusterMember.id(peerURLs: ["http://a:1", "http://b:2"], clusterToken: "t"))
        #expect(a != ClusterMember.id(peerURLs: ["http://a:1", "http://b:2"], clusterToken: "u"))
        #expect(a != ClusterMember.id(peerURLs: ["http://a:1", "http://b:2"], clusterToken: "t", addedAt: 1))
        #expect(ClusterMember.clusterID(memberIDs: [1, 2], clusterToken: "t") == ClusterMember.clusterID(memberIDs: [2, 1], clusterToken: "t"))
        // A member of its own keeps the cluster ID single-member kv-peer always had.
        let single = MemberIdentity(name: "n", peerURLs: ["http://127.0.0.1:2380"], clientURLs: [], clusterToken: "etcd-cluster")
        #expect(single.clusterID == ClusterMember.fnv1a(single.hexID + "etcd-cluster"))
    }
}
