public import HTTPTypes
public import GoJSON
public import NIOCore

/// An error that knows how it looks on the wire. Anything thrown by a handler that does not conform is
/// answered 500 and logged at debug, so internal details never leak to clients.
public protocol HTTPResponseError: Error {
    var status: HTTPResponse.Status { get }
    func response(allocator: ByteBufferAllocator) -> Response
}

/// The plain error every service can throw: a status and a message, rendered as `{"message":"…"}`
/// (the shape etcd uses on its non-keys endpoints).
public struct HTTPError: HTTPResponseError, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var headerFields: HTTPFields

    public init(_ status: HTTPResponse.Status, message: String? = nil, headerFields: HTTPFields = [:]) {
        self.status = status
        self.message = message ?? status.reasonPhrase
        self.headerFields = headerFields
    }

    public var description: String { "\(status.code) \(message)" }

    public func response(allocator: ByteBufferAllocator) -> Response {
        var body = allocator.buffer(capacity: message.utf8.count + 16)
        body.writeStaticString("{\"message\":")
        body.writeJSONString(message)
        body.writeStaticString("}\n")
        var fields = headerFields
        fields[.contentType] = "application/json"
        return Response(status: status, headerFields: fields, body: .init(buffer: body))
    }
}

extension ByteBuffer: JSONByteSink {
    public mutating func appendByte(_ byte: UInt8) { writeInteger(byte) }
    public mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) { writeBytes(bytes) }

    /// Writes `string` as a JSON string literal, escaped the way Go's encoding/json does, so bodies match
    /// etcd byte for byte.
    public mutating func writeJSONString(_ string: String) {
        GoJSON.appendString(string, to: &self)
    }
}
