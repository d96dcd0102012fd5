import KeysClient
import Logging
import ServiceLifecycle

/// Keeps the mirror current: one recursive read of the prefix, then one recursive watch after it; a
/// watch that fell out of the keys API's history is resynced from a fresh read.
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
                    for try await change in registry.keys.watch(registry.layout.root, recursive: true, after: index) {
                        switch change {
                        case .event(let response):
                            registry.mirror.apply(response, fromWatch: true)
                        case .resync(let response):
                            logger.notice("registry watch fell behind; resynced", metadata: ["index": "\(response.etcdIndex)"])
                            registry.mirror.load(response.node, etcdIndex: response.etcdIndex)
                        }
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
}

/// The engine as a lifecycle service: cancelled on shutdown, which releases the lease on the way out.
struct EngineService: Service {
    let engine: Engine

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await engine.run() }
    }
}
