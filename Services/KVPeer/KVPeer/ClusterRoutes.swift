import GoJSON
import HTTPServer
import HTTPTypes
import KeysStore
import NIOCore
import Synchronization

/// Identity of this member as `/v2/members`, `/v2/stats` and the `X-Etcd-Cluster-Id` header show it.
public struct MemberIdentity: Sendable {
    public let name: String
    public let id: UInt64
    public let clusterID: UInt64
    public let peerURLs: [String]
    /// Advertised client URLs; one given with port 0 takes the port its listener bound.
    let advertised: AdvertisedURLs
    public var clientURLs: [String] { advertised.urls }

    /// IDs derive from the peer URLs and the cluster token, as etcd's do (etcd hashes with SHA-1; any stable
    /// 64-bit hash serves, since clients only compare them).
    public init(name: String, peerURLs: [String], clientURLs: [String], clusterToken: String) {
        self.name = name
        self.peerURLs = peerURLs
        self.advertised = AdvertisedURLs(clientURLs)
        id = Self.fnv1a(peerURLs.sorted().joined() + clusterToken)
        clusterID = Self.fnv1a(String(id, radix: 16) + clusterToken)
    }

    public var hexID: String { String(id, radix: 16) }
    public var hexClusterID: String { String(clusterID, radix: 16) }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}

/// Client URLs as advertised, resolved once listeners bind (so `--advertise-client-urls http://127.0.0.1:0`
/// shows the real port, which tests and `flotilla up` rely on).
final class AdvertisedURLs: Sendable {
    private let state: Mutex<[String]>

    init(_ urls: [String]) { state = Mutex(urls) }

    var urls: [String] { state.withLock { $0 } }

    func bound(host: String, port: Int) {
        state.withLock { urls in
            urls = urls.map { $0 == "http://\(host):0" ? "http://\(host):\(port)" : $0 == "https://\(host):0" ? "https://\(host):\(port)" : $0 }
        }
    }
}

/// Members, machines, stats, version, health and auth status: what etcdctl, python-etcd and the Go client
/// read besides keys.
struct ClusterRoutes: Sendable {
    let member: MemberIdentity
    let service: StoreService
    let startTime: Timestamp
    let clock: @Sendable () -> Timestamp

    static let serverVersion = "3.4.23"
    static let clusterVersion = "3.4.0"

    func register(in router: inout Router) {
        let clusterHeader: HTTPFields = [.etcdClusterID: member.hexClusterID]
        router.get("/v2/members") { _, _ in
            EtcdResponses.json(extra: clusterHeader) { buffer in
                buffer.writeStaticString("{\"members\":[")
                writeMember(&buffer)
                buffer.writeStaticString("]}")
            }
        }
        // etcd's members handler serves `""` and `leader` below /v2/members/ and answers any other GET (`leader/`
        // included; the router ignores trailing slashes) with its own JSON 404.
        let membersNotFound = EtcdResponses.json(status: .notFound, extra: clusterHeader, newline: false) {
            $0.writeStaticString("{\"message\":\"Not found\"}")
        }
        router.get("/v2/members/leader") { request, _ in
            if request.path.hasSuffix("/") { return membersNotFound }
            return EtcdResponses.json(extra: clusterHeader) { writeMember(&$0) }
        }
        router.get("/v2/members/**") { _, _ in membersNotFound }
        // etcd allows GET and HEAD here explicitly, so its 405 says `Allow: GET,HEAD`.
        let machines: RequestHandler = { _, _ in
            Response(headerFields: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(string: member.clientURLs.joined(separator: ", ")))
        }
        router.get("/v2/machines", handler: machines)
        router.on(.head, "/v2/machines", handler: machines)
        router.get("/v2/stats/self") { _, _ in
            let now = clock()
            return EtcdResponses.json(newline: false) { buffer in
                buffer.writeStaticString("{\"name\":")
                buffer.writeJSONString(member.name)
                buffer.writeStaticString(",\"id\":")
                buffer.writeJSONString(member.hexID)
                buffer.writeStaticString(",\"state\":\"StateLeader\",\"startTime\":")
                buffer.writeJSONString(startTime.rfc3339)
                buffer.writeStaticString(",\"leaderInfo\":{\"leader\":")
                buffer.writeJSONString(member.hexID)
                buffer.writeStaticString(",\"uptime\":")
                buffer.writeJSONString(GoDuration.string(nanoseconds: now.nanoseconds - startTime.nanoseconds))
                buffer.writeStaticString(",\"startTime\":")
                buffer.writeJSONString(startTime.rfc3339)
                buffer.writeStaticString("},\"recvAppendRequestCnt\":0,\"sendAppendRequestCnt\":0}")
            }
        }
        router.get("/v2/stats/leader") { _, _ in
            EtcdResponses.json(newline: false) { buffer in
                buffer.writeStaticString("{\"leader\":")
                buffer.writeJSONString(member.hexID)
                buffer.writeStaticString(",\"followers\":{}}")
            }
        }
        router.get("/v2/stats/store") { _, _ in
            let stats = service.read { $0.stats }
            return EtcdResponses.json(newline: false) { buffer in
                for (index, (name, value)) in stats.fields.enumerated() {
                    buffer.writeStaticString(index == 0 ? "{" : ",")
                    buffer.writeJSONString(name)
                    buffer.writeStaticString(":")
                    buffer.writeString(String(value))
                }
                buffer.writeStaticString("}")
            }
        }
        router.get("/version") { _, _ in
            EtcdResponses.json(newline: false) { buffer in
                buffer.writeString("{\"etcdserver\":\"\(Self.serverVersion)\",\"etcdcluster\":\"\(Self.clusterVersion)\"}")
            }
        }
        router.get("/health") { _, _ in
            // etcd 3.4 checks health with a quorum GET of the root (one more successful get in the store stats)
            // and writes the JSON without a Content-Type, so Go sniffs text/plain; no newline.
            service.read { $0.countSuccessfulGet() }
            return EtcdResponses.json(newline: false, contentType: "text/plain; charset=utf-8") {
                $0.writeStaticString("{\"health\":\"true\"}")
            }
        }
        router.get("/v2/auth/enable") { _, _ in
            // etcd's auth store reads `/2/enabled` to answer: a failed get while auth is off.
            service.read { $0.countFailedGet() }
            return EtcdResponses.json(extra: clusterHeader) { $0.writeStaticString("{\"enabled\":false}") }
        }
    }

