import NIOCore
import NIOEmbedded
import TestSupport
import Testing

@testable import HTTPServer

@Suite("ConnectionTracker")
struct ConnectionTrackerTests {
    @Test("slots up to the limit are granted at once")
    func grantsUpToLimit() async {
        let tracker = ConnectionTracker(maxConnections: 2)
        #expect(await tracker.acquireSlot())
        #expect(await tracker.acquireSlot())
        #expect(tracker.activeCount == 2)
    }

    @Test("at the limit the accept loop waits until a connection ends, then gets its slot")
    func waitsAtLimit() async throws {
        let tracker = ConnectionTracker(maxConnections: 1)
        #expect(await tracker.acquireSlot())
        let granted = Observed<Bool?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { granted.set(await tracker.acquireSlot()) }
            await expectStillWaiting(granted, "a slot while the only one is taken")
            tracker.releaseSlot()
            try await granted.wait(for: "the waiting acquire to be granted") { $0 == true }
            try await group.waitForAll()
        }
        #expect(tracker.activeCount == 1)
    }

    @Test("beginning shutdown wakes a waiting accept loop with false and refuses later slots")
    func shutdownRefuses() async throws {
        let tracker = ConnectionTracker(maxConnections: 1)
        #expect(await tracker.acquireSlot())
        let granted = Observed<Bool?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { granted.set(await tracker.acquireSlot()) }
            await expectStillWaiting(granted, "a slot while the only one is taken")
            tracker.beginShutdown()
            try await granted.wait(for: "the waiting acquire to be refused") { $0 == false }
            try await group.waitForAll()
        }
        #expect(await tracker.acquireSlot() == false)
    }

    @Test("waitUntilDrained returns true once the last connection ends")
    func drains() async throws {
        let tracker = ConnectionTracker(maxConnections: 4)
        #expect(await tracker.acquireSlot())
        #expect(await tracker.acquireSlot())
        tracker.beginShutdown()
        let drained = Observed<Bool?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { drained.set(await tracker.waitUntilDrained(timeout: .seconds(30))) }
            tracker.releaseSlot()
            await expectStillWaiting(drained, "the drain while one connection remains")
            tracker.releaseSlot()
            try await drained.wait(for: "the drain to finish") { $0 != nil }
            try await group.waitForAll()
        }
        #expect(drained.value == true)
    }

    @Test("a drain wait that began before shutdown is flagged is still woken by the last connection ending")
    func drainWaitBeforeShutdownFlag() async throws {
        // Server.run closes the listener before calling beginShutdown: the accept loop can start waiting for the
        // drain in between, and the last connection can end in between too.
        let tracker = ConnectionTracker(maxConnections: 4)
        #expect(await tracker.acquireSlot())
        let drained = Observed<Bool?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { drained.set(await tracker.waitUntilDrained(timeout: .seconds(60))) }
            await expectStillWaiting(drained, "the drain while one connection remains")
            tracker.releaseSlot()
            tracker.beginShutdown()
            try await drained.wait(for: "the drain to notice the last connection ended") { $0 != nil }
            try await group.waitForAll()
        }
        #expect(drained.value == true)
    }

    @Test("waitUntilDrained with nothing active returns true at once")
    func drainedWhenEmpty() async {
        let tracker = ConnectionTracker(maxConnections: 1)
        tracker.beginShutdown()
        #expect(await tracker.waitUntilDrained(timeout: .seconds(30)))
    }

    @Test("waitUntilDrained gives up with false after the timeout while connections remain")
    func drainTimeout() async {
        let tracker = ConnectionTracker(maxConnections: 1)
        #expect(await tracker.acquireSlot())
        tracker.beginShutdown()
        let start = ContinuousClock.now
        #expect(await tracker.waitUntilDrained(timeout: .milliseconds(50)) == false)
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    @Test("shutdown quiesces registered connections; one registered after shutdown is quiesced at once")
    func quiesce() async throws {
        let tracker = ConnectionTracker(maxConnections: 4)
        let early = try await QuiesceProbe.channel()
        let removed = try await QuiesceProbe.channel()
        tracker.register(early.channel)
        tracker.register(removed.channel)
        tracker.unregister(removed.channel)
        #expect(early.quiesced.value == 0)

        tracker.beginShutdown()
        try await early.quiesced.wait(for: "the registered channel to be quiesced") { $0 == 1 }
        #expect(removed.quiesced.value == 0, "an unregistered channel is left alone")

        let late = try await QuiesceProbe.channel()
        tracker.register(late.channel)
        try await late.quiesced.wait(for: "the late channel to be quiesced") { $0 == 1 }
    }
}

/// Asserts that nothing arrives within a short window: the waiter must still be parked. Fails if the value
/// is set, i.e. if the tracker granted what it should have withheld.
func expectStillWaiting<T: Sendable>(_ value: Observed<T?>, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        let early = try await value.wait(for: what, timeout: .milliseconds(100)) { $0 != nil }
        Issue.record("expected no \(what) yet, got \(String(describing: early))", sourceLocation: sourceLocation)
    } catch {
        // Timed out: still waiting, as it should be.
    }
}

/// Counts `ChannelShouldQuiesceEvent`s reaching a testing channel.
final class QuiesceProbe: ChannelInboundHandler, Sendable {
    typealias InboundIn = Never

    let quiesced = Observed(0)

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { quiesced.update { $0 += 1 } }
    }

    static func channel() async throws -> (channel: NIOAsyncTestingChannel, quiesced: Observed<Int>) {
        let probe = QuiesceProbe()
        let channel = await NIOAsyncTestingChannel(handler: probe)
        return (channel, probe.quiesced)
    }
}
