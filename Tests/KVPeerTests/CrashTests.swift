import SeededRandom
import Foundation
import Synchronization
import Testing
import TestSupport

/// kv-peer killed with SIGKILL while concurrent keep-alive clients write to it, then restarted on the same
/// data directory: every write that was acknowledged (2xx) must be there with its value and index, and no key
/// may hold anything that was never written. Writes in flight at the kill may or may not have survived.
@Suite(.serialized) struct CrashTests {
    static let writers = 4
    static let rounds = 5

    @Test("kill -9 at seeded moments under 4 keep-alive writers: acknowledged writes survive, nothing unwritten appears")
    func killNineUnderLoad() async throws {
        let seed = ProcessInfo.processInfo.environment["CRASH_SEED"].flatMap { UInt64($0) } ?? 0xF107_1A5E_ED00_0001
        let ledger = Ledger(writers: Self.writers)
        // A small snapshot interval puts snapshots (and log compaction) between the kills too.
        try await KVPeerProcess.with(name: "crash", arguments: ["--snapshot-count", "97"]) { peer in
            var random = SplitMix64(seed: seed)
            var survivors = 0
            for round in 1...Self.rounds {
                let url = try peer.clientURL
                // The moment to kill: after a seeded number of acknowledgements in this round (a condition to
                // await, not a timer).
                let acksBeforeKill = ledger.acknowledgements.value + Int.random(in: 30...300, using: &random)
                let writers = Task { await Self.write(to: url, ledger: ledger) }
                do {
                    try await ledger.acknowledgements.wait(for: "\(acksBeforeKill) acknowledged writes (round \(round), seed \(seed))", timeout: .seconds(120)) {
                        $0 >= acksBeforeKill
                    }
                } catch {
                    writers.cancel()
                    throw error
                }
                let ended = try await peer.kill()  // SIGKILL while writes are in flight
                await writers.value  // every writer stops at its first failed request
                #expect(ended.contains("signaled(9)"), "kill -9 ended kv-peer as: \(ended)")
                try await peer.restart()
                survivors += try await Self.verify(try peer.clientURL, ledger: ledger, context: "round \(round), seed \(seed)\n\(peer.logTail(1500))")
            }
            let log = try String(contentsOfFile: peer.logPath, encoding: .utf8)
            #expect(log.contains("snapshot saved"), "no snapshot was taken between the kills")
            let books = ledger.snapshot()
            let attempted = books.reduce(0) { $0 + $1.attempted + 1 }
            print("crash test: seed \(seed), \(Self.rounds) kills, \(ledger.acknowledgements.value) acknowledged writes, "
                + "\(attempted - ledger.acknowledgements.value) unacknowledged attempts (\(survivors) found applied after restart)")
        }
        #expect(ledger.acknowledgements.value >= Self.rounds * 30)
    }

