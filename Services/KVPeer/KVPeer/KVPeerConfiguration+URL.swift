/// A URL as etcd's URL flags accept it (`pkg/types.NewURLs`): `scheme://host:port` and nothing else.
///
/// The scheme is `http`, `https`, `unix` or `unixs` (the `unix` forms name a socket file `host:port`, as in etcd).
/// IPv6 hosts are stored without brackets; ``description`` puts them back.
public struct EtcdURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable, CaseIterable {
        case http, https, unix, unixs

        /// `https` and `unixs` carry TLS.
        public var isSecure: Bool { self == .https || self == .unixs }
        /// `unix` and `unixs` listen on a socket file rather than TCP.
        public var isUnixSocket: Bool { self == .unix || self == .unixs }
    }

    public var scheme: Scheme
    /// Host name or IP address; may be empty (`http://:2379`), which only `--initial-cluster` tolerates.
    public var host: String
    /// 0...65535; 0 asks the system for a free port when listening.
    public var port: Int

    public init(_ scheme: Scheme, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// Parses one URL with etcd's rules and error texts, e.g. `URL scheme must be http, https, unix, or unixs: x`.
    /// Leading and trailing white space is ignored, as etcd does.
    public init(parsing text: String) throws(EtcdURLError) {
        self = try EtcdFlagsGo.parseEtcdURL(text)
    }

    /// Parses a comma-separated list the way etcd's URL flags do: every element must be a valid URL (so an empty
    /// element is an error), and the result is sorted by its text, as `types.NewURLs` sorts it.
    public static func parseList(_ text: String) throws(EtcdURLError) -> [EtcdURL] {
        var urls: [EtcdURL] = []
        for element in text.split(separator: ",", omittingEmptySubsequences: false) {
            urls.append(try EtcdURL(parsing: String(element)))
        }
        return sortedLikeEtcd(urls)
    }

    /// `scheme://host:port`, with brackets around an IPv6 host.
    public var description: String { "\(scheme.rawValue)://\(hostPort)" }

    /// `host:port`, with brackets around an IPv6 host (Go's `net.JoinHostPort`).
    public var hostPort: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(shownHost):\(port)"
    }

    static func sortedLikeEtcd(_ urls: [EtcdURL]) -> [EtcdURL] {
        urls.sorted { $0.description.utf8.lexicographicallyPrecedes($1.description.utf8) }
    }
}

/// Why a URL was refused; ``description`` is etcd's text where etcd has one.
public struct EtcdURLError: Error, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
