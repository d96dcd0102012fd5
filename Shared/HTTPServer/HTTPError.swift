public import HTTPTypes
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

extension ByteBuffer {
    /// Writes `string` as a JSON string literal, escaping the way Go's encoding/json does (including
    /// `<`, `>` and `&`), so bodies match etcd byte for byte.
    public mutating func writeJSONString(_ string: String) {
        writeInteger(UInt8(ascii: "\""))
        var utf8 = Array(string.utf8)[...]
        while let byte = utf8.popFirst() {
            switch byte {
            case UInt8(ascii: "\""): writeStaticString("\\\"")
            case UInt8(ascii: "\\"): writeStaticString("\\\\")
            case UInt8(ascii: "\n"): writeStaticString("\\n")
            case UInt8(ascii: "\r"): writeStaticString("\\r")
            case UInt8(ascii: "\t"): writeStaticString("\\t")
            case UInt8(ascii: "<"): writeStaticString("\\u003c")
            case UInt8(ascii: ">"): writeStaticString("\\u003e")
            case UInt8(ascii: "&"): writeStaticString("\\u0026")
            case 0..<0x20:
                writeStaticString("\\u00")
                writeInteger(Self.hexDigits[Int(byte >> 4)])
                writeInteger(Self.hexDigits[Int(byte & 0xF)])
            case 0xE2 where utf8.starts(with: [0x80, 0xA8]) || utf8.starts(with: [0x80, 0xA9]):
                // U+2028/U+2029 break JavaScript string literals; Go escapes them.
                writeStaticString(utf8.dropFirst().first == 0xA8 ? "\\u2028" : "\\u2029")
                utf8 = utf8.dropFirst(2)
            default:
                writeInteger(byte)
            }
        }
        writeInteger(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
