extension Linearizability {
    /// One client operation as a fault test observed it: called at `call`, answered with `output` at `return`.
    ///
    /// Times are in any monotonic unit (`HistoryRecorder` uses a shared counter); only their order matters.
    /// Two operations overlap unless one's `return` is strictly before the other's `call`, so equal stamps count
    /// as concurrent — the permissive reading, which never reports a violation the stamps cannot prove.
    ///
    /// An operation without an `output` is *pending forever*: the request timed out or the client died, so it
    /// may have taken effect at any moment after `call` — even after the client gave up — or never. That is
    /// why a nil `output` wins over a non-nil `return`: the stamp only says when the client stopped waiting.
    public struct Operation<Input, Output> {
        public var client: Int
        public var input: Input
        public var call: UInt64
        public var output: Output?
        public var `return`: UInt64?

        public init(client: Int, input: Input, call: UInt64, output: Output? = nil, return: UInt64? = nil) {
            self.client = client
            self.input = input
            self.call = call
            self.output = output
            self.return = `return`
        }

        /// True when the checker must treat the operation as possibly never having happened.
        public var isPending: Bool { output == nil }
    }
}

/// Foundation also declares an `Operation`, and wins in files that import it; there, spell this type
/// `Linearizability.Operation` (the module's name is taken by the namespace enum, so this is the only
/// qualified spelling).
public typealias Operation<Input, Output> = Linearizability.Operation<Input, Output>

extension Linearizability.Operation: Sendable where Input: Sendable, Output: Sendable {}
extension Linearizability.Operation: Equatable where Input: Equatable, Output: Equatable {}
extension Linearizability.Operation: Hashable where Input: Hashable, Output: Hashable {}

extension Linearizability.Operation: CustomStringConvertible {
    /// `client 3: write("x") -> ok [call 12, return 19]`; a pending one reads `-> ? [call 12, pending]`.
    public var description: String {
        let answer = output.map { String(describing: $0) } ?? "?"
        let end: String
        switch (output, self.return) {
        case (.some, let stamp?): end = "return \(stamp)"
        case (.some, nil): end = "no return stamp"
        case (nil, _): end = "pending"
        }
        return "client \(client): \(input) -> \(answer) [call \(call), \(end)]"
    }
}
