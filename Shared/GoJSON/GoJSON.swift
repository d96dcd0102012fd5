/// Where JSON text is written: a byte array here, a NIO `ByteBuffer` in the HTTP server.
public protocol JSONByteSink {
    mutating func appendByte(_ byte: UInt8)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer)
}

extension Array: JSONByteSink where Element == UInt8 {
    public mutating func appendByte(_ byte: UInt8) { append(byte) }
    public mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}

/// JSON text exactly as Go's `encoding/json` writes it, so etcd-compatible bodies match byte for byte:
/// `<`, `>` and `&` become `\u003c`-style escapes, control characters `\u00XX` (except `\n`, `\r`, `\t`),
/// and U+2028/U+2029 are escaped.
public enum GoJSON {
    public static func appendString<Sink: JSONByteSink>(_ string: String, to sink: inout Sink) {
        sink.appendByte(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            var index = 0
            func flushRun(upTo end: Int, _ sink: inout Sink) {
                if end > runStart { sink.appendBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart..<end])) }
            }
            while index < utf8.count {
                let byte = utf8[index]
                let escape: StaticString?
                switch byte {
                case UInt8(ascii: "\""): escape = "\\\""
                case UInt8(ascii: "\\"): escape = "\\\\"
                case UInt8(ascii: "\n"): escape = "\\n"
                case UInt8(ascii: "\r"): escape = "\\r"
                case UInt8(ascii: "\t"): escape = "\\t"
                case UInt8(ascii: "<"): escape = "\\u003c"
                case UInt8(ascii: ">"): escape = "\\u003e"
                case UInt8(ascii: "&"): escape = "\\u0026"
                case 0xE2 where index + 2 < utf8.count && utf8[index + 1] == 0x80 && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9):
                    escape = utf8[index + 2] == 0xA8 ? "\\u2028" : "\\u2029"
                case 0..<0x20: escape = nil
                default:
                    index += 1
                    continue
                }
                flushRun(upTo: index, &sink)
                if let escape {
                    escape.withUTF8Buffer { sink.appendBytes(UnsafeRawBufferPointer($0)) }
                    index += byte == 0xE2 ? 3 : 1
                } else {
                    appendStatic("\\u00", to: &sink)
                    sink.appendByte(hexDigits[Int(byte >> 4)])
                    sink.appendByte(hexDigits[Int(byte & 0xF)])
                    index += 1
                }
                runStart = index
            }
            flushRun(upTo: utf8.count, &sink)
        }
        sink.appendByte(UInt8(ascii: "\""))
    }

    public static func appendStatic<Sink: JSONByteSink>(_ text: StaticString, to sink: inout Sink) {
        text.withUTF8Buffer { sink.appendBytes(UnsafeRawBufferPointer($0)) }
    }

    public static func appendInteger<Sink: JSONByteSink, Value: BinaryInteger>(_ value: Value, to sink: inout Sink) {
        var text = String(value)
        text.withUTF8 { sink.appendBytes(UnsafeRawBufferPointer($0)) }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
