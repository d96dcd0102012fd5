import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who this machine is in the cluster: its ID (the key of its presence and schedule), the address others reach
/// it at, and the metadata units' `MachineMetadata=` is matched against.
public struct MachineIdentity: Sendable, Equatable {
    public var id: String
    public var publicIP: String
    public var metadata: [String: String]

    public init(id: String, publicIP: String, metadata: [String: String] = [:]) {
        self.id = id
        self.publicIP = publicIP
        self.metadata = metadata
    }
}

public struct MachineIdentityError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension MachineIdentity {
    /// The machine ID: `--machine-id`, else `/etc/machine-id`, else one generated once and kept in the data
    /// directory — so the same machine keeps its ID, and its units, across agent restarts.
    public static func resolveID(flag: String?, systemFile: String = "/etc/machine-id", dataDirectory: String) throws -> String {
        if let flag {
            try validate(flag, source: "--machine-id")
            return flag
        }
        if let system = readTrimmed(systemFile), !system.isEmpty {
            try validate(system, source: systemFile)
            return system
        }
        let kept = (dataDirectory as NSString).appendingPathComponent("machine-id")
        if let existing = readTrimmed(kept), !existing.isEmpty {
            try validate(existing, source: kept)
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let generated = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            try (generated + "\n").write(toFile: kept, atomically: true, encoding: .utf8)
        } catch {
            throw MachineIdentityError("cannot keep the generated machine ID in \(kept): \(error.localizedDescription)")
        }
        return generated
    }

    /// IDs become key names, so they must be one path segment of plain characters.
    static func validate(_ id: String, source: String) throws {
        guard !id.isEmpty, id.count <= 128,
              id.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") })
        else {
            throw MachineIdentityError("invalid machine ID \"\(id)\" from \(source): use letters, digits, - and _ (at most 128)")
        }
    }

    /// `region=us-east,disk=ssd` (fleet's `metadata` format; spaces around items are trimmed, a repeated key's
    /// last value wins).
    public static func parseMetadata(_ text: String) throws -> [String: String] {
        var metadata: [String: String] = [:]
        for item in text.split(separator: ",") {
            let pair = item.trimmingCharacters(in: .whitespaces)
            if pair.isEmpty { continue }
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts[1].contains("=") else {
                throw MachineIdentityError("invalid metadata \"\(pair)\": expected key=value")
            }
            metadata[String(parts[0])] = String(parts[1])
        }
        return metadata
    }

    /// The IPv4 address of the interface that holds the default route, as fleet picks `public_ip`; loopback when
    /// there is no default route (a laptop, a test namespace).
    public static func detectPublicIP(routeTable: String = "/proc/net/route") -> String {
        guard let table = try? String(contentsOfFile: routeTable, encoding: .utf8) else { return "127.0.0.1" }
        // Columns: Iface Destination Gateway ...; the default route has destination 00000000.
        var defaultInterface: String?
        for line in table.split(separator: "\n").dropFirst() {
            let columns: [Substring] = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if columns.count > 2 && columns[1] == "00000000" {
                defaultInterface = String(columns[0])
                break
            }
        }
        guard let defaultInterface else { return "127.0.0.1" }
        return ipv4Address(of: defaultInterface) ?? "127.0.0.1"
    }

    private static func ipv4Address(of interface: String) -> String? {
        var addresses: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&addresses) == 0, let first = addresses else { return nil }
        defer { freeifaddrs(addresses) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                  String(cString: entry.pointee.ifa_name) == interface else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = socklen_t(MemoryLayout<sockaddr_in>.size)
            if getnameinfo(address, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 {
                return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return nil
    }

    private static func readTrimmed(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
