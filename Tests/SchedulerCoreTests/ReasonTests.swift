import SchedulerCore
import Testing

@Suite("Reason texts name the blocking option and value (fleet.md g.1)")
struct ReasonTests {
    static let cases: [PlacementCase] = [
        PlacementCase(name: "no machines at all",
                      snapshot: cluster([unit("a.service", machineOf: ["b.service"]), unit("b.service")], []),
                      unplaced: ["a.service": "no machines", "b.service": "no machines"]),
        PlacementCase(name: "every machine blocked by another unit's Conflicts",
                      snapshot: cluster([unit("a.service", conflicts: ["web@*.service"]), unit("web@1.service")], machines(1),
                                        schedule: ["a.service": "m1"]),
                      unplaced: ["web@1.service": "every machine runs a conflicting unit (Conflicts web@*.service)"]),
        PlacementCase(name: "more than four labels fold into a count",
                      snapshot: cluster((1...6).map { unit("a\($0).service") }
                                        + [unit("u.service", conflicts: (1...6).map { "a\($0).service" })],
                                        machines(6),
                                        schedule: Dictionary(uniqueKeysWithValues: (1...6).map { ("a\($0).service", "m\($0)") })),
                      unplaced: ["u.service": "0/6 machines: 1 Conflicts a1.service, 1 Conflicts a2.service, "
                                 + "1 Conflicts a3.service, 1 Conflicts a4.service, 2 other"]),
        PlacementCase(name: "labels ordered by count, then alphabetically",
                      snapshot: cluster([unit("b.service"), unit("u.service", metadata: ["zone": ["z1"]], conflicts: ["b.service"])],
                                        [machine("m1", ["zone": "z1"]), machine("m2"), machine("m3"), machine("m4", ["zone": "z2"])],
                                        schedule: ["b.service": "m1"]),
                      unplaced: ["u.service": "0/4 machines: 3 MachineMetadata zone=z1, 1 Conflicts b.service"]),
        PlacementCase(name: "MachineID among other blockers",
                      snapshot: cluster([unit("b.service"), unit("u.service", machineID: "m1", conflicts: ["b.service"])],
                                        machines(3), schedule: ["b.service": "m1"]),
                      unplaced: ["u.service": "0/3 machines: 2 MachineID m1, 1 Conflicts b.service"]),
    ]

    @Test(arguments: cases)
    func reason(_ row: PlacementCase) {
        row.check()
    }

    @Test("every unplaced reason is one non-empty line")
    func oneLine() {
        let snapshot = cluster([unit("a.service", metadata: ["k": ["v"]]), unit("b.service", machineOf: ["c.service"]),
                                unit("c.service", machineOf: ["b.service"]), unit("d.service", machineID: "x")], machines(2))
        let unplaced = PlacementEngine.decide(snapshot).unplaced
        #expect(unplaced.count == 4)
        for reason in unplaced.values {
            #expect(!reason.isEmpty && !reason.contains("\n"))
        }
    }
}
