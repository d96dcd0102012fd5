/// A unit's own declaration of the service it offers, so no sidekick unit is needed:
///
/// ```
/// [X-Announce]
/// Service=web              # announced as /services/web/<machine>:<port>
/// Port=8080
/// HealthCheck=http /healthz   # or: tcp   (connect to the port)   — default tcp
/// HealthInterval=1s        # default 2s
/// HealthTimeout=500ms      # default 1s
/// HealthyThreshold=1       # consecutive passes before it is announced (default 1)
/// UnhealthyThreshold=2     # consecutive failures before it is withdrawn (default 2)
/// ```
///
/// While the unit runs and its check passes, the agent keeps `/services/<Service>/<machine>:<Port>` =
/// `{"host","port","unit","machine"}` with a TTL, and deletes it the moment the unit stops or turns unhealthy.
public struct ServiceAnnouncement: Sendable, Hashable {
    public enum HealthCheck: Sendable, Hashable {
        case tcp
        case http(path: String)
    }

    public var service: String
    public var port: Int
    public var check: HealthCheck
    public var interval: Duration
    public var timeout: Duration
    public var healthyThreshold: Int
    public var unhealthyThreshold: Int

    public init(
        service: String, port: Int, check: HealthCheck = .tcp, interval: Duration = .seconds(2), timeout: Duration = .seconds(1),
        healthyThreshold: Int = 1, unhealthyThreshold: Int = 2
    ) {
        self.service = service
        self.port = port
        self.check = check
        self.interval = interval
        self.timeout = timeout
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
    }

    public static let section = "X-Announce"
    static let knownOptions: Set<String> = ["Service", "Port", "HealthCheck", "HealthInterval", "HealthTimeout", "HealthyThreshold", "UnhealthyThreshold"]

    /// The unit's announcement, nil when it has no `[X-Announce]` section; errors name the option and value.
    public init?(unit: UnitFile) throws(ServiceAnnouncementError) {
        let options = unit.options.filter { $0.section == Self.section }
        guard !options.isEmpty else { return nil }
        for option in options where !Self.knownOptions.contains(option.name) {
            throw ServiceAnnouncementError("unrecognized option in [X-Announce] section: \"\(option.name)\"")
        }
        func last(_ name: String) -> String? { options.last { $0.name == name }?.value }

        guard let service = last("Service"), !service.isEmpty else { throw ServiceAnnouncementError("[X-Announce] needs Service=") }
        guard service.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }) else {
            throw ServiceAnnouncementError("invalid Service= value \"\(service)\": use letters, digits, -, _ and .")
        }
        guard let portText = last("Port"), let port = Int(portText), (1...65535).contains(port) else {
            throw ServiceAnnouncementError("invalid Port= value \"\(last("Port") ?? "")\": expected 1-65535")
        }
        self.service = service
        self.port = port

        switch last("HealthCheck").map({ $0.split(separator: " ", omittingEmptySubsequences: true) }) {
        case nil, ["tcp"]?:
            check = .tcp
        case let words? where words.count == 2 && words[0] == "http" && words[1].hasPrefix("/"):
            check = .http(path: String(words[1]))
        default:
            throw ServiceAnnouncementError("invalid HealthCheck= value \"\(last("HealthCheck") ?? "")\": expected \"tcp\" or \"http /path\"")
        }
        interval = try Self.duration(last("HealthInterval"), option: "HealthInterval", default: .seconds(2))
        timeout = try Self.duration(last("HealthTimeout"), option: "HealthTimeout", default: .seconds(1))
        healthyThreshold = try Self.count(last("HealthyThreshold"), option: "HealthyThreshold", default: 1)
        unhealthyThreshold = try Self.count(last("UnhealthyThreshold"), option: "UnhealthyThreshold", default: 2)
    }

    /// `/services/<service>/<machine>:<port>`: one key per machine and port, so two instances on one machine
    /// need two ports.
    public func key(machine: String) -> String { "/services/\(service)/\(machine):\(port)" }

    private static func duration(_ text: String?, option: String, default value: Duration) throws(ServiceAnnouncementError) -> Duration {
        guard let text else { return value }
        let parsed: Duration?
        do {
            parsed = try SystemdValue.parseTimeSpan(text)
        } catch {
            throw ServiceAnnouncementError("invalid \(option)= value \"\(text)\": \(error)")
        }
        guard let parsed, parsed > .zero else { throw ServiceAnnouncementError("invalid \(option)= value \"\(text)\": expected a time span above zero") }
        return parsed
    }

    private static func count(_ text: String?, option: String, default value: Int) throws(ServiceAnnouncementError) -> Int {
        guard let text else { return value }
        guard let parsed = Int(text), parsed >= 1, parsed <= 100 else {
            throw ServiceAnnouncementError("invalid \(option)= value \"\(text)\": expected 1-100")
        }
        return parsed
    }
}

public struct ServiceAnnouncementError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
