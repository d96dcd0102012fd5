import ArgumentParser
import AsyncHTTPClient
import Foundation
import KeysClient
import Logging
import NIOCore
import NIOHTTP1

/// Drives bench/scheduler.sh against one keys API: submits units through an API-only scheduler, registers
/// simulated machines, then times a fresh engine's full placement and a machine loss. Prints one JSON line.
@main
struct SchedulerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flotilla-bench-scheduler")

    @Option(help: "Keys API URL.") var endpoint: String
    @Option(help: "API URL of a scheduler started with --disable-engine.") var api: String
    @Option(help: "Command that starts the engine scheduler (run with /bin/sh -c); it must print its ready line.") var engineCommand: String
    @Option var machines = 1000
    @Option var units = 10000
    @Option var concurrency = 64
    @Option(help: "TTL of the machine that is made to expire, in seconds.") var lossTTL = 5
    @Option var prefix = "/_coreos.com/fleet/"

    func run() async throws {
        var configuration = KeysClientConfiguration(endpoints: [endpoint], requestTimeout: .seconds(30))
        configuration.maxConnectionsPerEndpoint = concurrency
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        try await KeysAPI.withClient(configuration: configuration, logger: logger) { keys in
            try await measure(keys)
        }
    }

    private func machineID(_ index: Int) -> String { String(format: "%032x", index + 1) }

    private func measure(_ keys: KeysAPI) async throws {
        // 1. Units through the fleet API (an API-only scheduler, so nothing is placed yet).
        let submitStart = ContinuousClock.now
        try await forEach(0..<units) { index in
            let body = #"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/sleep \#(index)"}]}"#
            var request = HTTPClientRequest(url: "\(api)/fleet/v1/units/bench-\(index).service")
            request.method = .PUT
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            _ = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .created else { throw BenchError("PUT unit \(index): \(response.status)") }
        }
        let submitSeconds = seconds(ContinuousClock.now - submitStart)

        // 2. Machines, registered as agents would (long TTL: no heartbeats during the measurement).
        try await forEach(0..<machines) { index in
            let id = machineID(index)
            _ = try await keys.set("\(prefix)machines/\(id)/object", value: #"{"ID":"\#(id)","PublicIP":"127.0.0.1","Metadata":{}}"#, ttl: .seconds(600))
        }

        // 3. A fresh engine places everything; keys API requests counted by the store's own statistics.
        let before = try await storeOperations()
        let placeStart = ContinuousClock.now
        let engine = Process()
        engine.executableURL = URL(fileURLWithPath: "/bin/sh")
        engine.arguments = ["-c", engineCommand]
        let output = Pipe()
        engine.standardOutput = output
        try engine.run()
        defer { engine.terminate() }
        let engineURL = Task.detached { Self.readyURL(output.fileHandleForReading) }
        let placement = try await waitForPlacement(keys, count: units, timeout: .seconds(600))
        let placeSeconds = seconds(ContinuousClock.now - placeStart)
        let after = try await storeOperations()
        guard let engineAPI = await engineURL.value else { throw BenchError("the engine printed no ready line") }
        let engineRequests = try await keysRequests(engineAPI)
        let perMachine = Dictionary(grouping: placement, by: \.value).mapValues(\.count)

        // 4. One machine's presence expires; time until its units run elsewhere.
        let victim = machineID(0)
        let victimUnits = Set(placement.filter { $0.value == victim }.map(\.key))
        let objectKey = "\(prefix)machines/\(victim)/object"
        let set = try await keys.set(objectKey, value: #"{"ID":"\#(victim)","PublicIP":"127.0.0.1","Metadata":{}}"#, ttl: .seconds(Int64(lossTTL)))
        let setAt = ContinuousClock.now
        var expiredAt = setAt
        for try await change in keys.watch(objectKey, after: set.index) {
            if case .event(let event) = change, event.action == .expire {
                expiredAt = .now
                break
            }
        }
        let moved = try await waitUntilMoved(keys, units: victimUnits, from: victim, timeout: .seconds(60))

        let result: [String: Any] = [
            "units": units, "machines": machines,
            "submit_seconds": submitSeconds,
            "place_seconds": placeSeconds,
            "place_store_operations": after - before,
            "place_engine_requests": engineRequests.total,
            "place_engine_requests_by_method": engineRequests.byMethod,
            "max_units_per_machine": perMachine.values.max() ?? 0,
            "min_units_per_machine": perMachine.values.min() ?? 0,
            "loss_ttl_seconds": lossTTL,
            "loss_units": victimUnits.count,
            "replace_after_expiry_seconds": seconds(moved - expiredAt),
            "replace_after_last_heartbeat_seconds": seconds(moved - setAt),
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Runs `body` for every element with at most `concurrency` in flight.
    private func forEach(_ range: Range<Int>, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = range.lowerBound
            while next < range.upperBound && next - range.lowerBound < concurrency {
                let index = next
                group.addTask { try await body(index) }
                next += 1
            }
            while try await group.next() != nil {
                if next < range.upperBound {
                    let index = next
                    group.addTask { try await body(index) }
                    next += 1
                }
            }
        }
    }

    /// unit -> machine, from one recursive read of the schedule.
    private func schedule(_ keys: KeysAPI) async throws -> [String: String] {
        let response: KeysResponse
        do {
            response = try await keys.get("\(prefix)schedule", recursive: true)
        } catch let error as KeysError where error.code == .keyNotFound {
            return [:]
        }
        var result: [String: String] = [:]
        for machine in response.node?.nodes ?? [] {
            let id = String(machine.key?.split(separator: "/").last ?? "")
            for entry in machine.nodes ?? [] {
                result[String(entry.key?.split(separator: "/").last ?? "")] = id
            }
        }
        return result
    }

    private func waitForPlacement(_ keys: KeysAPI, count: Int, timeout: Duration) async throws -> [String: String] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let placed = try await schedule(keys)
            if placed.count >= count { return placed }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("not all \(count) units placed within \(timeout)")
    }

    private func waitUntilMoved(_ keys: KeysAPI, units: Set<String>, from machine: String, timeout: Duration) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let placed = try await schedule(keys)
            if units.allSatisfy({ placed[$0] != nil && placed[$0] != machine }) { return .now }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("units of the lost machine not re-placed within \(timeout)")
    }

    /// `api=URL` from the first `listening …` line on `handle`; nil at EOF.
    private static func readyURL(_ handle: FileHandle) -> String? {
        var pending = ""
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            pending += String(decoding: chunk, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let line = pending[..<newline]
                pending = String(pending[pending.index(after: newline)...])
                if line.hasPrefix("listening "), let pair = line.split(separator: " ").first(where: { $0.hasPrefix("api=") }) {
                    return String(pair.dropFirst(4))
                }
            }
        }
    }

    /// The engine's own count of keys API requests, from its `/metrics`.
    private func keysRequests(_ api: String) async throws -> (total: Int, byMethod: [String: Int]) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(api)/metrics"), timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 4 << 20))
        var byMethod: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("flotilla_keys_requests_total{") {
            guard let method = line.split(separator: "\"").dropFirst().first, let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            byMethod[String(method), default: 0] += Int(value)
        }
        return (byMethod.values.reduce(0, +), byMethod)
    }

    /// Every operation the store has answered so far (`/v2/stats/store`, served by etcd and kv-peer alike).
    private func storeOperations() async throws -> Int {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(endpoint)/v2/stats/store"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard let stats = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            throw BenchError("unreadable /v2/stats/store")
        }
        return stats.filter { $0.key != "watchers" && $0.key != "expireCount" }.values.compactMap { ($0 as? NSNumber)?.intValue }.reduce(0, +)
    }

    private func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return (Double(whole) + Double(attoseconds) / 1e18 * 1).rounded(toPlaces: 3)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
