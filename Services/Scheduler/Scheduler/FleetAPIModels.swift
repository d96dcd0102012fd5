import FleetLayout
import Foundation
import HTTPServer
import HTTPTypes
import NIOCore

/// fleet API v1 entities (`schema/v1.json`); keys sorted as fleet's generated Go types write them, and
/// empty fields omitted.
struct UnitOptionJSON: Codable, Equatable, Sendable {
    var name: String?
    var section: String?
    var value: String?
}

struct UnitJSON: Codable, Sendable {
    var currentState: String?
    var desiredState: String?
    var machineID: String?
    var name: String?
    var options: [UnitOptionJSON]?
    /// Flotilla: why a unit that should run has no machine.
    var reason: String?
}

struct UnitPageJSON: Encodable {
    var nextPageToken: String?
    var units: [UnitJSON]
}

struct UnitStateEntryJSON: Encodable {
    var hash: String?
    var machineID: String?
    var name: String?
    var systemdActiveState: String?
    var systemdLoadState: String?
    var systemdSubState: String?
}

struct UnitStatePageJSON: Encodable {
    var nextPageToken: String?
    var states: [UnitStateEntryJSON]
}

struct MachineJSON: Encodable {
    var id: String
    var metadata: [String: String]?
    var primaryIP: String?
}

struct MachinePageJSON: Encodable {
    var machines: [MachineJSON]
    var nextPageToken: String?
}

/// fleet's error body: `{"error":{"code":400,"message":"…"}}`.
struct FleetAPIError: HTTPResponseError, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { "\(status.code) \(message)" }

    func response(allocator: ByteBufferAllocator) -> Response {
        struct Body: Encodable {
            struct Inner: Encodable { var code: Int; var message: String }
            var error: Inner
        }
        return FleetJSON.response(Body(error: .init(code: status.code, message: message)), status: status)
    }
}

enum FleetJSON {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        return Response(status: status, headerFields: fields, body: ResponseBody(buffer: ByteBuffer(bytes: data)))
    }
}

/// fleet's page token: URL-safe base64 of little-endian `uint16 limit, uint16 page`, pages counted from 1.
struct PageToken: Equatable {
    var limit: Int
    var page: Int

    var encoded: String {
        let bytes = [UInt8(limit & 0xff), UInt8(limit >> 8), UInt8(page & 0xff), UInt8(page >> 8)]
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }

    /// The token named by `nextPageToken`, or page 1; errors carry fleet's messages.
    static func from(_ query: FormParameters, limit: Int) throws -> PageToken {
        let values = query.values("nextPageToken")
        guard values.count <= 1 else { throw FleetAPIError(.badRequest, "too many values for page token") }
        guard let text = values.first else { return PageToken(limit: limit, page: 1) }
        let standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard let data = Data(base64Encoded: standard), data.count == 4 else {
            throw FleetAPIError(.badRequest, "unable to decode page token \"\(text)\"")
        }
        let bytes = [UInt8](data)
        let token = PageToken(limit: Int(bytes[0]) | Int(bytes[1]) << 8, page: Int(bytes[2]) | Int(bytes[3]) << 8)
        guard token.limit == limit else { throw FleetAPIError(.badRequest, "token limit must be \(limit)") }
        guard token.page > 0 else { throw FleetAPIError(.badRequest, "token page must be greater than zero") }
        return token
    }

    /// This page's slice of `items` and the token of the next page, if there is one.
    func slice<Item>(_ items: [Item]) -> (items: ArraySlice<Item>, next: String?) {
        let start = min(items.count, (page - 1) * limit)
        let end = min(items.count, start + limit)
        let next = end < items.count && page < Int(UInt16.max) ? PageToken(limit: limit, page: page + 1).encoded : nil
        return (items[start..<end], next)
    }
}
