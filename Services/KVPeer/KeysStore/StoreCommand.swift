/// A write to the store, as it travels through the log. Everything that makes applying it deterministic
/// is inside: expirations are absolute instants computed where the request arrived, never "now + ttl"
/// at apply time.
public enum StoreCommand: Equatable, Sendable {
    case set(key: String, value: String, dir: Bool, expiration: Timestamp?, refresh: Bool)
    /// `unique`: POST, the key gets a zero-padded index appended.
    case create(key: String, value: String, dir: Bool, expiration: Timestamp?, unique: Bool)
    case update(key: String, value: String, expiration: Timestamp?, refresh: Bool)
    case compareAndSwap(key: String, value: String, prevValue: String, prevIndex: UInt64, expiration: Timestamp?, refresh: Bool)
    case delete(key: String, dir: Bool, recursive: Bool)
    case compareAndDelete(key: String, prevValue: String, prevIndex: UInt64)
    /// The leader's periodic SYNC: expire every key whose expiration is at or before `cutoff`.
    case expire(cutoff: Timestamp)
}
