import Foundation
import HTTPServer
import HTTPTypes
import KeysStore
import NIOCore

/// `POST /v2/members`, `PUT` and `DELETE /v2/members/<id>`: membership changes as etcd 3.4's v2 members
/// handler takes them (JSON `{"peerURLs":[…]}`, errors as `{"message":"…"}` with etcd's statuses).
struct MembersAPI: Sendable {
    let service: StoreService
    let clusterHeader: HTTPFields

    private struct MemberRequest: Decodable {
        var peerURLs: [String]
    }

    func register(in router: inout Router) {
        router.post("/v2/members") { request, _ in
            let peerURLs: [String]
            switch await Self.peerURLs(of: request) {
            case .success(let urls): peerURLs = urls
            case .failure(let refusal): return refusal.response
            }
            do {
                let member = try await service.addMember(peerURLs: peerURLs)
                return EtcdResponses.json(status: .created, extra: clusterHeader) { MemberJSON.write(member, to: &$0) }
            } catch {
                return failure(error)
            }
        }
        router.delete("/v2/members/:id") { _, context in
            let text = String(context.parameters["id"] ?? "")
            guard let id = UInt64(text, radix: 16) else { return Self.error(.notFound, "No such member: \(text)", clusterHeader) }
            do {
                try await service.removeMember(id: id)
                return Response(status: .noContent, headerFields: clusterHeader)
            } catch {
                return failure(error)
            }
        }
        router.put("/v2/members/:id") { request, context in
            let text = String(context.parameters["id"] ?? "")
            guard let id = UInt64(text, radix: 16) else { return Self.error(.notFound, "No such member: \(text)", clusterHeader) }
            let peerURLs: [String]
            switch await Self.peerURLs(of: request) {
            case .success(let urls): peerURLs = urls
            case .failure(let refusal): return refusal.response
            }
            do {
                try await service.updateMember(id: id, peerURLs: peerURLs)
                return Response(status: .noContent, headerFields: clusterHeader)
            } catch {
                return failure(error)
            }
        }
    }

    private func failure(_ error: any Error) -> Response {
        switch error {
        case let error as MembershipError:
            return Self.error(HTTPResponse.Status(code: error.status), error.message, clusterHeader)
        default:
            // etcd answers a timed-out or stopped change with a bare 500.
            return Self.error(.internalServerError, "Internal Server Error", clusterHeader)
        }
    }

    struct Refusal: Error {
        let response: Response
        init(_ response: Response) { self.response = response }
    }

    /// etcd's `unmarshalRequest` for member requests: JSON only, with valid http(s) peer URLs.
    private static func peerURLs(of request: Request) async -> Result<[String], Refusal> {
        let contentType = request.headerFields[.contentType] ?? ""
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: " \t") } ?? ""
        guard mediaType == "application/json" else {
            return .failure(Refusal(error(.unsupportedMediaType, "Bad Content-Type \(contentType), accept application/json", [:])))
        }
        let decoded: MemberRequest
        do {
            let body = try await request.body.collect(upTo: 64 * 1024)
            decoded = try JSONDecoder().decode(MemberRequest.self, from: Data(body.readableBytesView))
        } catch {
            return .failure(Refusal(Self.error(.badRequest, "invalid JSON body: \(error)", [:])))
        }
        guard !decoded.peerURLs.isEmpty else { return .failure(Refusal(error(.badRequest, "no valid URLs given", [:]))) }
        // etcd's `types.NewURLs`: a scheme it knows, and a host:port with nothing after it.
        for url in decoded.peerURLs {
            guard let parsed = URLComponents(string: url), let scheme = parsed.scheme, ["http", "https", "unix", "unixs"].contains(scheme) else {
                return .failure(Refusal(error(.badRequest, "URL scheme must be http, https, unix, or unixs: \(url)", [:])))
            }
            guard parsed.host?.isEmpty == false, parsed.port != nil else {
                return .failure(Refusal(error(.badRequest, "URL address does not have the form \"host:port\": \(url)", [:])))
            }
            guard parsed.path.isEmpty else {
                return .failure(Refusal(error(.badRequest, "URL must not contain a path: \(url)", [:])))
            }
        }
        return .success(decoded.peerURLs.sorted())
    }

    /// etcd's `httptypes.HTTPError`: `{"message":"…"}` as JSON, written without a newline.
    static func error(_ status: HTTPResponse.Status, _ message: String, _ extra: HTTPFields) -> Response {
        EtcdResponses.json(status: status, extra: extra, newline: false) { buffer in
            buffer.writeStaticString("{\"message\":")
            buffer.writeJSONString(message)
            buffer.writeStaticString("}")
        }
    }
}
