import HTTPTypes
import NIOCore
import TestSupport
import Testing

@testable import HTTPServer

/// A handler that answers with its name and captured parameters, so a test can see which route won.
func echoRoute(_ name: String) -> RequestHandler {
    { _, context in
        let tail = context.parameters.tail.map { " tail=\($0)" } ?? ""
        let id = context.parameters["id"].map { " id=\($0)" } ?? ""
        return Response(body: ResponseBody(string: "\(name)\(id)\(tail)"))
    }
}

func makeRequest(_ method: HTTPRequest.Method, _ target: String, body: RequestBody = .empty) -> Request {
    Request(head: HTTPRequest(method: method, scheme: "http", authority: "test", path: target), body: body)
}

func makeRequest(_ target: String) -> Request { makeRequest(.get, target) }

extension Responder {
    /// Responds the way the request loop does, rendering a thrown `HTTPResponseError`.
    func respondRendering(_ request: Request) async throws -> (status: HTTPResponse.Status, fields: HTTPFields, body: String) {
        let response: Response
        do {
            response = try await respond(to: request) { template, parameters in
                RequestContext(requestID: "test", routeTemplate: template, parameters: parameters, logger: quietLogger())
            }
        } catch let error as any HTTPResponseError {
            response = error.response(allocator: ByteBufferAllocator())
        }
        return (response.status, response.headerFields, try await response.body.collectString())
    }
}

extension ResponseBody {
    /// The whole body as text: a buffered body directly, a stream by running its producer.
    func collectString() async throws -> String {
        switch storage {
        case .buffer(let buffer):
            return String(buffer: buffer)
        case .stream(let produce):
            let collected = Observed<[UInt8]>([])
            try await produce(ResponseBodyWriter { buffer in collected.update { $0 += buffer.readableBytesView } })
            return String(decoding: collected.value, as: UTF8.self)
        }
    }
}

/// Logs `name> template` on the way in and `name< status` on the way out (thrown errors included).
struct Recording: Middleware {
    let name: String
    let log: Observed<[String]>

    func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
        log.update { $0.append("\(name)> \(context.routeTemplate)") }
        do {
            let response = try await next(request, context)
            log.update { $0.append("\(name)< \(response.status.code)") }
            return response
        } catch let error as any HTTPResponseError {
            log.update { $0.append("\(name)< \(error.status.code)") }
            throw error
        }
    }
}

/// Limits small enough that tests reach them quickly; timeouts large enough never to fire by accident
/// on a live server (channel tests advance a fake clock instead).
extension ServerConfiguration.Limits {
    static func testing(
        maxHeaderBytes: Int = 4096,
        maxBodyBytes: Int = 64 * 1024,
        idleTimeout: Duration = .seconds(30),
        requestHeadTimeout: Duration = .seconds(10),
        maxConnections: Int = 100
    ) -> Self {
        Self(
            maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes, idleTimeout: idleTimeout,
            requestHeadTimeout: requestHeadTimeout, maxConnections: maxConnections
        )
    }
}
