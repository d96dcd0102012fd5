/// Where a service listens: `host:port`, `http://host:port` or `https://host:port` (IPv6 in brackets).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int

    public init(scheme: String = "http", host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(AddressError) {
        var rest = Substring(text)
        scheme = "http"
        if let schemeEnd = rest.indexOfSchemeSeparator() {
            scheme = String(rest[..<schemeEnd]).lowercased()
            guard scheme == "http" || scheme == "https" else {
                throw AddressError("\(text): scheme must be http or https")
            }
            rest = rest[rest.index(schemeEnd, offsetBy: 3)...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let hostPart: Substring
        let portPart: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw AddressError("\(text): unclosed [ in IPv6 address") }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { throw AddressError("\(text): missing port") }
            portPart = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw AddressError("\(text): missing port (host:port)") }
            hostPart = rest[..<colon]
            portPart = rest[rest.index(after: colon)...]
        }
        guard !hostPart.isEmpty, !hostPart.contains("/") else { throw AddressError("\(text): missing or malformed host") }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw AddressError("\(text): port must be a number from 0 to 65535")
        }
        host = String(hostPart)
        self.port = port
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(shownHost):\(port)"
    }
}

/// A comma-separated list of keys API base URLs, e.g. `http://127.0.0.1:2379,http://127.0.0.1:22379`.
public struct EndpointList: Sendable, Equatable {
    public var urls: [String]

    public init(parsing text: String) throws(AddressError) {
        var urls: [String] = []
        for piece in text.split(separator: ",") {
            let trimmed = piece.trimmingSpaces()
            guard !trimmed.isEmpty else { continue }
            let address = try ListenAddress(parsing: String(trimmed))
            guard trimmed.contains("://") else {
                throw AddressError("\(trimmed): an endpoint needs its scheme (http:// or https://)")
            }
            urls.append(address.description)
        }
        guard !urls.isEmpty else { throw AddressError("no endpoints given") }
        self.urls = urls
    }
}

public struct AddressError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension Substring {
    func indexOfSchemeSeparator() -> Index? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix("://") { return index }
            index = self.index(after: index)
        }
        return nil
    }

    func trimmingSpaces() -> Substring {
        var result = self
        while result.first?.isWhitespace == true { result = result.dropFirst() }
        while result.last?.isWhitespace == true { result = result.dropLast() }
        return result
    }
}
