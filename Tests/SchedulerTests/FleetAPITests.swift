import FleetLayout
import Foundation
import KeysClient
import NIOHTTP1
import Scheduler
import SchedulerCore
import Testing
import TestSupport

/// fleet's API v1 against a live scheduler on each keys API implementation.
@Suite("fleet API v1", .timeLimit(.minutes(3)))
struct FleetAPITests {
    @Test("a unit's life: create, read, list, change state, replace, destroy", arguments: KeysBackend.allCases)
    func unitLifecycle(backend: KeysBackend) async throws {
        try await backend.with { endpoint in
            try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                let base = scheduler.url
                let created = try await API.putUnit(base, "hello.service", desiredState: "inactive", options: [
                    ("Unit", "Description", "Hello World"), ("Service", "ExecStart", "/bin/sh -c \"while true; do echo Hello; sleep 1; done\""),
                ])
                #expect(created.status == 201, "\(created)")
                #expect(created.headers.first(name: "Server")?.hasPrefix("fleetd/") == true)

                let unit = try await API.unit(base, "hello.service")
                #expect(unit["name"] as? String == "hello.service")
                #expect(unit["desiredState"] as? String == "inactive")
                #expect(unit["currentState"] as? String == "inactive")
                #expect(unit["machineID"] == nil && unit["reason"] == nil)
                let options = unit["options"] as? [[String: String]] ?? []
                #expect(options.first == ["section": "Unit", "name": "Description", "value": "Hello World"])
                #expect(options.count == 2)

                let again = try await API.putUnit(base, "hello.service", desiredState: "inactive", options: [
                    ("Unit", "Description", "Hello World"), ("Service", "ExecStart", "/bin/sh -c \"while true; do echo Hello; sleep 1; done\""),
                ])
                #expect(again.status == 204, "same contents: an update, not a replacement: \(again)")

                let state = try await API.putUnit(base, "hello.service", desiredState: "loaded", options: [])
                #expect(state.status == 204, "\(state)")
                #expect(try await API.unit(base, "hello.service")["desiredState"] as? String == "loaded")

                let replaced = try await API.putUnit(base, "hello.service", desiredState: "inactive", options: API.service())
                #expect(replaced.status == 201, "different contents replace the unit in place: \(replaced)")
                let replacedOptions = try await API.unit(base, "hello.service")["options"] as? [[String: String]]
                #expect(replacedOptions == [["section": "Service", "name": "ExecStart", "value": "/bin/sleep 1000"]])

                let list = try await API.request(.GET, base + "/fleet/v1/units")
                #expect((list.object["units"] as? [[String: Any]])?.map { $0["name"] as? String } == ["hello.service"])
                #expect(list.object["nextPageToken"] == nil)

                let legacy = try await API.request(.GET, base + "/v1-alpha/units/hello.service")
                #expect(legacy.status == 200, "the legacy prefix serves the same API")

                let deleted = try await API.request(.DELETE, base + "/fleet/v1/units/hello.service")
                #expect(deleted.status == 204, "\(deleted)")
                let gone = try await API.request(.GET, base + "/fleet/v1/units/hello.service")
                #expect(gone.status == 404 && gone.errorMessage == "unit does not exist" && gone.errorCode == 404, "\(gone)")
                let deletedAgain = try await API.request(.DELETE, base + "/fleet/v1/units/hello.service")
                #expect(deletedAgain.status == 404, "\(deletedAgain)")
            }
        }
    }

    struct BadRequest: Sendable, CustomTestStringConvertible {
        var label: String
        var name: String
        var body: String
        var contentType: String? = "application/json"
        var status: Int
        var message: String

        var testDescription: String { label }
    }

    static let rejectedRequests: [BadRequest] = [
        BadRequest(label: "not JSON", name: "a.service", body: "{nope", status: 400, message: "unable to decode body: "),
        BadRequest(label: "wrong content type", name: "a.service", body: "{}", contentType: "text/plain", status: 415, message: "only acceptable Content-Type is application/json"),
        BadRequest(label: "no content type", name: "a.service", body: "{}", contentType: nil, status: 415, message: "expected 1 Content-Type, got 0"),
        BadRequest(label: "name mismatch", name: "a.service", body: #"{"name":"b.service","desiredState":"inactive","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}"#, status: 400, message: #"name in URL "a.service" differs from unit name in request body "b.service""#),
        BadRequest(label: "no suffix", name: "nosuffix", body: #"{"desiredState":"inactive"}"#, status: 400, message: #"unit name must contain ".""#),
        BadRequest(label: "bad type", name: "a.txt", body: #"{"desiredState":"inactive"}"#, status: 400, message: #"invalid unit type: "txt""#),
        BadRequest(label: "bad character", name: "a!b.service", body: #"{"desiredState":"inactive"}"#, status: 400, message: "invalid character '!' in unit name"),
        BadRequest(label: "no options for a new unit", name: "new.service", body: #"{"desiredState":"launched"}"#, status: 409, message: "unit does not exist and options field empty"),
        BadRequest(label: "bad desired state", name: "a.service", body: #"{"desiredState":"running","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}"#, status: 400, message: #"invalid desiredState "running""#),
        BadRequest(label: "template activated on create", name: "tpl@.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}"#, status: 400, message: #"cannot activate template "tpl@.service""#),
        BadRequest(label: "unknown X-Fleet option", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"X-Fleet","name":"MachineMetaData","value":"a=b"}]}"#, status: 400, message: "MachineMetaData"),
        BadRequest(label: "malformed metadata", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"X-Fleet","name":"MachineMetadata","value":"a=b=c"}]}"#, status: 400, message: "a=b=c"),
        BadRequest(label: "incompatible options", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"X-Fleet","name":"MachineID","value":"abc"},{"section":"X-Fleet","name":"Global","value":"true"}]}"#, status: 400, message: "MachineID cannot be used with Global"),
        BadRequest(label: "service without ExecStart", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Unit","name":"Description","value":"x"}]}"#, status: 400, message: "ExecStart"),
        BadRequest(label: "unterminated quote in ExecStart", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/echo \"open"}]}"#, status: 400, message: "ExecStart"),
        BadRequest(label: "unknown kill signal", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"Service","name":"KillSignal","value":"SIGNOPE"}]}"#, status: 400, message: "KillSignal"),
        BadRequest(label: "bad time span", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"Service","name":"TimeoutStopSec","value":"soon"}]}"#, status: 400, message: "TimeoutStopSec"),
        BadRequest(label: "announcement without a port", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"X-Announce","name":"Service","value":"web"}]}"#, status: 400, message: "Port="),
        BadRequest(label: "option without section", name: "a.service", body: #"{"desiredState":"launched","options":[{"name":"ExecStart","value":"/bin/true"}]}"#, status: 400, message: "no section"),
        BadRequest(label: "value too long", name: "a.service", body: #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/\#(String(repeating: "x", count: 2100))"}]}"#, status: 400, message: "line too long"),
    ]

    @Test("bad requests are refused with fleet's status and message", arguments: rejectedRequests)
    func badRequests(_ bad: BadRequest) async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                let response = try await API.request(.PUT, scheduler.url + "/fleet/v1/units/" + bad.name, json: bad.body, contentType: bad.contentType)
                #expect(response.status == bad.status, "\(response)")
                #expect(response.errorCode == bad.status, "\(response)")
                #expect(response.errorMessage?.contains(bad.message) == true, "\(response)")
                let listed = try await API.request(.GET, scheduler.url + "/fleet/v1/units")
                #expect((listed.object["units"] as? [Any])?.isEmpty == true, "nothing stored: \(listed)")
            }
        }
    }

    @Test("updating an existing unit needs a desired state; templates stay inactive")
    func updateRules() async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                let base = scheduler.url
                #expect(try await API.putUnit(base, "web@.service", desiredState: "inactive", options: API.service()).status == 201)
                let noState = try await API.putUnit(base, "web@.service", desiredState: nil, options: API.service())
                #expect(noState.status == 409 && noState.errorMessage == "must provide DesiredState to update existing unit", "\(noState)")
                let activate = try await API.putUnit(base, "web@.service", desiredState: "launched", options: [])
                #expect(activate.status == 400 && activate.errorMessage == #"cannot activate template "web@.service""#, "\(activate)")
                let unknown = try await API.request(.GET, base + "/fleet/v1/nothing")
                #expect(unknown.status == 404 && unknown.errorCode == 404, "\(unknown)")
            }
        }
    }

    @Test("listings page by nextPageToken, and bad tokens are refused")
    func pagination() async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await InProcessScheduler.with(endpoint: endpoint, tokenLimit: 2) { scheduler in
                let base = scheduler.url
                for index in 1...5 {
                    #expect(try await API.putUnit(base, "u\(index).service", desiredState: "inactive", options: API.service()).status == 201)
                }
                var names: [String] = []
                var token: String?
                var pages = 0
                repeat {
                    let query = token.map { "?nextPageToken=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? ""
                    let page = try await API.request(.GET, base + "/fleet/v1/units" + query)
                    #expect(page.status == 200, "\(page)")
                    names += (page.object["units"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                    token = page.object["nextPageToken"] as? String
                    pages += 1
                } while token != nil && pages < 10
                #expect(names == (1...5).map { "u\($0).service" })
                #expect(pages == 3)

                // fleet's token: base64url of little-endian (limit, page); limit 2, page 2 is "AgACAA==".
                let second = try await API.request(.GET, base + "/fleet/v1/units?nextPageToken=AgACAA%3D%3D")
                #expect((second.object["units"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["u3.service", "u4.service"])
                let wrongLimit = try await API.request(.GET, base + "/fleet/v1/units?nextPageToken=ZAACAA%3D%3D")
                #expect(wrongLimit.status == 400 && wrongLimit.errorMessage == "token limit must be 2", "\(wrongLimit)")
                let pageZero = try await API.request(.GET, base + "/fleet/v1/units?nextPageToken=AgAAAA%3D%3D")
                #expect(pageZero.status == 400 && pageZero.errorMessage == "token page must be greater than zero", "\(pageZero)")
                let twice = try await API.request(.GET, base + "/fleet/v1/units?nextPageToken=AgACAA%3D%3D&nextPageToken=AgACAA%3D%3D")
                #expect(twice.status == 400 && twice.errorMessage == "too many values for page token", "\(twice)")
                let garbage = try await API.request(.GET, base + "/fleet/v1/units?nextPageToken=%21%21")
                #expect(garbage.status == 400, "\(garbage)")
            }
        }
    }

    @Test("machines are listed while present, and their metadata is patched", arguments: KeysBackend.allCases)
    func machines(backend: KeysBackend) async throws {
        try await backend.with { endpoint in
            try await withKeys(endpoint) { keys in
                let machines = SimulatedMachines(keys: keys, ttl: .seconds(5))
                try await machines.register("b0000000000000000000000000000002", metadata: ["region": "west"], publicIP: "10.0.0.2")
                try await machines.register("a0000000000000000000000000000001", metadata: ["region": "east", "disk": "ssd"], publicIP: "10.0.0.1")
                try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                    let base = scheduler.url
                    let listed = try await API.request(.GET, base + "/fleet/v1/machines")
                    let entries = listed.object["machines"] as? [[String: Any]] ?? []
                    #expect(entries.compactMap { $0["id"] as? String } == ["a0000000000000000000000000000001", "b0000000000000000000000000000002"], "\(listed)")
                    #expect(entries.first?["primaryIP"] as? String == "10.0.0.1")
                    #expect(entries.first?["metadata"] as? [String: String] == ["region": "east", "disk": "ssd"])

                    let patch = #"[{"op":"add","path":"/a0000000000000000000000000000001/metadata/rack","value":{"value":"r1"}},"#
                        + #"{"op":"remove","path":"/a0000000000000000000000000000001/metadata/disk"},"#
                        + #"{"op":"replace","path":"/b0000000000000000000000000000002/metadata/region","value":"north"}]"#
                    let patched = try await API.request(.PATCH, base + "/fleet/v1/machines", json: patch)
                    #expect(patched.status == 204, "\(patched)")
                    let after = try await API.request(.GET, base + "/fleet/v1/machines").object["machines"] as? [[String: Any]] ?? []
                    #expect(after.first?["metadata"] as? [String: String] == ["region": "east", "rack": "r1"])
                    #expect(after.last?["metadata"] as? [String: String] == ["region": "north"])

                    let badOps: [(String, String)] = [
                        (#"[{"op":"move","path":"/m/metadata/a","value":"x"}]"#, "invalid op: expect add, remove, or replace"),
                        (#"[{"op":"add","path":"/m/labels/a","value":"x"}]"#, "machine metadata path invalid"),
                        (#"[{"op":"add","path":"/m/metadata/a"}]"#, "invalid value: add and replace require a value"),
                        (#"[{"op":"add","path":"/m/metadata/ok","value":"x"},{"op":"add","path":"/m/metadata/b!","value":"x"}]"#, "machine metadata path invalid"),
                        ("{", "unable to decode body"),
                    ]
                    for (body, message) in badOps {
                        let response = try await API.request(.PATCH, base + "/fleet/v1/machines", json: body)
                        #expect(response.status == 400 && response.errorMessage?.hasPrefix(message) == true, "\(body) -> \(response)")
                    }
                    await #expect(throws: KeysError.self, "no operation of a refused patch is applied") {
                        try await keys.get(scheduler.layout.machineMetadata("m", "ok"))
                    }
                }
                await machines.stopAll()
            }
        }
    }

    @Test("the discovery document and unit states are served")
    func discoveryAndState() async throws {
        try await KeysBackend.etcd.with { endpoint in
            try await withKeys(endpoint) { keys in
                try await InProcessScheduler.with(endpoint: endpoint) { scheduler in
                    let discovery = try await API.request(.GET, scheduler.url + "/fleet/v1/discovery")
                    #expect(discovery.status == 200 && discovery.object["id"] as? String == "fleet:v1", "\(discovery)")

                    let state = UnitStateJSON(loadState: "loaded", activeState: "active", subState: "running", machineID: "m1", unitHash: "abc", currentState: .launched)
                    _ = try await keys.set(scheduler.layout.unitState("hello.service", machine: "m1"), value: String(decoding: try JSONEncoder().encode(state), as: UTF8.self))
                    try await eventually("the published state is listed") {
                        let states = try await API.request(.GET, scheduler.url + "/fleet/v1/state").object["states"] as? [[String: Any]]
                        return states?.first?["systemdSubState"] as? String == "running"
                    }
                    let one = try await API.request(.GET, scheduler.url + "/fleet/v1/state?unitName=hello.service&machineID=m1")
                    let entry = (one.object["states"] as? [[String: Any]])?.first
                    #expect(entry?["name"] as? String == "hello.service" && entry?["machineID"] as? String == "m1" && entry?["hash"] as? String == "abc")
                    #expect(entry?["systemdLoadState"] as? String == "loaded" && entry?["systemdActiveState"] as? String == "active")
                    let filtered = try await API.request(.GET, scheduler.url + "/fleet/v1/state?machineID=m2")
                    #expect((filtered.object["states"] as? [Any])?.isEmpty == true, "\(filtered)")
                    let missing = try await API.request(.GET, scheduler.url + "/fleet/v1/state/none.service")
                    #expect(missing.status == 404 && missing.errorMessage == "unit state does not exist")
                }
            }
        }
    }
}
