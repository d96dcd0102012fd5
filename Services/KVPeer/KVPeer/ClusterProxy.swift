import AsyncHTTPClient
import Foundation
import HTTPServer
import HTTPTypes
import NIOCore
import NIOHTTP1
public import Logging
public import ServiceLifecycle
import Synchronization

/// etcd 2's proxy mode (`--proxy on` or `readonly`): a member-less local endpoint that forwards every client
/// request to the cluster, so each host can talk to "localhost:2379" whatever the cluster's shape.
///
/// As etcd's proxy does: the cluster's client URLs come from the peers' `/members` (peer URLs from
/// `--initial-cluster`, or those kept in `<data-dir>/proxy/cluster` from an earlier run), re-read every
/// `--proxy-refresh-interval`; a request goes to the first endpoint that is not marked failed, an endpoint that
/// cannot be reached is marked failed for `--proxy-failure-wait` and the request tries the next one.
final class ClusterProxy: Sendable {
    struct Settings: Sendable {
        var readonly: Bool
        var peerURLs: [String]
        var failureWait: Duration
        var refreshInterval: Duration
        var dialTimeout: Duration
        var readTimeout: Duration?
        var stateFile: String
        var maxBodyBytes: Int
    }

    private struct Endpoints {
        var clientURLs: [String] = []
        var peerURLs: [String] = []
        var failedUntil: [String: ContinuousClock.Instant] = [:]
        var next = 0
    }

    let settings: Settings
    private let endpoints = Mutex(Endpoints())
    private let client: HTTPClient
    private let logger: Logger

    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout.connect = TimeAmount(settings.dialTimeout)
        configuration.decompression = .disabled
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let remembered = Self.readState(settings.stateFile)
        endpoints.withLock { $0.peerURLs = remembered ?? settings.peerURLs }
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    var currentClientURLs: [String] { endpoints.withLock { $0.clientURLs } }

    // MARK: Membership

    /// Reads the member list from the first peer that answers and adopts its client and peer URLs.
    @discardableResult
    func refresh() async -> Bool {
        let peers = endpoints.withLock { $0.peerURLs }
        for peer in peers {
            guard let members = await fetchMembers(peer) else { continue }
            let clientURLs = members.flatMap(\.clientURLs)
            let peerURLs = members.flatMap(\.peerURLs)
            guard !clientURLs.isEmpty else { continue }
            let changed = endpoints.withLock { state -> Bool in
                let changed = Set(state.clientURLs) != Set(clientURLs)
                state.clientURLs = clientURLs
                state.peerURLs = peerURLs.isEmpty ? state.peerURLs : peerURLs
                state.failedUntil = state.failedUntil.filter { clientURLs.contains($0.key) }
                return changed
            }
            if changed {
                logger.info("proxy endpoints updated", metadata: ["endpoints": "\(clientURLs.joined(separator: ","))"])
                Self.writeState(settings.stateFile, peerURLs: peerURLs)
            }
            return true
        }
        logger.warning("proxy could not read the cluster's members from any peer", metadata: ["peers": "\(peers.joined(separator: ","))"])
        return false
    }

    private func fetchMembers(_ peerURL: String) async -> [ClusterMember]? {
        do {
            return try await PeerMembers.fetch(from: peerURL, client: client, timeout: .seconds(5)).members
        } catch {
            logger.debug("peer did not list members", metadata: ["peer": "\(peerURL)", "error": "\(error)"])
            return nil
        }
    }

    /// Re-reads membership every refresh interval until cancelled.
    func runRefresher() async {
        while !Task.isCancelled {
            guard (try? await Task.sleep(for: settings.refreshInterval)) != nil else { return }
            await refresh()
        }
    }

    // MARK: Forwarding

