import HTTPServer
import HTTPTypes
import Logging
import NIOCore
import TestSupport
import Testing

@Suite("Request and Response values")
struct RequestTests {
    @Test("path and raw query split at the first ?, and a missing path reads as /")
    func pathAndQuery() {
        let request = makeRequest("/a/b?c=d?e")
        #expect(request.path == "/a/b")
        #expect(request.rawQuery == "c=d?e")
        let noPath = Request(head: HTTPRequest(method: .options, scheme: nil, authority: "x", path: nil), body: .empty)
        #expect(noPath.path == "/")
        #expect(noPath.rawQuery == "")
    }

    @Test("a buffered body is collected whole, once")
    func bufferedBody() async throws {
        let body = RequestBody(buffer: ByteBuffer(string: "hello"))
        #expect(String(buffer: try await body.collect(upTo: 5)) == "hello")
        var iterator = body.makeAsyncIterator()
        #expect(try await iterator.next() != nil)
        #expect(try await iterator.next() == nil)
    }

    @Test("collecting more than the limit throws 413")
    func collectLimit() async throws {
        let body = RequestBody(buffer: ByteBuffer(string: "123456"))
        await #expect(throws: HTTPError(.contentTooLarge, message: "request body exceeds 5 bytes")) {
            try await body.collect(upTo: 5)
        }
    }

    @Test("an empty body yields nothing")
    func emptyBody() async throws {
        #expect(try await RequestBody.empty.collect(upTo: 0).readableBytes == 0)
    }

    @Test("buffered response bodies know their length; streams do not")
    func knownLength() {
        #expect(ResponseBody(string: "abc").knownLength == 3)
        #expect(ResponseBody.empty.knownLength == 0)
        #expect(ResponseBody.stream { _ in }.knownLength == nil)
    }

    @Test("the body writer skips empty buffers, so an empty write never ends a chunked body")
    func writerSkipsEmpty() async throws {
        let writes = Observed<[String]>([])
        let writer = ResponseBodyWriter { buffer in writes.update { $0.append(String(buffer: buffer)) } }
        try await writer.write("")
        try await writer.write("a")
        try await writer.write(ByteBuffer())
        try await writer.write(ByteBuffer(string: "b"))
        #expect(writes.value == ["a", "b"])
    }

    @Test("the request context logger carries the request id")
    func contextLogger() {
        // A handler that keeps metadata (the no-op handler drops it); nothing is logged here.
        let logger = Logger(label: "test") { StreamLogHandler.standardError(label: $0) }
        let context = RequestContext(requestID: "abc-1", routeTemplate: "/x", logger: logger)
        #expect(context.logger[metadataKey: "http.request.id"] == "abc-1")
        #expect(context.parameters == RouteParameters())
        #expect(context.isHTTP2 == false)
    }
}
