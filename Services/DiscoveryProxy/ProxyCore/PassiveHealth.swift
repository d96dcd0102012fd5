/// Where an instance stands with passive health checking at a given time.
public enum PassiveHealthState: Equatable, Sendable {
    case healthy
    /// Not to be picked before `until`.
    case ejected(until: Duration)
    /// The ejection is over and the instance gets traffic again, but on trial: one failure ejects it at once
    /// for twice as long, one success clears its record.
    case probation
}

/// Passive health of one instance, judged from real traffic (nginx `max_fails`/`fail_timeout`, with
/// envoy-style outlier ejection that doubles for an instance that keeps failing).
///
/// - `maxFails` consecutive failures eject the instance for `baseEjection × 2^(ejections − 1)`, capped at
///   `maxEjection`;
/// - after that it is on probation: available, one success makes it healthy (and forgets past ejections),
///   one failure ejects it again with the doubled time;
/// - results reported while it is ejected are ignored: they come from requests sent before the ejection and
///   say nothing new (a burst of them must not double the ejection several times over).
///
/// Time is the caller's monotonic `now`; nothing here reads a clock.
public struct PassiveHealth: Sendable {
    public let maxFails: Int
    public let baseEjection: Duration
    public let maxEjection: Duration
    public private(set) var consecutiveFailures = 0
    /// Ejections in a row without a success in between; 0 when healthy.
    public private(set) var ejections = 0
    /// End of the current or, on probation, the last ejection; `nil` when healthy.
    public private(set) var ejectedUntil: Duration?

    public init(maxFails: Int, baseEjection: Duration, maxEjection: Duration = .seconds(300)) {
        self.maxFails = max(1, maxFails)
        self.baseEjection = baseEjection
        self.maxEjection = maxEjection
    }

    public func state(now: Duration) -> PassiveHealthState {
        if let until = ejectedUntil {
            return now < until ? .ejected(until: until) : .probation
        }
        return .healthy
    }

    public func isAvailable(now: Duration) -> Bool {
        ejectedUntil.map { now >= $0 } ?? true
    }

    public mutating func recordSuccess(now: Duration) {
        guard isAvailable(now: now) else { return }
        consecutiveFailures = 0
        ejections = 0
        ejectedUntil = nil
    }

    /// `true` when this failure ejects the instance (the caller logs it and stops picking it).
    public mutating func recordFailure(now: Duration) -> Bool {
        switch state(now: now) {
        case .ejected:
            return false
        case .probation:
            consecutiveFailures += 1
            eject(now: now)
            return true
        case .healthy:
            consecutiveFailures += 1
            guard consecutiveFailures >= maxFails else { return false }
            eject(now: now)
            return true
        }
    }

    /// How long the next ejection lasts, given the ejections so far.
    public var nextEjection: Duration {
        var duration = baseEjection
        // Doubling stops at the cap, so a long-failing instance cannot overflow `Duration`.
        for _ in 0..<ejections where duration < maxEjection {
            duration *= 2
        }
        return min(duration, maxEjection)
    }

    private mutating func eject(now: Duration) {
        ejectedUntil = now + nextEjection
        ejections += 1
    }
}
