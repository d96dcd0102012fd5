/// The WGL search (Wing & Gong 1993, with Lowe's 2017 cache) over one partition, as porcupine's `checkSingle`.
///
/// Calls and returns are entries of one time-ordered doubly linked list. Walking from the head, the search
/// tries to linearize each call it meets (lifting the call and its return out of the list); reaching a
/// return means that operation should already have taken effect, so the last choice is undone. A set of
/// (linearized operations, state) pairs already explored prunes the search: two paths that linearized the
/// same operations into the same state have the same future.
///
/// Operations here are the partition's, numbered from 0. Pending operations have a call entry only: they
/// may be linearized whenever the walk meets them, and the search succeeds once every completed operation
/// has been linearized, so a pending one may also never happen.
struct Search<M: Model> {
    enum Outcome {
        /// Operations in the order found, pending ones included where they were used.
        case linearizable([Int])
        case notLinearizable(Stuck)
        case timedOut
    }

    /// Where the deepest attempt ended: after `prefix` (reaching `state`), `boundary` returned while no
    /// operation that could go next could be linearized.
    struct Stuck {
        var prefix: [Int]
        var state: M.State
        var boundary: Int
    }

    private struct Frame {
        var callEntry: Int
        var previous: M.State
        /// The states the step allowed, for nondeterministic models; those from `nextAlternative` are untried.
        var successors: [M.State]
        var nextAlternative: Int
    }

    private struct Configuration: Hashable {
        var linearized: Bitset
        var state: M.State
    }

    private let model: M
    private let operations: [Operation<M.Input, M.Output>]
    /// Entry 0 is the head sentinel; entries 1... are calls and returns by time.
    private let head = 0
    private var next: [Int]
    private var previous: [Int]
    private let entryOperation: [Int]
    private let entryIsCall: [Bool]
    private let returnEntry: [Int?]
    private let completedCount: Int

    init(model: M, operations: [Operation<M.Input, M.Output>]) {
        self.model = model
        self.operations = operations

        // (time, is a return, operation): calls sort before returns at equal times, because equal stamps
        // are concurrent (see `Operation`).
        var events: [(time: UInt64, isReturn: Bool, operation: Int)] = []
        events.reserveCapacity(operations.count * 2)
        for (index, operation) in operations.enumerated() {
            events.append((operation.call, false, index))
            if !operation.isPending {
                // A seen answer without a return stamp still has to be placed; it may go arbitrarily late.
                let end = operation.return ?? .max
                precondition(end >= operation.call, "operation \(operation) returns before it is called")
                events.append((end, true, index))
            }
        }
        events.sort { a, b in (a.time, a.isReturn ? 1 : 0, a.operation) < (b.time, b.isReturn ? 1 : 0, b.operation) }

        let count = events.count + 1
        next = Array(1...count)
        previous = Array(-1..<(count - 1))
        var entryOperation = [-1]
        var entryIsCall = [false]
        var returnEntry = [Int?](repeating: nil, count: operations.count)
        for (offset, event) in events.enumerated() {
            entryOperation.append(event.operation)
            entryIsCall.append(!event.isReturn)
            if event.isReturn { returnEntry[event.operation] = offset + 1 }
        }
        self.entryOperation = entryOperation
        self.entryIsCall = entryIsCall
        self.returnEntry = returnEntry
        completedCount = operations.count(where: { !$0.isPending })
    }

    /// Runs the search; it leaves the list as the search ended, so a `Search` serves one run.
    mutating func run(deadline: ContinuousClock.Instant?) -> Outcome {
        var state = model.initial
        var linearized = Bitset(count: operations.count)
        var stack: [Frame] = []
        var explored = Set<Configuration>()
        var unlinearizedCompleted = completedCount
        var deepest: Stuck?
        var entry = next[head]
        var steps = 0

        search: while unlinearizedCompleted > 0 {
            steps += 1
            // Reading the clock costs more than a step; every 1024 steps bounds the overrun to about a millisecond.
            if steps & 1023 == 0, let deadline, ContinuousClock.now >= deadline { return .timedOut }

            // A completed operation's return entry follows its call, so while one is left the walk meets a
            // return before it runs off the end of the list.
            let operation = entryOperation[entry]
            if entryIsCall[entry] {
                let successors = model.step(state, operations[operation].input, operations[operation].output)
                if !successors.isEmpty {
                    linearized.insert(operation)
                    for (index, successor) in successors.enumerated()
                    where explored.insert(Configuration(linearized: linearized, state: successor)).inserted {
                        stack.append(
                            Frame(callEntry: entry, previous: state, successors: successors, nextAlternative: index + 1)
                        )
                        state = successor
                        lift(entry)
                        if returnEntry[operation] != nil { unlinearizedCompleted -= 1 }
                        entry = next[head]
                        continue search
                    }
                    linearized.remove(operation)
                }
                entry = next[entry]
                continue search
            }

            // `operation` returned before anything let it take effect: this path is a dead end.
            if stack.count > deepest?.prefix.count ?? -1 {
                deepest = Stuck(prefix: stack.map { entryOperation[$0.callEntry] }, state: state, boundary: operation)
            }
            guard var frame = stack.popLast() else {
                // Nothing left to undo: every order has been tried. `deepest` was set just above.
                guard let deepest else { preconditionFailure("no dead end recorded") }
                return .notLinearizable(deepest)
            }
            // Undo the last choice: first its other possible states, then the operation itself, after which
            // the walk resumes just past its call.
            while frame.nextAlternative < frame.successors.count {
                let alternative = frame.successors[frame.nextAlternative]
                frame.nextAlternative += 1
                if explored.insert(Configuration(linearized: linearized, state: alternative)).inserted {
                    stack.append(frame)
                    state = alternative
                    entry = next[head]
                    continue search
                }
            }
            let undone = entryOperation[frame.callEntry]
            linearized.remove(undone)
            unlift(frame.callEntry)
            if returnEntry[undone] != nil { unlinearizedCompleted += 1 }
            state = frame.previous
            entry = next[frame.callEntry]
        }
        return .linearizable(stack.map { entryOperation[$0.callEntry] })
    }

    /// Unlinks a call and its return; `unlift` must undo lifts in reverse order (dancing links).
    private mutating func lift(_ call: Int) {
        unlink(call)
        if let end = returnEntry[entryOperation[call]] { unlink(end) }
    }

    private mutating func unlift(_ call: Int) {
        if let end = returnEntry[entryOperation[call]] { relink(end) }
        relink(call)
    }

    private mutating func unlink(_ entry: Int) {
        next[previous[entry]] = next[entry]
        if next[entry] < next.count { previous[next[entry]] = previous[entry] }
    }

    private mutating func relink(_ entry: Int) {
        next[previous[entry]] = entry
        if next[entry] < next.count { previous[next[entry]] = entry }
    }
}

/// The set of linearized operations, packed so the cache can hash and compare it quickly.
struct Bitset: Hashable {
    private var words: [UInt64]

    init(count: Int) {
        words = Array(repeating: 0, count: (count + 63) / 64)
    }

    mutating func insert(_ index: Int) {
        words[index >> 6] |= 1 << UInt64(index & 63)
    }

    mutating func remove(_ index: Int) {
        words[index >> 6] &= ~(1 << UInt64(index & 63))
    }
}
