/// An input addressed to one key of a store whose keys are independent copies of `Input`'s model.
public struct KeyedInput<Input> {
    public var key: String
    public var input: Input

    public init(key: String, _ input: Input) {
        self.key = key
        self.input = input
    }
}

extension KeyedInput: Sendable where Input: Sendable {}
extension KeyedInput: Equatable where Input: Equatable {}
extension KeyedInput: Hashable where Input: Hashable {}

extension KeyedInput: CustomStringConvertible {
    /// `[a] write("x")`.
    public var description: String { "[\(key)] \(input)" }
}

/// A store of independent keys, each behaving like `Base`. Its partition puts each key's operations in their
/// own part, so a history over many keys costs the sum, not the product, of the per-key searches.
public struct KeyedModel<Base: Model>: Model {
    public typealias Input = KeyedInput<Base.Input>
    public typealias Output = Base.Output
    /// Keys whose state equals `base.initial` are left out, so that every state has one representation
    /// and the checker's cache recognises it.
    public typealias State = [String: Base.State]

    public let base: Base

    public init(_ base: Base) {
        self.base = base
    }

    public var initial: State { [:] }

    public func step(_ state: State, _ input: Input, _ output: Output?) -> [State] {
        let current = state[input.key] ?? base.initial
        return base.step(current, input.input, output).map { next in
            var result = state
            result[input.key] = next == base.initial ? nil : next
            return result
        }
    }

    public func partition(_ operations: [Operation<Input, Output>]) -> [Partition] {
        var order: [String] = []
        var byKey: [String: [Int]] = [:]
        for (index, operation) in operations.enumerated() {
            let key = operation.input.key
            if byKey[key] == nil { order.append(key) }
            byKey[key, default: []].append(index)
        }
        return order.map { Partition(label: "key \(String(reflecting: $0))", operations: byKey[$0] ?? []) }
    }

    public func isReadOnly(_ input: Input) -> Bool { base.isReadOnly(input.input) }

    public func describe(_ state: State) -> String {
        // Inside one partition there is a single key, so its state alone is the useful thing to show.
        if state.isEmpty { return base.describe(base.initial) }
        if state.count == 1, let only = state.first { return base.describe(only.value) }
        return state.sorted { $0.key < $1.key }.map { "[\($0.key)] \(base.describe($0.value))" }.joined(separator: ", ")
    }
}

extension KeyedModel: Sendable where Base: Sendable {}
