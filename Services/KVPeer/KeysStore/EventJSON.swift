public import GoJSON

/// Renders events, nodes and errors exactly as etcd's v2 API does: Go's `encoding/json` field order,
/// `omitempty` rules and escaping, and a trailing newline from `json.Encoder`.
public enum EventJSON {
    public static func append<Sink: JSONByteSink>(_ event: StoreEvent, to sink: inout Sink, valueOnly: Bool = false) {
        GoJSON.appendStatic("{\"action\":", to: &sink)
        GoJSON.appendString(event.action.rawValue, to: &sink)
        if !valueOnly {
            GoJSON.appendStatic(",\"node\":", to: &sink)
            append(event.node, to: &sink)
            if let previous = event.prevNode {
                GoJSON.appendStatic(",\"prevNode\":", to: &sink)
                append(previous, to: &sink)
            }
        }
        GoJSON.appendStatic("}\n", to: &sink)
    }

    public static func append<Sink: JSONByteSink>(_ node: NodeExtern, to sink: inout Sink) {
        var separator = false
        func field(_ name: StaticString, _ sink: inout Sink) {
            GoJSON.appendStatic(separator ? "," : "{", to: &sink)
            separator = true
            GoJSON.appendStatic(name, to: &sink)
        }
        if let key = node.key, !key.isEmpty {
            field("\"key\":", &sink)
            GoJSON.appendString(key, to: &sink)
        }
        if let value = node.value {
            field("\"value\":", &sink)
            GoJSON.appendString(value, to: &sink)
        }
        if node.dir {
            field("\"dir\":true", &sink)
        }
        if let expiration = node.expiration {
            field("\"expiration\":", &sink)
            GoJSON.appendString(expiration.rfc3339, to: &sink)
        }
        if let ttl = node.ttl, ttl != 0 {
            field("\"ttl\":", &sink)
            GoJSON.appendInteger(ttl, to: &sink)
        }
        if let nodes = node.nodes, !nodes.isEmpty {
            field("\"nodes\":[", &sink)
            for (index, child) in nodes.enumerated() {
                if index > 0 { sink.appendByte(UInt8(ascii: ",")) }
                append(child, to: &sink)
            }
            sink.appendByte(UInt8(ascii: "]"))
        }
        if node.modifiedIndex != 0 {
            field("\"modifiedIndex\":", &sink)
            GoJSON.appendInteger(node.modifiedIndex, to: &sink)
        }
        if node.createdIndex != 0 {
            field("\"createdIndex\":", &sink)
            GoJSON.appendInteger(node.createdIndex, to: &sink)
        }
        GoJSON.appendStatic(separator ? "}" : "{}", to: &sink)
    }

    public static func append<Sink: JSONByteSink>(_ error: StoreError, to sink: inout Sink) {
        GoJSON.appendStatic("{\"errorCode\":", to: &sink)
        GoJSON.appendInteger(error.code, to: &sink)
        GoJSON.appendStatic(",\"message\":", to: &sink)
        GoJSON.appendString(error.message, to: &sink)
        if !error.cause.isEmpty {
            GoJSON.appendStatic(",\"cause\":", to: &sink)
            GoJSON.appendString(error.cause, to: &sink)
        }
        GoJSON.appendStatic(",\"index\":", to: &sink)
        GoJSON.appendInteger(error.index, to: &sink)
        GoJSON.appendStatic("}\n", to: &sink)
    }

    /// Convenience for tests and small bodies.
    public static func string(_ event: StoreEvent) -> String {
        var bytes: [UInt8] = []
        append(event, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func string(_ error: StoreError) -> String {
        var bytes: [UInt8] = []
        append(error, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
