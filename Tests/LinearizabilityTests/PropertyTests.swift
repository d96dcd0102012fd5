import Linearizability
import Testing

/// Randomized histories, linearizable by construction (see `generateHistory`), and the same histories with
/// one read's answer replaced by a value no one wrote, which no interleaving can explain. Every seed is a
/// separate test case, so a failure names its seed.
@Suite("Generated histories")
struct PropertyTests {
    static let seeds = Array(0..<150) as [UInt64]
    /// Far more than any of these needs; it only keeps a regression from hanging the run.
    static let timeout = Duration.seconds(60)

    private static func expectLinearizable<M: Model>(
        _ model: M,
        _ history: [Operation<M.Input, M.Output>],
        seed: UInt64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let result = Linearizability.check(model, history, timeout: timeout)
        guard case .linearizable(let order) = result else {
            Issue.record("seed \(seed): expected linearizable, got \(result)", sourceLocation: sourceLocation)
            return
        }
        let problem = linearizationProblem(order, of: history, model: model)
        #expect(problem == nil, "seed \(seed)", sourceLocation: sourceLocation)
    }

    /// One to six clients and 20 to 59 operations on a single key, varying with the seed.
    private static func singleKey(seed: UInt64) -> HistoryShape {
        HistoryShape(clients: 1 + Int(seed % 6), operations: 20 + Int(seed % 40))
    }

    private static func registerHistory(seed: UInt64) -> [RegisterOperation] {
        let shape = singleKey(seed: seed)
        return unkeyed(generateHistory(seed: seed, shape: shape, workload: Workloads.register(values: shape.values)))
    }

    private static func casHistory(seed: UInt64) -> [CASOperation] {
        let shape = singleKey(seed: seed)
        return unkeyed(generateHistory(seed: seed, shape: shape, workload: Workloads.casRegister(values: shape.values)))
    }

    /// What a counterexample must get right whatever path the search took: its prefix is a real partial
    /// linearization, the read no state explains is not in it, and nothing it lists as unplaced fits.
    private static func expectSound<M: Model>(
        _ counterexample: Counterexample<M.Input, M.Output>,
        of history: [Operation<M.Input, M.Output>],
        model: M,
        impossible: Int,
        seed: UInt64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let problem = linearizationProblem(counterexample.prefix, of: history, model: model, complete: false)
        #expect(problem == nil, "seed \(seed)", sourceLocation: sourceLocation)
        #expect(!counterexample.prefix.contains(impossible), "seed \(seed)", sourceLocation: sourceLocation)
        #expect(!counterexample.unplaced.isEmpty, "seed \(seed)", sourceLocation: sourceLocation)
        #expect(counterexample.unplaced.contains(counterexample.boundary), "seed \(seed)", sourceLocation: sourceLocation)
        var states: Set<M.State> = [model.initial]
        for index in counterexample.prefix {
            states = Set(states.flatMap { model.step($0, history[index].input, history[index].output) })
        }
        for index in counterexample.unplaced {
            let fits = states.contains { !model.step($0, history[index].input, history[index].output).isEmpty }
            #expect(!fits, "seed \(seed): operation \(index) fits after the prefix", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: seeds)
    func generatedRegisterHistoriesAreLinearizable(seed: UInt64) {
        let history = Self.registerHistory(seed: seed)
        Self.expectLinearizable(RegisterModel(), history, seed: seed)
    }

    @Test(arguments: seeds)
    func registerReadOfANeverWrittenValueIsCaught(seed: UInt64) throws {
        let history = Self.registerHistory(seed: seed)
        let (broken, mutated) = try #require(
            withImpossibleRead(history, seed: seed, impossible: .read("never")) { $0 == .read }
        )
        let result = Linearizability.check(RegisterModel(), broken, timeout: Self.timeout)
        let counterexample = try #require(result.counterexample, "seed \(seed): expected a violation, got \(result)")
        Self.expectSound(counterexample, of: broken, model: RegisterModel(), impossible: mutated, seed: seed)
    }

    @Test(arguments: seeds)
    func generatedCASHistoriesAreLinearizable(seed: UInt64) {
        let history = Self.casHistory(seed: seed)
        Self.expectLinearizable(CASRegisterModel(), history, seed: seed)
    }

    @Test(arguments: seeds)
    func casReadOfANeverWrittenValueIsCaught(seed: UInt64) throws {
        let history = Self.casHistory(seed: seed)
        let (broken, mutated) = try #require(
            withImpossibleRead(history, seed: seed, impossible: .read("never")) { $0 == .read }
        )
        let result = Linearizability.check(CASRegisterModel(), broken, timeout: Self.timeout)
        let counterexample = try #require(result.counterexample, "seed \(seed): expected a violation, got \(result)")
        Self.expectSound(counterexample, of: broken, model: CASRegisterModel(), impossible: mutated, seed: seed)
    }

    @Test(arguments: Array(0..<50) as [UInt64])
    func generatedKeyedHistoriesAreLinearizable(seed: UInt64) {
        let shape = HistoryShape(clients: 6, operations: 150, keys: ["a", "b", "c", "d"])
        let history = generateHistory(seed: seed, shape: shape, workload: Workloads.casRegister(values: shape.values))
        let model = KeyedModel(CASRegisterModel())
        // The merged order is checked against the keyed model as one object, so it must respect real time
        // across keys as well as within each.
        Self.expectLinearizable(model, history, seed: seed)
    }

    @Test(arguments: Array(0..<50) as [UInt64])
    func keyedViolationIsReportedOnItsKey(seed: UInt64) throws {
        let shape = HistoryShape(clients: 6, operations: 150, keys: ["a", "b", "c", "d"])
        let history = generateHistory(seed: seed, shape: shape, workload: Workloads.casRegister(values: shape.values))
        let (broken, mutated) = try #require(
            withImpossibleRead(history, seed: seed, impossible: .read("never")) { $0.input == .read }
        )
        let result = Linearizability.check(KeyedModel(CASRegisterModel()), broken, timeout: Self.timeout)
        let counterexample = try #require(result.counterexample, "seed \(seed): expected a violation, got \(result)")
        #expect(counterexample.partition == "key \(String(reflecting: broken[mutated].input.key))", "seed \(seed)")
        Self.expectSound(counterexample, of: broken, model: KeyedModel(CASRegisterModel()), impossible: mutated, seed: seed)
    }

    @Test(.timeLimit(.minutes(2)))
    func eightClientsOnFourKeysCheckInBoundedTime() {
        // 8 clients × 300 operations across 4 keys, about 600 operations per key.
        let shape = HistoryShape(clients: 8, operations: 8 * 300, keys: ["a", "b", "c", "d"], crashPercent: 1)
        let history = generateHistory(seed: 2024, shape: shape, workload: Workloads.casRegister(values: shape.values))
        let model = KeyedModel(CASRegisterModel())
        let result = Linearizability.check(model, history, timeout: .seconds(60))
        if case .unknown = result { Issue.record("timed out") }
        guard case .linearizable(let order) = result else {
            Issue.record("expected linearizable, got \(result)")
            return
        }
        #expect(linearizationProblem(order, of: history, model: model) == nil)
    }
}
