/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, and the same sequence on every platform, so a
/// simulation or a randomized test that fails can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// A value in `0..<bound` (`bound` > 0). Modulo bias is irrelevant at test and simulation sizes.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// A value in `range`.
    public mutating func within(_ range: ClosedRange<UInt64>) -> UInt64 {
        range.lowerBound + next() % (range.upperBound - range.lowerBound + 1)
    }

    /// True with probability `chance`/100.
    public mutating func percent(_ chance: Int) -> Bool { below(100) < chance }

    /// One of `items` (non-empty).
    public mutating func element<T>(_ items: [T]) -> T { items[below(items.count)] }
}
