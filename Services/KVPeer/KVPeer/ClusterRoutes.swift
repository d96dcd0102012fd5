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
    public let clusterToken: String
    /// Advertised client URLs; one given with port 0 takes the port its listener bound.
    let advertised: AdvertisedURLs
    public var clientURLs: [String] { advertised.urls }

    /// A member of its own cluster (no `--initial-cluster` of others).
    public init(name: String, peerURLs: [String], clientURLs: [String], clusterToken: String) {
        let id = ClusterMember.id(peerURLs: peerURLs, clusterToken: clusterToken)
        self.init(name: name, id: id, clusterID: ClusterMember.clusterID(memberIDs: [id], clusterToken: clusterToken), peerURLs: peerURLs, clientURLs: clientURLs, clusterToken: clusterToken)
    }

    init(name: String, id: UInt64, clusterID: UInt64, peerURLs: [String], clientURLs: [String], clusterToken: String) {
        self.name = name
        self.id = id
        self.clusterID = clusterID
        self.peerURLs = peerURLs
        self.clusterToken = clusterToken
        self.advertised = AdvertisedURLs(clientURLs)
    }

    /// IDs as etcd derives them: the member's from its peer URLs, the cluster's from the founding members (or,
    /// when joining, whatever the running cluster reported).
    init(options: KVPeerOptions) {
        // A member added at runtime got its ID from the cluster (which mixes in the time it was added).
        let joined = options.join?.members.first { !Set($0.peerURLs).isDisjoint(with: options.peerURLs) }
        let id = joined?.id ?? ClusterMember.id(peerURLs: options.peerURLs, clusterToken: options.clusterToken)
        let founders = options.initialCluster.isEmpty ? [id] : options.initialCluster.map { ClusterMember.id(peerURLs: $0.peerURLs, clusterToken: options.clusterToken) }
        let clusterID = options.join?.clusterID ?? ClusterMember.clusterID(memberIDs: founders, clusterToken: options.clusterToken)
        self.init(name: options.name, id: id, clusterID: clusterID, peerURLs: options.peerURLs, clientURLs: options.advertiseClientURLs, clusterToken: options.clusterToken)
    }

    public var hexID: String { String(id, radix: 16) }
    public var hexClusterID: String { String(clusterID, radix: 16) }
}

