import Linearizability
import Testing

/// A register whose writes may land as either of two values, to exercise models with several next states.
private struct EitherRegisterModel: Model {
    enum Input: Hashable, CustomStringConvertible {
        case read
        case writeEither(String, String)

        var description: String {
            switch self {
            case .read: "read"
            case .writeEither(let a, let b): "writeEither(\(a), \(b))"
            }
        }
    }

    var initial: String? { nil }

    func step(_ state: String?, _ input: Input, _ output: String??) -> [String?] {
        switch input {
        case .read:
            guard let seen = output else { return [state] }
            return seen == state ? [state] : []
        case .writeEither(let a, let b):
            return [a, b]
        }
    }
}

/// Checks `Base` as one object, ignoring its partition, to compare against the per-key search.
private struct Unpartitioned<Base: Model>: Model {
    let base: Base
    var initial: Base.State { base.initial }

    func step(_ state: Base.State, _ input: Base.Input, _ output: Base.Output?) -> [Base.State] {
        base.step(state, input, output)
    }
}

@Suite("Models, keys and partitions")
struct ModelTests {
    @Test func nondeterministicStepTriesEveryNextState() throws {
        // The first next state (x) fails at the read of y; the search must come back and try y.
        let model = EitherRegisterModel()
        let history: [Operation<EitherRegisterModel.Input, String?>] = [
            op(0, .writeEither("x", "y"), nil, 0...1),
            op(1, .read, "y", 2...3),
        ]
        let result = Linearizability.check(model, history)
        guard case .linearizable(let order) = result else { throw Failure("got \(result)") }
        #expect(order == [0, 1])
        var impossible = history
        impossible[1].output = "z"
        #expect(!Linearizability.check(model, impossible).isLinearizable)
    }

    @Test func keyedStateForgetsKeysBackAtTheirInitialValue() {
        // One representation per state, or the search's cache would miss equal states.
        let model = KeyedModel(CASRegisterModel())
        #expect(model.step(["a": "x"], KeyedInput(key: "a", .delete), .ok) == [[:]])
        #expect(model.step([:], KeyedInput(key: "a", .write("x")), .ok) == [["a": "x"]])
        #expect(model.step(["a": "x"], KeyedInput(key: "b", .read), .read(nil)) == [["a": "x"]])
        #expect(model.step(["a": "x"], KeyedInput(key: "a", .read), .read("y")).isEmpty)
    }

    @Test func keyedPartitionGroupsByKeyInOrderOfFirstUse() {
        let history: [KeyedCASOperation] = [
            op(0, KeyedInput(key: "b", .read), .read(nil), 0...1),
            op(0, KeyedInput(key: "a", .read), .read(nil), 2...3),
            op(1, KeyedInput(key: "b", .write("x")), .ok, 4...5),
        ]
        #expect(KeyedModel(CASRegisterModel()).partition(history) == [
            Partition(label: #"key "b""#, operations: [0, 2]),
            Partition(label: #"key "a""#, operations: [1]),
        ])
        #expect(CASRegisterModel().partition(unkeyed(history)) == [Partition(label: "history", operations: [0, 1, 2])])
    }

    @Test func mergedOrderRespectsRealTimeAcrossKeys() throws {
        let model = KeyedModel(RegisterModel())
        let history: [Operation<KeyedInput<RegisterModel.Input>, RegisterModel.Output>] = [
            op(0, KeyedInput(key: "a", .write("1")), .ok, 0...1),
            op(1, KeyedInput(key: "b", .write("2")), .ok, 2...3),
            op(2, KeyedInput(key: "a", .read), .read("1"), 4...5),
            op(0, KeyedInput(key: "b", .read), .read("2"), 6...9),
            op(1, KeyedInput(key: "a", .write("3")), .ok, 7...8),
        ]
        let result = Linearizability.check(model, history)
        guard case .linearizable(let order) = result else { throw Failure("got \(result)") }
        #expect(order == [0, 1, 2, 3, 4])
        #expect(linearizationProblem(order, of: history, model: model) == nil)
    }

    @Test(arguments: Array(0..<20) as [UInt64])
    func partitioningByKeyDoesNotChangeTheVerdict(seed: UInt64) throws {
        // Locality (Herlihy & Wing): per-key verdicts agree with checking all keys as one object.
        let shape = HistoryShape(clients: 3, operations: 30, keys: ["a", "b", "c"])
        let history = generateHistory(seed: seed, shape: shape, workload: Workloads.casRegister(values: shape.values))
        let (broken, _) = try #require(
            withImpossibleRead(history, seed: seed, impossible: .read("never")) { $0.input == .read }
        )
        let keyed = KeyedModel(CASRegisterModel())
        for candidate in [history, broken] {
            let split = Linearizability.check(keyed, candidate, timeout: .seconds(60))
            let whole = Linearizability.check(Unpartitioned(base: keyed), candidate, timeout: .seconds(60))
            #expect(split.isLinearizable == whole.isLinearizable, "seed \(seed)")
            #expect(split.isLinearizable == (candidate == history), "seed \(seed)")
        }
    }
}
