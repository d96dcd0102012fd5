public import HTTPTypes
public import NIOCore

/// One HTTP request as a handler sees it, whether it arrived on an HTTP/1.1 connection or an HTTP/2 stream.
public struct Request: Sendable {
    public var head: HTTPRequest
    public var body: RequestBody

    public init(head: HTTPRequest, body: RequestBody) {
        self.head = head
        self.body = body
    }

    public var method: HTTPRequest.Method { head.method }
    public var headerFields: HTTPFields { head.headerFields }

    /// The request target's path, still percent-encoded (routing works on the raw form so that an
    /// encoded `/` inside a segment stays inside it).
    public var path: Substring {
        let target = head.path ?? "/"
        guard let query = target.firstIndex(of: "?") else { return target[...] }
        return target[..<query]
    }

    /// The raw query string after `?`, without the fragment.
    public var rawQuery: Substring {
        let target = head.path ?? ""
        guard let query = target.firstIndex(of: "?") else { return "" }
        let afterMark = target[target.index(after: query)...]
        if let fragment = afterMark.firstIndex(of: "#") { return afterMark[..<fragment] }
        return afterMark
    }

    /// Query parameters decoded as Go's `url.ParseQuery` does (`+` is a space, `%XX` escapes, order kept).
    public var queryParameters: FormParameters { FormParameters(decoding: rawQuery) }
}

/// The body of a request, read as a stream of buffers. It can be iterated once; reads beyond the
/// server's `maxBodyBytes` throw a 413 error.
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    let source: Source

    enum Source: Sendable {
        case empty
        case buffer(ByteBuffer)
        case stream(RequestBodyStream)
    }

    public static var empty: RequestBody { RequestBody(source: .empty) }

    public init(buffer: ByteBuffer) { self.source = .buffer(buffer) }

    init(source: Source) { self.source = source }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var source: Source

        public mutating func next() async throws -> ByteBuffer? {
            switch source {
            case .empty:
                return nil
            case .buffer(let buffer):
                source = .empty
                return buffer
            case .stream(let stream):
                return try await stream.next()
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source) }

    /// Collects the whole body, failing with 413 when it exceeds `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await chunk in self {
            guard collected.readableBytes + chunk.readableBytes <= maxBytes else {
                throw HTTPError(.contentTooLarge, message: "request body exceeds \(maxBytes) bytes")
            }
            var chunk = chunk
            if collected.readableBytes == 0 {
                collected = chunk
            } else {
                collected.writeBuffer(&chunk)
            }
        }
        return collected
    }
}
