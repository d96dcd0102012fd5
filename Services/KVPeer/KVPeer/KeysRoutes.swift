import GoJSON
import HTTPServer
import HTTPTypes
import KeysStore
import NIOCore
import ServiceLifecycle

/// The `/v2/keys` endpoint as etcd 3.4's v2http serves it.
struct KeysRoutes: Sendable {
    let service: StoreService
    let clusterID: String
    let maxBodyBytes: Int
    let clock: @Sendable () -> Timestamp

    static let allowedMethods = "HEAD,GET,PUT,POST,DELETE"

    func register(in router: inout Router) {
        let handler: RequestHandler = { request, context in try await handle(request, context: context) }
        for method: HTTPRequest.Method in [.get, .head, .put, .post, .delete, .patch, .options, .trace, .connect] {
            router.on(method, "/v2/keys/**", handler: handler)
        }
    }

    func handle(_ request: Request, context: RequestContext) async throws -> Response {
        guard let method = KeysRequest.Method(rawValue: request.method.rawValue) else {
            return EtcdResponses.methodNotAllowed(allow: Self.allowedMethods)
        }
        var base = HTTPFields()
        base[.etcdClusterID] = clusterID
        let key: String
        do {
            key = try FormParameters.unescapePath(context.parameters.tail ?? "")
        } catch {
            return EtcdResponses.plain(.badRequest, "400 Bad Request")
        }
        let form: FormParameters
        switch await Self.form(of: request, maxBodyBytes: maxBodyBytes) {
        case .success(let parsed): form = parsed
        case .failure(let error): return error.response(base: base, allocator: context.allocator)
        }
        let keysRequest: KeysRequest
        switch KeysRequest.parse(method: method, key: "/" + key, form: form, now: clock()) {
        case .success(let parsed): keysRequest = parsed
        case .failure(let error): return error.response(base: base, allocator: context.allocator)
        }
        // etcd's v2 auth check runs here, after validation, and reads `/2/enabled` from the store: one failed
        // get per request in `/v2/stats/store` while auth is off (always, on kv-peer).
        service.read { $0.countFailedGet() }

        switch keysRequest.operation {
        case .read(let recursive, let sorted, let quorum):
            // A default read is served from this member's store as applied so far (etcd's default); a quorum
            // read first waits until this member has applied everything committed when it arrived.
            if quorum {
                do {
                    try await service.linearizableRead()
                } catch let error as StoreError {
                    return error.response(base: base, allocator: context.allocator)
                }
            }
            let (result, raftIndex) = service.read { store in
                (store.get(keysRequest.key, recursive: recursive, sorted: sorted, now: clock()), service.appliedIndex)
            }
            return respond(result, raftIndex: raftIndex, noValueOnSuccess: false, base: base, allocator: context.allocator)
        case .write(let command):
            let applied: AppliedWrite
            do {
                applied = try await service.propose(command)
            } catch let error as StoreError {
                // No quorum, a lost leader, or a stopping member: etcd's 300 "Raft Internal Error".
                return error.response(base: base, allocator: context.allocator)
            }
            return respond(applied.result, raftIndex: applied.raftIndex, noValueOnSuccess: keysRequest.noValueOnSuccess, base: base, allocator: context.allocator)
        case .watch(let recursive, let stream, let sinceIndex):
            return watch(keysRequest.key, recursive: recursive, stream: stream, sinceIndex: sinceIndex, base: base, allocator: context.allocator)
        }
    }

    private func respond(_ result: Result<StoreEvent, StoreError>, raftIndex: UInt64, noValueOnSuccess: Bool, base: HTTPFields, allocator: ByteBufferAllocator) -> Response {
        switch result {
        case .failure(let error):
            return error.response(base: base, allocator: allocator)
        case .success(let event):
            var fields = base
            fields[.contentType] = "application/json"
            fields[.etcdIndex] = String(event.etcdIndex)
            fields[.raftIndex] = String(raftIndex)
            fields[.raftTerm] = String(service.term)
            var body = allocator.buffer(capacity: 256)
            let valueOnly = noValueOnSuccess && [.set, .create, .update, .compareAndSwap].contains(event.action)
            EventJSON.append(event, to: &body, valueOnly: valueOnly)
            return Response(status: event.isCreated ? .created : .ok, headerFields: fields, body: ResponseBody(buffer: body))
        }
    }

