import Foundation
import Testing
import TestSupport

extension DiscoveryProxyIntegrationTests {
    /// The `discovery-proxy` executable as an operator runs it: flags, the ready line, SIGTERM.
    @Suite(.timeLimit(.minutes(2)))
    struct ExecutableTests {
        @Test func printsItsReadyLineAndProxies() async throws {
            try await EtcdCluster.with(size: 1) { cluster in
                try await withBackends(["web"]) { backends in
                    let arguments = [
                        "--endpoints", cluster.clientURLs[0], "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                        "--route", "service=web", "--log-level", "warning",
                    ]
                    try await ServiceProcess.with(product: "discovery-proxy", arguments: arguments) { process in
                        let http = try process.url("http")
                        let admin = try process.url("admin")
                        let put = try await Curl.run(["-sf", "-XPUT", cluster.clientURLs[0] + "/v2/keys/services/web/w1", "-d", "value=127.0.0.1:\(backends[0].port)"])
                        #expect(put.succeeded, "\(put)")
                        try await eventually("the proxy to route to w1") {
                            (try await Curl.run(["-s", http + "/"])).stdout == "web\n"
                        }
                        let health = try await Curl.run(["-s", admin + "/health"])
                        #expect(health.stdout.contains("true"), "\(health)")
                    }
                }
            }
        }

        @Test func refusesBadFlagsNamingTheProblem() async throws {
            let binary = try ServiceProcess.binaryPath(product: "discovery-proxy")
            let cases: [([String], String)] = [
                (["--route", "service=web,retires=2"], "retires"),
                (["--route", "path=/api"], "service"),
                (["--drain-timeout", "soon"], "--drain-timeout"),
                (["--https-listen", "127.0.0.1:0"], "--https-listen needs --tls-cert-file and --tls-key-file"),
                (["--tls-sni", "a.test"], "NAME=CERT_FILE,KEY_FILE"),
                (["--http-listen", "nowhere"], "nowhere"),
                (["--services-prefix", "services"], "--services-prefix"),
            ]
            for (arguments, message) in cases {
                let result = try await BoundedCommand.run(binary, arguments + ["--listen", "127.0.0.1:0"], environment: [:], timeout: .seconds(20))
                #expect(result.exitCode != 0 && result.stderr.contains(message), "\(arguments): \(result)")
            }
        }

        @Test func refusesAMissingAccessLogDirectoryAtStartUp() async throws {
            let binary = try ServiceProcess.binaryPath(product: "discovery-proxy")
            let result = try await BoundedCommand.run(
                binary, ["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--access-log", "/nonexistent/dir/access.log"],
                environment: [:], timeout: .seconds(20)
            )
            #expect(result.exitCode != 0 && result.stderr.contains("cannot open access log /nonexistent/dir/access.log"), "\(result)")
        }
    }
}
