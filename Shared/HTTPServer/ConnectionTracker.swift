import NIOCore
import Synchronization

/// Counts live connections for the connection limit, remembers their channels so a graceful shutdown can
/// quiesce them, and tells the server when the last one is gone.
///
/// At the limit the accept loop stops taking connections (they wait in the kernel's backlog, as with
/// nginx's `worker_connections`) instead of accepting and dropping them.
final class ConnectionTracker: Sendable {
    private struct State {
        var active = 0
        var channels: [ObjectIdentifier: any Channel] = [:]
        var slotWaiter: CheckedContinuation<Bool, Never>?
        var drainWaiter: CheckedContinuation<Void, Never>?
        var shuttingDown = false
    }

    private let maxConnections: Int
    private let state = Mutex(State())

    init(maxConnections: Int) {
        self.maxConnections = max(1, maxConnections)
    }

    var activeCount: Int { state.withLock { $0.active } }

    /// Takes a connection slot, waiting while all are in use. False once shutdown has begun.
    /// Only the accept loop calls this, so there is at most one waiter.
    func acquireSlot() async -> Bool {
        await withCheckedContinuation { continuation in
            let granted: Bool? = state.withLock { state in
                if state.shuttingDown { return false }
                if state.active < maxConnections {
                    state.active += 1
                    return true
                }
                precondition(state.slotWaiter == nil, "one accept loop per tracker")
                state.slotWaiter = continuation
                return nil
            }
            if let granted { continuation.resume(returning: granted) }
        }
    }

    /// Takes a slot without waiting, for accept paths that cannot suspend; false at the limit or after shutdown.
    func tryAcquireSlot() -> Bool {
        state.withLock { state in
            guard !state.shuttingDown, state.active < maxConnections else { return false }
            state.active += 1
            return true
        }
    }

    /// Closes every connection still registered: the end of a drain that ran out of time.
    func closeAll() {
        let channels = state.withLock { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
    }

    func releaseSlot() {
        let (slotWaiter, drainWaiter) = state.withLock { state -> (CheckedContinuation<Bool, Never>?, CheckedContinuation<Void, Never>?) in
            if let waiter = state.slotWaiter {
                // Hand the slot straight to the waiting accept loop.
                state.slotWaiter = nil
                return (waiter, nil)
            }
            state.active -= 1
            // Not gated on shuttingDown: the accept loop may start waiting for the drain after the listener
            // closed but before beginShutdown() ran, and the last connection may end in that window too.
            if state.active == 0, let drain = state.drainWaiter {
                state.drainWaiter = nil
                return (nil, drain)
            }
            return (nil, nil)
        }
        slotWaiter?.resume(returning: true)
        drainWaiter?.resume()
    }

    /// Registers a negotiated connection's channel; quiesces it at once if shutdown already began.
    func register(_ channel: any Channel) {
        let quiesceNow = state.withLock { state in
            state.channels[ObjectIdentifier(channel)] = channel
            return state.shuttingDown
        }
        if quiesceNow { Self.quiesce(channel) }
    }

    func unregister(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Stops handing out slots and asks every connection to finish what it is doing and close.
    func beginShutdown() {
        let (channels, slotWaiter) = state.withLock { state in
            state.shuttingDown = true
            defer { state.slotWaiter = nil }
            return (Array(state.channels.values), state.slotWaiter)
        }
        slotWaiter?.resume(returning: false)
        channels.forEach(Self.quiesce)
    }

    /// Returns when no connection is left or `timeout` has passed; true when all drained.
    func waitUntilDrained(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let done = self.state.withLock { state -> Bool in
                            // Checked under the lock that onCancel takes, so a cancellation is never missed.
                            if state.active == 0 || Task.isCancelled { return true }
                            state.drainWaiter = continuation
                            return false
                        }
                        if done { continuation.resume() }
                    }
                } onCancel: {
                    let waiter = self.state.withLock { state in
                        defer { state.drainWaiter = nil }
                        return state.drainWaiter
                    }
                    waiter?.resume()
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first && self.activeCount == 0
        }
    }

    private static func quiesce(_ channel: any Channel) {
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }
}
