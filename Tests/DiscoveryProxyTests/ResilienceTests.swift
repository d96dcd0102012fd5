import AsyncHTTPClient
import DiscoveryProxy
import ProxyCore
import Foundation
import KeysClient
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import TestSupport

extension DiscoveryProxyIntegrationTests {
    /// Failures of instances and of the keys API, and how the proxy keeps clients from seeing them.
    @Suite(.timeLimit(.minutes(2)))
    struct ResilienceTests {
        @Test func retriesConnectFailuresThenEjectsAndReadmits() async throws {
            let deadPort = try LoopbackPorts.reserve(count: 1)[0]
            try await withProxy(backends: ["live"]) { proxy, backends in
                try await proxy.route("web", #"{"service": "web", "retries": 1, "max_fails": 2, "fail_timeout": "3s"}"#)
                try await proxy.announce("web", "live", backends[0])
                _ = try await proxy.keys.set("/services/web/dead", value: "127.0.0.1:\(deadPort)")
                try await proxy.waitForInstances("web", ["live", "dead"])

                // Every request succeeds: a refused connect goes to the other instance at once.
                let answers = try await proxy.backends(6)
                #expect(answers.allSatisfy { $0 == "live" })
                #expect(try await proxy.instanceStates(of: "web")["dead"] == "ejected")

                // Something listens there now: after its ejection ends it gets traffic again.
                let revived = try await TestBackend.start(name: "revived", port: deadPort)
                defer { Task { await revived.stop() } }
                try await eventually("the revived instance to be readmitted", timeout: .seconds(20)) {
                    try await proxy.get("/").backend == "revived"
                }
                await revived.stop()
            }
        }

        @Test func retriesResetsOfIdempotentRequestsOnly() async throws {
            try await withProxy(backends: ["a", "b"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web,max_fails=100")] }) { proxy, backends in
                for backend in backends { try await proxy.announce("web", backend.name, backend) }
                try await proxy.waitForInstances("web", ["a", "b"])
                // /reset makes either instance hang up without answering: a GET is retried once elsewhere and
                // fails only because the other instance resets too; a POST is never retried.
                let get = try await proxy.get("/reset")
                #expect(get.status == 502)
                let hitsBefore = backends[0].hits.value + backends[1].hits.value
                let post = try await proxy.get("/reset", method: .POST, body: "x")
                #expect(post.status == 502)
                #expect(backends[0].hits.value + backends[1].hits.value == hitsBefore + 1)
            }
        }

        @Test func aDeletedInstanceDrainsItsInFlightRequests() async throws {
            try await withProxy(backends: ["a"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "a", backends[0])
                try await proxy.waitForInstances("web", ["a"])
                let slow = Task { try await proxy.get("/slow?ms=1000") }
                try await eventually("the slow request to be in flight") {
                    try await proxy.instances(of: "web").contains { $0["active_requests"] as? Int == 1 }
                }
                try await proxy.withdraw("web", "a")
                try await proxy.waitForInstances("web", [])
                #expect(try await proxy.get("/").status == 503)
                let drained = try await slow.value
                #expect(drained.status == 200)
                #expect(drained.backend == "a")
            }
        }

        @Test func anExpiredInstanceIsEjectedAndItsWaitingRequestsRetried() async throws {
            try await withProxy(backends: ["doomed", "b"], configure: { $0.staticRoutes = [try! .parse(flag: "service=web")] }) { proxy, backends in
                try await proxy.announce("web", "doomed", backends[0], ttl: .seconds(5))
                try await proxy.waitForInstances("web", ["doomed"])
                // Only the doomed instance exists when this starts, so it is the one that holds the request.
                let started = ContinuousClock.now
                let waiting = Task { try await proxy.get("/slow?ms=20000&only=doomed") }
                try await eventually("the request to wait on the doomed instance") {
                    try await proxy.instances(of: "web").contains { $0["active_requests"] as? Int == 1 }
                }
                try await proxy.announce("web", "b", backends[1])
                try await proxy.waitForInstances("web", ["b"], timeout: .seconds(15))
                let reply = try await waiting.value
                #expect(reply.status == 200)
                #expect(reply.backend == "b")
                #expect(ContinuousClock.now - started < .seconds(15), "the request waited for the dead instance instead of being retried")
            }
        }

        @Test func aSlowAnswerTimesOutAndIsRetriedElsewhere() async throws {
            try await withProxy(backends: ["slow", "quick"]) { proxy, backends in
                try await proxy.route("web", #"{"service": "web", "response_header_timeout": "1s", "retries": 1, "max_fails": 100}"#)
                for backend in backends { try await proxy.announce("web", backend.name, backend) }
                try await proxy.waitForInstances("web", ["slow", "quick"])
                // Whichever instance a request meets first, it is answered by the quick one within the timeout.
                for _ in 0..<4 {
                    let started = ContinuousClock.now
                    let reply = try await proxy.get("/slow?ms=10000&only=slow")
                    #expect(reply.status == 200 && reply.backend == "quick", "\(reply.status) \(reply.body)")
                    #expect(ContinuousClock.now - started < .seconds(8))
                }
                // With nowhere else to go, the client gets 504 naming the timeout, not a hang.
                try await proxy.withdraw("web", "quick")
                try await proxy.waitForInstances("web", ["slow"])
                let timedOut = try await proxy.get("/slow?ms=10000&only=slow")
                #expect(timedOut.status == 504, "\(timedOut.status) \(timedOut.body)")
                #expect(timedOut.body.contains("did not answer within 1s"), "\(timedOut.body)")
            }
        }

        @Test func activeHealthChecksTakeOutAndReadmit() async throws {
            try await withProxy(backends: ["a", "b"]) { proxy, backends in
                try await proxy.route(
                    "web", #"{"service": "web", "health_check": {"path": "/health", "interval": "100ms", "healthy_threshold": 1, "unhealthy_threshold": 1}}"#)
                for backend in backends { try await proxy.announce("web", backend.name, backend) }
                try await proxy.waitForInstances("web", ["a", "b"])
                backends[0].healthy.withLock { $0 = false }
                try await eventually("a to fail its checks") { try await proxy.instanceStates(of: "web")["a"] == "unhealthy" }
                #expect(try await proxy.backends(6).allSatisfy { $0 == "b" })
                backends[0].healthy.withLock { $0 = true }
                try await eventually("a to pass its checks again") { try await proxy.instanceStates(of: "web")["a"] == "active" }
                #expect(try await proxy.backends(6).contains("a"))
            }
        }

        @Test func keepsTheLastKnownTableWhileTheKeysAPIIsDown() async throws {
            try await EtcdCluster.with(size: 1) { cluster in
                try await withBackends(["a"]) { backends in
                    try await InProcessProxy.with(endpoint: cluster.clientURLs[0], configure: {
                        $0.staticRoutes = [try! .parse(flag: "service=web")]
                        $0.resyncInterval = .milliseconds(300)
                    }) { proxy in
                        try await proxy.announce("web", "a", backends[0])
                        try await proxy.waitForInstances("web", ["a"])
                        cluster.kill(cluster.members[0].name)
                        try await eventually("the status to say the keys API is unreachable") {
                            (try await proxy.status()["watch"] as? [String: Any])?["store_reachable"] as? Bool == false
                        }
                        // Unreachable is not empty: traffic still flows to the last known instances.
                        #expect(try await proxy.backends(5).allSatisfy { $0 == "a" })
                    }
                }
            }
        }
    }
}