    /// Writer `w` sets `/crash/w<w>/<seq>` = `v<w>.<seq>` with increasing `seq`, and every fifth time also
    /// overwrites `/crash/counter<w>` = `<seq>`; it stops at its first failed request.
    static func write(to url: String, ledger: Ledger) async {
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    while !Task.isCancelled {
                        let (seq, counter) = ledger.attempt(writer: writer)
                        guard let index = await put("\(url)/v2/keys/crash/w\(writer)/\(seq)", "value=v\(writer).\(seq)") else { return }
                        ledger.acknowledge(writer: writer, seq: seq, modifiedIndex: index)
                        if counter {
                            guard await put("\(url)/v2/keys/crash/counter\(writer)", "value=\(seq)") != nil else { return }
                            ledger.acknowledgeCounter(writer: writer, seq: seq)
                        }
                    }
                }
            }
        }
    }

    /// The modifiedIndex of an acknowledged (2xx) set, or nil if it failed in any way.
    static func put(_ url: String, _ form: String) async -> UInt64? {
        guard let answer = try? await KeepAliveHTTP.send("PUT", url, form: form, timeout: .seconds(10)), answer.status / 100 == 2,
            let json = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
            let node = json["node"] as? [String: Any], let index = node["modifiedIndex"] as? Int
        else { return nil }
        return UInt64(index)
    }

    /// Checks the store against the ledger; returns how many unacknowledged writes were applied anyway.
    @discardableResult
    static func verify(_ url: String, ledger: Ledger, context: String) async throws -> Int {
        let answer = try await KeepAliveHTTP.send("GET", url + "/v2/keys/crash?recursive=true&sorted=true")
        try #require(answer.status == 200, "after restart: \(answer.status) \(answer.body)\n\(context)")
        let storeIndex = try #require(answer.headers["x-etcd-index"].flatMap { UInt64($0) })
        let root = try #require(JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        var values: [String: (value: String, modifiedIndex: UInt64)] = [:]
        collect(root["node"] as? [String: Any], into: &values)

        let state = ledger.snapshot()
        var checked = 0
        for writer in 0..<writers {
            let books = state[writer]
            for (seq, index) in books.acknowledged {
                let key = "/crash/w\(writer)/\(seq)"
                let found = values[key]
                #expect(found?.value == "v\(writer).\(seq)" && found?.modifiedIndex == index,
                        "acknowledged \(key) (index \(index)) is \(found.map { "\($0)" } ?? "missing") after restart; \(context)")
                #expect(storeIndex >= index, "store index \(storeIndex) went below acknowledged index \(index); \(context)")
                checked += 1
            }
            if let counter = values["/crash/counter\(writer)"]?.value {
                let seq = Int(counter)
                #expect(seq.map { $0 >= books.counterAcknowledged && $0 <= books.attempted && $0 % 5 == 0 } == true,
                        "counter\(writer) is \(counter); acknowledged \(books.counterAcknowledged), attempted up to \(books.attempted); \(context)")
            } else {
                #expect(books.counterAcknowledged < 0, "counter\(writer) lost (acknowledged \(books.counterAcknowledged)); \(context)")
            }
        }
        // Nothing that was never written: every key is one a writer attempted, holding exactly its value.
        var unacknowledgedApplied = 0
        for (key, found) in values {
            let parts = key.split(separator: "/")
            if parts.count == 2, parts[1].hasPrefix("counter") { continue }
            guard parts.count == 3, let writer = Int(parts[1].dropFirst()), writer < writers, let seq = Int(parts[2]) else {
                Issue.record("unexpected key \(key) = \(found.value); \(context)")
                continue
            }
            #expect(found.value == "v\(writer).\(seq)" && seq <= state[writer].attempted,
                    "\(key) = \(found.value) was never written (attempted up to \(state[writer].attempted)); \(context)")
            if state[writer].acknowledged[seq] == nil { unacknowledgedApplied += 1 }
        }
        #expect(checked == state.reduce(0) { $0 + $1.acknowledged.count })
        return unacknowledgedApplied
    }

    /// Flattens a recursive listing into key → (value, modifiedIndex) for files.
    static func collect(_ node: [String: Any]?, into values: inout [String: (value: String, modifiedIndex: UInt64)]) {
        guard let node else { return }
        if let key = node["key"] as? String, let value = node["value"] as? String {
            values[key] = (value, UInt64(node["modifiedIndex"] as? Int ?? -1))
        }
        for child in node["nodes"] as? [[String: Any]] ?? [] { collect(child, into: &values) }
    }
}

/// What each writer attempted and what the server acknowledged.
final class Ledger: Sendable {
    struct Books: Sendable {
        var attempted = -1
        var acknowledged: [Int: UInt64] = [:]
        var counterAcknowledged = -1
    }

    let acknowledgements = Observed(0)
    private let books: Mutex<[Books]>

    init(writers: Int) { books = Mutex(Array(repeating: Books(), count: writers)) }

    /// The next sequence number for `writer` (recorded as attempted before it is sent), and whether this
    /// write also updates the counter key.
    func attempt(writer: Int) -> (seq: Int, counter: Bool) {
        books.withLock { books in
            books[writer].attempted += 1
            let seq = books[writer].attempted
            return (seq, seq % 5 == 0)
        }
    }

    func acknowledge(writer: Int, seq: Int, modifiedIndex: UInt64) {
        books.withLock { $0[writer].acknowledged[seq] = modifiedIndex }
        acknowledgements.update { $0 += 1 }
    }

    func acknowledgeCounter(writer: Int, seq: Int) {
        books.withLock { $0[writer].counterAcknowledged = max($0[writer].counterAcknowledged, seq) }
    }

    func snapshot() -> [Books] { books.withLock { $0 } }
}

