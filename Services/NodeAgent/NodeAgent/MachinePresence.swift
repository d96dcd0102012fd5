public import FleetLayout
public import KeysClient
public import Logging

/// This machine's presence key, `machines/<id>/object`, with a TTL kept alive by refreshes.
///
/// A refresh (`refresh=true`) resets the TTL without waking watchers, so a thousand heartbeating machines cost
/// the scheduler nothing. Registration overwrites whatever is there: an agent restarted with the same ID takes
/// its own key back at once instead of waiting for it to expire (fleet did wait), so its units never move.
public struct MachinePresence: Sendable {
    public let keys: KeysAPI
    public let layout: FleetKeyLayout
    public let object: MachineObjectJSON
    public let ttl: Duration
    public let logger: Logger

    public init(keys: KeysAPI, layout: FleetKeyLayout, object: MachineObjectJSON, ttl: Duration, logger: Logger) {
        self.keys = keys
        self.layout = layout
        self.object = object
        self.ttl = ttl
        self.logger = logger
    }

    var key: String { layout.machineObject(object.ID) }

    public func register() async throws {
        _ = try await keys.set(key, value: RegistryJSON.encode(object), ttl: ttl)
    }

    /// Registers, then refreshes every third of the TTL until cancelled; a key that expired meanwhile (the
    /// keys API was unreachable for a whole TTL) is registered again.
    public func keepAlive() async throws {
        try await registerUntilDone()
        while true {
            try await Task.sleep(for: ttl / 3)
            do {
                _ = try await keys.refresh(key, ttl: ttl)
            } catch let error as KeysError where error.code == .keyNotFound {
                logger.warning("presence expired; registering again", metadata: ["machine": "\(object.ID)"])
                try await registerUntilDone()
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("presence refresh failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func registerUntilDone() async throws {
        var attempt = 0
        while true {
            do {
                try await register()
                return
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("registration failed; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: Backoff().delay(attempt: attempt, jitter: Double.random(in: 0.5...1)))
                attempt += 1
            }
        }
    }

    /// Removes the key, for an agent that leaves the cluster for good (its units are then placed elsewhere).
    public func withdraw() async throws {
        _ = try? await keys.delete(key)
    }
}
