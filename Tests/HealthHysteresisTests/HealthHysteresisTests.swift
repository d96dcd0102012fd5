import HealthHysteresis
import Testing

@Suite("HealthHysteresis: rise/fall thresholds")
struct HealthHysteresisTests {
    @Test("fall after unhealthyThreshold failures in a row, rise after healthyThreshold passes in a row")
    func riseAndFall() {
        var h = HealthHysteresis(healthyThreshold: 2, unhealthyThreshold: 3)
        #expect(h.isHealthy)
        let results: [(Bool, Bool?)] = [
            (false, nil), (false, nil), (true, nil),          // interrupted: the streak restarts
            (false, nil), (false, nil), (false, false),       // third in a row: down
            (false, nil), (true, nil), (false, nil),          // one pass is not enough
            (true, nil), (true, true),                        // second in a row: up
            (true, nil),
        ]
        for (i, (passed, change)) in results.enumerated() {
            #expect(h.record(passed: passed) == change, "result \(i)")
        }
        #expect(h.isHealthy)
    }

    @Test("starting unhealthy needs healthyThreshold passes")
    func initiallyUnhealthy() {
        var h = HealthHysteresis(healthyThreshold: 2, unhealthyThreshold: 3, initiallyHealthy: false)
        #expect(!h.isHealthy)
        #expect(h.record(passed: false) == nil)
        #expect(h.record(passed: true) == nil)
        #expect(h.streak == 1)
        #expect(h.record(passed: true) == true)
        #expect(h.isHealthy)
        #expect(h.streak == 0)
    }

    @Test("thresholds of 1 follow every result")
    func thresholdsOfOne() {
        var h = HealthHysteresis(healthyThreshold: 1, unhealthyThreshold: 1)
        #expect(h.record(passed: false) == false)
        #expect(h.record(passed: false) == nil)
        #expect(h.record(passed: true) == true)
        #expect(h.record(passed: false) == false)
    }
}
