import ProxyCore
import Testing

private func tcpError(_ json: String) -> String? {
    do {
        let spec = try TCPListenerSpec.parse(name: "db", json: json)
        Issue.record("expected an error for \(json), got \(spec)")
        return nil
    } catch {
        return error.message
    }
}

private let listenRule = #""listen" must be host:port, :port or [ipv6]:port with port 0...65535"#

@Suite("TCPListenerSpec.parse: /proxy/tcp/<name> values")
struct TCPListenerSpecTests {
    @Test("accepted values", arguments: [
        (#"{"listen": "127.0.0.1:5433", "service": "db"}"#,
         TCPListenerSpec(name: "db", listenHost: "127.0.0.1", listenPort: 5433, service: "db")),
        (#"{"listen": ":5433", "service": "db"}"#,
         TCPListenerSpec(name: "db", listenHost: "0.0.0.0", listenPort: 5433, service: "db")),
        (#"{"listen": "[::1]:5433", "service": "db"}"#,
         TCPListenerSpec(name: "db", listenHost: "::1", listenPort: 5433, service: "db")),
        (#"{"listen": "[::]:0", "service": "db"}"#,
         TCPListenerSpec(name: "db", listenHost: "::", listenPort: 0, service: "db")),
        (#"{"listen": "localhost:1", "service": "pg", "policy": "least-connections", "connect_timeout": "1s", "retries": 0, "max_fails": 2, "fail_timeout": "30s"}"#,
         TCPListenerSpec(name: "db", listenHost: "localhost", listenPort: 1, service: "pg", policy: .leastConnections,
                         connectTimeout: .seconds(1), retries: 0, maxFails: 2, failTimeout: .seconds(30))),
    ])
    func accepts(json: String, expected: TCPListenerSpec) throws {
        #expect(try TCPListenerSpec.parse(name: "db", json: json) == expected)
    }

    @Test("defaults match routes'")
    func defaults() throws {
        let spec = try TCPListenerSpec.parse(name: "db", json: #"{"listen": ":1", "service": "db"}"#)
        #expect(spec.policy == .roundRobin)
        #expect(spec.connectTimeout == .seconds(2))
        #expect(spec.retries == 1)
        #expect(spec.maxFails == 3)
        #expect(spec.failTimeout == .seconds(10))
    }

    @Test("refused values", arguments: [
        (#"{"listen": "5433", "service": "db"}"#, #"tcp listener "db": \#(listenRule), got "5433""#),
        (#"{"listen": ":70000", "service": "db"}"#, #"tcp listener "db": \#(listenRule), got ":70000""#),
        (#"{"listen": "a b:1", "service": "db"}"#, #"tcp listener "db": \#(listenRule), got "a b:1""#),
        (#"{"listen": "[::1]", "service": "db"}"#, #"tcp listener "db": \#(listenRule), got "[::1]""#),
        (#"{"listen": 5433, "service": "db"}"#, #"tcp listener "db": "listen" must be a string, got 5433"#),
        (#"{"service": "db"}"#, #"tcp listener "db": missing required key "listen""#),
        (#"{"listen": ":1"}"#, #"tcp listener "db": missing required key "service""#),
        (#"{"listen": ":1", "service": "db", "path": "/"}"#,
         #"tcp listener "db": unknown key "path" (known keys: connect_timeout, fail_timeout, listen, max_fails, policy, retries, service)"#),
        (#"{"listen": ":1", "service": "db", "retries": 20}"#, #"tcp listener "db": "retries" must be an integer 0...10, got 20"#),
        ("nope", #"tcp listener "db": invalid JSON at offset 1: expected null"#),
    ])
    func refuses(json: String, message: String) {
        #expect(tcpError(json) == message)
    }
}
