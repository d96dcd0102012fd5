import Foundation
import SchedulerCore
import Testing

/// Clusters of the size fleet struggled with (fleet.md d.5), built deterministically.
enum ScaleScenario {
    static func machineIDs(_ count: Int) -> [String] {
        (0..<count).map { "machine-\(String(1_000_000 + $0).dropFirst())" }
    }

    /// `units` unconstrained units and nothing scheduled yet.
    static func plain(units: Int, machines: Int) -> ClusterSnapshot {
        cluster((0..<units).map { unit("svc-\($0).service") }, machineIDs(machines).map { machine($0) })
    }

    /// Every option at scale: one conflicting template instance per machine, metadata-bound units, MachineOf
    /// pairs and globals (one of them with Conflicts); 10 000 schedulable units for 1 000 machines.
    static func mixed(machines count: Int = 1000) -> ClusterSnapshot {
        let machines = machineIDs(count).enumerated().map { index, id in
            machine(id, ["region": index % 2 == 0 ? "eu" : "us", "disk": index % 3 == 0 ? "hdd" : "ssd"])
        }
        var units: [UnitSpec] = [
            unit("agent.service", global: true),
            unit("edge.service", global: true, metadata: ["region": ["eu"]]),
            unit("guard.service", global: true, metadata: ["disk": ["hdd"]], conflicts: ["batch-*"]),
        ]
        units += (0..<count).map { unit("web@\($0).service", conflicts: ["web@*.service"]) }
        units += (0..<3000).map { unit("app-\($0).service", metadata: ["region": [$0 % 2 == 0 ? "eu" : "us"]]) }
        units += (0..<1000).flatMap { [unit("db-\($0).service"), unit("db-\($0)-side.service", machineOf: ["db-\($0).service"])] }
        units += (0..<1000).map { unit("batch-\($0).service") }
        units += (0..<(10_000 - count - 3000 - 2000 - 1000)).map { unit("svc-\($0).service") }
        return cluster(units, machines)
    }
}

@Suite("Scale: 10 000 units on 1 000 machines in one pass")
struct ScaleTests {
    @Test("every unit placed and every machine within one unit of the others")
    func plainBalanced() {
        let snapshot = ScaleScenario.plain(units: 10_000, machines: 1_000)
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.unplaced.isEmpty)
        let after = decision.applied(to: snapshot.schedule)
        #expect(after.count == 10_000)
        var load: [String: Int] = [:]
        for machineID in after.values { load[machineID, default: 0] += 1 }
        #expect(load.count == 1_000)
        #expect((load.values.max() ?? 0) - (load.values.min() ?? 0) <= 1)
    }

    @Test("every option at scale: all placed, constraints hold, a second pass does nothing")
    func mixedCorrect() {
        let snapshot = ScaleScenario.mixed()
        let decision = PlacementEngine.decide(snapshot)
        #expect(decision.unplaced.isEmpty)
        let after = snapshot.applying(decision)
        #expect(after.schedule.count == 10_000)
        #expect(ScheduleChecker(snapshot: after).violations().isEmpty)
        #expect(PlacementEngine.decide(after).actions.isEmpty)
    }

    /// Not a test: timings for the report. Run by hand in release mode:
    /// `SCHEDULER_BENCH=1 swift test -c release --filter SchedulerCoreTests.ScaleTests/benchmark`
    @Test("benchmark (SCHEDULER_BENCH=1)", .enabled(if: ProcessInfo.processInfo.environment["SCHEDULER_BENCH"] != nil))
    func benchmark() {
        let plain = ScaleScenario.plain(units: 10_000, machines: 1_000)
        let mixed = ScaleScenario.mixed()
        let placedMixed = mixed.applying(PlacementEngine.decide(mixed))
        var lostTenth = placedMixed
        for id in ScaleScenario.machineIDs(1_000).prefix(100) { lostTenth.machines[id] = nil }
        let crowded = cluster((0..<10_000).map { unit("web@\($0).service", conflicts: ["web@*.service"]) },
                              ScaleScenario.machineIDs(1_000).map { machine($0) })
        let narrow = cluster((0..<10_000).map { unit("svc-\($0).service", metadata: ["rack": ["r7"]]) },
                             ScaleScenario.machineIDs(1_000).enumerated().map { machine($1, ["rack": "r\($0 % 10)"]) })
        let ownGlobs = cluster((0..<10_000).map { unit("job-\($0).service", conflicts: ["job-\($0)-*.service"]) },
                               ScaleScenario.machineIDs(1_000).map { machine($0) })
        let scenarios = [
            ("plain: place 10000 units on 1000 machines", plain),
            ("own globs: 10000 units, each with its own wildcard Conflicts glob", ownGlobs),
            ("crowded: 10000 mutually conflicting instances, 9000 left unplaced with reasons", crowded),
            ("narrow: 10000 units whose metadata 1 machine in 10 satisfies", narrow),
            ("mixed: place 10000 units (metadata, conflicts, MachineOf, globals)", mixed),
            ("mixed: steady-state pass over the placed cluster", placedMixed),
            ("mixed: 100 of 1000 machines lost, re-place their units", lostTenth),
        ]
        let clock = ContinuousClock()
        for (name, snapshot) in scenarios {
            var best = Duration.seconds(3600)
            var actions = 0
            for _ in 0..<5 {
                let start = clock.now
                actions = PlacementEngine.decide(snapshot).actions.count
                best = min(best, clock.now - start)
            }
            // Benchmark output is the point of this test, hence print.
            print("SchedulerCore benchmark: \(name): best of 5 \(best), \(actions) actions")
        }
    }
}
