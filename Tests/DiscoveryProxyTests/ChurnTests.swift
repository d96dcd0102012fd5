import AsyncHTTPClient
import DiscoveryProxy
import ProxyCore
import KeysClient
import NIOCore
import Synchronization
import Testing
import TestSupport

extension DiscoveryProxyIntegrationTests {
    /// The promise of the whole service: instances come and go under load and no client notices.
    @Suite(.timeLimit(.minutes(3)))
    struct ChurnTests {
        struct Tally: Sendable {
            var ok = 0
            var failures: [String] = []
            var byBackend: [String: Int] = [:]
        }

        @Test(arguments: KeysBackend.allCases)
        func instancesJoinAndLeaveUnderLoadWithoutAFailedRequest(store: KeysBackend) async throws {
            try await withProxy(store, backends: ["s1", "s2"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, initial in
                for backend in initial { try await proxy.announce("web", backend.name, backend) }
                try await proxy.waitForInstances("web", ["s1", "s2"])

                let tally = Observed(Tally())
                let done = Observed(false)
                // Bounded, paced load: 6 keep-alive clients, each a request per millisecond at most, until the churn
                // is over or 3 000 requests each. Paced so the suite's other, timing-sensitive tests keep their CPU.
                let load = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for _ in 0..<4 {
                            group.addTask {
                                for _ in 0..<3000 where !done.value {
                                    try? await Task.sleep(for: .milliseconds(10))
                                    do {
                                        let reply = try await proxy.get("/")
                                        tally.update { tally in
                                            if reply.status == 200 {
                                                tally.ok += 1
                                                tally.byBackend[reply.backend ?? "?", default: 0] += 1
                                            } else {
                                                tally.failures.append("status \(reply.status): \(reply.body)")
                                            }
                                        }
                                    } catch {
                                        tally.update { $0.failures.append("\(error)") }
                                    }
                                }
                            }
                        }
                    }
                }

                var live = initial
                for round in 0..<3 {
                    // Join: a new instance starts and announces itself.
                    let joined = try await TestBackend.start(name: "join-\(round)")
                    try await proxy.announce("web", joined.name, joined)
                    // Expiry: an instance with a TTL stops heartbeating, so its key expires.
                    let expiring = try await TestBackend.start(name: "ttl-\(round)")
                    try await proxy.announce("web", expiring.name, expiring, ttl: .seconds(2))
                    try await proxy.waitForInstances("web", Set((live + [joined, expiring]).map(\.name)))
                    let served = tally.value.byBackend[joined.name] ?? 0
                    try await eventually("\(joined.name) to receive traffic (had \(served))") {
                        (tally.value.byBackend[joined.name] ?? 0) > 0
                    }
                    // Leave by delete: deregister, let the proxy drain it, then stop it as SIGTERM would.
                    let leaving = live.removeFirst()
                    try await proxy.withdraw("web", leaving.name)
                    try await proxy.waitForInstances("web", Set((live + [joined, expiring]).map(\.name)))
                    await leaving.stop()
                    // Leave by expiry.
                    try await proxy.waitForInstances("web", Set((live + [joined]).map(\.name)), timeout: .seconds(15))
                    await expiring.stop()
                    live.append(joined)
                }
                done.set(true)
                await load.value
                for backend in live where !initial.contains(where: { $0 === backend }) { await backend.stop() }

                let result = tally.value
                #expect(result.failures.isEmpty, "\(result.failures.count) failed requests, first: \(result.failures.prefix(5))")
                #expect(result.ok > 100, "only \(result.ok) requests completed")
                #expect(result.byBackend.keys.contains("ttl-0"), "\(result.byBackend)")
            }
        }
    }
}
