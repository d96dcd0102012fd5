/// etcd's `/v2/stats/store` counters, in etcd's field order.
public struct StoreStats: Equatable, Sendable {
    public var getsSuccess: UInt64 = 0
    public var getsFail: UInt64 = 0
    public var setsSuccess: UInt64 = 0
    public var setsFail: UInt64 = 0
    public var deleteSuccess: UInt64 = 0
    public var deleteFail: UInt64 = 0
    public var updateSuccess: UInt64 = 0
    public var updateFail: UInt64 = 0
    public var createSuccess: UInt64 = 0
    public var createFail: UInt64 = 0
    public var compareAndSwapSuccess: UInt64 = 0
    public var compareAndSwapFail: UInt64 = 0
    public var compareAndDeleteSuccess: UInt64 = 0
    public var compareAndDeleteFail: UInt64 = 0
    public var expireCount: UInt64 = 0
    public var watchers: UInt64 = 0

    public init() {}

    /// Name/value pairs in etcd's order, for rendering.
    public var fields: [(String, UInt64)] {
        [
            ("getsSuccess", getsSuccess), ("getsFail", getsFail), ("setsSuccess", setsSuccess), ("setsFail", setsFail),
            ("deleteSuccess", deleteSuccess), ("deleteFail", deleteFail), ("updateSuccess", updateSuccess),
            ("updateFail", updateFail), ("createSuccess", createSuccess), ("createFail", createFail),
            ("compareAndSwapSuccess", compareAndSwapSuccess), ("compareAndSwapFail", compareAndSwapFail),
            ("compareAndDeleteSuccess", compareAndDeleteSuccess), ("compareAndDeleteFail", compareAndDeleteFail),
            ("expireCount", expireCount), ("watchers", watchers),
        ]
    }
}
