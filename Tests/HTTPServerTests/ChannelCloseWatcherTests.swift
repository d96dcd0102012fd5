import NIOCore
import NIOEmbedded
import Testing

@testable import HTTPServer

@Suite struct ChannelCloseWatcherTests {
    @Test("waits that end by cancellation leave nothing behind, however many a connection serves")
    func cancelledWaitsDoNotAccumulate() async throws {
        let channel = NIOAsyncTestingChannel()
        let watcher = ChannelCloseWatcher(channel)
        for _ in 0..<200 {
            let wait = Task { await watcher.waitForClose() }
            wait.cancel()
            await wait.value
        }
        #expect(watcher.waiterCount == 0)
        try await channel.close()
    }

    @Test("closing the channel wakes every waiter, and later waits return at once")
    func closeWakesWaiters() async throws {
        let channel = NIOAsyncTestingChannel()
        let watcher = ChannelCloseWatcher(channel)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { await watcher.waitForClose() } }
            // Close only once all three are parked, so the test exercises waking, not the early return.
            var spins = 0
            while watcher.waiterCount < 3 {
                spins += 1
                guard spins < 100_000 else {
                    Issue.record("waiters never parked (\(watcher.waiterCount) of 3)")
                    break
                }
                await Task.yield()
            }
            try await channel.close()
            try await group.waitForAll()
        }
        await watcher.waitForClose()
        #expect(watcher.waiterCount == 0)
    }
}
