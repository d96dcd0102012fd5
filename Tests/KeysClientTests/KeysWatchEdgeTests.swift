import HTTPServer
import HTTPTypes
import KeysClient
import Logging
import NIOCore
import Synchronization
import TestSupport
import Testing

/// Answers real etcd never gives on demand — a connection dropped mid-poll, an empty 200 (etcd 0.4's idle
/// timeout) — served by our own HTTP server speaking the keys API's wire format.
@Suite struct KeysWatchEdgeTests {
    final class Script: Sendable {
        let polls = Mutex<[String]>([])
    }

    @Test("a watch survives a dropped connection and an empty 200, resuming from the same waitIndex")
    func survivesDropsAndEmptyBodies() async throws {
        let script = Script()
        var router = Router()
        router.get("/v2/keys/**") { request, _ in
            let query = request.queryParameters
            guard query["wait"] == "true" else {
                return Response(
                    headerFields: [.contentType: "application/json", HTTPField.Name("X-Etcd-Index")!: "5"],
                    body: ResponseBody(string: #"{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}"#)
                )
            }
            let attempt = script.polls.withLock { polls in
                polls.append(query["waitIndex"] ?? "none")
                return polls.count
            }
            switch attempt {
            case 1:
                // Headers go out, then the connection dies mid-body.
                return Response(body: .stream { _ in throw CancellationError() })
            case 2:
                return Response(headerFields: [HTTPField.Name("X-Etcd-Index")!: "5"])
            default:
                return Response(
                    headerFields: [.contentType: "application/json", HTTPField.Name("X-Etcd-Index")!: "5"],
                    body: ResponseBody(string: #"{"action":"set","node":{"key":"/k","value":"w","modifiedIndex":6,"createdIndex":6}}"#)
                )
            }
        }
        try await withTestServer(responder: router.buildResponder()) { server in
            let configuration = KeysClientConfiguration(
                endpoints: [server.url("")], backoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(50))
            )
            try await KeysAPI.withClient(configuration: configuration, logger: Logger(label: "test")) { keys in
                var iterator = keys.watch("/k").makeAsyncIterator()
                let change = try await iterator.next()
                guard case .event(let event)? = change else {
                    Issue.record("expected an event, got \(String(describing: change))")
                    return
                }
                #expect(event.index == 6 && event.node?.value == "w")
            }
        }
        #expect(script.polls.withLock { $0 } == ["6", "6", "6"])
    }
}
