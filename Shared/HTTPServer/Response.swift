public import HTTPTypes
public import NIOCore

/// What a handler answers. A buffered body is written with `content-length`; a streaming body is written
/// chunk by chunk (chunked on HTTP/1.1) and its producer is cancelled as soon as the client goes away.
public struct Response: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: ResponseBody

    public init(status: HTTPResponse.Status = .ok, headerFields: HTTPFields = [:], body: ResponseBody = .empty) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }
}

public struct ResponseBody: Sendable {
    enum Storage: Sendable {
        case buffer(ByteBuffer)
        case stream(@Sendable (ResponseBodyWriter) async throws -> Void)
    }

    let storage: Storage

    public static var empty: ResponseBody { ResponseBody(buffer: ByteBuffer()) }

    public init(buffer: ByteBuffer) { storage = .buffer(buffer) }

    public init(string: String) { storage = .buffer(ByteBuffer(string: string)) }

    /// A body produced over time, e.g. a long-poll watch. Headers are sent before `produce` starts,
    /// which is how a watcher learns that its watch is armed.
    public static func stream(_ produce: @escaping @Sendable (ResponseBodyWriter) async throws -> Void) -> ResponseBody {
        ResponseBody(storage: .stream(produce))
    }

    init(storage: Storage) { self.storage = storage }

    /// Byte count of a buffered body; nil for a stream.
    public var knownLength: Int? {
        if case .buffer(let buffer) = storage { return buffer.readableBytes }
        return nil
    }
}

/// Writes the parts of a streaming body; every write is flushed so long-poll events reach the client at once.
public struct ResponseBodyWriter: Sendable {
    let writeBuffer: @Sendable (ByteBuffer) async throws -> Void

    public init(_ writeBuffer: @escaping @Sendable (ByteBuffer) async throws -> Void) {
        self.writeBuffer = writeBuffer
    }

    public func write(_ buffer: ByteBuffer) async throws {
        guard buffer.readableBytes > 0 else { return }
        try await writeBuffer(buffer)
    }

    public func write(_ string: String) async throws {
        try await write(ByteBuffer(string: string))
    }
}
