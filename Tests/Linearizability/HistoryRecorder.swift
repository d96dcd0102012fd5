import Synchronization

/// Collects the history of concurrent test clients.
///
/// Stamps come from one counter advanced under the same lock that records the event, not from a clock:
/// an operation invoked after another returned always gets a larger stamp, so real-time order is exact,
/// and no two events share a stamp. Call `invoke` just before sending a request and `complete` just after
/// the answer arrives; an operation never completed stays pending (it may or may not have taken effect).
public final class HistoryRecorder<Input: Sendable, Output: Sendable>: Sendable {
    public struct ID: Hashable, Sendable {
        fileprivate let index: Int
    }

    private struct Log {
        var clock: UInt64 = 0
        var operations: [Operation<Input, Output>?] = []

        mutating func tick() -> UInt64 {
            clock += 1
            return clock
        }
    }

    private let log = Mutex(Log())

    public init() {}

    public func invoke(client: Int, input: Input) -> ID {
        log.withLock { log in
            log.operations.append(Operation(client: client, input: input, call: log.tick()))
            return ID(index: log.operations.count - 1)
        }
    }

    /// Records the answer. Completing an operation twice is a bug in the test client.
    public func complete(_ id: ID, output: Output) {
        log.withLock { log in
            guard var operation = log.operations[id.index] else {
                preconditionFailure("operation \(id.index) was already failed")
            }
            precondition(operation.output == nil, "operation \(id.index) completed twice")
            operation.output = output
            operation.return = log.tick()
            log.operations[id.index] = operation
        }
    }

    /// Removes an operation known not to have taken effect — e.g. the connection was refused before the
    /// request left — which the checker would otherwise have to consider as possibly applied.
    public func fail(_ id: ID) {
        log.withLock { log in
            precondition(log.operations[id.index]?.output == nil, "operation \(id.index) already completed")
            log.operations[id.index] = nil
        }
    }

    /// Everything recorded so far, in invocation order; operations still in flight are pending.
    public var history: [Operation<Input, Output>] {
        log.withLock { log in log.operations.compactMap { $0 } }
    }
}
