import FleetLayout
import KeysClient
@testable import Scheduler
import SchedulerCore
import Testing

/// The mirror's index rules: writes only move forward, deletes bury older writes, and a resync from an older
/// read keeps what this process wrote after it.
@Suite("registry cache")
struct RegistryCacheTests {
    let layout = FleetKeyLayout()

    func change(_ action: KeysAction, _ key: String, _ value: String? = nil, index: UInt64, dir: Bool = false) -> KeysResponse {
        KeysResponse(action: action, node: KeysNode(key: key, value: value, dir: dir, modifiedIndex: index, createdIndex: index), etcdIndex: index)
    }

    func entry(_ hash: String) -> String { #"{"hash":"\#(hash)","desiredState":"launched"}"# }

    @Test("a late, older write does not overwrite a newer one or revive a deleted key")
    func indexGuards() {
        var cache = RegistryCache(layout: layout)
        let key = layout.scheduleEntry(machine: "m1", unit: "a.service")
        cache.apply(change(.create, key, entry("new"), index: 20), fromWatch: false)
        let stale = cache.apply(change(.set, key, entry("old"), index: 10), fromWatch: true)
        #expect(!stale)
        #expect(cache.schedule["m1"]?["a.service"]?.entry?.hash == "new")

        cache.apply(change(.compareAndDelete, key, index: 30), fromWatch: false)
        #expect(cache.schedule["m1"] == nil)
        let revived = cache.apply(change(.create, key, entry("new"), index: 20), fromWatch: true)
        #expect(!revived, "the watch redelivers the create")
        #expect(cache.schedule["m1"] == nil)
        let recreated = cache.apply(change(.create, key, entry("again"), index: 40), fromWatch: true)
        #expect(recreated)
        #expect(cache.schedule["m1"]?["a.service"]?.entry?.hash == "again")
    }

    @Test("deleting a unit's directory removes its record, and older writes below it stay buried")
    func directoryDelete() {
        var cache = RegistryCache(layout: layout)
        cache.apply(change(.set, layout.targetState("a.service"), "launched", index: 5), fromWatch: true)
        cache.apply(change(.set, layout.jobObject("a.service"), #"{"Name":"a.service","UnitHash":[\#(Array(repeating: "1", count: 20).joined(separator: ","))]}"#, index: 6), fromWatch: true)
        #expect(cache.jobs["a.service"]?.targetState == .launched && cache.jobs["a.service"]?.hash?.count == 40)
        cache.apply(change(.delete, layout.jobDirectory("a.service"), index: 9, dir: true), fromWatch: false)
        #expect(cache.jobs["a.service"] == nil)
        let buried = cache.apply(change(.set, layout.targetState("a.service"), "loaded", index: 7), fromWatch: true)
        #expect(!buried)
        #expect(cache.jobs["a.service"] == nil)
    }

    @Test("a resync from a read older than this process's own writes keeps those writes")
    func resyncKeepsNewerOwnWrites() {
        var cache = RegistryCache(layout: layout)
        let placed = layout.scheduleEntry(machine: "m1", unit: "a.service")
        let removed = layout.scheduleEntry(machine: "m2", unit: "b.service")
        cache.apply(change(.create, placed, entry("x"), index: 50), fromWatch: false)
        cache.apply(change(.compareAndDelete, removed, index: 51), fromWatch: false)
        // The read was taken at index 40: it has b on m2 (deleted since) and not a (created since).
        let snapshot = KeysNode(key: layout.root, dir: true, nodes: [
            KeysNode(key: layout.prefix + "schedule", dir: true, nodes: [
                KeysNode(key: layout.scheduleDirectory("m2"), dir: true, nodes: [
                    KeysNode(key: removed, value: entry("y"), dir: false, modifiedIndex: 30, createdIndex: 30),
                ], modifiedIndex: 1, createdIndex: 1),
            ], modifiedIndex: 1, createdIndex: 1),
        ], modifiedIndex: 1, createdIndex: 1)
        cache.load(snapshot, etcdIndex: 40)
        #expect(cache.schedule["m1"]?["a.service"]?.entry?.hash == "x")
        #expect(cache.schedule["m2"] == nil)
        #expect(cache.placements.count == 1)
    }

    @Test("a resync of one area leaves the others alone")
    func areaResync() {
        var cache = RegistryCache(layout: layout)
        cache.apply(change(.set, layout.targetState("a.service"), "launched", index: 5), fromWatch: true)
        cache.apply(change(.create, layout.scheduleEntry(machine: "m1", unit: "a.service"), entry("x"), index: 6), fromWatch: true)
        cache.load(nil, etcdIndex: 10, under: layout.prefix + "schedule")
        #expect(cache.schedule.isEmpty, "the schedule was read empty")
        #expect(cache.jobs["a.service"]?.targetState == .launched, "jobs are untouched")
    }
}
