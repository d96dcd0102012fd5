import SchedulerCore
import Testing

@Suite("MachineOf: followers go where every peer is scheduled")
struct MachineOfTests {
    static let cases: [PlacementCase] = [
        // Followers sort before their peers, so name order alone would place nothing; waiting makes it one pass.
        PlacementCase(name: "chain c → b → a lands in one pass",
                      snapshot: cluster([unit("a.service", machineOf: ["b.service"]), unit("b.service", machineOf: ["c.service"]),
                                         unit("c.service"), unit("other.service")], machines(2),
                                        schedule: ["other.service": "m1"]),
                      placed: ["a.service": "m2", "b.service": "m2", "c.service": "m2"]),
        PlacementCase(name: "several peers on one machine",
                      snapshot: cluster([unit("app.service", machineOf: ["db.service", "cache.service"]),
                                         unit("db.service"), unit("cache.service")], machines(3),
                                        schedule: ["db.service": "m2", "cache.service": "m2"]),
                      placed: ["app.service": "m2"]),
        PlacementCase(name: "peers on different machines",
                      snapshot: cluster([unit("app.service", machineOf: ["a.service", "b.service"]),
                                         unit("a.service"), unit("b.service")], machines(3),
                                        schedule: ["a.service": "m1", "b.service": "m2"]),
                      unplaced: ["app.service": "0/3 machines: 2 MachineOf a.service, 1 MachineOf b.service"]),
        PlacementCase(name: "peer that does not exist",
                      snapshot: cluster([unit("app.service", machineOf: ["db.service"])], machines(1)),
                      unplaced: ["app.service": "MachineOf peer \"db.service\" is not scheduled"]),
        PlacementCase(name: "peer desired inactive",
                      snapshot: cluster([unit("app.service", machineOf: ["db.service"]), unit("db.service", .inactive)], machines(1)),
                      unplaced: ["app.service": "MachineOf peer \"db.service\" is not scheduled"]),
        PlacementCase(name: "peer that cannot be placed",
                      snapshot: cluster([unit("app.service", machineOf: ["db.service"]),
                                         unit("db.service", metadata: ["region": ["mars"]])], machines(1)),
                      unplaced: ["app.service": "MachineOf peer \"db.service\" is not scheduled",
                                 "db.service": "no machine satisfies MachineMetadata region=mars"]),
        PlacementCase(name: "two-unit cycle never schedules",
                      snapshot: cluster([unit("a.service", machineOf: ["b.service"]), unit("b.service", machineOf: ["a.service"])],
                                        machines(2)),
                      unplaced: ["a.service": "MachineOf cycle: a.service -> b.service -> a.service",
                                 "b.service": "MachineOf cycle: b.service -> a.service -> b.service"]),
        PlacementCase(name: "unit that is its own peer",
                      snapshot: cluster([unit("a.service", machineOf: ["a.service"])], machines(1)),
                      unplaced: ["a.service": "MachineOf cycle: a.service -> a.service"]),
        PlacementCase(name: "follower of a cycle",
                      snapshot: cluster([unit("a.service", machineOf: ["b.service"]), unit("b.service", machineOf: ["c.service"]),
                                         unit("c.service", machineOf: ["b.service"])], machines(1)),
                      unplaced: ["a.service": "MachineOf peer \"b.service\" is not scheduled",
                                 "b.service": "MachineOf cycle: b.service -> c.service -> b.service"]),
        PlacementCase(name: "global peer: the follower goes where the global runs",
                      snapshot: cluster([unit("app.service", machineOf: ["agent.service"]),
                                         unit("agent.service", global: true, metadata: ["role": ["edge"]])],
                                        [machine("m1"), machine("m2", ["role": "edge"])]),
                      placed: ["app.service": "m2"]),
        PlacementCase(name: "peer moved: follower unscheduled and follows in the same pass",
                      snapshot: cluster([unit("db.service", metadata: ["region": ["us"]]), unit("app.service", machineOf: ["db.service"])],
                                        [machine("m1", ["region": "eu"]), machine("m2", ["region": "us"])],
                                        schedule: ["db.service": "m1", "app.service": "m1"]),
                      placed: ["db.service": "m2", "app.service": "m2"],
                      unscheduled: ["app.service": "target machine m1 unable to run unit: MachineOf peer \"db.service\" is not scheduled there"]),
        PlacementCase(name: "peer unloaded: follower unscheduled and stays unplaced",
                      snapshot: cluster([unit("db.service", .inactive), unit("app.service", machineOf: ["db.service"])], machines(2),
                                        schedule: ["db.service": "m1", "app.service": "m1"]),
                      unplaced: ["app.service": "MachineOf peer \"db.service\" is not scheduled"],
                      unscheduled: ["db.service": "target state inactive",
                                    "app.service": "target machine m1 unable to run unit: MachineOf peer \"db.service\" is not scheduled there"]),
        PlacementCase(name: "a whole chain follows its root off a vanished machine",
                      snapshot: cluster([unit("a.service", machineOf: ["b.service"]), unit("b.service", machineOf: ["c.service"]),
                                         unit("c.service")], machines(2),
                                        schedule: ["a.service": "m9", "b.service": "m9", "c.service": "m9"]),
                      placed: ["a.service": "m1", "b.service": "m1", "c.service": "m1"]),
        PlacementCase(name: "follower of a peer that sorts after it, removed in the same pass",
                      snapshot: cluster([unit("a.service", machineOf: ["z.service"]), unit("z.service", machineID: "m2")], machines(2),
                                        schedule: ["a.service": "m1", "z.service": "m1"]),
                      placed: ["a.service": "m2", "z.service": "m2"]),
    ]

    @Test(arguments: cases)
    func machineOf(_ row: PlacementCase) {
        row.check()
    }

    @Test("existing mutual MachineOf pair on one machine stays (fleet checks each against the other)")
    func existingCycleStays() {
        let snapshot = cluster([unit("a.service", machineOf: ["b.service"]), unit("b.service", machineOf: ["a.service"])],
                               machines(2), schedule: ["a.service": "m1", "b.service": "m1"])
        #expect(PlacementEngine.decide(snapshot) == SchedulingDecision())
    }
}
