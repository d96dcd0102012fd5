import SchedulerCore
import Testing

@Suite("Conflicts (symmetric, globs) and Global units")
struct ConflictsAndGlobalsTests {
    static let cases: [PlacementCase] = [
        PlacementCase(name: "instances of a template that conflict with each other",
                      snapshot: cluster((1...4).map { unit("web@\($0).service", conflicts: ["web@*.service"]) }, machines(3)),
                      placed: ["web@1.service": "m1", "web@2.service": "m2", "web@3.service": "m3"],
                      unplaced: ["web@4.service": "every machine runs a conflicting unit (Conflicts web@*.service)"]),
        PlacementCase(name: "units placed in one pass honour each other's Conflicts",
                      snapshot: cluster([unit("a.service", conflicts: ["b.service"]), unit("b.service")], machines(1)),
                      placed: ["a.service": "m1"],
                      unplaced: ["b.service": "every machine runs a conflicting unit (Conflicts b.service)"]),
        PlacementCase(name: "a unit without Conflicts is kept away by another's",
                      snapshot: cluster([unit("a.service"), unit("b.service", conflicts: ["a.*"])], machines(2),
                                        schedule: ["b.service": "m2"]),
                      placed: ["a.service": "m1"]),
        PlacementCase(name: "a global's Conflicts keeps units off every machine it runs on",
                      snapshot: cluster([unit("guard.service", global: true, conflicts: ["batch*"]), unit("batch-1.service")],
                                        machines(2)),
                      unplaced: ["batch-1.service": "every machine runs a conflicting unit (Conflicts batch*)"]),
        PlacementCase(name: "a unit's Conflicts matching a global",
                      snapshot: cluster([unit("guard.service", global: true, metadata: ["role": ["edge"]]),
                                         unit("u.service", conflicts: ["guard.service"])],
                                        [machine("m1", ["role": "edge"]), machine("m2")]),
                      placed: ["u.service": "m2"]),
        PlacementCase(name: "scheduled units that conflict: the first by name gives way",
                      snapshot: cluster([unit("a.service", conflicts: ["b.service"]), unit("b.service")], machines(2),
                                        schedule: ["a.service": "m1", "b.service": "m1"]),
                      placed: ["a.service": "m2", "b.service": "m1"],
                      unscheduled: ["a.service": "target machine m1 unable to run unit: conflicts with \"b.service\" (Conflicts b.service)"]),
        PlacementCase(name: "Conflicts mixed with other blockers are counted",
                      snapshot: cluster([unit("a.service"), unit("b.service"), unit("c.service", .inactive),
                                         unit("u.service", metadata: ["disk": ["ssd"]], conflicts: ["a.service", "b.service"])],
                                        [machine("m1", ["disk": "ssd"]), machine("m2", ["disk": "ssd"]), machine("m3")],
                                        schedule: ["a.service": "m1", "b.service": "m2"]),
                      unplaced: ["u.service": "0/3 machines: 1 Conflicts a.service, 1 Conflicts b.service, 1 MachineMetadata disk=ssd"]),
        PlacementCase(name: "a glob's literal prefix selects the names it can match",
                      snapshot: cluster([unit("web@1.service"), unit("web@2.service"), unit("web@10.service"),
                                         unit("u.service", conflicts: ["web@1*"])], machines(3),
                                        schedule: ["web@1.service": "m1", "web@2.service": "m2", "web@10.service": "m3"]),
                      placed: ["u.service": "m2"]),
        PlacementCase(name: "an escaped glob character",
                      snapshot: cluster([unit("a*b.service"), unit("axb.service"), unit("u.service", conflicts: ["a\\*b.service"])],
                                        machines(2), schedule: ["a*b.service": "m1", "axb.service": "m2"]),
                      placed: ["u.service": "m2"]),
    ]

    @Test(arguments: cases)
    func conflicts(_ row: PlacementCase) {
        row.check()
    }

