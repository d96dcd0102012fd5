import NIOCore
import Synchronization

/// Tells waiters when a channel closes. One per connection (or HTTP/2 stream): it hooks `closeFuture` once,
/// so a keep-alive connection serving thousands of long polls does not pile up a callback per response.
/// `closeFuture.get()` cannot be cancelled, which is why this exists.
final class ChannelCloseWatcher: Sendable {
    private struct State {
        var closed = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    init(_ channel: any Channel) {
        channel.closeFuture.whenComplete { [self] _ in
            let waiters = state.withLock { state in
                state.closed = true
                defer { state.waiters = [:] }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Returns when the channel has closed or the calling task is cancelled, whichever comes first.
    func waitForClose() async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Checked under the lock that the close callback and onCancel take, so neither is missed.
                let resumeNow = state.withLock { state -> Bool in
                    if state.closed || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
