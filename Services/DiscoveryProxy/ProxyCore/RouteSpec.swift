/// How a route or listener chooses among a service's available instances. Both honour instance weights.
public enum BalancingPolicy: String, Sendable, CaseIterable {
    case roundRobin = "round-robin"
    case leastConnections = "least-connections"
}

/// Active health checking of a route's instances (an HTTP GET of `path`).
public struct HealthCheckSpec: Equatable, Sendable {
    public var path: String
    public var interval: Duration
    public var timeout: Duration
    /// Consecutive passes that bring an unhealthy instance back (haproxy `rise`).
    public var healthyThreshold: Int
    /// Consecutive failures that take a healthy instance out (haproxy `fall`).
    public var unhealthyThreshold: Int

    public init(
        path: String, interval: Duration = .seconds(2), timeout: Duration = .seconds(1),
        healthyThreshold: Int = 2, unhealthyThreshold: Int = 3
    ) {
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
    }

    public static let thresholdRange = 1...100
}

/// One HTTP route: requests for `host` whose path starts with `pathPrefix` go to `service`.
public struct RouteSpec: Equatable, Sendable {
    public var name: String
    /// Lowercase, without port or brackets. `nil` matches any host; `*.example.com` matches any subdomain of
    /// example.com but not example.com itself.
    public var host: String?
    /// Starts with `/`; matched segment by segment (see ``RouteTable``).
    public var pathPrefix: String
    public var service: String
    public var policy: BalancingPolicy
    public var connectTimeout: Duration
    /// From the request being sent to the upstream's response head.
    public var responseHeaderTimeout: Duration
    /// How long an idle upstream keep-alive connection is kept.
    public var idleTimeout: Duration
    /// Extra attempts, each on another instance, for failures that are safe to retry.
    public var retries: Int
    /// Consecutive failures that eject an instance (passive health).
    public var maxFails: Int
    /// Ejection time for the first ejection; doubles for each further consecutive one.
    public var failTimeout: Duration
    public var healthCheck: HealthCheckSpec?

    public init(
        name: String, host: String? = nil, pathPrefix: String = "/", service: String,
        policy: BalancingPolicy = .roundRobin, connectTimeout: Duration = .seconds(2),
        responseHeaderTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(60), retries: Int = 1,
        maxFails: Int = 3, failTimeout: Duration = .seconds(10), healthCheck: HealthCheckSpec? = nil
    ) {
        self.name = name
        self.host = host
        self.pathPrefix = pathPrefix
        self.service = service
        self.policy = policy
        self.connectTimeout = connectTimeout
        self.responseHeaderTimeout = responseHeaderTimeout
        self.idleTimeout = idleTimeout
        self.retries = retries
        self.maxFails = maxFails
        self.failTimeout = failTimeout
        self.healthCheck = healthCheck
    }

    public static let retriesRange = 0...10
    public static let maxFailsRange = 1...100

    static let keys = [
        "host", "path", "service", "policy", "connect_timeout", "response_header_timeout", "idle_timeout",
        "fail_timeout", "retries", "max_fails", "health_check",
    ]
    static let healthCheckKeys = ["path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold"]

    /// The value of `/proxy/routes/<name>`, e.g.
    /// `{"host": "api.example.com", "path": "/v1", "service": "api", "retries": 2, "connect_timeout": "500ms"}`.
    /// Only `service` is required. Durations are strings (`"250ms"`, `"1.5s"`, `"1m"`) or numbers of seconds;
    /// integers may be numbers or numeric strings. `health_check` is an object (`path` required) or, as a
    /// shorthand, just the path string. Unknown keys are refused.
    public static func parse(name: String, json: String) throws(ProxyConfigError) -> RouteSpec {
        let context = "route \(ProxyConfigError.quote(name))"
        guard !name.isEmpty else { throw ProxyConfigError("route name is empty") }
        let fields = try ConfigFields.object(context: context, json: json)
        return try build(name: name, fields)
    }

    /// The `--route` flag: comma-separated `key=value` pairs with the JSON keys, plus optional `name`
    /// (default `static-<service>-<host or *><path>`); `health_check=/healthz` sets only the path. Values
    /// cannot contain commas.
    public static func parse(flag: String) throws(ProxyConfigError) -> RouteSpec {
        let context = "--route \(ProxyConfigError.quote(flag))"
        var fields: [String: JSONValue] = [:]
        var name: String?
        for pair in flag.split(separator: ",") {
            let item = pair.trimmingASCIIWhitespace()
            if item.isEmpty { continue }
            guard let eq = item.firstIndex(of: "=") else {
                throw ProxyConfigError("\(context): expected key=value, got \(ProxyConfigError.quote(item))")
            }
            let key = String(item[..<eq].trimmingASCIIWhitespace())
            let value = String(item[item.index(after: eq)...].trimmingASCIIWhitespace())
            guard !key.isEmpty else {
                throw ProxyConfigError("\(context): expected key=value, got \(ProxyConfigError.quote(item))")
            }
            guard fields[key] == nil, key != "name" || name == nil else {
                throw ProxyConfigError("\(context): duplicate key \(ProxyConfigError.quote(key))")
            }
            if key == "name" {
                guard !value.isEmpty else { throw ProxyConfigError("\(context): \"name\" is empty") }
                name = value
            } else {
                fields[key] = .string(value)
            }
        }
        var spec = try build(name: name ?? "", ConfigFields(context: context, fields: fields))
        if name == nil {
            spec.name = "static-\(spec.service)-\(spec.host ?? "*")\(spec.pathPrefix)"
        }
        return spec
    }