    @Test("mutually conflicting globals: the lexically first runs everywhere (fleet TestScheduleGlobalConflicts)")
    func globalConflicts() {
        let snapshot = cluster([unit("conflict.1.service", global: true, conflicts: ["conflict*"]),
                                unit("conflict.0.service", global: true, conflicts: ["conflict*"])], machines(3))
        #expect(PlacementEngine.globalPlacement(in: snapshot) == [
            "conflict.0.service": ["m1", "m2", "m3"], "conflict.1.service": [],
        ])
        #expect(PlacementEngine.globalUnits(on: "m2", in: snapshot) == ["conflict.0.service"])
    }

    @Test("a global runs where its metadata matches; desired inactive it runs nowhere and loads nothing")
    func globalMetadataAndState() {
        let snapshot = cluster([unit("edge.service", global: true, metadata: ["role": ["edge", "gw"]]),
                                unit("off.service", .inactive, global: true), unit("a.service")],
                               [machine("m1", ["role": "gw"]), machine("m2"), machine("m3", ["role": "edge"])])
        #expect(PlacementEngine.globalPlacement(in: snapshot) == ["edge.service": ["m1", "m3"]])
        #expect(PlacementEngine.globalUnits(on: "m2", in: snapshot).isEmpty)
        #expect(PlacementEngine.globalUnits(on: "nowhere", in: snapshot).isEmpty)
        #expect(PlacementEngine.decide(snapshot).scheduled == ["a.service": "m2"])
    }

    @Test("a global yields to a conflicting unit already scheduled on a machine (fleet's engine view)")
    func globalYieldsToScheduledUnit() {
        let snapshot = cluster([unit("batch.service"), unit("guard.service", global: true, conflicts: ["batch*"])],
                               machines(3), schedule: ["batch.service": "m2"])
        #expect(PlacementEngine.globalPlacement(in: snapshot) == ["guard.service": ["m1", "m3"]])
        #expect(PlacementEngine.decide(snapshot) == SchedulingDecision())
    }

    @Test("a global returns once the unit that kept it out leaves, and then keeps that unit out")
    func globalReturns() {
        let snapshot = cluster([unit("batch.service", metadata: ["role": ["batch"]]),
                                unit("guard.service", global: true, conflicts: ["batch*"])],
                               [machine("m1", ["role": "batch"]), machine("m2")], schedule: ["batch.service": "m2"])
        #expect(PlacementEngine.globalPlacement(in: snapshot) == ["guard.service": ["m1"]])
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.unscheduled == ["batch.service": "m2"])
        #expect(decision.unplaced == ["batch.service": "0/2 machines: 1 Conflicts batch*, 1 MachineMetadata role=batch"])
        #expect(PlacementEngine.globalPlacement(in: snapshot.applying(decision)) == ["guard.service": ["m1", "m2"]])
    }

    @Test("a global that another global displaces releases its followers")
    func displacedGlobalReleasesFollowers() {
        // a.service keeps g0 off m1, so g1 (which g0 conflicts with) runs there and app follows g1. Once a.service
        // leaves (its metadata no longer matches), g0 returns, g1 must go, and app with it.
        let snapshot = cluster([unit("a.service", metadata: ["ok": ["yes"]]),
                                unit("g0.service", global: true, conflicts: ["a.service", "g1.service"]),
                                unit("g1.service", global: true, metadata: ["role": ["one"]]),
                                unit("app.service", machineOf: ["g1.service"])],
                               [machine("m1", ["role": "one"]), machine("m2")],
                               schedule: ["a.service": "m1", "app.service": "m1"])
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.unscheduled == ["a.service": "m1", "app.service": "m1"])
        #expect(decision.unscheduleReasons["app.service"]
                == "target machine m1 unable to run unit: MachineOf peer \"g1.service\" is not scheduled there")
        #expect(decision.unplaced == ["a.service": "no machine satisfies MachineMetadata ok=yes",
                                      "app.service": "MachineOf peer \"g1.service\" is not scheduled"])
    }
}
