/// Where the scheduler keeps its state in the keys API. fleet's layout (`/_coreos.com/fleet/`), with one
/// deliberate change: placement lives in per-machine directories so each agent watches only its own.
///
/// ```
/// <prefix>job/<unit>/object         {"Name":"<unit>","UnitHash":[20 ints]}       API      (fleet)
/// <prefix>job/<unit>/target-state   inactive | loaded | launched                  API      (fleet)
/// <prefix>unit/<sha1>               {"Raw":"<canonical unit text>"}               API      (fleet, shared by identical units)
/// <prefix>machines/<id>/object      {"ID","PublicIP","Metadata",...}   TTL       agent    (fleet)
/// <prefix>machines/<id>/metadata/<k> value ("" hides the agent's value)          API      (fleet)
/// <prefix>schedule/<id>/<unit>      {"hash":"<sha1>","desiredState":"loaded|launched"}  leader  (Flotilla; replaces job/<unit>/target)
/// <prefix>states/<unit>/<id>        {"loadState","activeState","subState","machineState":{"ID"},"unitHash",...}  TTL  agent (fleet)
/// <prefix>lease/engine-leader       scheduler instance name            TTL       leader   (fleet's key, plain value)
/// <prefix>global/<unit>             {"hash":"<sha1>","desiredState":"…"}   API    (Flotilla; the global units every agent watches)
/// ```
public struct FleetKeyLayout: Sendable, Equatable {
    public static let defaultPrefix = "/_coreos.com/fleet/"

    /// Always starts and ends with `/`.
    public let prefix: String

    public init(prefix: String = Self.defaultPrefix) {
        var normalized = prefix.hasPrefix("/") ? prefix : "/" + prefix
        if !normalized.hasSuffix("/") { normalized += "/" }
        self.prefix = normalized
    }

    /// The prefix without its trailing slash: the directory one recursive watch covers.
    public var root: String { String(prefix.dropLast()) }

    public func jobDirectory(_ unit: String) -> String { prefix + "job/" + unit }
    public func jobObject(_ unit: String) -> String { prefix + "job/" + unit + "/object" }
    public func targetState(_ unit: String) -> String { prefix + "job/" + unit + "/target-state" }
    public func unitBody(_ hash: String) -> String { prefix + "unit/" + hash }
    public func machineObject(_ id: String) -> String { prefix + "machines/" + id + "/object" }
    public func machineMetadata(_ id: String, _ key: String) -> String { prefix + "machines/" + id + "/metadata/" + key }
    public func scheduleDirectory(_ machine: String) -> String { prefix + "schedule/" + machine }
    public func scheduleEntry(machine: String, unit: String) -> String { prefix + "schedule/" + machine + "/" + unit }
    public func unitState(_ unit: String, machine: String) -> String { prefix + "states/" + unit + "/" + machine }
    public var leaderLease: String { prefix + "lease/engine-leader" }
    public var globalDirectory: String { prefix + "global" }
    public func globalUnit(_ unit: String) -> String { prefix + "global/" + unit }

    /// A key below the prefix, split into its path components; nil for keys elsewhere.
    public func components(of key: String) -> [Substring]? {
        guard key.hasPrefix(prefix) || key == root else { return nil }
        return key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: true)
    }
}
