/// Active health of one instance from periodic probes, with haproxy's rise/fall hysteresis: it takes
/// `healthyThreshold` passes in a row to come back and `unhealthyThreshold` failures in a row to go out, so
/// one flaky probe does not flap the instance.
public struct ActiveHealth: Sendable {
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
