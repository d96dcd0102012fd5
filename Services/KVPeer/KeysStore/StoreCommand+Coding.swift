extension StoreCommand {
    /// The command as a log entry payload.
    public var encoded: [UInt8] {
        var writer = ByteWriter()
        switch self {
        case let .set(key, value, dir, expiration, refresh):
            writer.byte(1)
            writer.string(key); writer.string(value); writer.bool(dir); writer.timestamp(expiration); writer.bool(refresh)
        case let .create(key, value, dir, expiration, unique):
            writer.byte(2)
            writer.string(key); writer.string(value); writer.bool(dir); writer.timestamp(expiration); writer.bool(unique)
        case let .update(key, value, expiration, refresh):
            writer.byte(3)
            writer.string(key); writer.string(value); writer.timestamp(expiration); writer.bool(refresh)
        case let .compareAndSwap(key, value, prevValue, prevIndex, expiration, refresh):
            writer.byte(4)
            writer.string(key); writer.string(value); writer.string(prevValue); writer.varint(prevIndex)
            writer.timestamp(expiration); writer.bool(refresh)
        case let .delete(key, dir, recursive):
            writer.byte(5)
            writer.string(key); writer.bool(dir); writer.bool(recursive)
        case let .compareAndDelete(key, prevValue, prevIndex):
            writer.byte(6)
            writer.string(key); writer.string(prevValue); writer.varint(prevIndex)
        case let .expire(cutoff):
            writer.byte(7)
            writer.int64(cutoff.nanoseconds)
        }
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        switch try reader.byte() {
        case 1:
            self = .set(key: try reader.string(), value: try reader.string(), dir: try reader.bool(), expiration: try reader.timestamp(), refresh: try reader.bool())
        case 2:
            self = .create(key: try reader.string(), value: try reader.string(), dir: try reader.bool(), expiration: try reader.timestamp(), unique: try reader.bool())
        case 3:
            self = .update(key: try reader.string(), value: try reader.string(), expiration: try reader.timestamp(), refresh: try reader.bool())
        case 4:
            self = .compareAndSwap(
                key: try reader.string(), value: try reader.string(), prevValue: try reader.string(), prevIndex: try reader.varint(),
                expiration: try reader.timestamp(), refresh: try reader.bool()
            )
        case 5:
            self = .delete(key: try reader.string(), dir: try reader.bool(), recursive: try reader.bool())
        case 6:
            self = .compareAndDelete(key: try reader.string(), prevValue: try reader.string(), prevIndex: try reader.varint())
        case 7:
            self = .expire(cutoff: Timestamp(nanoseconds: try reader.int64()))
        case let tag:
            throw DecodingError(description: "unknown command tag \(tag)")
        }
        guard reader.isAtEnd else { throw DecodingError(description: "\(bytes.count - reader.offset) trailing bytes after command") }
    }
}
