/// Turns check results into healthy/unhealthy with thresholds, so one slow answer does not withdraw a
/// service and one lucky answer does not announce a broken one. Starts unhealthy: nothing is announced
/// before its first passing check.
public struct HealthTracker: Sendable, Hashable {
    public private(set) var isHealthy = false
    private var streak = 0
    let healthyThreshold: Int
    let unhealthyThreshold: Int

    public init(healthyThreshold: Int, unhealthyThreshold: Int) {
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
    }

    /// Records one check; returns the new state when it changed.
    public mutating func record(passed: Bool) -> Bool? {
        if passed == isHealthy {
            streak = 0
            return nil
        }
        streak += 1
        guard streak >= (passed ? healthyThreshold : unhealthyThreshold) else { return nil }
        isHealthy = passed
        streak = 0
        return isHealthy
    }
}
