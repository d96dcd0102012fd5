/// A plain TCP listener whose connections are spliced to an instance of `service`.
public struct TCPListenerSpec: Equatable, Sendable {
    public var name: String
    /// IP address or name to bind, without brackets; `0.0.0.0` when the value said `:port`.
    public var listenHost: String
    /// 0...65535; 0 asks the system for a free port.
    public var listenPort: Int
    public var service: String
    public var policy: BalancingPolicy
    public var connectTimeout: Duration
    /// Extra connection attempts, each on another instance. Only the connect is retried: once bytes flow,
    /// a TCP stream cannot be replayed.
    public var retries: Int
    public var maxFails: Int
    public var failTimeout: Duration

    public init(
        name: String, listenHost: String = "0.0.0.0", listenPort: Int, service: String,
        policy: BalancingPolicy = .roundRobin, connectTimeout: Duration = .seconds(2), retries: Int = 1,
        maxFails: Int = 3, failTimeout: Duration = .seconds(10)
    ) {
        self.name = name
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.service = service
        self.policy = policy
        self.connectTimeout = connectTimeout
        self.retries = retries
        self.maxFails = maxFails
        self.failTimeout = failTimeout
    }

    static let keys = ["listen", "service", "policy", "connect_timeout", "retries", "max_fails", "fail_timeout"]

    /// The value of `/proxy/tcp/<name>`, e.g. `{"listen": "127.0.0.1:5433", "service": "db"}`. `listen` may
    /// be `:5433` (all IPv4 addresses) or `[::1]:5433`. Other keys as for routes; unknown keys are refused.
    public static func parse(name: String, json: String) throws(ProxyConfigError) -> TCPListenerSpec {
        guard !name.isEmpty else { throw ProxyConfigError("tcp listener name is empty") }
        let fields = try ConfigFields.object(context: "tcp listener \(ProxyConfigError.quote(name))", json: json)
        try fields.rejectUnknown(allowed: keys)

        let listen = try fields.requiredString("listen")
        guard let (host, portText) = HostPort.split(Substring(listen)), let portText,
              let port = HostPort.port(portText, in: 0...65535),
              host.isEmpty || HostPort.isValidHost(host)
        else {
            throw fields.error("\"listen\" must be host:port, :port or [ipv6]:port with port 0...65535, "
                + "got \(ProxyConfigError.quote(listen))")
        }
        var spec = TCPListenerSpec(
            name: name, listenHost: host.isEmpty ? "0.0.0.0" : String(host), listenPort: port,
            service: try fields.serviceName("service"))
        spec.policy = try fields.policy("policy")
        spec.connectTimeout = try fields.duration("connect_timeout", default: spec.connectTimeout)
        spec.failTimeout = try fields.duration("fail_timeout", default: spec.failTimeout)
        spec.retries = try fields.integer("retries", in: RouteSpec.retriesRange, default: spec.retries)
        spec.maxFails = try fields.integer("max_fails", in: RouteSpec.maxFailsRange, default: spec.maxFails)
        return spec
    }
}
