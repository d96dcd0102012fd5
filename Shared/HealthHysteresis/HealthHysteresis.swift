/// Health from periodic checks, with haproxy's rise/fall hysteresis: it takes
/// `healthyThreshold` passes in a row to come back and `unhealthyThreshold` failures in a row to go out, so
/// one flaky check does not flap it. The discovery proxy judges instances with it, node agents their units'
/// services (those start unhealthy: nothing is announced before its first passing check).
public struct HealthHysteresis: Sendable, Hashable {
    public let healthyThreshold: Int
    public let unhealthyThreshold: Int
    public private(set) var isHealthy: Bool
    /// Consecutive results that disagree with ``isHealthy`` so far.
    public private(set) var streak = 0

    public init(healthyThreshold: Int, unhealthyThreshold: Int, initiallyHealthy: Bool = true) {
        self.healthyThreshold = max(1, healthyThreshold)
        self.unhealthyThreshold = max(1, unhealthyThreshold)
        self.isHealthy = initiallyHealthy
    }

    /// The new health when this result flips it, otherwise `nil`.
    public mutating func record(passed: Bool) -> Bool? {
        guard passed != isHealthy else {
            streak = 0
            return nil
        }
        streak += 1
        guard streak >= (passed ? healthyThreshold : unhealthyThreshold) else { return nil }
        isHealthy = passed
        streak = 0
        return passed
    }
}
