import Foundation
import HTTPServer
import HTTPTypes
public import KeysClient
public import Logging
import NIOCore
import ProcessSupervisor
public import ServiceLifecycle
import ServiceKit
import SupervisorCore

/// The agent's services: its loop and its own small HTTP API.
///
/// - `GET /v1/units` — the units loaded here with systemd's states, main pid and last exit.
/// - `GET /v1/journal/<unit>?lines=N&follow=true` — the unit's log, the last N lines (default 10), then, with
///   `follow`, every new line as it is written (a streamed response that ends when the client goes away).
public enum AgentServer {
    public static func services(
        configuration: AgentConfiguration, keys: KeysAPI, logger: Logger, onListening: @escaping @Sendable (String) async -> Void
    ) -> [any Service] {
        let agent = Agent(configuration: configuration, keys: keys, logger: logger)
        let url = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        var router = Router()
        router.get("/v1/units") { _, _ in units(agent) }
        router.get("/v1/journal/:unit") { request, context in try journal(agent, request: request, context: context) }
        let listen = configuration.listen
        let server = Server(configuration: ServerConfiguration(host: listen.host, port: listen.port), responder: router.buildResponder(), logger: logger) { address in
            let bound = "\(listen.scheme)://\(listen.host):\(address.port ?? listen.port)"
            url.continuation.yield(bound)
            await onListening(bound)
        }
        return [AgentLoop(agent: agent, url: url.stream), server]
    }

    static func units(_ agent: Agent) -> Response {
        struct Entry: Encodable {
            var name: String
            var hash: String
            var launched: Bool
            var activeState: String?
            var subState: String?
            var mainPID: Int32?
            var lastExit: String?
        }
        let entries = agent.statuses().map { name, loaded, status in
            Entry(name: name, hash: loaded.hash, launched: loaded.launched, activeState: status?.activeState.rawValue,
                  subState: status?.subState.rawValue, mainPID: status?.mainPID, lastExit: status?.lastExit.map { "\($0)" })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(["units": entries])) ?? Data("{}".utf8)
        return Response(headerFields: [.contentType: "application/json"], body: ResponseBody(buffer: ByteBuffer(bytes: body)))
    }

    static func journal(_ agent: Agent, request: Request, context: RequestContext) throws -> Response {
        guard let raw = context.parameters["unit"], let unit = try? FormParameters.unescapePath(raw) else {
            throw HTTPError(.badRequest, message: "invalid unit name")
        }
        guard let log = agent.log(of: unit) else { throw HTTPError(.notFound, message: "unit \(unit) is not loaded on this machine") }
        let query = request.queryParameters
        let lines: Int
        if let text = query["lines"] {
            guard let parsed = Int(text), parsed >= 0, parsed <= 100_000 else {
                throw HTTPError(.badRequest, message: "invalid lines=\(text): expected 0-100000")
            }
            lines = parsed
        } else {
            lines = 10
        }
        let follow = ["true", "1", "yes"].contains(query["follow"] ?? "")
        var fields = HTTPFields()
        fields[.contentType] = "text/plain; charset=utf-8"
        guard follow else {
            let text = log.lastLines(lines).map { "\($0)\n" }.joined()
            return Response(headerFields: fields, body: ResponseBody(string: text))
        }
        // Subscribe before reading the tail, so no line falls between the two.
        let updates = log.follow()
        let tail = log.lastLines(lines)
        return Response(headerFields: fields, body: .stream { writer in
            for line in tail { try await writer.write("\(line)\n") }
            for await line in updates {
                if tail.contains(line) { continue }
                try await writer.write("\(line)\n")
            }
        })
    }
}

/// The agent's loop as a lifecycle service; a shutdown leaves the units running for the next agent to re-adopt.
struct AgentLoop: Service {
    let agent: Agent
    let url: AsyncStream<String>

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await agent.run {
                for await bound in url { return bound }
                return nil
            }
        }
    }
}
