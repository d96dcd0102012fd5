import SchedulerCore
import Testing

@Suite("Replaces: the replaced unit moves to another machine")
struct ReplacesTests {
    @Test("fleet TestScheduleReplace: kick0 lands on the least-loaded machine and replace.0 moves off it")
    func fleetScheduleReplace() {
        let snapshot = cluster([unit("replace.0.service"), unit("replace.1.service"),
                                unit("replace.2.service", machineOf: ["replace.1.service"]),
                                unit("replace-kick0.service", replaces: ["replace.0.service"])],
                               machines(2),
                               schedule: ["replace.0.service": "m1", "replace.1.service": "m2", "replace.2.service": "m2"])
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.actions == [
            .unschedule(unit: "replace.0.service", machine: "m1",
                        reason: "target machine m1 unable to run unit: replaced by \"replace-kick0.service\" (Replaces replace.0.service)"),
            .schedule(unit: "replace-kick0.service", machine: "m1", reason: "target state launched and unit not scheduled"),
            .schedule(unit: "replace.0.service", machine: "m2", reason: "target state launched and unit not scheduled"),
        ])
        #expect(PlacementEngine.decide(snapshot.applying(decision)) == SchedulingDecision())
    }

    static let cases: [PlacementCase] = [
        PlacementCase(name: "both scheduled on one machine: the replaced unit moves, the replacer stays",
                      snapshot: cluster([unit("old.service"), unit("new.service", replaces: ["old*"])], machines(2),
                                        schedule: ["old.service": "m1", "new.service": "m1"]),
                      placed: ["new.service": "m1", "old.service": "m2"],
                      unscheduled: ["old.service": "target machine m1 unable to run unit: replaced by \"new.service\" (Replaces old*)"]),
        PlacementCase(name: "circular Replaces is ignored",
                      snapshot: cluster([unit("a.service", replaces: ["b.service"]), unit("b.service", replaces: ["a.service"])],
                                        machines(1)),
                      placed: ["a.service": "m1", "b.service": "m1"]),
        PlacementCase(name: "a replaced unit is never placed next to its replacer",
                      snapshot: cluster([unit("new.service", replaces: ["old.service"]), unit("old.service"),
                                         unit("x.service"), unit("y.service")], machines(2),
                                        schedule: ["new.service": "m1", "x.service": "m2", "y.service": "m2"]),
                      placed: ["old.service": "m2"]),
        PlacementCase(name: "nowhere else to go: the replaced unit stays unplaced",
                      snapshot: cluster([unit("old.service"), unit("new.service", replaces: ["old.service"])], machines(1),
                                        schedule: ["old.service": "m1"]),
                      placed: ["new.service": "m1"],
                      unplaced: ["old.service": "every machine runs a unit that replaces it (Replaces old.service)"]),
        PlacementCase(name: "the replaced unit keeps its own constraints",
                      snapshot: cluster([unit("old.service", metadata: ["region": ["eu"]]),
                                         unit("new.service", metadata: ["region": ["eu"]], replaces: ["old.service"])],
                                        [machine("m1", ["region": "eu"]), machine("m2", ["region": "us"])],
                                        schedule: ["old.service": "m1"]),
                      placed: ["new.service": "m1"],
                      unplaced: ["old.service": "0/2 machines: 1 MachineMetadata region=eu, 1 Replaces old.service"]),
        PlacementCase(name: "the replaced unit's followers move with it",
                      snapshot: cluster([unit("old.service"), unit("side.service", machineOf: ["old.service"]),
                                         unit("new.service", metadata: ["region": ["eu"]], replaces: ["old.service"])],
                                        [machine("m1", ["region": "eu"]), machine("m2", ["region": "us"])],
                                        schedule: ["old.service": "m1", "side.service": "m1"]),
                      placed: ["new.service": "m1", "old.service": "m2", "side.service": "m2"],
                      unscheduled: ["side.service": "target machine m1 unable to run unit: MachineOf peer \"old.service\" is not scheduled there"]),
        PlacementCase(name: "a chain of replacements settles in one pass",
                      snapshot: cluster([unit("v1.service"), unit("v2.service", replaces: ["v1.service"]),
                                         unit("v3.service", replaces: ["v2.service"])], machines(3),
                                        schedule: ["v1.service": "m1", "v2.service": "m1"]),
                      placed: ["v2.service": "m1", "v1.service": "m2", "v3.service": "m3"]),
        PlacementCase(name: "moving a replaced unit frees room for one that failed earlier in the pass",
                      snapshot: cluster([unit("a.service", metadata: ["role": ["one"]], conflicts: ["old.service"]), unit("old.service"),
                                         unit("z-new.service", metadata: ["role": ["one"]], replaces: ["old.service"])],
                                        [machine("m1", ["role": "one"]), machine("m2", ["role": "two"])],
                                        schedule: ["old.service": "m1"]),
                      placed: ["z-new.service": "m1", "old.service": "m2", "a.service": "m1"]),
        PlacementCase(name: "a unit that replaces its own MachineOf peer never lands (the API rejects it)",
                      snapshot: cluster([unit("side.service", machineOf: ["x.service"], replaces: ["x*"]), unit("x.service")],
                                        machines(2), schedule: ["x.service": "m1", "side.service": "m1"]),
                      placed: ["x.service": "m1"],
                      unplaced: ["side.service": "MachineOf peer \"x.service\" matches Replaces x*"],
                      unscheduled: ["side.service": "target machine m1 unable to run unit: MachineOf peer \"x.service\" is not scheduled there"]),
    ]

    @Test(arguments: cases)
    func replaces(_ row: PlacementCase) {
        row.check()
    }

    @Test("a ring of three Replaces terminates with every unit placed or explained")
    func replaceRing() {
        let snapshot = cluster([unit("a.service", replaces: ["b.service"]), unit("b.service", replaces: ["c.service"]),
                                unit("c.service", replaces: ["a.service"])], machines(1))
        let decision = PlacementEngine.decide(snapshot)
        let after = decision.applied(to: snapshot.schedule)
        for name in ["a.service", "b.service", "c.service"] {
            #expect((after[name] != nil) != (decision.unplaced[name] != nil), "\(name) placed xor explained")
        }
    }
}