    private static func build(name: String, _ fields: ConfigFields) throws(ProxyConfigError) -> RouteSpec {
        try fields.rejectUnknown(allowed: keys)
        var spec = RouteSpec(name: name, service: try fields.serviceName("service"))
        spec.host = try routeHost(fields)
        if let v = fields.value("path") {
            guard case .string(let path) = v, isValidPathPrefix(path) else {
                throw fields.error("\"path\" must start with \"/\" and contain no spaces, \"?\" or \"#\", got \(v.rendered)")
            }
            spec.pathPrefix = path
        }
        spec.policy = try fields.policy("policy")
        spec.connectTimeout = try fields.duration("connect_timeout", default: spec.connectTimeout)
        spec.responseHeaderTimeout = try fields.duration("response_header_timeout", default: spec.responseHeaderTimeout)
        spec.idleTimeout = try fields.duration("idle_timeout", default: spec.idleTimeout)
        spec.failTimeout = try fields.duration("fail_timeout", default: spec.failTimeout)
        spec.retries = try fields.integer("retries", in: retriesRange, default: spec.retries)
        spec.maxFails = try fields.integer("max_fails", in: maxFailsRange, default: spec.maxFails)
        spec.healthCheck = try healthCheck(fields)
        return spec
    }

    private static func healthCheck(_ fields: ConfigFields) throws(ProxyConfigError) -> HealthCheckSpec? {
        guard let v = fields.value("health_check") else { return nil }
        let nested: ConfigFields
        switch v {
        case .string:
            nested = fields.nested("health_check", ["path": v])
        case .object(let members):
            nested = fields.nested("health_check", members)
        default:
            throw fields.error("\"health_check\" must be an object or a path, got \(v.rendered)")
        }
        try nested.rejectUnknown(allowed: healthCheckKeys)
        let path = try nested.requiredString("path")
        guard isValidPathPrefix(path, allowQuery: true) else {
            throw nested.error("\(nested.name("path")) must start with \"/\" and contain no spaces or \"#\", "
                + "got \(ProxyConfigError.quote(path))")
        }
        var spec = HealthCheckSpec(path: path)
        spec.interval = try nested.duration("interval", default: spec.interval)
        spec.timeout = try nested.duration("timeout", default: spec.timeout)
        spec.healthyThreshold = try nested.integer("healthy_threshold", in: HealthCheckSpec.thresholdRange,
                                                   default: spec.healthyThreshold)
        spec.unhealthyThreshold = try nested.integer("unhealthy_threshold", in: HealthCheckSpec.thresholdRange,
                                                     default: spec.unhealthyThreshold)
        return spec
    }

    /// `nil` for any host (absent, or `"*"`). A port is accepted and dropped: the proxy routes by name, and
    /// people paste `host:port` from browser bars.
    private static func routeHost(_ fields: ConfigFields) throws(ProxyConfigError) -> String? {
        guard let v = fields.value("host") else { return nil }
        let problem = "\"host\" must be a hostname, *.domain wildcard or IP address, optionally with :port, got \(v.rendered)"
        guard case .string(let text) = v else { throw fields.error(problem) }
        if text == "*" { return nil }
        guard let (host, port) = HostPort.split(Substring(text)) else { throw fields.error(problem) }
        if let port, HostPort.port(port, in: InstanceEndpoint.portRange) == nil { throw fields.error(problem) }
        var name = host.hasSuffix(".") ? host.dropLast() : host
        var wildcard = false
        if name.hasPrefix("*.") {
            name = name.dropFirst(2)
            wildcard = true
            guard !name.contains(":") else { throw fields.error(problem) }
        }
        guard HostPort.isValidHost(name) else { throw fields.error(problem) }
        return (wildcard ? "*." : "") + HostPort.lowercasedASCII(name)
    }

    /// Query and fragment are not part of what a route matches, and a space can only be a mistake. A
    /// health-check path is a request target, so it may carry a query.
    static func isValidPathPrefix(_ path: String, allowQuery: Bool = false) -> Bool {
        path.hasPrefix("/") && !path.contains(where: { c in
            (c == "?" && !allowQuery) || c == "#" || c.isWhitespace || c.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        })
    }
}
