import Synchronization

/// A value shared between a handler (or a channel) and a test, which the test can await a condition on.
///
/// Every `update` wakes all waiters, which re-check their condition: no polling, no sleeping. Waits are
/// cancellable, so they compose with `withTimeout`.
public final class Observed<Value: Sendable>: Sendable {
    private struct State {
        var value: Value
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
    }

    private let state: Mutex<State>

    public init(_ value: Value) {
        state = Mutex(State(value: value))
    }

    public var value: Value { state.withLock { $0.value } }

    /// Changes the value and wakes everyone waiting on it.
    @discardableResult
    public func update<R: Sendable>(_ body: (inout Value) -> R) -> R {
        let (result, waiters) = state.withLock { state in
            let result = body(&state.value)
            let waiters = state.waiters.values
            state.waiters = [:]
            return (result, Array(waiters))
        }
        for waiter in waiters { waiter.resume() }
        return result
    }

    public func set(_ value: Value) { update { $0 = value } }

    /// Waits until `condition` holds, at most `timeout`; the failure names `what`.
    @discardableResult
    public func wait(
        for what: String,
        timeout: Duration = .seconds(10),
        until condition: @escaping @Sendable (Value) -> Bool
    ) async throws -> Value {
        try await withTimeout(timeout, waitingFor: what) {
            try await self.waitUnbounded(until: condition)
        }
    }

    /// Waits until `condition` holds or the task is cancelled (throws `CancellationError`).
    public func waitUnbounded(until condition: @escaping @Sendable (Value) -> Bool) async throws -> Value {
        while true {
            try Task.checkCancellation()
            let id = state.withLock { state in
                state.nextWaiterID += 1
                return state.nextWaiterID
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let done = state.withLock { state -> Bool in
                        // Checked under the lock onCancel takes, so a cancellation is never missed.
                        if condition(state.value) || Task.isCancelled { return true }
                        state.waiters[id] = continuation
                        return false
                    }
                    if done { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
                waiter?.resume()
            }
            let current = value
            if condition(current) { return current }
        }
    }
}

/// Events a handler reports (started, cancelled, …) for a test to receive in order.
public final class Mailbox<Element: Sendable>: Sendable {
    private let items = Observed<[Element]>([])

    public init() {}

    public func post(_ element: Element) { items.update { $0.append(element) } }

    /// Everything posted and not yet received.
    public var pending: [Element] { items.value }

    /// Takes the oldest element, waiting at most `timeout` for one to arrive.
    public func receive(_ what: String, timeout: Duration = .seconds(10)) async throws -> Element {
        while true {
            try await items.wait(for: what, timeout: timeout) { !$0.isEmpty }
            let taken: Element? = items.update { $0.isEmpty ? nil : $0.removeFirst() }
            if let taken { return taken }
        }
    }
}

/// A gate handlers wait at until the test opens it; waiting ends early (throwing) when the task is cancelled.
public final class Gate: Sendable {
    private let isOpen = Observed(false)

    public init() {}

    public func open() { isOpen.set(true) }

    public func wait() async throws {
        _ = try await isOpen.waitUnbounded { $0 }
    }
}
