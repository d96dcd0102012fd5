import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 response as it came off the wire: status, headers in order, body (de-chunked).
public struct HTTPExchange: Sendable, CustomStringConvertible {
    public let status: Int
    public let headers: [HTTPHeaderLine]
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var description: String {
        "\(status)\n" + headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n") + "\n\n" + text
    }
}

public struct HTTPHeaderLine: Sendable, Equatable {
    public let name: String
    public let value: String
}

public struct HTTPExchangeError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Exact requests over a fresh TCP connection (`Connection: close`): no client library cleans paths, adds
/// headers or retries, so both servers of a differential test receive the very same bytes.
public enum RawHTTP {
    /// Sends one request and reads the answer until the server closes. `afterHead` (for watches) runs once
    /// the response head has arrived, i.e. once the server has armed the watch.
    public static func exchange(
        port: Int, method: String, target: String, headers: [(String, String)] = [], body: String? = nil,
        timeout: Duration = .seconds(10), afterHead: (@Sendable () async throws -> Void)? = nil
    ) async throws -> HTTPExchange {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + (body ?? "")
        return try await RawClient.with(port: port) { client in
            try await client.send(request)
            if let afterHead {
                try await client.received.wait(for: "response head of \(method) \(target)", timeout: timeout) { received in
                    received.closed || received.bytes.firstRange(of: Array("\r\n\r\n".utf8)) != nil
                }
                try await afterHead()
            }
            try await client.received.wait(for: "the answer to \(method) \(target)", timeout: timeout) { $0.closed }
            return try parse(client.received.value.bytes, method: method)
        }
    }

    /// Parses a complete response (as read until close).
    public static func parse(_ bytes: [UInt8], method: String) throws -> HTTPExchange {
        guard let headEnd = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw HTTPExchangeError(description: "no complete response head in \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw HTTPExchangeError(description: "bad status line in \(head.debugDescription)")
        }
        let headers = lines.map { line -> HTTPHeaderLine in
            let parts = line.split(separator: ":", maxSplits: 1)
            return HTTPHeaderLine(name: String(parts[0]), value: parts.count > 1 ? String(parts[1]).trimmingSpaces : "")
        }
        var body = Array(bytes[headEnd.upperBound...])
        let chunked = headers.contains { $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased().contains("chunked") }
        if chunked, method != "HEAD" { body = try dechunk(body) }
        return HTTPExchange(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstRange(of: Array("\r\n".utf8)) else { break }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingSpaces, radix: 16) else {
                throw HTTPExchangeError(description: "bad chunk size \(sizeText.debugDescription)")
            }
            if size == 0 { break }
            let start = lineEnd.upperBound
            guard start + size <= bytes.count else { throw HTTPExchangeError(description: "truncated chunk") }
            output += bytes[start..<start + size]
            index = start + size + 2
        }
        return output
    }
}

/// Requests through AsyncHTTPClient's shared client: pooled keep-alive connections, as real clients use.
public enum KeepAliveHTTP {
    public struct Answer: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: String
    }

    /// `form` is sent as an `application/x-www-form-urlencoded` body.
    public static func send(_ method: String, _ url: String, form: String? = nil, timeout: Duration = .seconds(10)) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
        let body = try await response.body.collect(upTo: 64 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Answer(status: Int(response.status.code), headers: headers, body: String(buffer: body))
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
