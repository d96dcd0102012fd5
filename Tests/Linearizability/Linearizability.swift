/// The verdict on a history.
public enum CheckResult<Input, Output> {
    /// `order` lists history indices in one valid linearization: every completed operation, and the pending
    /// ones that had to take effect (a pending operation left out never happened).
    case linearizable(order: [Int])
    case notLinearizable(Counterexample<Input, Output>)
    /// The timeout passed before the search finished; nothing is known.
    case unknown

    public var isLinearizable: Bool {
        if case .linearizable = self { return true }
        return false
    }

    public var counterexample: Counterexample<Input, Output>? {
        if case .notLinearizable(let counterexample) = self { return counterexample }
        return nil
    }
}

extension CheckResult: Sendable where Input: Sendable, Output: Sendable {}

extension CheckResult: CustomStringConvertible {
    public var description: String {
        switch self {
        case .linearizable(let order): "linearizable (\(order.count) operations placed)"
        case .notLinearizable(let counterexample): counterexample.description
        case .unknown: "unknown: the check timed out"
        }
    }
}

/// Linearizability checking of recorded histories (Herlihy & Wing 1990) with the WGL search.
public enum Linearizability {
    /// Decides whether `history` is linearizable with respect to `model`.
    ///
    /// Each of the model's partitions is searched on its own; the first one that is not linearizable is
    /// reported. The search is exponential in the worst case (many concurrent or pending operations), so
    /// tests pass a `timeout` and treat `.unknown` as a failure of the test setup rather than of the system.
    /// An operation answered before it was called is a bug in the recorder and stops the process.
    public static func check<M: Model>(
        _ model: M,
        _ history: [Operation<M.Input, M.Output>],
        timeout: Duration? = nil
    ) -> CheckResult<M.Input, M.Output> {
        let deadline = timeout.map { ContinuousClock.now.advanced(by: $0) }
        var orders: [[Int]] = []
        var timedOut = false
        for partition in model.partition(history) {
            let kept = operationsToSearch(partition.operations, of: history, model: model)
            var search = Search(model: model, operations: kept.map { history[$0] })
            switch search.run(deadline: deadline) {
            case .linearizable(let order):
                orders.append(order.map { kept[$0] })
            case .notLinearizable(let stuck):
                return .notLinearizable(
                    Counterexample(model: model, history: history, partition: partition, kept: kept, stuck: stuck)
                )
            case .timedOut:
                // Keep going: a later partition may still prove a violation, which beats "unknown". Past
                // the deadline each further search stops at its first clock check.
                timedOut = true
            }
        }
        return timedOut ? .unknown : .linearizable(order: merge(orders, of: history))
    }

    /// Drops pending operations that cannot matter, each of which would otherwise double the worst case:
    /// read-only ones, and ones called after every completed operation returned (they can be placed last,
    /// where nothing observes them, which is the same as never).
    static func operationsToSearch<M: Model>(
        _ indices: [Int],
        of history: [Operation<M.Input, M.Output>],
        model: M
    ) -> [Int] {
        var lastReturn: UInt64?
        for index in indices where !history[index].isPending {
            lastReturn = max(lastReturn ?? 0, history[index].return ?? .max)
        }
        guard let lastReturn else { return [] }
        return indices.filter { index in
            let operation = history[index]
            return !operation.isPending || (operation.call <= lastReturn && !model.isReadOnly(operation.input))
        }
    }

    /// Interleaves the partitions' linearizations into one that respects real time across partitions too.
    ///
    /// Locality (Herlihy & Wing, Theorem 1) says one exists; this builds it by giving each operation the
    /// earliest linearization point its own sequence allows — the latest call among it and its
    /// predecessors — and sorting by that point. The point lies within the operation's interval because
    /// no predecessor in a valid linearization is called after the operation returns, and an operation
    /// that returns before another is called gets the earlier point.
    static func merge<Input, Output>(_ orders: [[Int]], of history: [Operation<Input, Output>]) -> [Int] {
        var placed: [(point: UInt64, partition: Int, position: Int, operation: Int)] = []
        for (partition, order) in orders.enumerated() {
            var point: UInt64 = 0
            for (position, operation) in order.enumerated() {
                point = max(point, history[operation].call)
                placed.append((point, partition, position, operation))
            }
        }
        placed.sort { a, b in (a.point, a.partition, a.position) < (b.point, b.partition, b.position) }
        return placed.map(\.operation)
    }
}
