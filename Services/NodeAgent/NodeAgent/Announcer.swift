import AsyncHTTPClient
import Foundation
import HealthHysteresis
public import KeysClient
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
public import UnitFile

/// Keeps one unit's service announced while the unit runs and passes its health check:
/// `/services/<service>/<machine>:<port>` = `{"host","port","unit","machine"}` with a TTL, refreshed after
/// every passing check (a refresh wakes no watcher), deleted the moment the unit stops running or its check
/// fails `UnhealthyThreshold` times in a row. A dead agent's announcements expire with the TTL.
public struct Announcer: Sendable {
    public let keys: KeysAPI
    public let announcement: ServiceAnnouncement
    public let unit: String
    public let machineID: String
    /// Where other machines reach the service (the machine's public IP).
    public let host: String
    /// Where the agent itself probes it.
    public let probeHost: String
    public let ttl: Duration
    public let logger: Logger

    public init(keys: KeysAPI, announcement: ServiceAnnouncement, unit: String, machineID: String, host: String, probeHost: String = "127.0.0.1", ttl: Duration, logger: Logger) {
        self.keys = keys
        self.announcement = announcement
        self.unit = unit
        self.machineID = machineID
        self.host = host
        self.probeHost = probeHost
        self.ttl = ttl
        self.logger = logger
    }

    public var key: String { announcement.key(machine: machineID) }

    /// Runs until cancelled (then withdraws). `running` yields whether the unit is active and running, at
    /// start and after every change.
    public func run(running: AsyncStream<Bool>) async {
        let state = SharedState(State(health: HealthHysteresis(healthyThreshold: announcement.healthyThreshold, unhealthyThreshold: announcement.unhealthyThreshold, initiallyHealthy: false)))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await isRunning in running {
                    let withdraw = state.withLock { state -> Bool in
                        state.isRunning = isRunning
                        guard !isRunning else { return false }
                        state.health = HealthHysteresis(healthyThreshold: announcement.healthyThreshold, unhealthyThreshold: announcement.unhealthyThreshold, initiallyHealthy: false)
                        defer { state.announced = false }
                        return state.announced
                    }
                    if withdraw { await self.withdraw(reason: "unit stopped") }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    if state.withLock({ $0.isRunning }) {
                        let passed = await check()
                        let (change, announced) = state.withLock { state -> (Bool?, Bool) in
                            guard state.isRunning else { return (nil, state.announced) }
                            let change = state.health.record(passed: passed)
                            if let change { state.announced = change }
                            return (change, state.announced)
                        }
                        switch change {
                        case true?: await announce()
                        case false?: await withdraw(reason: "health check failed \(announcement.unhealthyThreshold) times")
                        case nil: if announced && passed { await refresh() }
                        }
                    }
                    try? await Task.sleep(for: announcement.interval)
                }
            }
            await group.next()
            group.cancelAll()
        }
        // Cancelled (unit unloaded, agent stopping): nothing may stay announced for a unit not watched.
        await Task { await withdraw(reason: "no longer supervised") }.value
    }

    private struct State {
        var health: HealthHysteresis
        var isRunning = false
        var announced = false
    }

    /// Shared between the status task and the check loop.
    private final class SharedState: Sendable {
        private let lock: Mutex<State>
        init(_ state: State) { lock = Mutex(state) }
        func withLock<Result>(_ body: (inout State) -> Result) -> Result { lock.withLock { body(&$0) } }
    }

    private var record: String {
        struct Record: Encodable { var host: String; var port: Int; var unit: String; var machine: String }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Record(host: host, port: announcement.port, unit: unit, machine: machineID))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private func announce() async {
        do {
            _ = try await keys.set(key, value: record, ttl: ttl)
            logger.info("announced", metadata: ["unit": "\(unit)", "key": "\(key)"])
        } catch {
            logger.warning("could not announce", metadata: ["unit": "\(unit)", "error": "\(error)"])
        }
    }

    private func refresh() async {
        do {
            _ = try await keys.refresh(key, ttl: ttl)
        } catch let error as KeysError where error.code == .keyNotFound {
            await announce()
        } catch {
            logger.debug("announcement refresh failed", metadata: ["unit": "\(unit)", "error": "\(error)"])
        }
    }

    private func withdraw(reason: String) async {
        do {
            _ = try await keys.delete(key)
            logger.info("withdrawn", metadata: ["unit": "\(unit)", "key": "\(key)", "reason": "\(reason)"])
        } catch let error as KeysError where error.code == .keyNotFound {
            // Never announced, or already expired.
        } catch {
            logger.warning("could not withdraw", metadata: ["unit": "\(unit)", "error": "\(error)"])
        }
    }

    /// One probe, bounded by the check's timeout.
    func check() async -> Bool {
        switch announcement.check {
        case .tcp:
            do {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(TimeAmount(announcement.timeout))
                    .connect(host: probeHost, port: announcement.port).get()
                try? await channel.close()
                return true
            } catch {
                return false
            }
        case .http(let path):
            do {
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "http://\(probeHost):\(announcement.port)\(path)"), timeout: TimeAmount(announcement.timeout)
                )
                _ = try? await response.body.collect(upTo: 64 * 1024)
                return (200..<300).contains(response.status.code)
            } catch {
                return false
            }
        }
    }
}
