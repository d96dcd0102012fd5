import SchedulerCore
import Testing

@Suite("Least-loaded placement and checking what is scheduled (fleet engine/reconciler.go, scheduler.go)")
struct PlacementTests {
    @Test("a batch spreads over the least-loaded machines, ties broken by machine ID")
    func batchSpreads() {
        let units = ["a", "b", "c", "d", "e", "f", "g"].map { unit("\($0).service") }
        let decision = PlacementEngine.decide(cluster(units, machines(3)))
        #expect(decision.scheduled == [
            "a.service": "m1", "b.service": "m2", "c.service": "m3",
            "d.service": "m1", "e.service": "m2", "f.service": "m3", "g.service": "m1",
        ])
        #expect(decision.unplaced.isEmpty)
    }

    @Test("machine IDs compare as strings: m10 sorts before m2")
    func idTieBreakIsLexical() {
        let decision = PlacementEngine.decide(cluster([unit("a.service")], [machine("m9"), machine("m2"), machine("m10")]))
        #expect(decision.scheduled == ["a.service": "m10"])
    }

    @Test("existing load decides before the ID does")
    func existingLoad() {
        let snapshot = cluster(
            [unit("a.service"), unit("b.service"), unit("c.service"), unit("new1.service"), unit("new2.service")],
            machines(3), schedule: ["a.service": "m1", "b.service": "m1", "c.service": "m2"])
        #expect(PlacementEngine.decide(snapshot).scheduled == ["new1.service": "m3", "new2.service": "m2"])
    }

    @Test("units desired inactive do not count toward a machine's load")
    func inactiveUnitsDoNotLoad() {
        let snapshot = cluster([unit("idle.service", .inactive), unit("new.service")], machines(2),
                               schedule: ["idle.service": "m1"])
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.scheduled == ["new.service": "m1"])
        #expect(decision.unscheduleReasons == ["idle.service": "target state inactive"])
    }

    @Test("global units count toward the load of the machines they run on")
    func globalsLoad() {
        let snapshot = cluster(
            [unit("agent.service", global: true, metadata: ["region": ["eu"]]), unit("a.service")],
            [machine("m1", ["region": "eu"]), machine("m2", ["region": "us"])])
        #expect(PlacementEngine.decide(snapshot).scheduled == ["a.service": "m2"])
    }

    @Test("a vanished machine's units are unscheduled and placed again in the same pass")
    func machineGone() {
        let snapshot = cluster([unit("a.service"), unit("b.service"), unit("c.service")], machines(2),
                               schedule: ["a.service": "m9", "b.service": "m9", "c.service": "m1"])
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.unscheduleReasons == [
            "a.service": "target machine m9 went away", "b.service": "target machine m9 went away",
        ])
        #expect(decision.scheduled == ["a.service": "m2", "b.service": "m1"])
        #expect(decision.actions.prefix(2).allSatisfy { if case .unschedule = $0 { true } else { false } })
    }

    static let scheduleCases: [PlacementCase] = [
        PlacementCase(name: "desired inactive is unscheduled and not reported unplaced",
                      snapshot: cluster([unit("a.service", .inactive)], machines(1), schedule: ["a.service": "m1"]),
                      unscheduled: ["a.service": "target state inactive"]),
        PlacementCase(name: "schedule entry of a destroyed unit",
                      snapshot: cluster([], machines(1), schedule: ["gone.service": "m1"]),
                      unscheduled: ["gone.service": "unit no longer exists"]),
        PlacementCase(name: "schedule entry of a global unit",
                      snapshot: cluster([unit("g.service", global: true)], machines(1), schedule: ["g.service": "m1"]),
                      unscheduled: ["g.service": "global units are never scheduled"]),
        PlacementCase(name: "metadata edited at runtime moves the unit",
                      snapshot: cluster([unit("a.service", metadata: ["region": ["eu"]])],
                                        [machine("m1", ["region": "eu"]), machine("m2", ["region": "us"])],
                                        schedule: ["a.service": "m2"]),
                      placed: ["a.service": "m1"],
                      unscheduled: ["a.service": "target machine m2 unable to run unit: machine does not satisfy MachineMetadata region=eu"]),
        PlacementCase(name: "MachineID changed moves the unit",
                      snapshot: cluster([unit("a.service", machineID: "m2")], machines(2), schedule: ["a.service": "m1"]),
                      placed: ["a.service": "m2"],
                      unscheduled: ["a.service": "target machine m1 unable to run unit: machine is not MachineID m2"]),
        PlacementCase(name: "nothing but a unit with no machines",
                      snapshot: cluster([unit("a.service")], []),
                      unplaced: ["a.service": "no machines"]),
        PlacementCase(name: "lost machine and no other",
                      snapshot: cluster([unit("a.service")], [], schedule: ["a.service": "m1"]),
                      unplaced: ["a.service": "no machines"],
                      unscheduled: ["a.service": "target machine m1 went away"]),
    ]

    @Test(arguments: scheduleCases)
    func schedule(_ row: PlacementCase) {
        row.check()
    }

    @Test("schedule reasons carry the desired state, as fleet's do")
    func scheduleReason() {
        let decision = PlacementEngine.decide(cluster([unit("a.service", .loaded), unit("b.service")], machines(1)))
        #expect(decision.actions == [
            .schedule(unit: "a.service", machine: "m1", reason: "target state loaded and unit not scheduled"),
            .schedule(unit: "b.service", machine: "m1", reason: "target state launched and unit not scheduled"),
        ])
    }

    @Test("a valid schedule produces no actions")
    func stableSchedule() {
        let snapshot = cluster([unit("a.service"), unit("b.service", machineOf: ["a.service"]), unit("c.service")],
                               machines(2), schedule: ["a.service": "m1", "b.service": "m1", "c.service": "m2"])
        #expect(PlacementEngine.decide(snapshot) == SchedulingDecision())
    }

    @Test("no rebalancing: a returning empty machine only gets new units")
    func noRebalancing() {
        let snapshot = cluster([unit("a.service"), unit("b.service"), unit("new.service")], machines(2),
                               schedule: ["a.service": "m1", "b.service": "m1"])
        #expect(PlacementEngine.decide(snapshot).actions == [
            .schedule(unit: "new.service", machine: "m2", reason: "target state launched and unit not scheduled"),
        ])
    }

    @Test("reason(for:) answers for one unit, nil when it would be placed or is not the scheduler's")
    func reasonForOneUnit() {
        let snapshot = cluster([unit("a.service", metadata: ["region": ["mars"]]), unit("b.service"),
                                unit("c.service", .inactive), unit("g.service", global: true)], machines(1))
        #expect(PlacementEngine.reason(for: "a.service", in: snapshot) == "no machine satisfies MachineMetadata region=mars")
        #expect(PlacementEngine.reason(for: "b.service", in: snapshot) == nil)
        #expect(PlacementEngine.reason(for: "c.service", in: snapshot) == nil)
        #expect(PlacementEngine.reason(for: "g.service", in: snapshot) == nil)
        #expect(PlacementEngine.reason(for: "nope.service", in: snapshot) == nil)
    }
}
