import NIOCore
import Synchronization

/// Suspends until a channel closes or the waiting task is cancelled, whichever comes first.
/// `closeFuture.get()` cannot be cancelled, which is why this exists.
enum ChannelCloseWatcher {
    static func waitForClose(of channel: any Channel) async {
        let signal = Signal()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard signal.install(continuation) else { return }
                channel.closeFuture.whenComplete { _ in signal.fire() }
            }
        } onCancel: {
            signal.fire()
        }
    }

    private final class Signal: Sendable {
        private enum State {
            case idle
            case waiting(CheckedContinuation<Void, Never>)
            case fired
        }

        private let state = Mutex(State.idle)

        /// False (and the continuation already resumed) when the signal fired first.
        func install(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
            let installed = state.withLock { state -> Bool in
                guard case .idle = state else { return false }
                state = .waiting(continuation)
                return true
            }
            if !installed { continuation.resume() }
            return installed
        }

        func fire() {
            let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state = .fired }
                if case .waiting(let continuation) = state { return continuation }
                return nil
            }
            waiting?.resume()
        }
    }
}
