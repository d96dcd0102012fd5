import Foundation
import HTTPServer
import HTTPTypes
import KeysClient
import Logging
import NodeAgent
import Synchronization
import Testing
import TestSupport
import UnitFile

/// Announcements against a real etcd and a real HTTP backend whose health the test flips.
@Suite("announcer", .timeLimit(.minutes(2)))
struct AnnouncerTests {
    final class Health: Sendable {
        let healthy = Mutex(true)
    }

    @Test("announced once healthy, withdrawn when the check fails or the unit stops, back when healthy again")
    func lifecycle() async throws {
        let health = Health()
        var router = Router()
        router.get("/healthz") { _, _ in
            health.healthy.withLock { $0 } ? Response(body: ResponseBody(string: "ok\n")) : Response(status: .serviceUnavailable)
        }
        try await withTestServer(responder: router.buildResponder()) { server in
            try await EtcdCluster.with(size: 1) { cluster in
                try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: cluster.clientURLs), logger: quietLogger()) { keys in
                    let announcement = ServiceAnnouncement(
                        service: "web", port: server.port, check: .http(path: "/healthz"), interval: .milliseconds(100),
                        timeout: .milliseconds(500), healthyThreshold: 1, unhealthyThreshold: 2
                    )
                    let announcer = Announcer(keys: keys, announcement: announcement, unit: "web.service", machineID: "m1", host: "10.0.0.1", ttl: .seconds(5), logger: quietLogger())
                    #expect(announcer.key == "/services/web/m1:\(server.port)")
                    let (running, unitState) = AsyncStream.makeStream(of: Bool.self)
                    let task = Task { await announcer.run(running: running) }

                    @Sendable func announced() async -> String? { try? await keys.get(announcer.key).node?.value }
                    @Sendable func waitFor(_ what: String, _ condition: @Sendable (String?) -> Bool) async throws {
                        // A bound, not a timing: generous, so that a loaded machine cannot fail it.
                        let deadline = ContinuousClock.now + .seconds(20)
                        while ContinuousClock.now < deadline {
                            if condition(await announced()) { return }
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        Issue.record("timed out waiting for \(what); key is \(await announced() ?? "absent")")
                        throw CancellationError()
                    }

                    try await Task.sleep(for: .milliseconds(300))
                    #expect(await announced() == nil, "nothing is announced before the unit runs")
                    unitState.yield(true)
                    try await waitFor("the announcement") { $0 != nil }
                    let record = try JSONSerialization.jsonObject(with: Data((await announced() ?? "").utf8)) as? [String: Any]
                    #expect(record?["host"] as? String == "10.0.0.1" && record?["port"] as? Int == server.port)
                    #expect(record?["unit"] as? String == "web.service" && record?["machine"] as? String == "m1")

                    health.healthy.withLock { $0 = false }
                    try await waitFor("withdrawal after two failed checks") { $0 == nil }
                    health.healthy.withLock { $0 = true }
                    try await waitFor("announced again once healthy") { $0 != nil }

                    unitState.yield(false)
                    try await waitFor("withdrawal the moment the unit stops") { $0 == nil }
                    unitState.yield(true)
                    try await waitFor("announced once running again") { $0 != nil }
                    task.cancel()
                    await task.value
                    #expect(await announced() == nil, "a unit no longer supervised is not left announced")
                }
            }
        }
    }
}
