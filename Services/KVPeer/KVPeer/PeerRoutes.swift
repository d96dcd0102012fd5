import AsyncHTTPClient
import Foundation
import GoJSON
import HTTPServer
import HTTPTypes
import NIOCore
import NIOHTTP1
public import NIOSSL
import RaftCore
import ServiceLifecycle

/// What members serve each other on the peer URLs: Raft messages, and the member list etcd's peers serve at
/// `/members` (new members and v2 proxies read it to find the cluster).
struct PeerRoutes: Sendable {
    /// Large enough for a snapshot of a big store; snapshots travel in one request.
    static let maxBodyBytes = 1 << 30

    let service: StoreService
    let clusterID: UInt64

    func router() -> Router {
        var router = Router()
        let clusterHeader = String(clusterID, radix: 16)
        router.post(PeerTransport.raftPath) { request, _ in
            if let theirs = request.headerFields[.etcdClusterID], theirs != clusterHeader {
                return EtcdResponses.plain(.preconditionFailed, "cluster ID mismatch")
            }
            if let from = request.headerFields[.serverFrom].flatMap({ UInt64($0, radix: 16) }), service.isRemoved(from) {
                return EtcdResponses.plain(.gone, "the member has been permanently removed from the cluster")
            }
            let body = try await request.body.collect(upTo: Self.maxBodyBytes)
            do {
                service.receive(try RaftFrames.decode(body))
            } catch {
                return EtcdResponses.plain(.badRequest, "error reading raft message: \(error)")
            }
            return Response(status: .noContent, headerFields: [.etcdClusterID: clusterHeader])
        }
        router.get("/members") { _, _ in
            EtcdResponses.json(extra: [.etcdClusterID: clusterHeader], newline: true) { buffer in
                buffer.writeStaticString("[")
                // etcd's peer handler marshals `membership.Member`: the ID as a number, in this field order.
                for (index, member) in service.members.enumerated() {
                    if index > 0 { buffer.writeStaticString(",") }
                    buffer.writeString("{\"id\":\(member.id),\"peerURLs\":[")
                    MemberJSON.writeList(member.peerURLs, &buffer)
                    buffer.writeStaticString("],\"name\":")
                    buffer.writeJSONString(member.name)
                    buffer.writeStaticString(",\"clientURLs\":[")
                    MemberJSON.writeList(member.clientURLs, &buffer)
                    buffer.writeStaticString("]}")
                }
                buffer.writeStaticString("]")
            }
        }
        router.get("/version") { _, _ in
            EtcdResponses.json(newline: false) { buffer in
                buffer.writeString("{\"etcdserver\":\"\(ClusterRoutes.serverVersion)\",\"etcdcluster\":\"\(ClusterRoutes.clusterVersion)\"}")
            }
        }
        return router
    }
}

/// The client side of a peer's `/members` (etcd's `GetClusterFromRemotePeers`): what v2 proxies and joining
/// members read to learn a cluster, from etcd's peers and kv-peer's alike.
enum PeerMembers {
    /// etcd's `membership.Member` as its peers marshal it: the ID is a JSON number.
    private struct Member: Decodable {
        var id: UInt64
        var name: String
        var peerURLs: [String]
        var clientURLs: [String]
    }

    /// The cluster's members and ID (`X-Etcd-Cluster-Id`, if sent) as the peer at `peerURL` lists them.
    static func fetch(from peerURL: String, client: HTTPClient, timeout: TimeAmount) async throws -> (clusterID: UInt64?, members: [ClusterMember]) {
        let response = try await client.execute(HTTPClientRequest(url: peerURL + "/members"), timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw PeerSendError(status: response.status.code) }
        let members = try JSONDecoder().decode([Member].self, from: Data(body.readableBytesView)).map { member in
            ClusterMember(id: member.id, name: member.name, peerURLs: member.peerURLs, clientURLs: member.clientURLs)
        }
        return (response.headers.first(name: "X-Etcd-Cluster-Id").flatMap { UInt64($0, radix: 16) }, members)
    }
}

/// A member in etcd's JSON: `{"id":"…","name":"…","peerURLs":[…],"clientURLs":[…]}`.
enum MemberJSON {
    static func write(_ member: ClusterMember, to buffer: inout ByteBuffer) {
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

    static func writeList(_ items: [String], _ buffer: inout ByteBuffer) {
        for (index, item) in items.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeJSONString(item)
        }
    }
}

/// Publishes this member's name and client URLs through the log once its client listeners are bound, then
/// stays until shutdown (a service that returns would stop the whole member).
struct AttributePublisher: Service {
    let service: StoreService
    let name: String
    let member: MemberIdentity
    let listeners: Int

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await member.advertised.waitUntilBound(listeners: listeners)
            await service.publish(name: name) { member.clientURLs }
        }
        try? await gracefulShutdown()
    }
}

/// `--peer-cert-file`, `--peer-key-file`, `--peer-trusted-ca-file`: how this member authenticates itself to
/// other members and checks theirs.
public struct PeerClientTLS: Sendable, Equatable {
    public var certificateChainPath: String?
    public var privateKeyPath: String?
    public var trustedCAPath: String?

    public init(certificateChainPath: String?, privateKeyPath: String?, trustedCAPath: String?) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.trustedCAPath = trustedCAPath
    }

    public func configuration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let certificateChainPath, let privateKeyPath {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateChainPath).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyPath, format: .pem))
        }
        if let trustedCAPath {
            configuration.trustRoots = .file(trustedCAPath)
        } else {
            // etcd's peers with self-signed certificates and no CA (`--peer-auto-tls`) skip verification.
            configuration.certificateVerification = .none
        }
        return configuration
    }
}

extension HTTPField.Name {
    static let serverFrom = HTTPField.Name("X-Server-From")!
}