    private func watch(_ key: String, recursive: Bool, stream: Bool, sinceIndex: UInt64, base: HTTPFields, allocator: ByteBufferAllocator) -> Response {
        var fields = base
        fields[.contentType] = "application/json"
        fields[.raftTerm] = String(service.term)
        switch service.watch(key, recursive: recursive, stream: stream, sinceIndex: sinceIndex) {
        case .failure(let error):
            return error.response(base: base, allocator: allocator)
        case .success(.historical(let event, let raftIndex)):
            // Like etcd, a watch answered from history is not registered: a stream gets this one event,
            // then stays open without more (etcd #2854).
            fields[.etcdIndex] = String(event.etcdIndex)
            fields[.raftIndex] = String(raftIndex)
            return Response(headerFields: fields, body: .stream { writer in
                var body = allocator.buffer(capacity: 256)
                EventJSON.append(event, to: &body)
                try await writer.write(body)
                if stream { try await gracefulShutdown() }
            })
        case .success(.live(let subscription)):
            fields[.etcdIndex] = String(subscription.startIndex)
            fields[.raftIndex] = String(subscription.raftIndex)
            // Headers go out before any event: that is how a client knows its watch is armed.
            return Response(headerFields: fields, body: .stream { writer in
                defer { subscription.cancel() }
                // On shutdown a long poll ends with an empty body, which clients treat as "poll again"
                // (etcd closes watches on shutdown too) instead of holding the drain for its full deadline.
                for await event in subscription.events.cancelOnGracefulShutdown() {
                    var body = allocator.buffer(capacity: 256)
                    EventJSON.append(event, to: &body)
                    try await writer.write(body)
                    if !stream { return }
                }
            })
        }
    }

    /// Go's `r.ParseForm()`: a form-encoded body (POST, PUT, PATCH only) before the query; any other body is ignored.
    /// Both are parsed; the body's error is reported before the query's.
    static func form(of request: Request, maxBodyBytes: Int) async -> Result<FormParameters, StoreError> {
        let query = parseQuery(request.rawQuery)
        guard [.post, .put, .patch].contains(request.method), isFormEncoded(request.headerFields[.contentType]) else {
            return query
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            return .failure(StoreError(code: StoreError.invalidForm, cause: "http: request body too large", index: 0))
        }
        switch parseQuery(String(buffer: body)) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): return query.map { parsed.merging($0) }
        }
    }

    /// Go's `url.ParseQuery` (1.17+): a `;` in any pair is an error, and it wins over a bad escape.
    static func parseQuery<S: StringProtocol>(_ text: S) -> Result<FormParameters, StoreError> {
        if text.utf8.contains(UInt8(ascii: ";")) {
            return .failure(StoreError(code: StoreError.invalidForm, cause: "invalid semicolon separator in query", index: 0))
        }
        do {
            return .success(try FormParameters.parse(text))
        } catch {
            return .failure(StoreError(code: StoreError.invalidForm, cause: error.description, index: 0))
        }
    }

    static func isFormEncoded(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: " \t") } ?? ""
        return mediaType.lowercased() == "application/x-www-form-urlencoded"
    }
}

extension StoreError {
    /// etcd `Error.WriteTo`: JSON body, `X-Etcd-Index` equal to the body's index, no raft headers.
    func response(base: HTTPFields, allocator: ByteBufferAllocator) -> Response {
        var fields = base
        fields[.contentType] = "application/json"
        fields[.etcdIndex] = String(index)
        var body = allocator.buffer(capacity: 128)
        EventJSON.append(self, to: &body)
        return Response(status: HTTPResponse.Status(code: httpStatus), headerFields: fields, body: ResponseBody(buffer: body))
    }
}

extension HTTPField.Name {
    static let etcdIndex = HTTPField.Name("X-Etcd-Index")!
    static let raftIndex = HTTPField.Name("X-Raft-Index")!
    static let raftTerm = HTTPField.Name("X-Raft-Term")!
    static let etcdClusterID = HTTPField.Name("X-Etcd-Cluster-Id")!
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var slice = self
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
