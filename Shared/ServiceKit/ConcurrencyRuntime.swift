import NIOCore
import NIOPosix

/// Process-wide runtime choices made once, first thing in `main`.
public enum ConcurrencyRuntime {
    /// Runs Swift Concurrency's global executor on NIO's event-loop threads. Request handling then continues
    /// on the loop that read the request instead of hopping to the cooperative pool and back for every read
    /// and write; bench/http.sh measured the hop as the dominant cost. Blocking work (fsync) must stay on
    /// NIO's thread pool, as it already does. Call from the main thread before anything else runs.
    @discardableResult
    public static func runOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
