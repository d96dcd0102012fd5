import KVPeer
import ServiceKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kv-peer`: an etcd v2 member. Takes etcd's flags (`--name`, `--data-dir`, `--listen-client-urls`, …) and
/// `ETCD_*` variables; with none, serves 127.0.0.1:2379 and :4001 with data in ./default.etcd.
@main
struct KVPeerMain {
    static func main() async {
        ConcurrencyRuntime.sizeEventLoopsToAffinity()
        let code = await KVPeerCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessEnvironment.current)
        exit(code)
    }
}
