import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Process-wide runtime choices made once, first thing in `main`.
public enum ConcurrencyRuntime {
    /// Sizes NIO's event-loop group to the CPUs this process may run on: under `taskset` or systemd's
    /// `CPUAffinity=` one loop per allowed CPU, not one per CPU of the machine (NIO reads only the cgroup
    /// cpuset), so loops do not time-slice one core. Running Swift Concurrency's global executor on the loops
    /// was measured too (bench/http.sh, A/B in one run) and gained nothing, so it is not done.
    /// Call from `main` before anything touches NIO's singletons.
    public static func sizeEventLoopsToAffinity() {
        if let allowed = allowedCPUCount(), allowed < System.coreCount {
            NIOSingletons.groupLoopCountSuggestion = allowed
        }
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
