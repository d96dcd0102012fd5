import KVPeer
import ServiceKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
// <malloc.h> is not part of the Glibc module: mallopt(3) and M_MMAP_THRESHOLD (-3) declared by hand.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let glibcMmapThreshold: Int32 = -3
#endif

/// `kv-peer`: an etcd v2 member. Takes etcd's flags (`--name`, `--data-dir`, `--listen-client-urls`, …) and
/// `ETCD_*` variables; with none, serves 127.0.0.1:2379 and :4001 with data in ./default.etcd.
@main
struct KVPeerMain {
    static func main() async {
        ConcurrencyRuntime.sizeEventLoopsToAffinity()
        #if canImport(Glibc)
        // A snapshot of a big store is encoded in buffers of many megabytes. glibc raises its mmap threshold to
        // the size of the largest mmapped block freed, so after the first snapshot these buffers come from the
        // heap and their pages stay with the process (measured: +18 MiB RSS after 100 000 keys). A fixed
        // threshold keeps them mmapped and returned on free.
        _ = glibcMallopt(glibcMmapThreshold, 128 * 1024)
        #endif
        let code = await KVPeerCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessEnvironment.current)
        exit(code)
    }
}
