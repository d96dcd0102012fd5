import Foundation
import NodeAgent
import SchedulerCore
import Testing

@Suite("machine identity")
struct MachineIdentityTests {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("the flag wins, then /etc/machine-id, then an ID generated once and kept in the data directory")
    func resolution() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try MachineIdentity.resolveID(flag: "abc123", systemFile: "/nonexistent", dataDirectory: directory) == "abc123")

        let system = directory + "/machine-id-system"
        try "0123456789abcdef0123456789abcdef\n".write(toFile: system, atomically: true, encoding: .utf8)
        #expect(try MachineIdentity.resolveID(flag: nil, systemFile: system, dataDirectory: directory) == "0123456789abcdef0123456789abcdef")

        let generated = try MachineIdentity.resolveID(flag: nil, systemFile: "/nonexistent", dataDirectory: directory + "/data")
        #expect(generated.count == 32 && generated.allSatisfy(\.isHexDigit))
        let again = try MachineIdentity.resolveID(flag: nil, systemFile: "/nonexistent", dataDirectory: directory + "/data")
        #expect(again == generated, "the generated ID is kept across restarts")
    }

    @Test("IDs that cannot be a key name are refused with their source named", arguments: ["a/b", "", "has space", String(repeating: "x", count: 129)])
    func badIDs(id: String) {
        #expect(throws: MachineIdentityError.self) { try MachineIdentity.resolveID(flag: id, dataDirectory: "/nonexistent") }
    }

    @Test("metadata is fleet's key=value list")
    func metadata() throws {
        #expect(try MachineIdentity.parseMetadata("region=us-east, disk=ssd,region=us-west") == ["region": "us-west", "disk": "ssd"])
        #expect(try MachineIdentity.parseMetadata("") == [:])
        for bad in ["region", "=x", "a=", "a=b=c"] {
            #expect(throws: MachineIdentityError.self, "\(bad)") { try MachineIdentity.parseMetadata(bad) }
        }
    }

    @Test("the public IP comes from the default route's interface, loopback without one")
    func publicIP() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = directory + "/route"
        try "Iface\tDestination\tGateway\nnone0\t0000FEA9\t00000000\n".write(toFile: table, atomically: true, encoding: .utf8)
        #expect(MachineIdentity.detectPublicIP(routeTable: table) == "127.0.0.1")
        #expect(MachineIdentity.detectPublicIP(routeTable: "/nonexistent") == "127.0.0.1")
        try "Iface\tDestination\tGateway\nlo\t00000000\t00000000\n".write(toFile: table, atomically: true, encoding: .utf8)
        #expect(MachineIdentity.detectPublicIP(routeTable: table) == "127.0.0.1", "lo's IPv4 address")
    }
}

@Suite("agent reconcile plan (fleet's agent rules)")
struct ReconcilePlanTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var desired: [String: (hash: String, state: TargetState)]
        var current: [String: LoadedUnit]
        var expected: [AgentAction]
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "new launched unit: load then start", desired: ["a.service": ("h1", .launched)], current: [:],
             expected: [.load(unit: "a.service", hash: "h1"), .start(unit: "a.service")]),
        Case(label: "new loaded unit: load only", desired: ["a.service": ("h1", .loaded)], current: [:],
             expected: [.load(unit: "a.service", hash: "h1")]),
        Case(label: "gone from the schedule: unload", desired: [:], current: ["a.service": LoadedUnit(hash: "h1", launched: true)],
             expected: [.unload(unit: "a.service")]),
        Case(label: "launched to loaded: stop", desired: ["a.service": ("h1", .loaded)], current: ["a.service": LoadedUnit(hash: "h1", launched: true)],
             expected: [.stop(unit: "a.service")]),
        Case(label: "loaded to launched: start", desired: ["a.service": ("h1", .launched)], current: ["a.service": LoadedUnit(hash: "h1", launched: false)],
             expected: [.start(unit: "a.service")]),
        Case(label: "contents replaced: unload, load, start", desired: ["a.service": ("h2", .launched)], current: ["a.service": LoadedUnit(hash: "h1", launched: true)],
             expected: [.unload(unit: "a.service"), .load(unit: "a.service", hash: "h2"), .start(unit: "a.service")]),
        Case(label: "in step: nothing", desired: ["a.service": ("h1", .launched)], current: ["a.service": LoadedUnit(hash: "h1", launched: true)],
             expected: []),
        Case(label: "several: unloads, loads, stops, starts, each by name",
             desired: ["b.service": ("h", .launched), "a.service": ("h", .launched), "c.service": ("h", .loaded)],
             current: ["z.service": LoadedUnit(hash: "h", launched: true), "c.service": LoadedUnit(hash: "h", launched: true)],
             expected: [.unload(unit: "z.service"), .load(unit: "a.service", hash: "h"), .load(unit: "b.service", hash: "h"),
                        .stop(unit: "c.service"), .start(unit: "a.service"), .start(unit: "b.service")]),
    ]

    @Test(arguments: cases)
    func plan(_ testCase: Case) {
        #expect(ReconcilePlan.actions(desired: testCase.desired, current: testCase.current) == testCase.expected)
    }
}
