/// Reads the fields of one route or listener definition, whichever way it was written (JSON value in the
/// keys API or `key=value` flag), so both spellings accept and refuse the same things with the same messages.
struct ConfigFields {
    /// What every message starts with: `route "api"`, `tcp listener "db"`, `--route "service=web,…"`.
    let context: String
    /// Prepended to key names in messages, for nested objects (`health_check.interval`).
    let keyPrefix: String
    private let fields: [String: JSONValue]

    /// Upper bound for every configured duration: a longer timeout is a typo (`"60m"` meant as seconds),
    /// and an ejection or health-check interval that long would make the proxy look dead.
    static let maxDuration = Duration.seconds(3600)

    init(context: String, keyPrefix: String = "", fields: [String: JSONValue]) {
        self.context = context
        self.keyPrefix = keyPrefix
        self.fields = fields
    }

    /// Fields of a JSON object value.
    static func object(context: String, json: String) throws(ProxyConfigError) -> ConfigFields {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(json)
        } catch {
            throw ProxyConfigError("\(context): \(error.description)")
        }
        guard case .object(let fields) = parsed else {
            throw ProxyConfigError("\(context): value must be a JSON object, got \(parsed.rendered)")
        }
        return ConfigFields(context: context, fields: fields)
    }

    /// Fields nested under `key`, whose messages name `key.field`.
    func nested(_ key: String, _ fields: [String: JSONValue]) -> ConfigFields {
        ConfigFields(context: context, keyPrefix: keyPrefix + key + ".", fields: fields)
    }

    func error(_ problem: String) -> ProxyConfigError {
        ProxyConfigError("\(context): \(problem)")
    }

    /// The key as messages spell it, quoted.
    func name(_ key: String) -> String { "\"\(keyPrefix)\(key)\"" }

    /// Typos must not pass silently: `"retires": 3` would otherwise leave the default in force unnoticed.
    func rejectUnknown(allowed: [String]) throws(ProxyConfigError) {
        let unknown = fields.keys.filter { !allowed.contains($0) }.sorted()
        guard let first = unknown.first else { return }
        throw error("unknown key \(ProxyConfigError.quote(keyPrefix + first)) (known keys: \(allowed.sorted().joined(separator: ", ")))")
    }

    /// The value, with JSON `null` treated as absent (generators emit `null` for "not set").
    func value(_ key: String) -> JSONValue? {
        guard let v = fields[key], v != .null else { return nil }
        return v
    }

    func requiredString(_ key: String) throws(ProxyConfigError) -> String {
        guard let v = value(key) else { throw error("missing required key \(name(key))") }
        guard case .string(let s) = v else { throw error("\(name(key)) must be a string, got \(v.rendered)") }
        return s
    }

    func integer(_ key: String, in range: ClosedRange<Int>, default fallback: Int) throws(ProxyConfigError) -> Int {
        guard let v = value(key) else { return fallback }
        guard let n = v.integerText.flatMap({ Int($0) }), range.contains(n) else {
            throw error("\(name(key)) must be an integer \(range.lowerBound)...\(range.upperBound), got \(v.rendered)")
        }
        return n
    }

    /// A string such as `"250ms"` or a JSON number of seconds, in (0, ``maxDuration``].
    func duration(_ key: String, default fallback: Duration) throws(ProxyConfigError) -> Duration {
        guard let v = value(key) else { return fallback }
        let parsed: Duration?
        switch v {
        case .string(let s), .number(let s): parsed = ProxyDuration.parse(s)
        default: parsed = nil
        }
        guard let d = parsed, d > .zero, d <= Self.maxDuration else {
            throw error("\(name(key)) must be a duration greater than 0 and at most 1h, "
                + "such as \"250ms\", \"2s\" or \"1.5m\", got \(v.rendered)")
        }
        return d
    }

    func policy(_ key: String) throws(ProxyConfigError) -> BalancingPolicy {
        guard let v = value(key) else { return .roundRobin }
        guard case .string(let s) = v, let policy = BalancingPolicy(rawValue: s) else {
            let known = BalancingPolicy.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw error("\(name(key)) must be \(known), got \(v.rendered)")
        }
        return policy
    }

    /// Service names become a key component (`/services/<name>/…`), so they cannot contain `/`.
    func serviceName(_ key: String) throws(ProxyConfigError) -> String {
        let s = try requiredString(key)
        guard !s.isEmpty, !s.contains("/"), s.trimmingASCIIWhitespace() == s[...] else {
            throw error("\(name(key)) must be a non-empty service name without \"/\", got \(ProxyConfigError.quote(s))")
        }
        return s
    }
}