    func handle(_ request: Request) async throws -> Response {
        if settings.readonly && request.method != .get {
            // etcd's readonly proxy answers every other method 501 with an empty body.
            return Response(status: .notImplemented)
        }
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        // Before the first successful read of the members (start-up, or every peer was down), try once more now.
        if currentClientURLs.isEmpty { await refresh() }
        let target = request.head.path ?? "/"
        var tried = Set<String>()
        while let endpoint = nextEndpoint(excluding: tried) {
            tried.insert(endpoint)
            var outbound = HTTPClientRequest(url: endpoint + target)
            outbound.method = NIOHTTP1.HTTPMethod(rawValue: request.method.rawValue)
            for field in request.headerFields where !Self.hopByHop.contains(field.name.canonicalName) {
                outbound.headers.add(name: field.name.rawName, value: field.value)
            }
            if body.readableBytes > 0 { outbound.body = .bytes(body) }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(outbound, timeout: settings.readTimeout.map { TimeAmount($0) } ?? .hours(24 * 365))
            } catch {
                markFailed(endpoint, error: error)
                continue
            }
            return try await Self.relay(response)
        }
        return Response(
            status: .serviceUnavailable,
            headerFields: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(string: "zero endpoints currently available\n")
        )
    }

    private func nextEndpoint(excluding tried: Set<String>) -> String? {
        endpoints.withLock { state in
            let now = ContinuousClock.now
            let count = state.clientURLs.count
            for offset in 0..<count {
                let url = state.clientURLs[(state.next + offset) % count]
                if tried.contains(url) { continue }
                if let until = state.failedUntil[url], until > now { continue }
                state.failedUntil[url] = nil
                // Stay on a working endpoint (etcd's proxy does too): watches and writes see one member's order.
                state.next = (state.next + offset) % count
                return url
            }
            return nil
        }
    }

    private func markFailed(_ endpoint: String, error: any Error) {
        logger.warning("proxy endpoint failed; trying the next", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
        endpoints.withLock { state in
            state.failedUntil[endpoint] = .now + settings.failureWait
            state.next += 1
        }
    }

    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length"]

    /// The member's answer as it came. A body of known length is passed on whole (same framing as the
    /// member's); one without (a watch, which may take minutes) is streamed as it arrives.
    private static func relay(_ response: HTTPClientResponse) async throws -> Response {
        var fields = HTTPFields()
        for header in response.headers where !hopByHop.contains(header.name.lowercased()) {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        let status = HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase)
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length <= 4 << 20 {
            return Response(status: status, headerFields: fields, body: ResponseBody(buffer: try await response.body.collect(upTo: length)))
        }
        let upstream = response.body
        return Response(status: status, headerFields: fields, body: .stream { writer in
            for try await chunk in upstream {
                try await writer.write(chunk)
            }
        })
    }

    // MARK: State file

    private struct State: Codable {
        var PeerURLs: [String]
    }

    static func readState(_ path: String) -> [String]? {
        guard let data = FileManager.default.contents(atPath: path), let state = try? JSONDecoder().decode(State.self, from: data),
            !state.PeerURLs.isEmpty
        else { return nil }
        return state.PeerURLs
    }

    static func writeState(_ path: String, peerURLs: [String]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        guard !peerURLs.isEmpty, let data = try? encoder.encode(State(PeerURLs: peerURLs)) else { return }
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // Best effort: without it a restart falls back to --initial-cluster, as etcd's proxy does.
        _ = FileManager.default.createFile(atPath: path, contents: data)
    }
}

/// The services of a proxy: the membership refresher and one listener per `--listen-client-urls`.
public enum ClusterProxyServer {
    /// `peerURLs` replaces `--initial-cluster`'s (a discovery that found the cluster full passes its members').
    public static func services(
        configuration: KVPeerConfiguration, options: KVPeerOptions, logger: Logger, peerURLs: [String]? = nil,
        onListening: @escaping @Sendable (_ listener: KVPeerOptions.Listener, _ port: Int) async -> Void
    ) -> [any Service] {
        let settings = ClusterProxy.Settings(
            readonly: configuration.proxy == .readonly,
            peerURLs: peerURLs ?? configuration.initialCluster.map(\.peerURL.description),
            failureWait: configuration.proxyFailureWait,
            refreshInterval: configuration.proxyRefreshInterval,
            dialTimeout: configuration.proxyDialTimeout == .zero ? .seconds(30) : configuration.proxyDialTimeout,
            readTimeout: configuration.proxyReadTimeout == .zero ? nil : configuration.proxyReadTimeout,
            stateFile: options.dataDirectory + "/proxy/cluster",
            maxBodyBytes: options.maxRequestBytes
        )
        let proxy = ClusterProxy(settings: settings, logger: logger)
        var router = Router()
        router.notFound = { request, _ in try await proxy.handle(request) }
        router.methodNotAllowed = { _ in { request, _ in try await proxy.handle(request) } }
        let servers = KVPeerServer.clientServers(options: options, responder: router.buildResponder(), logger: logger, onListening: onListening)
        return [ProxyMembership(proxy: proxy)] + servers
    }
}

/// Reads the members at start, then every refresh interval; requests that find no endpoint read them too.
struct ProxyMembership: Service {
    let proxy: ClusterProxy

    func run() async throws {
        await proxy.refresh()
        await cancelWhenGracefulShutdown { await proxy.runRefresher() }
        await proxy.shutdown()
    }
}
