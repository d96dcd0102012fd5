import HealthHysteresis
import NodeAgent
import Testing
import UnitFile

@Suite("service announcement")
struct AnnouncementTests {
    func unit(_ announce: String) throws -> UnitFile {
        try UnitFile(parsing: "[Service]\nExecStart=/bin/true\n\n[X-Announce]\n" + announce)
    }

    @Test("a full declaration, and the defaults")
    func parsing() throws {
        let full = try #require(try ServiceAnnouncement(unit: unit("Service=web\nPort=8080\nHealthCheck=http /healthz\nHealthInterval=500ms\nHealthTimeout=200ms\nHealthyThreshold=2\nUnhealthyThreshold=3\n")))
        #expect(full.service == "web" && full.port == 8080 && full.check == .http(path: "/healthz"))
        #expect(full.interval == .milliseconds(500) && full.timeout == .milliseconds(200))
        #expect(full.healthyThreshold == 2 && full.unhealthyThreshold == 3)
        #expect(full.key(machine: "m1") == "/services/web/m1:8080")

        let minimal = try #require(try ServiceAnnouncement(unit: unit("Service=db\nPort=5432\n")))
        #expect(minimal.check == .tcp && minimal.interval == .seconds(2) && minimal.timeout == .seconds(1))
        #expect(minimal.healthyThreshold == 1 && minimal.unhealthyThreshold == 2)
        #expect(try ServiceAnnouncement(unit: UnitFile(parsing: "[Service]\nExecStart=/bin/true\n")) == nil)
    }

    @Test("mistakes are refused with the option named", arguments: [
        ("Port=80\n", "needs Service="),
        ("Service=web\n", "Port="),
        ("Service=web\nPort=70000\n", "Port="),
        ("Service=we/b\nPort=80\n", "Service="),
        ("Service=web\nPort=80\nHealthCheck=http healthz\n", "HealthCheck="),
        ("Service=web\nPort=80\nHealthCheck=udp\n", "HealthCheck="),
        ("Service=web\nPort=80\nHealthInterval=soon\n", "HealthInterval="),
        ("Service=web\nPort=80\nHealthTimeout=0\n", "HealthTimeout="),
        ("Service=web\nPort=80\nUnhealthyThreshold=0\n", "UnhealthyThreshold="),
        ("Service=web\nPort=80\nHelthCheck=tcp\n", "HelthCheck"),
    ])
    func mistakes(announce: String, named: String) throws {
        let file = try unit(announce)
        #expect { try ServiceAnnouncement(unit: file) } throws: { "\($0)".contains(named) }
    }

    @Test("thresholds: announced after enough passes, withdrawn after enough failures")
    func tracker() {
        var health = HealthHysteresis(healthyThreshold: 2, unhealthyThreshold: 3, initiallyHealthy: false)
        #expect(!health.isHealthy)
        #expect(health.record(passed: true) == nil)
        #expect(health.record(passed: true) == true)
        #expect(health.record(passed: false) == nil && health.record(passed: false) == nil)
        #expect(health.record(passed: true) == nil, "a pass resets the failure streak")
        #expect(health.record(passed: false) == nil && health.record(passed: false) == nil)
        #expect(health.record(passed: false) == false)
        #expect(!health.isHealthy)
    }
}
