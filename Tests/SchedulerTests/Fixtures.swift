import FleetLayout
import AsyncHTTPClient
import Foundation
import KeysClient
import Logging
import NIOCore
import NIOHTTP1
import Scheduler
import ServiceKit
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

/// Runs `body` with a KeysAPI client on `endpoint`.
func withKeys<Result: Sendable>(_ endpoint: String, _ body: (KeysAPI) async throws -> Result) async throws -> Result {
    try await KeysAPI.withClient(configuration: KeysClientConfiguration(endpoints: [endpoint]), logger: quietLogger(), body)
}

/// A scheduler running in this process (its watcher, engine and API), stopped gracefully at the end.
struct InProcessScheduler: Sendable {
    let url: String
    let name: String
    let layout: FleetKeyLayout

    static func with<Result: Sendable>(
        endpoint: String,
        name: String = "scheduler-1",
        tokenLimit: Int = 100,
        leaderTTL: Duration = .seconds(2),
        reconcileInterval: Duration = .seconds(2),
        prefix: String = FleetKeyLayout.defaultPrefix,
        _ body: @Sendable (InProcessScheduler) async throws -> Result
    ) async throws -> Result {
        let configuration = SchedulerConfiguration(
            endpoints: [endpoint], listen: ListenAddress(host: "127.0.0.1", port: 0), layout: FleetKeyLayout(prefix: prefix),
            reconcileInterval: reconcileInterval, leaderTTL: leaderTTL, requestTimeout: .seconds(5), tokenLimit: tokenLimit, name: name
        )
        let logger = quietLogger()
        return try await KeysAPI.withClient(configuration: SchedulerServer.keysConfiguration(configuration), logger: logger) { keys in
            let url = Observed<String?>(nil)
            let services = SchedulerServer.services(configuration: configuration, keys: keys, logger: logger) { bound in url.set(bound) }
            let group = ServiceGroup(services: services, logger: logger)
            let running = Task { try await group.run() }
            let result: Result
            do {
                let bound = try await url.wait(for: "the scheduler API to listen", timeout: .seconds(20)) { $0 != nil }
                result = try await body(InProcessScheduler(url: bound!, name: name, layout: configuration.layout))
            } catch {
                await group.triggerGracefulShutdown()
                _ = await running.result
                throw error
            }
            await group.triggerGracefulShutdown()
            try await running.value
            return result
        }
    }
}

/// Machines as agents would register them: a presence key with a TTL, kept alive by a heartbeat until the
/// test stops it (as if the machine died) or removes it.
final class SimulatedMachines: Sendable {
    let keys: KeysAPI
    let layout: FleetKeyLayout
    let ttl: Duration
    private let heartbeats = Mutex<[String: Task<Void, Never>]>([:])
    /// When each machine's presence was last refreshed: its key expires at most `ttl` after that.
    let lastBeat = Observed<[String: ContinuousClock.Instant]>([:])

    init(keys: KeysAPI, layout: FleetKeyLayout = FleetKeyLayout(), ttl: Duration = .seconds(2)) {
        self.keys = keys
        self.layout = layout
        self.ttl = ttl
    }

    deinit {
        for task in heartbeats.withLock({ $0.values }) { task.cancel() }
    }

    func register(_ id: String, metadata: [String: String] = [:], publicIP: String = "127.0.0.1") async throws {
        let object = MachineObjectJSON(ID: id, PublicIP: publicIP, Metadata: metadata)
        let value = String(decoding: try JSONEncoder().encode(object), as: UTF8.self)
        _ = try await keys.set(layout.machineObject(id), value: value, ttl: ttl)
        lastBeat.update { $0[id] = .now }
        let key = layout.machineObject(id)
        let (keys, ttl, lastBeat) = (keys, ttl, lastBeat)
        let task = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: ttl / 4)
                if Task.isCancelled { return }
                if (try? await keys.refresh(key, ttl: ttl)) != nil { lastBeat.update { $0[id] = .now } }
            }
        }
        heartbeats.withLock { $0[id]?.cancel(); $0[id] = task }
    }

    /// Stops the heartbeat and waits until it has really stopped; returns when the key will have expired.
    func stopHeartbeat(_ id: String) async -> ContinuousClock.Instant {
        let task = heartbeats.withLock { $0.removeValue(forKey: id) }
        task?.cancel()
        await task?.value
        return (lastBeat.value[id] ?? .now) + ttl
    }

    func stopAll() async {
        for id in heartbeats.withLock({ Array($0.keys) }) { _ = await stopHeartbeat(id) }
    }
}

/// A response from the scheduler's API.
struct APIResponse: Sendable, CustomStringConvertible {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var errorMessage: String? { (object["error"] as? [String: Any])?["message"] as? String }
    var errorCode: Int? { (object["error"] as? [String: Any])?["code"] as? Int }

    var description: String { "\(status) \(body)" }
}

enum API {
    static func request(
        _ method: HTTPMethod, _ url: String, json: String? = nil, contentType: String? = "application/json"
    ) async throws -> APIResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let json {
            request.body = .bytes(ByteBuffer(string: json))
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return APIResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// `PUT /fleet/v1/units/<name>` with `[X-Fleet]`-style options given as `(section, name, value)`.
    static func putUnit(
        _ base: String, _ name: String, desiredState: String?, options: [(String, String, String)]
    ) async throws -> APIResponse {
        var fields: [String] = []
        if let desiredState { fields.append("\"desiredState\":\(quote(desiredState))") }
        if !options.isEmpty {
            let rendered = options.map { "{\"section\":\(quote($0.0)),\"name\":\(quote($0.1)),\"value\":\(quote($0.2))}" }
            fields.append("\"options\":[\(rendered.joined(separator: ","))]")
        }
        return try await request(.PUT, base + "/fleet/v1/units/" + name, json: "{\(fields.joined(separator: ","))}")
    }

    static func quote(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    /// A service unit that sleeps, plus the given `[X-Fleet]` options.
    static func service(_ fleet: [(String, String)] = []) -> [(String, String, String)] {
        [("Service", "ExecStart", "/bin/sleep 1000")] + fleet.map { ("X-Fleet", $0.0, $0.1) }
    }

    static func unit(_ base: String, _ name: String) async throws -> [String: Any] {
        try await request(.GET, base + "/fleet/v1/units/" + name).object
    }
}



/// Where the schedule says `unit` runs, read straight from the keys API.
func scheduledMachine(_ keys: KeysAPI, _ layout: FleetKeyLayout, _ unit: String) async throws -> [String] {
    let root: KeysResponse
    do {
        root = try await keys.get(layout.prefix + "schedule", recursive: true)
    } catch let error as KeysError where error.code == .keyNotFound {
        return []
    }
    return (root.node?.nodes ?? []).flatMap { machine in
        (machine.nodes ?? []).compactMap { entry -> String? in
            guard entry.key?.hasSuffix("/" + unit) == true else { return nil }
            return machine.key.map { String($0.split(separator: "/").last ?? "") }
        }
    }
}
