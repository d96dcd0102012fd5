/// A point-in-time image of the applied state machine up to and including `index` (whose term is `term`).
public struct Snapshot: Equatable, Sendable {
    public var index: UInt64
    public var term: UInt64
    public var data: [UInt8]

    public init(index: UInt64, term: UInt64, data: [UInt8]) {
        self.index = index
        self.term = term
        self.data = data
    }
}
