import SeededRandom
import Linearizability

/// Picks an operation for a register holding `state` and returns it with the true answer and the new value.
typealias Workload<Input, Output> = (inout SplitMix64, String?) -> (input: Input, output: Output, next: String?)

struct HistoryShape {
    var clients = 4
    var operations = 40
    var keys = ["k"]
    var values = ["a", "b", "c"]
    /// Chance that an operation never gets its answer (the client is then replaced, as in Jepsen).
    var crashPercent = 5
    /// How far a call may precede, and a return follow, the operation's linearization point.
    var maxLatency: UInt64 = 300
}

/// A history that is linearizable by construction: a sequential register per key runs the operations in
/// order, the i-th taking effect at time `100 * (i + 1)`; then each operation gets a random interval around
/// that point which stays after its client's previous return, so the intervals overlap the way concurrent
/// clients' do. A crashed operation keeps only its call, and took effect at its point or not at all.
func generateHistory<Input, Output>(
    seed: UInt64,
    shape: HistoryShape,
    workload: Workload<Input, Output>
) -> [Operation<KeyedInput<Input>, Output>] {
    var random = SplitMix64(seed: seed)
    // One slot per concurrent client: who it currently is and when it may next call.
    var slots = (0..<shape.clients).map { (client: $0, free: UInt64(0)) }
    var nextClient = shape.clients
    var registers: [String: String] = [:]
    var history: [Operation<KeyedInput<Input>, Output>] = []
    var point: UInt64 = 0
    while history.count < shape.operations {
        point += 100
        let idle = slots.indices.filter { slots[$0].free <= point }
        guard !idle.isEmpty else { continue }
        let slot = idle[random.below(idle.count)]
        let key = shape.keys[random.below(shape.keys.count)]
        let (input, output, next) = workload(&random, registers[key])
        let earliest = max(slots[slot].free, point > shape.maxLatency ? point - shape.maxLatency : 0)
        let call = random.within(earliest...point)
        let end = random.within(point...(point + shape.maxLatency))
        var operation = Operation<KeyedInput<Input>, Output>(
            client: slots[slot].client, input: KeyedInput(key: key, input), call: call, output: output, return: end
        )
        if random.percent(shape.crashPercent) {
            operation.output = nil
            // Sometimes the client saw a timeout; the stamp must not stop the write from landing later.
            if random.percent(50) { operation.return = nil }
            if random.percent(50) { registers[key] = next }
            slots[slot] = (client: nextClient, free: point + 1)
            nextClient += 1
        } else {
            registers[key] = next
            slots[slot].free = end + 1
        }
        history.append(operation)
    }
    return history
}

/// The same history addressed to a single, unnamed register.
func unkeyed<Input, Output>(_ history: [Operation<KeyedInput<Input>, Output>]) -> [Operation<Input, Output>] {
    history.map { Operation(client: $0.client, input: $0.input.input, call: $0.call, output: $0.output, return: $0.return) }
}

enum Workloads {
    static func register(values: [String]) -> Workload<RegisterModel.Input, RegisterModel.Output> {
        { random, state in
            if random.percent(40) { return (.read, .read(state), state) }
            let value = values[random.below(values.count)]
            return (.write(value), .ok, value)
        }
    }

    static func casRegister(values: [String]) -> Workload<CASRegisterModel.Input, CASRegisterModel.Output> {
        { random, state in
            let value = values[random.below(values.count)]
            switch random.below(100) {
            case ..<30:
                return (.read, .read(state), state)
            case ..<55:
                return (.write(value), .ok, value)
            case ..<85:
                // Usually guess right, so that successful swaps are common.
                let expected = random.percent(60) ? state ?? value : values[random.below(values.count)]
                let input = CASRegisterModel.Input.compareAndSwap(expected: expected, new: value)
                guard let current = state else { return (input, .notFound, nil) }
                return current == expected ? (input, .ok, value) : (input, .casFailed, current)
            default:
                return (.delete, state == nil ? .notFound : .ok, nil)
            }
        }
    }
}

/// Replaces one answered read's value (chosen by `seed`) with one that was never written; nil if there is
/// no answered read.
func withImpossibleRead<Input, Output>(
    _ history: [Operation<Input, Output>],
    seed: UInt64,
    impossible: Output,
    isRead: (Input) -> Bool
) -> (history: [Operation<Input, Output>], mutated: Int)? {
    let reads = history.indices.filter { isRead(history[$0].input) && !history[$0].isPending }
    guard !reads.isEmpty else { return nil }
    var random = SplitMix64(seed: seed ^ 0x5EED)
    let index = reads[random.below(reads.count)]
    var mutated = history
    mutated[index].output = impossible
    return (mutated, index)
}
