import Logging
import Synchronization

/// Leader election (and, with the same code, a cluster-wide mutex) on one lease key.
///
/// A candidate campaigns by trying to acquire the lease; while someone else holds it, it watches the key
/// until it is deleted or expires, then tries again. The leader renews every `renewInterval`; if renewal
/// fails for longer than the TTL, or the key was taken over, leadership is lost and the leader's work is
/// cancelled, so two leaders never act at once for longer than clock skew allows.
public struct LeaderElection: Sendable {
    public let client: KeysAPI
    public let key: String
    public let candidate: String
    public let ttl: Duration
    public let renewInterval: Duration

    public init(client: KeysAPI, key: String, candidate: String, ttl: Duration = .seconds(10), renewInterval: Duration? = nil) {
        self.client = client
        self.key = key
        self.candidate = candidate
        self.ttl = ttl
        self.renewInterval = renewInterval ?? ttl / 3
    }

    /// The current leader's name, if any.
    public func leader() async throws -> String? {
        do {
            return try await client.get(key).node?.value
        } catch let error as KeysError where error.code == .keyNotFound {
            return nil
        }
    }

    /// Waits until this candidate leads.
    public func campaign() async throws -> Lease {
        while true {
            try Task.checkCancellation()
            if let lease = try await client.acquireLease(key, value: candidate, ttl: ttl) {
                client.logger.info("elected", metadata: ["election.key": "\(key)", "election.candidate": "\(candidate)"])
                return lease
            }
            try await waitForVacancy()
        }
    }

    /// Campaigns, then runs `body` as leader while renewing the lease, and releases it when `body` returns.
    /// If leadership is lost first, `body` is cancelled and `LeaseLostError` is thrown.
    public func withLeadership<Result: Sendable>(_ body: @escaping @Sendable (Lease) async throws -> Result) async throws -> Result {
        let initial = try await campaign()
        let current = LatestLease(initial)
        let outcome: Result
        do {
            outcome = try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask { try await body(initial) }
                group.addTask {
                    try await self.keepRenewing(initial) { renewed in current.value = renewed }
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let result = first else {
                    throw LeaseLostError(key: key, reason: "renewal stopped")
                }
                return result
            }
        } catch {
            // Children are finished here, so the lease index is final. The release runs in a task of its own:
            // this one may be cancelled (a shutdown), and a cancelled request would leave the lease to expire,
            // delaying the next leader by a whole TTL.
            if !(error is LeaseLostError) {
                let lease = current.value
                await Task { try? await client.releaseLease(lease) }.value
            }
            throw error
        }
        try await client.releaseLease(current.value)
        return outcome
    }

    /// Renews until cancelled; throws `LeaseLostError` when the lease is gone or could not be renewed for a TTL.
    func keepRenewing(_ initial: Lease, onRenew: @Sendable (Lease) -> Void) async throws {
        var lease = initial
        var lastRenewal = ContinuousClock.now
        while true {
            try await Task.sleep(for: renewInterval)
            do {
                lease = try await client.renewLease(lease)
                lastRenewal = .now
                onRenew(lease)
            } catch let error as LeaseLostError {
                client.logger.notice("leadership lost", metadata: ["election.key": "\(key)", "error": "\(error)"])
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard ContinuousClock.now - lastRenewal < ttl else {
                    throw LeaseLostError(key: key, reason: "could not renew for \(ttl): \(error)")
                }
                client.logger.warning("lease renewal failed; retrying", metadata: ["election.key": "\(key)", "error": "\(error)"])
            }
        }
    }

    /// Returns once the key is (or just became) free.
    private func waitForVacancy() async throws {
        let index: UInt64
        do {
            index = try await client.get(key).etcdIndex
        } catch let error as KeysError where error.code == .keyNotFound {
            return
        }
        for try await change in client.watch(key, after: index) {
            switch change {
            case .event(let event) where event.action.removesNode:
                return
            case .resync(let snapshot) where snapshot.node == nil:
                return
            default:
                continue
            }
        }
    }
}

/// The lease as last renewed, shared between the renewal task and the code that releases it.
final class LatestLease: Sendable {
    private let storage: Mutex<Lease>
    init(_ lease: Lease) { storage = Mutex(lease) }
    var value: Lease {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
