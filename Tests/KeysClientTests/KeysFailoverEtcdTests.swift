import KeysClient
import TestSupport
import Testing

/// A three-member etcd cluster losing the member the client talks to.
@Suite struct KeysFailoverEtcdTests {
    @Test("reads, writes and a running watch continue when the preferred member is killed")
    func survivesMemberLoss() async throws {
        try await withEtcdKeys(size: 3) { keys, cluster in
            let start = try await keys.set("/fo/start", value: "0").index
            let watched = Task {
                var values: [String] = []
                for try await change in keys.watch("/fo", recursive: true, after: start) {
                    guard case .event(let event) = change, let value = event.node?.value else { continue }
                    values.append(value)
                    if value == "after" { break }
                }
                return values
            }
            _ = try await keys.set("/fo/a", value: "before")

            // The client prefers the first endpoint that answered: member m0.
            cluster.kill("m0")
            try await cluster.waitUntilHealthy()

            let written = try await keys.set("/fo/b", value: "after")
            #expect(written.node?.value == "after")
            #expect(try await keys.get("/fo/a").node?.value == "before")
            let created = try await keys.create("/fo/c", value: "new")
            #expect(created.action == .create)
            #expect(try await watched.value == ["before", "after"])
        }
    }

    @Test("with every member gone, operations fail with clusterUnavailable naming each endpoint")
    func allMembersGone() async throws {
        try await withEtcdKeys(size: 1) { keys, cluster in
            _ = try await keys.set("/x", value: "1")
            cluster.kill("m0")
            let error = try await #require(throws: KeysClientError.self) { try await keys.get("/x") }
            #expect(error.isClusterUnavailable)
            #expect(error.detail.contains(cluster.clientURLs[0]))
        }
    }
}
