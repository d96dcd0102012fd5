import ProxyCore
import Testing

/// Picks `count` times from a fixed set and returns the ids picked.
private func ids(_ pick: ([BalancerCandidate]) -> Int?, _ candidates: [BalancerCandidate], count: Int) -> [Int] {
    (0..<count).compactMap { _ in pick(candidates).map { candidates[$0].id } }
}

private func weighted(_ weights: Int...) -> [BalancerCandidate] {
    weights.enumerated().map { BalancerCandidate(id: $0.offset, weight: $0.element) }
}

@Suite("SmoothWeightedRoundRobin: nginx's smooth weighted round robin")
struct SmoothWeightedRoundRobinTests {
    @Test("weights 5,1,1 give nginx's a a b a c a a, cycle after cycle")
    func nginxSequence() {
        var rr = SmoothWeightedRoundRobin()
        let picked = ids({ rr.pick($0) }, weighted(5, 1, 1), count: 14)
        #expect(picked == [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0])
    }

    @Test("each full cycle gives every candidate exactly its weight", arguments: [
        [1], [1, 1], [3, 2, 1], [5, 1, 1], [10, 1], [7, 3, 2, 1], [100, 1, 1000],
    ])
    func exactShares(weights: [Int]) {
        var rr = SmoothWeightedRoundRobin()
        let total = weights.reduce(0, +)
        let candidates = weights.enumerated().map { BalancerCandidate(id: $0.offset, weight: $0.element) }
        for cycle in 0..<3 {
            let picked = ids({ rr.pick($0) }, candidates, count: total)
            let counts = weights.indices.map { id in picked.count(where: { $0 == id }) }
            #expect(counts == weights, "cycle \(cycle)")
        }
    }

    @Test("equal weights: plain round robin in id order, whatever order candidates arrive in")
    func equalWeights() {
        var rr = SmoothWeightedRoundRobin()
        let orders: [[Int]] = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [2, 0, 1], [1, 0, 2]]
        var picked: [Int] = []
        for order in orders {
            let candidates = order.map { BalancerCandidate(id: $0) }
            picked.append(candidates[rr.pick(candidates)!].id)
        }
        #expect(picked == [0, 1, 2, 0, 1, 2])
    }

    @Test("a joining candidate starts from zero; a departed one is forgotten")
    func changingCandidates() {
        var rr = SmoothWeightedRoundRobin()
        let a = BalancerCandidate(id: 0), b = BalancerCandidate(id: 1), c = BalancerCandidate(id: 2)
        #expect(rr.pick([a, b]) == 0)
        // current: a -1, b 1; c joins at 0 → a 0, b 2, c 1.
        #expect(rr.pick([a, b, c]).map { [a, b, c][$0].id } == 1)
        #expect(rr.pick([a, b, c]).map { [a, b, c][$0].id } == 2)
        #expect(rr.pick([a, b, c]).map { [a, b, c][$0].id } == 0)

        // heavy (id 1, weight 3) is picked and leaves owing 1; had it been remembered on return, it would
        // tie with light and lose to the lower id.
        var rr2 = SmoothWeightedRoundRobin()
        let light = BalancerCandidate(id: 0), heavy = BalancerCandidate(id: 1, weight: 3)
        #expect(rr2.pick([light, heavy]) == 1)
        #expect(rr2.pick([light]) == 0)
        #expect(rr2.pick([light, heavy]) == 1)
    }

    @Test("no candidates, and weights below 1 count as 1")
    func edges() {
        var rr = SmoothWeightedRoundRobin()
        #expect(rr.pick([]) == nil)
        let picked = ids({ rr.pick($0) }, [BalancerCandidate(id: 0, weight: 0), BalancerCandidate(id: 1, weight: -5)], count: 4)
        #expect(picked == [0, 1, 0, 1])
    }
}

@Suite("LeastConnections: fewest in flight per unit of weight, ties rotate")
struct LeastConnectionsTests {
    @Test("the least loaded wins")
    func leastLoaded() {
        var lc = LeastConnections()
        let candidates = [BalancerCandidate(id: 0, active: 5), BalancerCandidate(id: 1, active: 2),
                          BalancerCandidate(id: 2, active: 7)]
        #expect(lc.pick(candidates) == 1)
        #expect(lc.pick(candidates) == 1)
        #expect(lc.pick([]) == nil)
    }

    @Test("idle instances take turns instead of the first taking everything")
    func tiesRotate() {
        var lc = LeastConnections()
        let picked = ids({ lc.pick($0) }, (0..<3).map { BalancerCandidate(id: $0) }, count: 7)
        #expect(picked == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test("rotation follows ids, not the order candidates arrive in")
    func rotationByID() {
        var lc = LeastConnections()
        var picked: [Int] = []
        for order in [[2, 0, 1], [1, 2, 0], [0, 1, 2], [2, 1, 0]] {
            let candidates = order.map { BalancerCandidate(id: $0) }
            picked.append(candidates[lc.pick(candidates)!].id)
        }
        #expect(picked == [0, 1, 2, 0])
    }

    @Test("requests that stay in flight spread evenly")
    func evenSpread() {
        var lc = LeastConnections()
        var candidates = (0..<4).map { BalancerCandidate(id: $0) }
        for _ in 0..<12 {
            let i = lc.pick(candidates)!
            candidates[i].active += 1
        }
        #expect(candidates.map(\.active) == [3, 3, 3, 3])
    }

    @Test("weight scales the share: weights 3,1 get 6 and 2 of 8 long requests")
    func weighted() {
        var lc = LeastConnections()
        var candidates = [BalancerCandidate(id: 0, weight: 3), BalancerCandidate(id: 1, weight: 1)]
        var picked: [Int] = []
        for _ in 0..<8 {
            let i = lc.pick(candidates)!
            picked.append(candidates[i].id)
            candidates[i].active += 1
        }
        #expect(picked == [0, 1, 0, 0, 1, 0, 0, 0])
        #expect(candidates.map(\.active) == [6, 2])
    }

    @Test("completions steer new requests to the instance that freed up")
    func completions() {
        var lc = LeastConnections()
        var candidates = (0..<3).map { BalancerCandidate(id: $0, active: 2) }
        candidates[2].active = 1
        #expect(lc.pick(candidates) == 2)
        candidates[2].active = 2
        candidates[0].active = 1
        #expect(lc.pick(candidates) == 0)
    }
}

@Suite("Balancer: policy dispatch")
struct BalancerTests {
    @Test("each policy behaves as its algorithm")
    func dispatch() {
        let candidates = [BalancerCandidate(id: 0, weight: 5, active: 10), BalancerCandidate(id: 1, weight: 1, active: 0)]
        var rr = Balancer(policy: .roundRobin)
        var lc = Balancer(policy: .leastConnections)
        #expect(rr.policy == .roundRobin)
        #expect(rr.pick(candidates) == 0)
        #expect(lc.pick(candidates) == 1)
        #expect(rr.pick([]) == nil)
        #expect(lc.pick([]) == nil)
    }

    @Test("policies by configuration name")
    func names() {
        #expect(BalancingPolicy.allCases.map(\.rawValue) == ["round-robin", "least-connections"])
    }
}
