import FleetLayout
import KeysClient
import Logging
import ServiceLifecycle

/// Keeps the mirror current: one recursive read of the prefix, then one recursive watch per area after it
/// (`job/`, `unit/`, `machines/`, …). A watch that fell out of the keys API's 1000-event history resyncs
/// only its own area, so a burst of placements does not make every reader re-read every unit file.
struct RegistryWatcher: Service {
    let registry: FleetRegistry
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                do {
                    let index = try await registry.reload()
                    failures = 0
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for area in RegistryCache.areas {
                            group.addTask { try await follow(registry.layout.prefix + area, after: index) }
                        }
                        // A watch only ends by throwing; one failing restarts them all from a fresh read.
                        try await group.next()
                        group.cancelAll()
                    }
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    failures += 1
                    logger.warning("registry watch failed; reading again", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: Backoff().delay(attempt: failures, jitter: Double.random(in: 0.5...1)))
                }
            }
        }
    }

    private func follow(_ directory: String, after index: UInt64) async throws {
        for try await change in registry.keys.watch(directory, recursive: true, after: index) {
            switch change {
            case .event(let response):
                registry.mirror.apply(response, fromWatch: true)
            case .resync(let response):
                logger.notice("registry watch fell behind; resynced", metadata: ["directory": "\(directory)", "index": "\(response.etcdIndex)"])
                registry.mirror.load(response.node, etcdIndex: response.etcdIndex, under: directory)
            }
        }
        throw WatchEnded(directory: directory)
    }
}

struct WatchEnded: Error, CustomStringConvertible {
    var directory: String
    var description: String { "the watch of \(directory) ended" }
}

/// The engine as a lifecycle service: cancelled on shutdown, which releases the lease on the way out.
struct EngineService: Service {
    let engine: Engine

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await engine.run() }
    }
}
