import Foundation
import KeysClient
import Logging

/// etcd's v2 discovery protocol, as CoreOS machines found each other: every new member registers
/// `<token>/<member id>` = `<name>=<peer url>,…` under a shared discovery URL on any v2 keys API (another
/// kv-peer, or etcd), waits until `<token>/_config/size` members have registered, and takes the first `size`
/// of them (by creation index) as its initial cluster. A member that arrives when the cluster is full is
/// refused with etcd's message, and becomes a proxy when `--discovery-fallback proxy` says so.
struct Discovery: Sendable {
    enum Outcome: Sendable {
        /// This member is one of the first `size`: the initial cluster, `name=peerURL` per entry, in order.
        case member(initialCluster: [(name: String, peerURL: String)])
        /// The first `size` registrations are others': their peer URLs, for proxy mode.
        case full(peerURLs: [String])
    }

    /// etcd's messages, which operators search for.
    struct Failure: Error, Equatable, CustomStringConvertible {
        let description: String
        static let invalidURL = Failure(description: "discovery: invalid URL")
        static let sizeNotFound = Failure(description: "discovery: size key not found")
        static let badSizeKey = Failure(description: "discovery: size key is bad")
        static let duplicateID = Failure(description: "discovery: found duplicate id")
        static let duplicateName = Failure(description: "discovery: found duplicate name")
        static let fullCluster = Failure(description: "discovery: cluster is full")
        static let badCluster = Failure(description: "discovery: bad key/value inside cluster")
    }

    /// `http://host:port/v2/keys/<path>` split into the keys API endpoint and the token's directory.
    static func parse(_ url: String) throws(Failure) -> (endpoint: String, directory: String) {
        guard let schemeEnd = url.range(of: "://"), let keys = url.range(of: "/v2/keys/", range: schemeEnd.upperBound..<url.endIndex) else {
            throw .invalidURL
        }
        let directory = "/" + url[keys.upperBound...].split(separator: "/").joined(separator: "/")
        guard directory.count > 1 else { throw .invalidURL }
        return (String(url[..<keys.lowerBound]), directory)
    }

    let keys: KeysAPI
    let directory: String
    let memberID: String
    let name: String
    let peerURLs: [String]
    let logger: Logger

    /// Registers (unless the cluster is already full) and waits, bounded only by the caller's cancellation,
    /// until the cluster's members are known.
    func run() async throws -> Outcome {
        let size = try await expectedSize()
        if let early = try await check(size: size, registered: false).outcome { return early }
        let value = peerURLs.map { "\(name)=\($0)" }.joined(separator: ",")
        do {
            _ = try await keys.create(directory + "/" + memberID, value: value)
            logger.info("registered with the discovery service", metadata: ["discovery.key": "\(directory)/\(memberID)", "size": "\(size)"])
        } catch let error as KeysError where error.code == .nodeExist {
            throw Failure.duplicateID
        }
        while true {
            // Watch from the index of the very read that found the cluster incomplete: a registration right after
            // it wakes the watch instead of falling between the read and the watch.
            let (outcome, index) = try await check(size: size, registered: true)
            if let outcome { return outcome }
            logger.info("waiting for the other members to register", metadata: ["size": "\(size)"])
            for try await _ in keys.watch(directory, recursive: true, after: index) { break }
        }
    }

    private func expectedSize() async throws -> Int {
        let response: KeysResponse
        do {
            response = try await keys.get(directory + "/_config/size")
        } catch let error as KeysError where error.code == .keyNotFound {
            throw Failure.sizeNotFound
        }
        guard let text = response.node?.value, let size = Int(text), size > 0 else { throw Failure.badSizeKey }
        return size
    }

    /// nil while fewer than `size` members registered (and this one is among them or not yet registered).
    private func check(size: Int, registered: Bool) async throws -> (outcome: Outcome?, etcdIndex: UInt64) {
        let listing = try await keys.get(directory, recursive: false, sorted: true)
        return (try decide(listing.node?.nodes ?? [], size: size, registered: registered), listing.etcdIndex)
    }

    private func decide(_ listed: [KeysNode], size: Int, registered: Bool) throws -> Outcome? {
        let nodes = listed
            .filter { !$0.dir }  // `_config` is a directory
            .sorted { $0.createdIndex < $1.createdIndex }
        let selfKey = directory + "/" + memberID
        let first = Array(nodes.prefix(size))
        let isIn = first.contains { $0.key == selfKey }
        if nodes.count >= size && !isIn {
            let peers = try first.flatMap { try Self.entries($0.value ?? "").map(\.peerURL) }
            return .full(peerURLs: peers)
        }
        guard nodes.count >= size, registered else { return nil }
        let registrations = try first.map { try Self.entries($0.value ?? "") }
        let names = registrations.map { $0[0].name }
        if Set(names).count != names.count { throw Failure.duplicateName }
        return .member(initialCluster: registrations.flatMap { $0 })
    }

    /// `name=url,name=url` as etcd writes a member's registration.
    static func entries(_ value: String) throws(Failure) -> [(name: String, peerURL: String)] {
        var result: [(name: String, peerURL: String)] = []
        for pair in value.split(separator: ",") {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex, pair.index(after: equals) != pair.endIndex else {
                throw .badCluster
            }
            result.append((String(pair[..<equals]), String(pair[pair.index(after: equals)...])))
        }
        guard !result.isEmpty else { throw .badCluster }
        return result
    }
}
