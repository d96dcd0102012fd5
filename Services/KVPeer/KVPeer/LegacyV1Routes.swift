import GoJSON
import HTTPServer
import HTTPTypes
import KeysStore
import NIOCore

/// etcd 0.4's `/v1/keys` and `/v1/watch` API, which old CoreOS tutorials and unit files still use
/// (`curl http://127.0.0.1:4001/v1/keys/database`). Same store, 0.4 response shapes.
struct LegacyV1Routes: Sendable {
    let service: StoreService
    let clock: @Sendable () -> Timestamp

    func register(in router: inout Router) {
        router.get("/v1/keys/**") { request, context in try await get(request, context) }
        router.put("/v1/keys/**") { request, context in try await set(request, context) }
        router.post("/v1/keys/**") { request, context in try await set(request, context) }
        router.delete("/v1/keys/**") { request, context in try await write(.delete(key: key(context), dir: false, recursive: false), context) }
        router.get("/v1/watch/**") { request, context in try await watch(request, context) }
        router.post("/v1/watch/**") { request, context in try await watch(request, context) }
    }

    private func key(_ context: RequestContext) -> String {
        "/" + ((try? FormParameters.unescapePath(context.parameters.tail ?? "")) ?? "")
    }

    private func get(_ request: Request, _ context: RequestContext) async throws -> Response {
        let result = service.read { $0.get(key(context), recursive: false, sorted: false, now: clock()) }
        return respond(result, context)
    }

    private func set(_ request: Request, _ context: RequestContext) async throws -> Response {
        let form: FormParameters
        switch await KeysRoutes.form(of: request, maxBodyBytes: 1 << 20) {
        case .success(let parsed): form = parsed
        case .failure(let error): return error.response(base: [:], allocator: context.allocator)
        }
        let value = form.first("value") ?? ""
        guard !value.isEmpty else {
            return StoreError(code: 200, cause: "Set", index: service.read { $0.currentIndex }).response(base: [:], allocator: context.allocator)
        }
        var expiration: Timestamp?
        if let ttl = form.first("ttl"), !ttl.isEmpty {
            guard let seconds = KeysRequest.parseUInt(ttl) else {
                return StoreError(code: StoreError.ttlNaN, cause: "Set", index: service.read { $0.currentIndex }).response(base: [:], allocator: context.allocator)
            }
            expiration = clock().adding(seconds: Int64(clamping: seconds))
        }
        let key = key(context)
        let command: StoreCommand
        if let prevValue = form.first("prevValue") {
            command = prevValue.isEmpty
                ? .create(key: key, value: value, dir: false, expiration: expiration, unique: false)
                : .compareAndSwap(key: key, value: value, prevValue: prevValue, prevIndex: 0, expiration: expiration, refresh: false)
        } else {
            command = .set(key: key, value: value, dir: false, expiration: expiration, refresh: false)
        }
        return try await write(command, context)
    }

    private func write(_ command: StoreCommand, _ context: RequestContext) async throws -> Response {
        do {
            return respond(try await service.propose(command).result, context)
        } catch let error as StoreError {
            return respond(.failure(error), context)
        }
    }

    private func watch(_ request: Request, _ context: RequestContext) async throws -> Response {
        var since: UInt64 = 0
        switch await KeysRoutes.form(of: request, maxBodyBytes: 1 << 20) {
        case .success(let form):
            if let index = form.first("index"), !index.isEmpty {
                guard let parsed = KeysRequest.parseUInt(index) else {
                    return StoreError(code: StoreError.indexNaN, cause: "Watch From Index", index: 0).response(base: [:], allocator: context.allocator)
                }
                since = parsed
            }
        case .failure(let error):
            return error.response(base: [:], allocator: context.allocator)
        }
        switch service.watch(key(context), recursive: false, stream: false, sinceIndex: since) {
        case .failure(let error):
            return error.response(base: [:], allocator: context.allocator)
        case .success(.historical(let event, _)):
            return respond(.success(event), context)
        case .success(.live(let subscription)):
            defer { subscription.cancel() }
            for await event in subscription.events {
                return respond(.success(event), context)
            }
            throw CancellationError()
        }
    }

    private func respond(_ result: Result<StoreEvent, StoreError>, _ context: RequestContext) -> Response {
        switch result {
        case .failure(let error):
            return error.response(base: [:], allocator: context.allocator)
        case .success(let event):
            var body = context.allocator.buffer(capacity: 128)
            Self.appendV1(event, to: &body)
            body.writeStaticString("\n")
            return Response(
                headerFields: [.contentType: "application/json", .etcdIndex: String(event.etcdIndex)],
                body: ResponseBody(buffer: body)
            )
        }
    }

    /// etcd 0.4 `Event.Response(0)`: one object for a file, an array of children for a directory.
    static func appendV1(_ event: StoreEvent, to buffer: inout ByteBuffer) {
        if event.node.dir {
            buffer.writeStaticString("[")
            for (index, child) in (event.node.nodes ?? []).enumerated() {
                if index > 0 { buffer.writeStaticString(",") }
                appendV1Object(action: event.action.rawValue, node: child, prevValue: nil, newKey: false, to: &buffer)
            }
            buffer.writeStaticString("]")
            return
        }
        var action = event.action.rawValue
        if event.action == .compareAndSwap || event.action == .create { action = "testAndSet" }
        appendV1Object(
            action: action, node: event.node, prevValue: event.prevNode?.value,
            newKey: event.action == .set && event.prevNode == nil, to: &buffer
        )
    }

    private static func appendV1Object(action: String, node: NodeExtern, prevValue: String?, newKey: Bool, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"action\":")
        buffer.writeJSONString(action)
        buffer.writeStaticString(",\"key\":")
        buffer.writeJSONString(node.key ?? "/")
        if node.dir { buffer.writeStaticString(",\"dir\":true") }
        if let prevValue, !prevValue.isEmpty {
            buffer.writeStaticString(",\"prevValue\":")
            buffer.writeJSONString(prevValue)
        }
        if let value = node.value, !value.isEmpty {
            buffer.writeStaticString(",\"value\":")
            buffer.writeJSONString(value)
        }
        if newKey { buffer.writeStaticString(",\"newKey\":true") }
        if let expiration = node.expiration {
            buffer.writeStaticString(",\"expiration\":")
            buffer.writeJSONString(expiration.rfc3339)
        }
        if let ttl = node.ttl, ttl != 0 {
            buffer.writeString(",\"ttl\":\(ttl)")
        }
        buffer.writeString(",\"index\":\(node.modifiedIndex)}")
    }
}
