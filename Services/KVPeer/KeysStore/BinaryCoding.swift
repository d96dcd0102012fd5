/// Little-endian, varint-based encoding for log entries and snapshots: compact and fast, and defined here
/// so a snapshot written by one build is read by the next. Public because kv-peer frames its replicated
/// entries and membership records with the same encoding.
public struct ByteWriter {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    public mutating func byte(_ value: UInt8) { bytes.append(value) }
    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func int64(_ value: Int64) {
        // Zig-zag keeps small negative numbers small.
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func data(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func timestamp(_ value: Timestamp?) {
        guard let value else { return bool(false) }
        bool(true)
        int64(value.nanoseconds)
    }
}

public struct DecodingError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(description: String) { self.description = description }
}

public struct ByteReader {
    public let bytes: [UInt8]
    public var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func byte() throws(DecodingError) -> UInt8 {
        guard offset < bytes.count else { throw DecodingError(description: "unexpected end at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func bool() throws(DecodingError) -> Bool {
        switch try byte() {
        case 0: false
        case 1: true
        case let other: throw DecodingError(description: "bad boolean \(other) at byte \(offset - 1)")
        }
    }

    public mutating func varint() throws(DecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw DecodingError(description: "varint too long at byte \(offset)") }
            result |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return result }
            shift += 7
        }
    }

    public mutating func int64() throws(DecodingError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func string() throws(DecodingError) -> String {
        let count = try varint()
        guard count <= UInt64(bytes.count - offset) else { throw DecodingError(description: "string of \(count) bytes past the end") }
        defer { offset += Int(count) }
        return String(decoding: bytes[offset..<offset + Int(count)], as: UTF8.self)
    }

    public mutating func data() throws(DecodingError) -> [UInt8] {
        let count = try varint()
        guard count <= UInt64(bytes.count - offset) else { throw DecodingError(description: "\(count) bytes past the end") }
        defer { offset += Int(count) }
        return Array(bytes[offset..<offset + Int(count)])
    }

    /// Everything not read yet (a payload that runs to the end of its frame).
    public mutating func remaining() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }

    public mutating func timestamp() throws(DecodingError) -> Timestamp? {
        try bool() ? Timestamp(nanoseconds: try int64()) : nil
    }
}
