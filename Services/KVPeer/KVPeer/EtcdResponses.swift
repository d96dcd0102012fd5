import HTTPServer
import HTTPTypes
import NIOCore

/// Go net/http's plain answers (`http.Error`, `http.NotFound`), which etcd clients see on bad paths and methods.
enum EtcdResponses {
    static func plain(_ status: HTTPResponse.Status, _ text: String, extra: HTTPFields = [:]) -> Response {
        var fields = extra
        fields[.contentType] = "text/plain; charset=utf-8"
        fields[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: status, headerFields: fields, body: ResponseBody(string: text + "\n"))
    }

    static func methodNotAllowed(allow: String) -> Response {
        plain(.methodNotAllowed, "Method Not Allowed", extra: [.allow: allow])
    }

    static var notFound: Response { plain(.notFound, "404 page not found") }

    /// `json.NewEncoder(w).Encode(...)` output: the bytes plus a newline. etcd writes some bodies with
    /// `w.Write(json.Marshal(...))` instead, which has no newline (`newline: false`).
    static func json(
        status: HTTPResponse.Status = .ok, extra: HTTPFields = [:], newline: Bool = true, contentType: String = "application/json",
        _ build: (inout ByteBuffer) -> Void
    ) -> Response {
        var fields = extra
        fields[.contentType] = contentType
        var buffer = ByteBuffer()
        build(&buffer)
        if newline { buffer.writeStaticString("\n") }
        return Response(status: status, headerFields: fields, body: ResponseBody(buffer: buffer))
    }
}
