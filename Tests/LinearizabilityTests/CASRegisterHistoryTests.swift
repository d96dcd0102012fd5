import Linearizability
import Testing

/// etcd v2 single-key histories: compare-and-swap (error 101 on mismatch), delete, error 100 on absent keys.
@Suite("Compare-and-swap register histories")
struct CASRegisterHistoryTests {
    let model = CASRegisterModel()

    private func verdict(_ history: [CASOperation], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let result = Linearizability.check(model, history)
        if case .linearizable(let order) = result {
            let problem = linearizationProblem(order, of: history, model: model)
            #expect(problem == nil, sourceLocation: sourceLocation)
        }
        if case .unknown = result {
            Issue.record("no timeout was given, yet the result is unknown", sourceLocation: sourceLocation)
        }
        return result.isLinearizable
    }

    @Test func successfulSwapsChainInRealTime() {
        #expect(verdict([
            op(0, .write("0"), .ok, 0...1),
            op(1, .compareAndSwap(expected: "0", new: "1"), .ok, 2...3),
            op(2, .compareAndSwap(expected: "1", new: "2"), .ok, 4...5),
            op(0, .read, .read("2"), 6...7),
        ]))
    }

    @Test func concurrentSwapsOrderThemselves() {
        // Called in the "wrong" order, but overlapping: 0→1 must go first for both to succeed.
        #expect(verdict([
            op(0, .write("0"), .ok, 0...1),
            op(2, .compareAndSwap(expected: "1", new: "2"), .ok, 2...10),
            op(1, .compareAndSwap(expected: "0", new: "1"), .ok, 3...9),
            op(0, .read, .read("2"), 11...12),
        ]))
    }

    @Test func successfulSwapOnAStaleValueIsNotLinearizable() {
        #expect(!verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .write("b"), .ok, 2...3),
            op(2, .compareAndSwap(expected: "a", new: "c"), .ok, 4...5),
        ]))
    }

    @Test func twoSwapsFromTheSameValueCannotBothSucceed() {
        #expect(!verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .compareAndSwap(expected: "a", new: "b"), .ok, 2...10),
            op(2, .compareAndSwap(expected: "a", new: "c"), .ok, 3...11),
        ]))
    }

    @Test func twoSwapsFromTheSameValueCanIfAWriteRestoredIt() {
        #expect(verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .compareAndSwap(expected: "a", new: "b"), .ok, 2...10),
            op(3, .write("a"), .ok, 4...5),
            op(2, .compareAndSwap(expected: "a", new: "c"), .ok, 3...11),
        ]))
    }

    @Test func failedSwapExplainedByAConcurrentWrite() {
        #expect(verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .compareAndSwap(expected: "a", new: "b"), .casFailed, 2...10),
            op(2, .write("z"), .ok, 3...9),
        ]))
    }

    @Test func failedSwapWithoutAnyExplanationIsNotLinearizable() {
        // The write that could explain the failure starts only after the swap returned.
        #expect(!verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .compareAndSwap(expected: "a", new: "b"), .casFailed, 2...10),
            op(2, .write("z"), .ok, 11...12),
        ]))
    }

    @Test func failedSwapChangesNothing() {
        #expect(!verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .compareAndSwap(expected: "x", new: "b"), .casFailed, 2...3),
            op(2, .read, .read("b"), 4...5),
        ]))
    }

    @Test func absentKeyAnswersNotFound() {
        #expect(verdict([
            op(0, .read, .read(nil), 0...1),
            op(0, .compareAndSwap(expected: "a", new: "b"), .notFound, 2...3),
            op(0, .delete, .notFound, 4...5),
            op(0, .read, .notFound, 6...7),
        ]))
        #expect(!verdict([op(0, .compareAndSwap(expected: "a", new: "b"), .casFailed, 0...1)]))
        #expect(!verdict([op(0, .delete, .ok, 0...1)]))
    }

    @Test func deleteMakesTheKeyAbsent() {
        #expect(verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .delete, .ok, 2...3),
            op(2, .read, .read(nil), 4...5),
            op(2, .compareAndSwap(expected: "a", new: "b"), .notFound, 6...7),
        ]))
        #expect(!verdict([
            op(0, .write("a"), .ok, 0...1),
            op(1, .delete, .ok, 2...3),
            op(2, .read, .read("a"), 4...5),
        ]))
    }

    @Test func concurrentDeletesOnlyOneSucceeds() {
        let history: [CASOperation] = [
            op(0, .write("a"), .ok, 0...1),
            op(1, .delete, .ok, 2...5),
            op(2, .delete, .notFound, 3...6),
        ]
        #expect(verdict(history))
        var bothSucceed = history
        bothSucceed[2].output = .ok
        #expect(!verdict(bothSucceed))
    }

    @Test func pendingSwapCanExplainARead() {
        #expect(verdict([
            op(0, .write("a"), .ok, 0...1),
            pending(1, .compareAndSwap(expected: "a", new: "b"), at: 2),
            op(2, .read, .read("b"), 5...6),
        ]))
    }

    @Test func pendingSwapWhoseComparisonFailsCannotExplainARead() {
        #expect(!verdict([
            op(0, .write("a"), .ok, 0...1),
            pending(1, .compareAndSwap(expected: "x", new: "b"), at: 2),
            op(2, .read, .read("b"), 5...6),
        ]))
    }

    @Test func pendingDeleteMayOrMayNotHaveHappened() {
        #expect(verdict([
            op(0, .write("a"), .ok, 0...1),
            pending(1, .delete, at: 2),
            op(2, .read, .read("a"), 3...4),
            op(2, .read, .read(nil), 5...6),
        ]))
        #expect(verdict([
            op(0, .write("a"), .ok, 0...1),
            pending(1, .delete, at: 2),
            op(2, .read, .read("a"), 3...4),
        ]))
    }
}
