import Linearizability
import Testing

/// Classic hand-written histories over one register; intervals are written `call...return`.
@Suite("Register histories")
struct RegisterHistoryTests {
    let model = RegisterModel()

    private func expectLinearizable(_ history: [RegisterOperation], sourceLocation: SourceLocation = #_sourceLocation) {
        let result = Linearizability.check(model, history)
        guard case .linearizable(let order) = result else {
            Issue.record("expected linearizable, got \(result)", sourceLocation: sourceLocation)
            return
        }
        let problem = linearizationProblem(order, of: history, model: model)
        #expect(problem == nil, sourceLocation: sourceLocation)
    }

    private func expectNotLinearizable(_ history: [RegisterOperation], sourceLocation: SourceLocation = #_sourceLocation) {
        let result = Linearizability.check(model, history)
        #expect(result.counterexample != nil, "expected a violation, got \(result)", sourceLocation: sourceLocation)
    }

    @Test func emptyHistoryIsLinearizable() {
        #expect(Linearizability.check(model, []).isLinearizable)
    }

    @Test func sequentialHistoryKeepsItsOrder() throws {
        let history: [RegisterOperation] = [
            op(0, .read, .read(nil), 0...1),
            op(1, .write("x"), .ok, 2...3),
            op(0, .read, .read("x"), 4...5),
            op(2, .write("y"), .ok, 6...7),
            op(1, .read, .read("y"), 8...9),
        ]
        let result = Linearizability.check(model, history)
        guard case .linearizable(let order) = result else { throw Failure("got \(result)") }
        #expect(order == [0, 1, 2, 3, 4])
    }

    @Test func readOfAbsentKeyNeedsNoWrite() {
        expectLinearizable([op(0, .read, .read(nil), 0...1)])
        expectNotLinearizable([op(0, .read, .read("x"), 0...1)])
    }

    @Test func readsConcurrentWithWriteMaySeeEitherValue() {
        expectLinearizable([
            op(0, .write("x"), .ok, 0...1),
            op(1, .write("y"), .ok, 2...10),
            op(2, .read, .read("x"), 3...4),
            op(3, .read, .read("y"), 5...6),
            op(2, .read, .read("y"), 7...8),
        ])
    }

    @Test func overlappingWritesCanLandInEitherOrder() throws {
        // y lands first even though x was called first: the later read of x fixes the order.
        let history: [RegisterOperation] = [
            op(0, .write("x"), .ok, 0...10),
            op(1, .write("y"), .ok, 1...9),
            op(2, .read, .read("y"), 2...3),
            op(3, .read, .read("x"), 11...12),
        ]
        let result = Linearizability.check(model, history)
        guard case .linearizable(let order) = result else { throw Failure("got \(result)") }
        #expect(order == [1, 2, 0, 3])
    }

    @Test func equalStampsCountAsConcurrent() {
        // The read is called at the instant the write returns: it may still go first.
        expectLinearizable([
            op(0, .write("x"), .ok, 0...5),
            op(1, .read, .read(nil), 5...6),
        ])
    }

    @Test func readOfOverwrittenValueIsNotLinearizable() {
        // y replaced x before the read began.
        expectNotLinearizable([
            op(0, .write("x"), .ok, 0...1),
            op(1, .write("y"), .ok, 2...3),
            op(2, .read, .read("x"), 4...5),
        ])
    }

    @Test func readsInRealTimeOrderMustNotSeeWritesBackwards() {
        // Once a read saw y, a later read cannot see x again: x was written before y.
        expectNotLinearizable([
            op(0, .write("x"), .ok, 0...1),
            op(0, .write("y"), .ok, 2...20),
            op(1, .read, .read("y"), 3...4),
            op(2, .read, .read("x"), 5...6),
        ])
    }

    @Test func concurrentReadsMayDisagreeWhileTheWriteIsInFlight() {
        // The same reads as above, but overlapping each other: the x read can go first.
        expectLinearizable([
            op(0, .write("x"), .ok, 0...1),
            op(0, .write("y"), .ok, 2...20),
            op(1, .read, .read("y"), 3...6),
            op(2, .read, .read("x"), 5...8),
        ])
    }

