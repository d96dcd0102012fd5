import SeededRandom
import Linearizability

typealias RegisterOperation = Operation<RegisterModel.Input, RegisterModel.Output>
typealias CASOperation = Operation<CASRegisterModel.Input, CASRegisterModel.Output>
typealias KeyedCASOperation = Operation<KeyedInput<CASRegisterModel.Input>, CASRegisterModel.Output>

/// An answered operation, called and returned at the ends of `interval`.
func op<Input, Output>(
    _ client: Int,
    _ input: Input,
    _ output: Output,
    _ interval: ClosedRange<UInt64>
) -> Operation<Input, Output> {
    Operation(client: client, input: input, call: interval.lowerBound, output: output, return: interval.upperBound)
}

/// An operation whose answer never came.
func pending<Input, Output>(_ client: Int, _ input: Input, at call: UInt64) -> Operation<Input, Output> {
    Operation(client: client, input: input, call: call)
}

/// Why `order` is not a linearization of `history` under `model`, or nil if it is: every completed operation
/// appears exactly once, no operation precedes one that returned before it was called, and the model
/// accepts the answers in that order. Checked independently of the search so the tests trust neither.
/// With `complete: false`, `order` need only be a linearization of some of the operations (a prefix).
func linearizationProblem<M: Model>(
    _ order: [Int],
    of history: [Operation<M.Input, M.Output>],
    model: M,
    complete: Bool = true
) -> String? {
    guard Set(order).count == order.count else { return "an operation appears twice in \(order)" }
    for index in history.indices where complete && !history[index].isPending && !order.contains(index) {
        return "completed operation \(index) is missing from \(order)"
    }
    for (position, later) in order.enumerated() {
        for earlier in order[..<position] {
            if let end = history[later].return, !history[later].isPending, end < history[earlier].call {
                return "operation \(later) returned before \(earlier) was called but is ordered after it"
            }
        }
    }
    var states: Set<M.State> = [model.initial]
    for index in order {
        states = Set(states.flatMap { model.step($0, history[index].input, history[index].output) })
        if states.isEmpty { return "the model rejects operation \(index): \(history[index])" }
    }
    return nil
}

