/// Little-endian, varint-based encoding for log entries and snapshots: compact and fast, and defined here
/// so a snapshot written by one build is read by the next.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func int64(_ value: Int64) {
        // Zig-zag keeps small negative numbers small.
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func timestamp(_ value: Timestamp?) {
        guard let value else { return bool(false) }
        bool(true)
        int64(value.nanoseconds)
    }
}

public struct DecodingError: Error, Equatable, CustomStringConvertible {
    public let description: String
}

struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() throws(DecodingError) -> UInt8 {
        guard offset < bytes.count else { throw DecodingError(description: "unexpected end at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bool() throws(DecodingError) -> Bool {
        switch try byte() {
        case 0: false
        case 1: true
        case let other: throw DecodingError(description: "bad boolean \(other) at byte \(offset - 1)")
        }
    }

    mutating func varint() throws(DecodingError) -> UInt64 {
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

    mutating func int64() throws(DecodingError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func string() throws(DecodingError) -> String {
        let count = try varint()
        guard count <= UInt64(bytes.count - offset) else { throw DecodingError(description: "string of \(count) bytes past the end") }
        defer { offset += Int(count) }
        return String(decoding: bytes[offset..<offset + Int(count)], as: UTF8.self)
    }

    mutating func timestamp() throws(DecodingError) -> Timestamp? {
        try bool() ? Timestamp(nanoseconds: try int64()) : nil
    }
}
