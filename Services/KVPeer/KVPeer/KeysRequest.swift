public import HTTPServer
public import KeysStore

/// A `/v2/keys` request after etcd's `parseKeyRequest`: every parameter validated in etcd's order, with its
/// error code and cause, before anything touches the store.
public struct KeysRequest: Equatable, Sendable {
    public enum Method: String, Sendable { case get = "GET", head = "HEAD", put = "PUT", post = "POST", delete = "DELETE" }

    public var method: Method
    public var key: String
    public var value: String
    public var dir = false
    public var prevValue = ""
    public var prevIndex: UInt64 = 0
    public var prevExist: Bool?
    public var wait = false
    public var waitIndex: UInt64 = 0
    public var recursive = false
    public var sorted = false
    public var quorum = false
    public var stream = false
    public var refresh: Bool?
    public var noValueOnSuccess = false
    /// Absolute expiration computed when the request arrived (`ttl` seconds from `now`).
    public var expiration: Timestamp?

    /// What the request asks of the store.
    public enum Operation: Equatable, Sendable {
        case read(recursive: Bool, sorted: Bool, quorum: Bool)
        case watch(recursive: Bool, stream: Bool, sinceIndex: UInt64)
        case write(StoreCommand)
    }

    /// etcd's `RequestV2.Handle` and `applierV2store` decision tables.
    public var operation: Operation {
        switch method {
        case .get where quorum:
            // Quorum wins over wait: etcd answers `GET ?wait=true&quorum=true` with a plain get.
            return .read(recursive: recursive, sorted: sorted, quorum: true)
        case .get where wait:
            return .watch(recursive: recursive, stream: stream, sinceIndex: waitIndex)
        case .get, .head:
            return .read(recursive: recursive, sorted: sorted, quorum: false)
        case .post:
            return .write(.create(key: key, value: value, dir: dir, expiration: expiration, unique: true))
        case .put:
            let isRefresh = refresh == true
            if let prevExist {
                if prevExist {
                    if prevIndex == 0, prevValue.isEmpty {
                        return .write(.update(key: key, value: value, expiration: expiration, refresh: isRefresh))
                    }
                    return .write(.compareAndSwap(key: key, value: value, prevValue: prevValue, prevIndex: prevIndex, expiration: expiration, refresh: isRefresh))
                }
                return .write(.create(key: key, value: value, dir: dir, expiration: expiration, unique: false))
            }
            if prevIndex > 0 || !prevValue.isEmpty {
                return .write(.compareAndSwap(key: key, value: value, prevValue: prevValue, prevIndex: prevIndex, expiration: expiration, refresh: isRefresh))
            }
            return .write(.set(key: key, value: value, dir: dir, expiration: expiration, refresh: isRefresh))
        case .delete:
            if prevIndex > 0 || !prevValue.isEmpty {
                return .write(.compareAndDelete(key: key, prevValue: prevValue, prevIndex: prevIndex))
            }
            return .write(.delete(key: key, dir: dir, recursive: recursive))
        }
    }

    /// Parses the request the way etcd 3.4's v2http does. `form` is Go's `r.Form`: body values (for a
    /// form-encoded PUT/POST/DELETE body) first, then query values; the first value of a name wins.
    public static func parse(method: Method, key: String, form: FormParameters, now: Timestamp) -> Result<KeysRequest, StoreError> {
        func invalid(_ code: Int, _ cause: String) -> Result<KeysRequest, StoreError> {
            .failure(StoreError(code: code, cause: cause, index: 0))
        }
        var request = KeysRequest(method: method, key: key, value: form.first("value") ?? "")
        guard let prevIndex = uint(form, "prevIndex") else { return invalid(StoreError.indexNaN, #"invalid value for "prevIndex""#) }
        guard let waitIndex = uint(form, "waitIndex") else { return invalid(StoreError.indexNaN, #"invalid value for "waitIndex""#) }
        request.prevIndex = prevIndex ?? 0
        request.waitIndex = waitIndex ?? 0
        for (name, path) in [("recursive", \KeysRequest.recursive), ("sorted", \.sorted), ("wait", \.wait), ("dir", \.dir), ("quorum", \.quorum), ("stream", \.stream)] {
            guard let flag = bool(form, name) else { return invalid(StoreError.invalidField, "invalid value for \"\(name)\"") }
            request[keyPath: path] = flag ?? false
        }
        if request.wait, method != .get {
            return invalid(StoreError.invalidField, #""wait" can only be used with GET requests"#)
        }
        request.prevValue = form.first("prevValue") ?? ""
        if form.contains("prevValue"), request.prevValue.isEmpty {
            return invalid(StoreError.prevValueRequired, #""prevValue" cannot be empty"#)
        }
        guard let noValue = bool(form, "noValueOnSuccess") else { return invalid(StoreError.invalidField, #"invalid value for "noValueOnSuccess""#) }
        request.noValueOnSuccess = noValue ?? false

        var ttl: UInt64?
        if let text = form.first("ttl"), !text.isEmpty {
            guard let seconds = parseUInt(text) else { return invalid(StoreError.ttlNaN, #"invalid value for "ttl""#) }
            ttl = seconds
        }
        if form.contains("prevExist") {
            guard let flag = bool(form, "prevExist"), let flag else { return invalid(StoreError.invalidField, "invalid value for prevExist") }
            request.prevExist = flag
        }
        if form.contains("refresh") {
            guard let flag = bool(form, "refresh"), let flag else { return invalid(StoreError.invalidField, "invalid value for refresh") }
            request.refresh = flag
            if flag {
                if form.contains("value"), !request.value.isEmpty {
                    return invalid(StoreError.refreshValue, "A value was provided on a refresh")
                }
                if ttl == nil { return invalid(StoreError.refreshTTLRequired, "No TTL value set") }
            }
        }
        if let ttl {
            // Go's time.Duration(ttl) * time.Second wraps on overflow; clamp instead of trapping.
            request.expiration = now.adding(seconds: Int64(clamping: ttl))
        }
        return .success(request)
    }

    /// Go's `strconv.ParseUint(s, 10, 64)`: digits only, no sign, no spaces.
    static func parseUInt(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return UInt64(text)
    }

    /// Go's `strconv.ParseBool`.
    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }

    /// nil: present but invalid; .some(nil): absent.
    private static func uint(_ form: FormParameters, _ name: String) -> UInt64?? {
        guard let text = form.first(name) else { return .some(nil) }
        return parseUInt(text).map { .some($0) } ?? nil
    }

    private static func bool(_ form: FormParameters, _ name: String) -> Bool?? {
        guard let text = form.first(name) else { return .some(nil) }
        return parseBool(text).map { .some($0) } ?? nil
    }
}
