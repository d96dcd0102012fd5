import ProxyCore
import Testing

private func t(_ seconds: Double) -> Duration { .milliseconds(Int(seconds * 1000)) }

@Suite("PassiveHealth: ejection timelines with explicit time")
struct PassiveHealthTests {
    @Test("maxFails consecutive failures eject; a success in between resets the count")
    func ejection() {
        var h = PassiveHealth(maxFails: 3, baseEjection: .seconds(10), maxEjection: .seconds(60))
        #expect(h.recordFailure(now: t(0)) == false)
        #expect(h.recordFailure(now: t(1)) == false)
        h.recordSuccess(now: t(2))
        #expect(h.consecutiveFailures == 0)
        #expect(h.recordFailure(now: t(3)) == false)
        #expect(h.recordFailure(now: t(4)) == false)
        #expect(h.state(now: t(4)) == .healthy)
        #expect(h.recordFailure(now: t(5)) == true)
        #expect(h.ejections == 1)
        #expect(h.ejectedUntil == t(15))
        #expect(h.state(now: t(5)) == .ejected(until: t(15)))
        #expect(h.isAvailable(now: t(14.999)) == false)
        #expect(h.isAvailable(now: t(15)) == true)
        #expect(h.state(now: t(15)) == .probation)
    }

    @Test("results while ejected are ignored: they come from requests sent before the ejection")
    func ignoredWhileEjected() {
        var h = PassiveHealth(maxFails: 1, baseEjection: .seconds(10))
        #expect(h.recordFailure(now: t(0)) == true)
        #expect(h.recordFailure(now: t(1)) == false)
        #expect(h.recordFailure(now: t(2)) == false)
        h.recordSuccess(now: t(3))
        #expect(h.ejections == 1)
        #expect(h.state(now: t(9)) == .ejected(until: t(10)))
    }

    @Test("failing on probation re-ejects at once with double the time, up to the cap")
    func doublingAndCap() {
        var h = PassiveHealth(maxFails: 3, baseEjection: .seconds(10), maxEjection: .seconds(60))
        for s in [0.0, 1, 2] { _ = h.recordFailure(now: t(s)) }
        #expect(h.ejectedUntil == t(12))
        // Each probation failure: one failure is enough, and the ejection doubles: 20 s, 40 s, then 60 s (cap).
        var now = t(12)
        for (n, expected) in [(2, 20.0), (3, 40), (4, 60), (5, 60), (6, 60)] {
            #expect(h.state(now: now) == .probation)
            #expect(h.recordFailure(now: now) == true)
            #expect(h.ejections == n)
            #expect(h.ejectedUntil == now + t(expected), "ejection \(n)")
            now += t(expected)
        }
    }

    @Test("a success on probation clears the record; the next ejection is short again")
    func probationSuccess() {
        var h = PassiveHealth(maxFails: 2, baseEjection: .seconds(5), maxEjection: .seconds(300))
        _ = h.recordFailure(now: t(0))
        #expect(h.recordFailure(now: t(0)) == true)
        #expect(h.recordFailure(now: t(5)) == true)
        #expect(h.ejectedUntil == t(15))
        #expect(h.nextEjection == .seconds(20))
        h.recordSuccess(now: t(15))
        #expect(h.state(now: t(15)) == .healthy)
        #expect(h.ejections == 0)
        #expect(h.ejectedUntil == nil)
        #expect(h.consecutiveFailures == 0)
        #expect(h.nextEjection == .seconds(5))
        // Healthy again: it takes maxFails failures, not one.
        #expect(h.recordFailure(now: t(16)) == false)
        #expect(h.recordFailure(now: t(17)) == true)
        #expect(h.ejectedUntil == t(22))
    }

    @Test("a long-failing instance stays at the cap without overflowing")
    func manyEjections() {
        var h = PassiveHealth(maxFails: 1, baseEjection: .seconds(1), maxEjection: .seconds(300))
        var now = Duration.zero
        for _ in 0..<200 {
            #expect(h.recordFailure(now: now) == true)
            now = h.ejectedUntil!
        }
        #expect(h.ejections == 200)
        #expect(h.nextEjection == .seconds(300))
    }

    @Test("maxFails below 1 counts as 1")
    func clampedMaxFails() {
        var h = PassiveHealth(maxFails: 0, baseEjection: .seconds(1))
        #expect(h.maxFails == 1)
        #expect(h.recordFailure(now: .zero) == true)
    }
}
