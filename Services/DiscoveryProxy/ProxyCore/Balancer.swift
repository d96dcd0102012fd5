/// One instance as a balancer sees it at the moment of a pick.
public struct BalancerCandidate: Hashable, Sendable {
    /// Stable identity of the instance across picks (the caller's index into its instance table, say).
    /// Unique within one call.
    public var id: Int
    /// Values below 1 count as 1: a weight of zero is a configuration mistake, not "never pick".
    public var weight: Int
    /// Requests or connections currently in flight to it (least-connections only).
    public var active: Int

    public init(id: Int, weight: Int = 1, active: Int = 0) {
        self.id = id
        self.weight = weight
        self.active = active
    }

    var effectiveWeight: Int { max(1, weight) }
}

/// nginx's smooth weighted round robin (`ngx_http_upstream_get_peer`): every pick adds each candidate's
/// weight to its current weight, takes the largest, and subtracts the total from the winner. Weights 5,1,1
/// give `a a b a c a a`: the heavy instance's turns are spread out instead of bunched.
///
/// State is kept per candidate id, so the caller may pass a different set each time (instances come and go,
/// get ejected); ids absent from a call are forgotten. Equal current weights go to the lower id, which makes
/// equal weights plain round robin in id order, whatever order the candidates arrive in.
public struct SmoothWeightedRoundRobin: Sendable {
    private var current: [Int: Int] = [:]

    public init() {}

    /// The index into `candidates` of the one to use, `nil` when there are none.
    public mutating func pick(_ candidates: [BalancerCandidate]) -> Int? {
        guard !candidates.isEmpty else {
            current = [:]
            return nil
        }
        var next = [Int: Int](minimumCapacity: candidates.count)
        var total = 0
        var best = 0
        var bestWeight = Int.min
        for (index, candidate) in candidates.enumerated() {
            let weight = candidate.effectiveWeight
            let value = (current[candidate.id] ?? 0) + weight
            next[candidate.id] = value
            total += weight
            if value > bestWeight || (value == bestWeight && candidate.id < candidates[best].id) {
                best = index
                bestWeight = value
            }
        }
        next[candidates[best].id, default: 0] -= total
        current = next
        return best
    }
}

/// The candidate with the fewest in-flight requests per unit of weight (`active / weight`, compared by
/// cross-multiplication so no floating point decides anything). Ties rotate: the tied candidate with the
/// next id after the previous pick wins, so equally loaded instances (the idle case) share work evenly
/// instead of the first one taking everything.
public struct LeastConnections: Sendable {
    private var lastPicked: Int?

    public init() {}

    public mutating func pick(_ candidates: [BalancerCandidate]) -> Int? {
        guard !candidates.isEmpty else { return nil }
        var best = 0
        for index in candidates.indices.dropFirst() {
            let c = candidates[index], b = candidates[best]
            // c.active / c.weight  vs  b.active / b.weight
            let lhs = max(0, c.active) * b.effectiveWeight
            let rhs = max(0, b.active) * c.effectiveWeight
            if lhs < rhs || (lhs == rhs && comesFirst(c.id, before: b.id)) {
                best = index
            }
        }
        lastPicked = candidates[best].id
        return best
    }

    /// Rotation order: ids after the last pick ascending, then the rest ascending.
    private func comesFirst(_ a: Int, before b: Int) -> Bool {
        guard let last = lastPicked else { return a < b }
        let aAfter = a > last, bAfter = b > last
        return aAfter != bAfter ? aAfter : a < b
    }
}

/// The policy a route or listener is configured with, and its state. Used under the caller's lock.
public struct Balancer: Sendable {
    public let policy: BalancingPolicy
    // Both kept rather than an enum with payloads: switching over `case .x(var state)` and writing back
    // would copy the state's dictionary on every pick.
    private var roundRobin = SmoothWeightedRoundRobin()
    private var leastConnections = LeastConnections()

    public init(policy: BalancingPolicy) {
        self.policy = policy
    }

    public mutating func pick(_ candidates: [BalancerCandidate]) -> Int? {
        switch policy {
        case .roundRobin: roundRobin.pick(candidates)
        case .leastConnections: leastConnections.pick(candidates)
        }
    }
}
