import SchedulerCore
import Testing

/// m1 eu/ssd, m2 us/ssd, m3 us/hdd: enough variety for every MachineID / MachineMetadata combination.
private let zoned = [
    machine("m1", ["region": "eu", "disk": "ssd"]),
    machine("m2", ["region": "us", "disk": "ssd"]),
    machine("m3", ["region": "us", "disk": "hdd"]),
]

/// One unit per machine already, so every machine is equally loaded and only the constraint decides.
private let busy = ["a.service": "m1", "x.service": "m2", "y.service": "m3"]
private let busyUnits = [unit("a.service"), unit("x.service"), unit("y.service")]

@Suite("Each [X-Fleet] option alone and combined (fleet AbleToRun)")
struct ConstraintTests {
    static let cases: [PlacementCase] = [
        PlacementCase(name: "no constraint: least loaded, lowest ID", snapshot: cluster([unit("u.service")], zoned),
                      placed: ["u.service": "m1"]),
        PlacementCase(name: "MachineID full ID", snapshot: cluster([unit("u.service", machineID: "m2")], zoned),
                      placed: ["u.service": "m2"]),
        PlacementCase(name: "MachineID of no machine", snapshot: cluster([unit("u.service", machineID: "m9")], zoned),
                      unplaced: ["u.service": "no machine with MachineID m9"]),
        PlacementCase(name: "MachineMetadata one key",
                      snapshot: cluster([unit("u.service", metadata: ["region": ["us"]])], zoned),
                      placed: ["u.service": "m2"]),
        PlacementCase(name: "MachineMetadata AND across keys",
                      snapshot: cluster([unit("u.service", metadata: ["region": ["us"], "disk": ["hdd"]])], zoned),
                      placed: ["u.service": "m3"]),
        PlacementCase(name: "MachineMetadata OR within a key",
                      snapshot: cluster([unit("u.service", metadata: ["region": ["mars", "eu"]])], zoned),
                      placed: ["u.service": "m1"]),
        PlacementCase(name: "MachineMetadata OR and AND together",
                      snapshot: cluster([unit("u.service", metadata: ["region": ["eu", "us"], "disk": ["hdd"]])], zoned),
                      placed: ["u.service": "m3"]),
        PlacementCase(name: "MachineMetadata key no machine has",
                      snapshot: cluster([unit("u.service", metadata: ["rack": ["1"]])], zoned),
                      unplaced: ["u.service": "no machine satisfies MachineMetadata rack=1"]),
        PlacementCase(name: "MachineMetadata values no machine has",
                      snapshot: cluster([unit("u.service", metadata: ["region": ["venus", "mars"]])], zoned),
                      unplaced: ["u.service": "no machine satisfies MachineMetadata region=mars|venus"]),
        PlacementCase(name: "MachineMetadata failing on different keys",
                      snapshot: cluster([unit("u.service", metadata: ["region": ["eu"], "disk": ["hdd"]])], zoned),
                      unplaced: ["u.service": "0/3 machines: 2 MachineMetadata disk=hdd, 1 MachineMetadata region=eu"]),
        PlacementCase(name: "MachineID and MachineMetadata agree",
                      snapshot: cluster([unit("u.service", machineID: "m2", metadata: ["region": ["us"]])], zoned),
                      placed: ["u.service": "m2"]),
        PlacementCase(name: "MachineID and MachineMetadata disagree",
                      snapshot: cluster([unit("u.service", machineID: "m1", metadata: ["region": ["us"]])], zoned),
                      unplaced: ["u.service": "0/3 machines: 2 MachineID m1, 1 MachineMetadata region=us"]),
        PlacementCase(name: "MachineOf follows a scheduled peer",
                      snapshot: cluster([unit("db.service"), unit("app.service", machineOf: ["db.service"])], zoned,
                                        schedule: ["db.service": "m2"]),
                      placed: ["app.service": "m2"]),
        PlacementCase(name: "MachineOf peer on a machine the metadata excludes",
                      snapshot: cluster([unit("db.service"),
                                         unit("app.service", machineOf: ["db.service"], metadata: ["region": ["us"]])],
                                        zoned, schedule: ["db.service": "m1"]),
                      unplaced: ["app.service": "0/3 machines: 2 MachineOf db.service, 1 MachineMetadata region=us"]),
        PlacementCase(name: "Conflicts keeps a unit off the machine it names",
                      snapshot: cluster(busyUnits + [unit("b.service", conflicts: ["a.service"])], zoned, schedule: busy),
                      placed: ["b.service": "m2"]),
        PlacementCase(name: "Conflicts is symmetric",
                      snapshot: cluster([unit("a.service", conflicts: ["b*"]), unit("x.service"), unit("y.service"),
                                         unit("b.service")], zoned, schedule: busy),
                      placed: ["b.service": "m2"]),
        PlacementCase(name: "Conflicts and MachineMetadata together",
                      snapshot: cluster(busyUnits + [unit("b.service", metadata: ["region": ["eu"]], conflicts: ["a.service"])],
                                        zoned, schedule: busy),
                      unplaced: ["b.service": "0/3 machines: 2 MachineMetadata region=eu, 1 Conflicts a.service"]),
        PlacementCase(name: "Conflicts glob matching the unit itself is no conflict",
                      snapshot: cluster([unit("web@1.service", conflicts: ["web@*.service"])], zoned),
                      placed: ["web@1.service": "m1"]),
        PlacementCase(name: "malformed Conflicts glob matches nothing",
                      snapshot: cluster(busyUnits + [unit("b.service", conflicts: ["a[.service"])], zoned, schedule: busy),
                      placed: ["b.service": "m1"]),
        PlacementCase(name: "MachineOf, MachineMetadata and Conflicts all satisfied",
                      snapshot: cluster(busyUnits + [unit("db.service"),
                                                     unit("app.service", machineOf: ["db.service"],
                                                          metadata: ["disk": ["hdd"]], conflicts: ["a.service"])],
                                        zoned, schedule: busy.merging(["db.service": "m3"]) { $1 }),
                      placed: ["app.service": "m3"]),
    ]

    @Test(arguments: cases)
    func constraint(_ row: PlacementCase) {
        row.check()
    }

    @Test("MachineID accepts the full ID or exactly its first 8 characters", arguments: [
        ("1234abcd9876fedc1234abcd9876fedc", "1234abcd9876fedc1234abcd9876fedc" as String?),
        ("1234abcd", "1234abcd9876fedc1234abcd9876fedc"),
        ("5678ef01", "5678ef01aaaabbbbccccddddeeeeffff"),
        ("1234abc", nil),
        ("1234abcd9", nil),
    ])
    func machineIDShortForm(wanted: String, expected: String?) {
        let snapshot = cluster([unit("u.service", machineID: wanted)],
                               [machine("1234abcd9876fedc1234abcd9876fedc"), machine("5678ef01aaaabbbbccccddddeeeeffff")])
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.scheduled["u.service"] == expected)
        if expected == nil {
            #expect(decision.unplaced["u.service"] == "no machine with MachineID \(wanted)")
        }
    }

    @Test("a short MachineID shared by two machines picks the less loaded")
    func ambiguousShortID() {
        let snapshot = cluster([unit("busy.service"), unit("u.service", machineID: "aaaaaaaa")],
                               [machine("aaaaaaaa11111111"), machine("aaaaaaaa22222222")],
                               schedule: ["busy.service": "aaaaaaaa11111111"])
        #expect(PlacementEngine.decide(snapshot).scheduled["u.service"] == "aaaaaaaa22222222")
    }
}
