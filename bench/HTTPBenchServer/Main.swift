import ArgumentParser
import HTTPServer
import NIOCore
import ServiceKit

/// The shared HTTP server with one trivial route, for bench/http.sh to measure against nginx.
@main
struct BenchHTTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flotilla-bench-http")

    @Option(name: .customLong("listen"), help: "host:port to bind; port 0 picks a free one.")
    var listen: String = "127.0.0.1:0"

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        ConcurrencyRuntime.sizeEventLoopsToAffinity()
        let (logger, _) = Observability.bootstrap(label: "bench-http", options: logging)
        let address = try ListenAddress(parsing: listen)
        var router = Router()
        router.get("/") { _, _ in Response(body: ResponseBody(string: "ok\n")) }
        let server = Server(
            configuration: ServerConfiguration(host: address.host, port: address.port),
            responder: router.buildResponder(),
            logger: logger
        ) { bound in
            ReadyLine.announce([("http", "http://\(address.host):\(bound.port ?? 0)")])
        }
        try await ServiceRunner.run(services: [server], logger: logger)
    }
}