/// Client URLs as advertised, resolved once listeners bind (so `--advertise-client-urls http://127.0.0.1:0`
/// shows the real port, which tests and `flotilla up` rely on).
final class AdvertisedURLs: Sendable {
    private let state: Mutex<(urls: [String], bound: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>

    init(_ urls: [String]) { state = Mutex((urls, 0, [])) }

    var urls: [String] { state.withLock { $0.urls } }

    func bound(host: String, port: Int) {
        let ready = state.withLock { state in
            state.urls = state.urls.map { $0 == "http://\(host):0" ? "http://\(host):\(port)" : $0 == "https://\(host):0" ? "https://\(host):\(port)" : $0 }
            state.bound += 1
            let count = state.bound
            let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
            state.waiters.removeAll { $0.0 <= count }
            return ready
        }
        for waiter in ready { waiter.resume() }
    }

    /// Returns once `listeners` listeners have bound.
    func waitUntilBound(listeners: Int) async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.bound >= listeners { return true }
                state.waiters.append((listeners, continuation))
                return false
            }
            if done { continuation.resume() }
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
                for (index, each) in members().enumerated() {
                    if index > 0 { buffer.writeStaticString(",") }
                    MemberJSON.write(each, to: &buffer)
                }
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
            guard let leaderID = service.leaderID, let leader = members().first(where: { $0.id == leaderID }) else {
                return MembersAPI.error(.serviceUnavailable, "During election", clusterHeader)
            }
            return EtcdResponses.json(extra: clusterHeader) { MemberJSON.write(leader, to: &$0) }
        }
        router.get("/v2/members/**") { _, _ in membersNotFound }
        router.get("/v2/members/:id") { _, _ in membersNotFound }
        MembersAPI(service: service, clusterHeader: clusterHeader).register(in: &router)
        // etcd allows GET and HEAD here explicitly, so its 405 says `Allow: GET,HEAD`.
        let machines: RequestHandler = { _, _ in
            Response(headerFields: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(string: members().flatMap(\.clientURLs).joined(separator: ", ")))
        }
        router.get("/v2/machines", handler: machines)
        router.on(.head, "/v2/machines", handler: machines)
        router.get("/v2/stats/self") { _, _ in
            let now = clock()
            let leader = service.leaderID
            let since = service.leaderSince ?? startTime
            let counts = service.counters.withLock { $0 }
            return EtcdResponses.json(newline: false) { buffer in
                buffer.writeStaticString("{\"name\":")
                buffer.writeJSONString(member.name)
                buffer.writeStaticString(",\"id\":")
                buffer.writeJSONString(member.hexID)
                buffer.writeStaticString(",\"state\":")
                buffer.writeJSONString(leader == member.id ? "StateLeader" : "StateFollower")
                buffer.writeStaticString(",\"startTime\":")
                buffer.writeJSONString(startTime.rfc3339)
                buffer.writeStaticString(",\"leaderInfo\":{\"leader\":")
                buffer.writeJSONString(leader.map { String($0, radix: 16) } ?? "")
                buffer.writeStaticString(",\"uptime\":")
                buffer.writeJSONString(GoDuration.string(nanoseconds: now.nanoseconds - since.nanoseconds))
                buffer.writeStaticString(",\"startTime\":")
                buffer.writeJSONString(since.rfc3339)
                buffer.writeString("},\"recvAppendRequestCnt\":\(counts.receivedAppends),\"sendAppendRequestCnt\":\(counts.sentAppends)}")
            }
        }
        router.get("/v2/stats/leader") { _, _ in
            guard service.isLeader else { return MembersAPI.error(.forbidden, "not current leader", [:]) }
            let followers = service.transport.followerStats()
            return EtcdResponses.json(newline: false) { buffer in
                buffer.writeStaticString("{\"leader\":")
                buffer.writeJSONString(member.hexID)
                buffer.writeStaticString(",\"followers\":{")
                for (index, (id, stats)) in followers.sorted(by: { $0.key < $1.key }).enumerated() {
                    if index > 0 { buffer.writeStaticString(",") }
                    buffer.writeJSONString(String(id, radix: 16))
                    let minimum = stats.successes == 0 ? 0 : stats.minimumMilliseconds
                    buffer.writeString(
                        ":{\"latency\":{\"current\":\(stats.currentMilliseconds),\"average\":\(stats.averageMilliseconds),\"standardDeviation\":\(stats.standardDeviation),"
                            + "\"minimum\":\(minimum),\"maximum\":\(stats.maximumMilliseconds)},\"counts\":{\"fail\":\(stats.failures),\"success\":\(stats.successes)}}"
                    )
                }
                buffer.writeStaticString("}}")
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
            // and writes the JSON without a Content-Type, so Go sniffs text/plain; no newline. Without a
            // quorum the read times out and etcd answers 503 `{"health":"false"}`.
            var healthy = service.leaderID != nil
            if healthy {
                do {
                    try await service.linearizableRead(timeout: .seconds(1))
                } catch {
                    healthy = false
                }
            }
            if healthy { service.read { $0.countSuccessfulGet() } }
            return EtcdResponses.json(status: healthy ? .ok : .serviceUnavailable, newline: false, contentType: "text/plain; charset=utf-8") {
                $0.writeString(healthy ? "{\"health\":\"true\"}" : "{\"health\":\"false\"}")
            }
        }
        router.get("/v2/auth/enable") { _, _ in
            // etcd's auth store reads `/2/enabled` to answer: a failed get while auth is off.
            service.read { $0.countFailedGet() }
            return EtcdResponses.json(extra: clusterHeader) { $0.writeStaticString("{\"enabled\":false}") }
        }
    }

    /// The committed members, with this member's own client URLs as bound (before its publication is applied).
    private func members() -> [ClusterMember] {
        service.members.map { each in
            guard each.id == member.id else { return each }
            var own = each
            own.name = member.name
            own.clientURLs = member.clientURLs
            return own
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
