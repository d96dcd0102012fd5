/// A sequential specification: what one copy of the object may do, one operation at a time.
///
/// `step` returns every state the object may be in after applying `input` to `state` *if* `output` is what it
/// could have answered, and nothing if the answer is impossible. Several states model nondeterminism; a nil
/// `output` (an operation whose answer was never seen) must accept every outcome.
public protocol Model {
    associatedtype State: Hashable
    associatedtype Input
    associatedtype Output

    var initial: State { get }
    func step(_ state: State, _ input: Input, _ output: Output?) -> [State]

    /// Splits a history into independently checkable parts (P-compositionality, Horn & Kroening 2015): a
    /// history is linearizable iff every part is, and each part is searched on its own, which turns one
    /// exponential search into several small ones. Operations left out of every part are not checked.
    func partition(_ operations: [Operation<Input, Output>]) -> [Partition]

    /// True when `input` never changes the state, whatever the answer. A pending read-only operation can
    /// be dropped before the search: it could take effect anywhere or nowhere without anyone noticing, and
    /// every pending operation kept doubles the worst-case search.
    func isReadOnly(_ input: Input) -> Bool

    /// How a state is shown in a counterexample.
    func describe(_ state: State) -> String
}

/// A part of a history checked on its own; `operations` are indices into the history.
public struct Partition: Hashable, Sendable {
    /// Names the part in a counterexample, e.g. `key "a"`.
    public var label: String
    public var operations: [Int]

    public init(label: String, operations: [Int]) {
        self.label = label
        self.operations = operations
    }
}

extension Model {
    /// The whole history is one object.
    public func partition(_ operations: [Operation<Input, Output>]) -> [Partition] {
        [Partition(label: "history", operations: Array(operations.indices))]
    }

    public func isReadOnly(_ input: Input) -> Bool { false }

    public func describe(_ state: State) -> String { String(describing: state) }
}
