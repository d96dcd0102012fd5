import Linearizability
import Testing

@Suite("Counterexamples and rendering")
struct CounterexampleTests {
    @Test func operationRendersClientInputOutputAndInterval() {
        let done: RegisterOperation = op(3, .write("x"), .ok, 12...19)
        #expect(done.description == #"client 3: write("x") -> ok [call 12, return 19]"#)
        let read: CASOperation = op(1, .read, .read(nil), 4...5)
        #expect(read.description == "client 1: read -> absent [call 4, return 5]")
        let swap: CASOperation = pending(2, .compareAndSwap(expected: "a", new: "b"), at: 7)
        #expect(swap.description == #"client 2: compareAndSwap("a", "b") -> ? [call 7, pending]"#)
        let keyed: KeyedCASOperation = op(0, KeyedInput(key: "k", .delete), .notFound, 1...2)
        #expect(keyed.description == "client 0: [k] delete -> notFound [call 1, return 2]")
    }

    @Test func readOfOverwrittenValueIsExplained() throws {
        let history: [RegisterOperation] = [
            op(0, .write("x"), .ok, 0...1),
            op(1, .write("y"), .ok, 2...3),
            op(2, .read, .read("x"), 4...5),
        ]
        let counterexample = try #require(Linearizability.check(RegisterModel(), history).counterexample)
        #expect(counterexample.partition == "history")
        #expect(counterexample.prefix == [0, 1])
        #expect(counterexample.state == #""y""#)
        #expect(counterexample.boundary == 2)
        #expect(counterexample.unplaced == [2])
        #expect(counterexample.description == #"""
            history: not linearizable (3 operations)
            longest linearizable prefix (2 operations), ending in state "y":
              client 0: write("x") -> ok [call 0, return 1]
              client 1: write("y") -> ok [call 2, return 3]
            next, one of these had to take effect before client 2 returned at 5, but none fits state "y":
              client 2: read -> "x" [call 4, return 5]
            """#)
    }

    @Test func impossibleFirstOperationHasAnEmptyPrefix() throws {
        let history: [CASOperation] = [
            op(0, .compareAndSwap(expected: "a", new: "b"), .ok, 0...1),
            op(1, .write("a"), .ok, 2...3),
        ]
        let counterexample = try #require(Linearizability.check(CASRegisterModel(), history).counterexample)
        #expect(counterexample.description == #"""
            history: not linearizable (2 operations)
            no operation can be linearized first, from the initial state absent
            next, one of these had to take effect before client 0 returned at 1, but none fits state absent:
              client 0: compareAndSwap("a", "b") -> ok [call 0, return 1]
            """#)
    }

    @Test func concurrentCandidatesAreAllListed() throws {
        // After x and then y, neither read fits, and both were called before the first of them returned.
        let history: [RegisterOperation] = [
            op(0, .write("x"), .ok, 0...1),
            op(0, .write("y"), .ok, 2...3),
            op(1, .read, .read("z"), 4...8),
            op(2, .read, .read("x"), 5...6),
        ]
        let counterexample = try #require(Linearizability.check(RegisterModel(), history).counterexample)
        #expect(counterexample.prefix == [0, 1])
        #expect(counterexample.boundary == 3)
        #expect(counterexample.unplaced == [2, 3])
    }

    @Test func pendingOperationsUsedInThePrefixAreShown() throws {
        let history: [RegisterOperation] = [
            pending(0, .write("x"), at: 0),
            op(1, .read, .read("x"), 1...2),
            op(1, .write("y"), .ok, 3...4),
            op(2, .read, .read("x"), 5...6),
        ]
        let counterexample = try #require(Linearizability.check(RegisterModel(), history).counterexample)
        #expect(counterexample.prefix == [0, 1, 2])
        #expect(counterexample.description.contains(#"client 0: write("x") -> ? [call 0, pending]"#))
    }

    @Test func keyedCounterexampleNamesTheKey() throws {
        let history: [KeyedCASOperation] = [
            op(0, KeyedInput(key: "a", .write("1")), .ok, 0...1),
            op(1, KeyedInput(key: "b", .write("1")), .ok, 2...3),
            op(2, KeyedInput(key: "a", .read), .read("1"), 4...5),
            op(2, KeyedInput(key: "b", .compareAndSwap(expected: "2", new: "3")), .ok, 6...7),
        ]
        let counterexample = try #require(Linearizability.check(KeyedModel(CASRegisterModel()), history).counterexample)
        #expect(counterexample.partition == #"key "b""#)
        #expect(counterexample.partitionSize == 2)
        #expect(counterexample.prefix == [1])
        #expect(counterexample.unplaced == [3])
        #expect(counterexample.description.hasPrefix(#"key "b": not linearizable (2 operations)"#))
        #expect(counterexample.description.contains(#"ending in state "1":"#))
    }

    @Test func longPrefixShowsOnlyItsEnd() throws {
        var history: [RegisterOperation] = (0..<30).map { op(0, .write("v\($0)"), .ok, UInt64(2 * $0)...UInt64(2 * $0 + 1)) }
        history.append(op(1, .read, .read("v0"), 60...61))
        let counterexample = try #require(Linearizability.check(RegisterModel(), history).counterexample)
        #expect(counterexample.prefix == Array(0..<30))
        let lines = counterexample.description.split(separator: "\n")
        #expect(lines.count == 2 + 1 + 20 + 2)
        #expect(lines[2] == "  … 10 operations before these")
        #expect(lines[3] == #"  client 0: write("v10") -> ok [call 20, return 21]"#)
    }
}
