import KeysClient
import Synchronization
import Testing
import TestSupport

/// Watches against real etcd: order, exactly-once delivery, and recovery from "event index cleared".
@Suite struct KeysWatchEtcdTests {
    static let writes = 3000

    /// Checks that `changes` account for every key `/burst/k<i>` exactly once, in index order.
    /// Keys may arrive as events or inside a resync snapshot, never both and never twice.
    static func verifyExactlyOnce(_ changes: [WatchEvent]) -> (resyncs: Int, problems: [String]) {
        var seen: [String: UInt64] = [:]
        var problems: [String] = []
        var lastIndex: UInt64 = 0
        var resyncs = 0
        for change in changes {
            if change.index <= lastIndex { problems.append("index \(change.index) after \(lastIndex)") }
            lastIndex = change.index
            switch change {
            case .event(let event):
                guard let key = event.node?.key else { continue }
                if seen[key] != nil { problems.append("\(key) delivered twice") }
                seen[key] = event.index
            case .resync(let snapshot):
                resyncs += 1
                for node in snapshot.node?.allNodes ?? [] where !node.dir {
                    guard let key = node.key else { continue }
                    if let earlier = seen[key], earlier != node.modifiedIndex { problems.append("\(key) changed unexpectedly") }
                    seen[key] = node.modifiedIndex
                }
            }
        }
        let missing = (0..<writes).filter { seen["/burst/k\($0)"] == nil }
        if !missing.isEmpty { problems.append("\(missing.count) keys never seen, first k\(missing[0])") }
        return (resyncs, problems)
    }

    static func collect(_ watch: KeysWatch, untilIndex last: UInt64) async throws -> [WatchEvent] {
        var changes: [WatchEvent] = []
        for try await change in watch {
            changes.append(change)
            if change.index >= last { break }
        }
        return changes
    }

    @Test("3000 rapid writes: a live watcher and a lagging one each see every write exactly once, in order")
    func burst() async throws {
        try await withEtcdKeys { keys, _ in
            let start = try await keys.set("/burst-start", value: "0").index
            let lastIndex = try await withThrowingTaskGroup(of: UInt64.self) { group in
                // Writers run concurrently so the store moves faster than a one-event-per-poll watcher.
                for writer in 0..<8 {
                    group.addTask {
                        var last: UInt64 = 0
                        for i in stride(from: writer, to: Self.writes, by: 8) {
                            last = max(last, try await keys.set("/burst/k\(i)", value: "\(i)").index)
                        }
                        return last
                    }
                }
                let liveChanges = Task { try await Self.collect(keys.watch("/burst", recursive: true, after: start), untilIndex: start + UInt64(Self.writes)) }
                var last: UInt64 = 0
                for try await writerLast in group { last = max(last, writerLast) }
                let live = try await liveChanges.value
                let (_, liveProblems) = Self.verifyExactlyOnce(live)
                #expect(liveProblems.isEmpty, "live watcher: \(liveProblems.prefix(5))")
                return last
            }
            #expect(lastIndex == start + UInt64(Self.writes))

            // A watcher that starts from the old index is 3000 events behind a 1000-event window: 401, resync.
            let lagging = try await Self.collect(keys.watch("/burst", recursive: true, after: start), untilIndex: lastIndex)
            let (resyncs, problems) = Self.verifyExactlyOnce(lagging)
            #expect(resyncs >= 1, "the lagging watcher must have gone through the 401 path")
            #expect(problems.isEmpty, "lagging watcher: \(problems.prefix(5))")
        }
    }

    @Test("a watch from now delivers later changes; deleting the parent wakes a child's watcher")
    func parentDeleteWakesChild() async throws {
        try await withEtcdKeys { keys, _ in
            _ = try await keys.set("/p/child", value: "1")
            let received = Task {
                var events: [KeysResponse] = []
                for try await change in keys.watch("/p/child") {
                    guard case .event(let event) = change else { continue }
                    events.append(event)
                    if event.action == .delete { break }
                }
                return events
            }
            // Writes keep coming until the watcher has armed and seen the first one: no sleep-and-hope.
            try await eventually("watcher sees an update") {
                _ = try await keys.set("/p/child", value: "2")
                return try await keys.get("/p/child").node?.value == "2"
            }
            _ = try await keys.delete("/p", recursive: true)
            let events = try await received.value
            #expect(events.last?.action == .delete)
            #expect(events.last?.node?.key == "/p")
            #expect(events.dropLast().allSatisfy { $0.action == .set && $0.node?.value == "2" })
        }
    }

    @Test("a watch of a quiet key does not return on its own poll deadline: it re-polls from the same index")
    func pollDeadlineIsNotAnEvent() async throws {
        try await withEtcdKeys(configure: { $0.watchPollTimeout = .milliseconds(200) }) { keys, _ in
            let start = try await keys.set("/quiet", value: "0").index
            let next = Task {
                var iterator = keys.watch("/quiet", after: start).makeAsyncIterator()
                return try await iterator.next()
            }
            // Let several poll deadlines pass (time passing is the point here, not readiness), then write:
            // the first thing the watch yields must be exactly this write.
            try await Task.sleep(for: .milliseconds(700))
            let written = try await keys.set("/quiet", value: "1")
            let change = try await next.value
            guard case .event(let event)? = change else {
                Issue.record("expected an event, got \(String(describing: change))")
                return
            }
            #expect(event.index == written.index && event.node?.value == "1")
        }
    }
}
