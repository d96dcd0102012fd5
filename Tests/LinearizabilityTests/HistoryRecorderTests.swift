import SeededRandom
import Linearizability
import Synchronization
import Testing

@Suite("History recorder")
struct HistoryRecorderTests {
    @Test func stampsFollowTheOrderOfEvents() {
        let recorder = HistoryRecorder<RegisterModel.Input, RegisterModel.Output>()
        let first = recorder.invoke(client: 0, input: .write("x"))
        let second = recorder.invoke(client: 1, input: .read)
        recorder.complete(second, output: .read(nil))
        recorder.complete(first, output: .ok)
        let third = recorder.invoke(client: 1, input: .read)
        _ = recorder.invoke(client: 2, input: .write("y"))
        recorder.complete(third, output: .read("x"))
        #expect(recorder.history == [
            op(0, .write("x"), .ok, 1...4),
            op(1, .read, .read(nil), 2...3),
            op(1, .read, .read("x"), 5...7),
            pending(2, .write("y"), at: 6),
        ])
    }

    @Test func failedOperationsAreLeftOut() {
        let recorder = HistoryRecorder<RegisterModel.Input, RegisterModel.Output>()
        let refused = recorder.invoke(client: 0, input: .write("x"))
        recorder.fail(refused)
        let read = recorder.invoke(client: 1, input: .read)
        recorder.complete(read, output: .read(nil))
        #expect(recorder.history == [op(1, .read, .read(nil), 2...3)])
    }

    @Test func concurrentClientsOfAnAtomicRegisterAreLinearizable() async throws {
        // The register behind a lock is linearizable whatever the interleaving, so the verdict is fixed
        // even though the schedule is not; a crashed client leaves one write pending.
        let recorder = HistoryRecorder<CASRegisterModel.Input, CASRegisterModel.Output>()
        let register = AtomicRegister()
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<4 {
                group.addTask {
                    var random = SplitMix64(seed: UInt64(client))
                    for _ in 0..<100 {
                        let input = Self.randomInput(&random, client: client)
                        let id = recorder.invoke(client: client, input: input)
                        let output = register.apply(input)
                        recorder.complete(id, output: output)
                    }
                    _ = recorder.invoke(client: client, input: .write("lost \(client)"))
                }
            }
        }
        let history = recorder.history
        #expect(history.count == 404)
        #expect(history.count(where: \.isPending) == 4)
        let result = Linearizability.check(CASRegisterModel(), history, timeout: .seconds(60))
        guard case .linearizable(let order) = result else { throw Failure("got \(result)") }
        #expect(linearizationProblem(order, of: history, model: CASRegisterModel()) == nil)
    }

    private static func randomInput(_ random: inout SplitMix64, client: Int) -> CASRegisterModel.Input {
        let value = "\(client).\(random.below(3))"
        switch random.below(4) {
        case 0: return .read
        case 1: return .write(value)
        case 2: return .compareAndSwap(expected: "\(random.below(4)).\(random.below(3))", new: value)
        default: return .delete
        }
    }
}

/// The system under test: an etcd-like key held behind a lock, so linearizable by construction.
private final class AtomicRegister: Sendable {
    private let value = Mutex<String?>(nil)

    func apply(_ input: CASRegisterModel.Input) -> CASRegisterModel.Output {
        value.withLock { value in
            switch input {
            case .read:
                return .read(value)
            case .write(let new):
                value = new
                return .ok
            case .compareAndSwap(let expected, let new):
                guard let current = value else { return .notFound }
                guard current == expected else { return .casFailed }
                value = new
                return .ok
            case .delete:
                guard value != nil else { return .notFound }
                value = nil
                return .ok
            }
        }
    }
}
