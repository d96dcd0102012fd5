import HTTPServer
import HTTPTypes
import NIOCore
import TestSupport

/// The routes live tests exercise, with hooks for tests to observe and steer handlers:
/// `events` receives `"<name> started"` / `"<name> cancelled"`, and `/slow` waits at `gate`.
struct LiveRoutes: Sendable {
    let events = Mailbox<String>()
    let gate = Gate()

    func responder(maxBodyBytes: Int = 1 << 20, configure: (inout Router) -> Void = { _ in }) -> Responder {
        let events = events
        let gate = gate
        var router = Router()
        router.get("/hello") { _, _ in Response(body: ResponseBody(string: "hello\n")) }
        router.get("/items/:id") { _, context in
            Response(body: ResponseBody(string: "item \(context.parameters["id"] ?? "")\n"))
        }
        router.get("/protocol") { _, context in
            Response(body: ResponseBody(string: context.isHTTP2 ? "h2" : "http/1.1"))
        }
        for method in [HTTPRequest.Method.post, .put] {
            router.on(method, "/echo") { request, context in
                let body = try await request.body.collect(upTo: maxBodyBytes)
                return Response(headerFields: [.contentType: "application/octet-stream"], body: ResponseBody(buffer: body))
            }
        }
        router.get("/slow") { _, _ in
            events.post("slow started")
            do {
                try await gate.wait()
            } catch {
                events.post("slow cancelled")
                throw error
            }
            return Response(body: ResponseBody(string: "slow done\n"))
        }
        router.get("/stream") { _, _ in
            Response(
                headerFields: [.contentType: "text/plain"],
                body: .stream { writer in
                    try await writer.write("first\n")
                    events.post("stream started")
                    do {
                        // Waits forever: only cancellation ends it.
                        try await Gate().wait()
                    } catch {
                        events.post("stream cancelled")
                        throw error
                    }
                }
            )
        }
        configure(&router)
        return router.buildResponder()
    }
}

/// A body of recognisable text: `size` bytes of numbered lines.
func numberedLines(size: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(size + 16)
    var line = 0
    while bytes.count < size {
        bytes += Array("line \(line)\n".utf8)
        line += 1
    }
    return Array(bytes.prefix(size))
}