    @Test func staleReadAfterCompletedWriteIsNotLinearizable() {
        expectNotLinearizable([
            op(0, .write("x"), .ok, 0...1),
            op(1, .read, .read(nil), 2...3),
        ])
    }

    @Test func pendingWriteCanExplainARead() throws {
        let history: [RegisterOperation] = [
            pending(0, .write("x"), at: 0),
            op(1, .read, .read("x"), 5...6),
        ]
        let result = Linearizability.check(model, history)
        guard case .linearizable(let order) = result else { throw Failure("got \(result)") }
        #expect(order == [0, 1])
    }

    @Test func pendingWriteMayNeverHaveHappened() throws {
        let history: [RegisterOperation] = [
            pending(0, .write("x"), at: 0),
            op(1, .read, .read(nil), 5...6),
            op(1, .read, .read(nil), 7...8),
        ]
        let result = Linearizability.check(model, history)
        guard case .linearizable(let order) = result else { throw Failure("got \(result)") }
        #expect(order == [1, 2])
    }

    @Test func pendingWriteMayLandLongAfterItsCall() {
        expectLinearizable([
            pending(0, .write("x"), at: 0),
            op(1, .read, .read(nil), 5...6),
            op(1, .write("y"), .ok, 7...8),
            op(2, .read, .read("x"), 9...10),
        ])
    }

    @Test func timedOutWriteCanLandAfterTheClientGaveUp() {
        // No answer but a return stamp: the request may still be applied after the timeout.
        expectLinearizable([
            Operation(client: 0, input: .write("x"), call: 0, output: nil, return: 2),
            op(1, .read, .read(nil), 3...4),
            op(1, .read, .read("x"), 5...6),
        ])
    }

    @Test func pendingWriteCannotTakeEffectTwice() {
        // Once x was seen and then overwritten, the pending write cannot bring it back.
        expectNotLinearizable([
            pending(0, .write("x"), at: 0),
            op(1, .read, .read("x"), 5...6),
            op(1, .write("y"), .ok, 7...8),
            op(2, .read, .read("x"), 9...10),
        ])
    }

    @Test func pendingWriteCannotExplainAnEarlierRead() {
        expectNotLinearizable([
            op(1, .read, .read("x"), 0...1),
            pending(0, .write("x"), at: 2),
        ])
    }

    @Test func pendingReadsAreIgnored() {
        expectLinearizable([
            pending(0, .read, at: 0),
            op(1, .write("x"), .ok, 1...2),
            pending(2, .read, at: 3),
            op(1, .read, .read("x"), 4...5),
        ])
    }

    @Test func answerThatDoesNotMatchTheInputIsRejected() {
        expectNotLinearizable([op(0, .read, .ok, 0...1)])
        expectNotLinearizable([op(0, .write("x"), .read("x"), 0...1)])
    }

    @Test func initialValueIsConfigurable() {
        let history: [RegisterOperation] = [op(0, .read, .read("seed"), 0...1)]
        #expect(Linearizability.check(RegisterModel(initial: "seed"), history).isLinearizable)
        #expect(!Linearizability.check(RegisterModel(), history).isLinearizable)
    }

    @Test func exhaustingSearchTimesOutAsUnknown() {
        // Twenty pending writes and an impossible read: refuting it means trying every subset of the
        // writes, far more than the thousand steps after which the (already passed) deadline is noticed.
        var history: [RegisterOperation] = (0..<20).map { pending($0, .write("v\($0)"), at: 0) }
        history.append(op(20, .read, .read("never"), 1...2))
        let result = Linearizability.check(model, history, timeout: .zero)
        guard case .unknown = result else {
            Issue.record("expected unknown, got \(result)")
            return
        }
    }
}

/// A test failure with a message, for `guard … else { throw Failure(…) }`.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
