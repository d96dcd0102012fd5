/// Where one instance of a service listens: the value of `/services/<name>/<instance>`.
public struct InstanceEndpoint: Hashable, Sendable {
    /// A name or an IP address; IPv6 without brackets.
    public var host: String
    public var port: Int
    /// Relative share of traffic, 1...1000.
    public var weight: Int

    public init(host: String, port: Int, weight: Int = 1) {
        self.host = host
        self.port = port
        self.weight = weight
    }

    public static let weightRange = 1...1000
    public static let portRange = 1...65535

    /// Accepts both shapes instances write in practice:
    /// - a JSON object `{"host": "10.0.0.5", "port": 8080, "weight": 5}`: `port` a number or a numeric
    ///   string, `weight` optional; other fields ("unit", "machine", …) belong to whoever wrote the value and
    ///   are ignored;
    /// - `host:port` as registrator writes it, `[::1]:8080` for IPv6.
    ///
    /// Surrounding whitespace is ignored.
    public static func parse(_ value: String) throws(ProxyConfigError) -> InstanceEndpoint {
        let text = value.trimmingASCIIWhitespace()
        func fail(_ problem: String) -> ProxyConfigError {
            ProxyConfigError("instance value \(ProxyConfigError.quote(value)): \(problem)")
        }
        guard !text.isEmpty else { throw ProxyConfigError("instance value is empty") }
        if text.first == "{" {
            return try parseObject(String(text), fail: fail)
        }
        guard let (host, portText) = HostPort.split(text), let portText else {
            throw fail("expected host:port, [ipv6]:port or a JSON object")
        }
        guard !host.isEmpty else { throw fail("host is empty") }
        guard HostPort.isValidHost(host) else {
            throw fail("host \(ProxyConfigError.quote(host)) is not a hostname or IP address")
        }
        guard let port = HostPort.port(portText, in: portRange) else {
            throw fail("port must be an integer 1...65535, got \(ProxyConfigError.quote(portText))")
        }
        return InstanceEndpoint(host: String(host), port: port)
    }

    private static func parseObject(
        _ text: String, fail: (String) -> ProxyConfigError
    ) throws(ProxyConfigError) -> InstanceEndpoint {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(text)
        } catch {
            throw fail(error.description)
        }
        guard case .object(let object) = parsed else { throw fail("expected a JSON object") }

        guard let hostValue = object["host"], hostValue != .null else { throw fail("missing \"host\"") }
        guard case .string(var host) = hostValue else {
            throw fail("\"host\" must be a string, got \(hostValue.rendered)")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty else { throw fail("\"host\" is empty") }
        guard HostPort.isValidHost(Substring(host)) else {
            throw fail("\"host\" \(ProxyConfigError.quote(host)) is not a hostname or IP address")
        }

        guard let portValue = object["port"], portValue != .null else { throw fail("missing \"port\"") }
        guard let port = portValue.integerText.flatMap({ HostPort.port($0, in: portRange) }) else {
            throw fail("\"port\" must be an integer 1...65535, got \(portValue.rendered)")
        }

        var weight = 1
        if let weightValue = object["weight"], weightValue != .null {
            guard let w = weightValue.integerText.flatMap({ Int($0) }), weightRange.contains(w) else {
                throw fail("\"weight\" must be an integer 1...1000, got \(weightValue.rendered)")
            }
            weight = w
        }
        return InstanceEndpoint(host: host, port: port, weight: weight)
    }
}

extension InstanceEndpoint: CustomStringConvertible {
    /// `host:port`, bracketed for IPv6, plus `weight=` when not 1: the status page's spelling.
    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return weight == 1 ? address : "\(address) weight=\(weight)"
    }
}

extension JSONValue {
    /// The digits of an integer given as a JSON number or as a string of digits (values written by shell
    /// scripts quote everything). `nil` for fractions, exponents, signs and anything else.
    var integerText: Substring? {
        let text: String
        switch self {
        case .number(let n): text = n
        case .string(let s): text = s
        default: return nil
        }
        guard !text.isEmpty, text.utf8.count <= 18,
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Substring(text)
    }
}
