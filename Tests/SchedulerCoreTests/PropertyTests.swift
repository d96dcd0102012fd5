import SeededRandom
import SchedulerCore
import Testing
import UnitFile

@Suite("Invariants over seeded random clusters, and determinism")
struct PropertyTests {
    @Test("after applying a pass: constraints hold, nothing placed twice, unplaced explained, next pass is a no-op",
          arguments: 0..<UInt64(500))
    func invariants(seed: UInt64) {
        let snapshot = randomCluster(seed: seed)
        let decision = PlacementEngine.decide(snapshot)
        #expect(ScheduleChecker.actionProblems(decision, on: snapshot.schedule).isEmpty, "seed \(seed)")

        let after = snapshot.applying(decision)
        let violations = ScheduleChecker(snapshot: after).violations()
        #expect(violations.isEmpty, "seed \(seed): \(violations)")

        for (name, spec) in snapshot.units where !spec.requirements.global && spec.desiredState != .inactive {
            let placed = after.schedule[name] != nil
            let reason = decision.unplaced[name]
            #expect(placed != (reason != nil), "seed \(seed): \(name) must be placed xor have a reason")
            #expect(reason.map { !$0.isEmpty } ?? true, "seed \(seed): \(name) has an empty reason")
        }
        for name in decision.unplaced.keys {
            let spec = snapshot.units[name]
            #expect(spec != nil && spec?.requirements.global == false && spec?.desiredState != .inactive,
                    "seed \(seed): \(name) reported unplaced but is not the scheduler's to place")
        }

        let again = PlacementEngine.decide(after)
        #expect(again.actions.isEmpty, "seed \(seed): second pass acts: \(again.actions)")
        #expect(again.unplaced == decision.unplaced, "seed \(seed): reasons changed on a no-op pass")
    }

    @Test("the same snapshot twice gives the same decision", arguments: 0..<UInt64(50))
    func repeatable(seed: UInt64) {
        let snapshot = randomCluster(seed: seed)
        #expect(PlacementEngine.decide(snapshot) == PlacementEngine.decide(snapshot))
    }

    @Test("dictionary insertion order does not matter", arguments: 0..<UInt64(50))
    func insertionOrder(seed: UInt64) {
        let snapshot = randomCluster(seed: seed)
        var rng = SplitMix64(seed: ~seed)
        var shuffled = ClusterSnapshot()
        for (name, spec) in snapshot.units.shuffled(using: &rng) { shuffled.units[name] = spec }
        for (id, info) in snapshot.machines.shuffled(using: &rng) { shuffled.machines[id] = info }
        for (name, id) in snapshot.schedule.shuffled(using: &rng) { shuffled.schedule[name] = id }
        #expect(PlacementEngine.decide(shuffled) == PlacementEngine.decide(snapshot), "seed \(seed)")
    }
}
