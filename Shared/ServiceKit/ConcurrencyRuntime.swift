import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Process-wide runtime choices made once, first thing in `main`.
public enum ConcurrencyRuntime {
    /// Sizes NIO's event-loop group to the CPUs this process may run on, then runs Swift Concurrency's global
    /// executor on those event-loop threads. Request handling then continues on the loop that read the request
    /// instead of hopping to the cooperative pool and back; and under `taskset`/`CPUAffinity=` there is one loop
    /// per allowed CPU, not one per CPU of the machine (NIO reads only the cgroup cpuset). Blocking work (fsync)
    /// must stay on NIO's thread pool, as it already does. Call from the main thread before anything else runs.
    @discardableResult
    public static func runOnEventLoops() -> Bool {
        if let allowed = allowedCPUCount(), allowed < System.coreCount {
            NIOSingletons.groupLoopCountSuggestion = allowed
        }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// CPUs in this process's affinity mask (`Cpus_allowed_list` in /proc/self/status), where there is one.
    static func allowedCPUCount() -> Int? {
        #if os(Linux)
        guard let status = readFile("/proc/self/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return cpuCount(inList: line.dropFirst("Cpus_allowed_list:".count))
        #else
        return nil
        #endif
    }

    /// Counts a kernel CPU list such as `0-3,8,10-11`.
    static func cpuCount<S: StringProtocol>(inList list: S) -> Int? {
        var count = 0
        for range in list.split(separator: ",") {
            let bounds = range.split(separator: "-").map { Int(String($0.filter { !$0.isWhitespace })) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }
                count += high - low + 1
            default:
                return nil
            }
        }
        return count > 0 ? count : nil
    }

    private static func readFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 4096) }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