    private func writeMember(_ buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        buffer.writeJSONString(member.hexID)
        buffer.writeStaticString(",\"name\":")
        buffer.writeJSONString(member.name)
        buffer.writeStaticString(",\"peerURLs\":[")
        writeList(member.peerURLs, &buffer)
        buffer.writeStaticString("],\"clientURLs\":[")
        writeList(member.clientURLs, &buffer)
        buffer.writeStaticString("]}")
    }

    private func writeList(_ items: [String], _ buffer: inout ByteBuffer) {
        for (index, item) in items.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeJSONString(item)
        }
    }
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5s`, `250ms`, `0s`.
enum GoDuration {
    static func string(nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let negative = nanoseconds < 0
        let value = nanoseconds.magnitude
        var text: String
        if value < 1_000 {
            text = "\(value)ns"
        } else if value < 1_000_000 {
            text = fraction(value, unit: 1_000) + "µs"
        } else if value < 1_000_000_000 {
            text = fraction(value, unit: 1_000_000) + "ms"
        } else {
            let hours = value / 3_600_000_000_000
            let minutes = value / 60_000_000_000 % 60
            let seconds = fraction(value % 60_000_000_000, unit: 1_000_000_000) + "s"
            text = hours > 0 ? "\(hours)h\(minutes)m\(seconds)" : minutes > 0 ? "\(minutes)m\(seconds)" : seconds
        }
        return negative ? "-" + text : text
    }

    private static func fraction(_ value: UInt64, unit: UInt64) -> String {
        let whole = value / unit
        var rest = String(value % unit)
        guard rest != "0" else { return String(whole) }
        let width = String(unit).count - 1
        rest = String(repeating: "0", count: width - rest.count) + rest
        while rest.hasSuffix("0") { rest.removeLast() }
        return "\(whole).\(rest)"
    }
}

/// etcd 3.4 defaults to `--cors='*'`: every response allows any origin, and OPTIONS is answered 200.
struct CORSMiddleware: Middleware {
    func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
        var response: Response
        if request.method == .options {
            response = Response()
        } else {
            do {
                response = try await next(request, context)
            } catch let error as any HTTPResponseError {
                response = error.response(allocator: context.allocator)
            }
        }
        response.headerFields[.accessControlAllowOrigin] = "*"
        response.headerFields[.accessControlAllowMethods] = "POST, GET, OPTIONS, PUT, DELETE"
        response.headerFields[.accessControlAllowHeaders] = "accept, content-type, authorization"
        return response
    }
}
