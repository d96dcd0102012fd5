import Logging

/// A key held with a TTL: whoever created it holds it until it is released or expires.
///
/// The fleet recipe (`registry/lease.go`): acquire = create with TTL (`prevExist=false`), renew = refresh the
/// TTL on condition that `modifiedIndex` is still ours, release = compare-and-delete on that index. Renewing
/// with `refresh=true` keeps the value and does not wake the key's watchers.
public struct Lease: Sendable, Equatable {
    public let key: String
    public let value: String
    public let ttl: Duration
    /// The key's modifiedIndex after our last write; proof that it is still ours.
    public let modifiedIndex: UInt64

    public init(key: String, value: String, ttl: Duration, modifiedIndex: UInt64) {
        self.key = key
        self.value = value
        self.ttl = ttl
        self.modifiedIndex = modifiedIndex
    }
}

/// The lease was taken over or expired before it could be renewed.
public struct LeaseLostError: Error, Equatable, Sendable, CustomStringConvertible {
    public let key: String
    public let reason: String
    public var description: String { "lease \(key) lost: \(reason)" }
}

extension KeysAPI {
    /// Takes the lease if nobody holds it; nil when someone does.
    public func acquireLease(_ key: String, value: String, ttl: Duration) async throws -> Lease? {
        do {
            let response = try await create(key, value: value, ttl: ttl)
            return Lease(key: key, value: value, ttl: ttl, modifiedIndex: response.index)
        } catch let error as KeysError where error.code == .nodeExist {
            return nil
        }
    }

    /// Extends the lease by its TTL; throws `LeaseLostError` if it is no longer ours.
    public func renewLease(_ lease: Lease) async throws -> Lease {
        do {
            let response = try await refresh(lease.key, ttl: lease.ttl, prevIndex: lease.modifiedIndex)
            return Lease(key: lease.key, value: lease.value, ttl: lease.ttl, modifiedIndex: response.index)
        } catch let error as KeysError where error.code == .testFailed || error.code == .keyNotFound {
            throw LeaseLostError(key: lease.key, reason: error.description)
        }
    }

    /// Gives the lease up; a lease already lost is not an error.
    public func releaseLease(_ lease: Lease) async throws {
        do {
            _ = try await compareAndDelete(lease.key, prevIndex: lease.modifiedIndex)
        } catch let error as KeysError where error.code == .testFailed || error.code == .keyNotFound {
            logger.debug("lease already gone at release", metadata: ["key": "\(lease.key)", "error": "\(error)"])
        }
    }
}
