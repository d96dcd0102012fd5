import ProxyCore
import Testing

private func parseError(_ value: String) -> String? {
    do {
        let endpoint = try InstanceEndpoint.parse(value)
        Issue.record("expected an error for \(value), got \(endpoint)")
        return nil
    } catch {
        return error.message
    }
}

@Suite("InstanceEndpoint.parse: values instances write under /services")
struct InstanceEndpointTests {
    @Test("accepted values", arguments: [
        (#"{"host": "10.0.0.5", "port": 8080}"#, InstanceEndpoint(host: "10.0.0.5", port: 8080)),
        (#"{"host":"10.0.0.5","port":"8080","unit":"web@1.service","machine":"4fd1"}"#,
         InstanceEndpoint(host: "10.0.0.5", port: 8080)),
        ("  {\"host\": \"a.internal\", \"port\": 80, \"weight\": 5}\n", InstanceEndpoint(host: "a.internal", port: 80, weight: 5)),
        (#"{"host": "a", "port": 1, "weight": "1000"}"#, InstanceEndpoint(host: "a", port: 1, weight: 1000)),
        (#"{"host": "a", "port": 65535, "weight": null, "extra": {"nested": [1, 2]}}"#, InstanceEndpoint(host: "a", port: 65535)),
        (#"{"host": "::1", "port": 9000}"#, InstanceEndpoint(host: "::1", port: 9000)),
        (#"{"host": "[fe80::1]", "port": 9000}"#, InstanceEndpoint(host: "fe80::1", port: 9000)),
        (#"{"host": "\u0031\u0030.0.0.1", "port": 80}"#, InstanceEndpoint(host: "10.0.0.1", port: 80)),
        ("10.0.0.5:8080", InstanceEndpoint(host: "10.0.0.5", port: 8080)),
        (" web-1.internal:443 \n", InstanceEndpoint(host: "web-1.internal", port: 443)),
        ("[::1]:8080", InstanceEndpoint(host: "::1", port: 8080)),
        ("[fe80::1%eth0]:80", InstanceEndpoint(host: "fe80::1%eth0", port: 80)),
        ("db_primary:5432", InstanceEndpoint(host: "db_primary", port: 5432)),
    ])
    func accepts(value: String, expected: InstanceEndpoint) throws {
        #expect(try InstanceEndpoint.parse(value) == expected)
    }

    @Test("refused values name the problem and quote the value", arguments: [
        ("", "instance value is empty"),
        (" \n", "instance value is empty"),
        ("10.0.0.5", #"instance value "10.0.0.5": expected host:port, [ipv6]:port or a JSON object"#),
        ("::1", #"instance value "::1": expected host:port, [ipv6]:port or a JSON object"#),
        ("[::1", #"instance value "[::1": expected host:port, [ipv6]:port or a JSON object"#),
        ("[::1]8080", #"instance value "[::1]8080": expected host:port, [ipv6]:port or a JSON object"#),
        ("http://x:80", #"instance value "http://x:80": expected host:port, [ipv6]:port or a JSON object"#),
        (":8080", #"instance value ":8080": host is empty"#),
        ("a b:80", #"instance value "a b:80": host "a b" is not a hostname or IP address"#),
        ("user@h:80", #"instance value "user@h:80": host "user@h" is not a hostname or IP address"#),
        ("10.0.0.5:0", #"instance value "10.0.0.5:0": port must be an integer 1...65535, got "0""#),
        ("10.0.0.5:65536", #"instance value "10.0.0.5:65536": port must be an integer 1...65535, got "65536""#),
        ("10.0.0.5:http", #"instance value "10.0.0.5:http": port must be an integer 1...65535, got "http""#),
        ("10.0.0.5:-1", #"instance value "10.0.0.5:-1": port must be an integer 1...65535, got "-1""#),
        (#"{"port": 8080}"#, #"instance value "{\"port\": 8080}": missing "host""#),
        (#"{"host": "a"}"#, #"instance value "{\"host\": \"a\"}": missing "port""#),
        (#"{"host": "a", "port": null}"#, #"instance value "{\"host\": \"a\", \"port\": null}": missing "port""#),
        (#"{"host": "", "port": 80}"#, #"instance value "{\"host\": \"\", \"port\": 80}": "host" is empty"#),
        (#"{"host":"10.0.0.5:8080","port":80}"#,
         #"instance value "{\"host\":\"10.0.0.5:8080\",\"port\":80}": "host" "10.0.0.5:8080" is not a hostname or IP address"#),
        (#"{"host": 5, "port": 80}"#, #"instance value "{\"host\": 5, \"port\": 80}": "host" must be a string, got 5"#),
        (#"{"host":"a","port":70000}"#, #"instance value "{\"host\":\"a\",\"port\":70000}": "port" must be an integer 1...65535, got 70000"#),
        (#"{"host":"a","port":80.5}"#, #"instance value "{\"host\":\"a\",\"port\":80.5}": "port" must be an integer 1...65535, got 80.5"#),
        (#"{"host":"a","port":true}"#, #"instance value "{\"host\":\"a\",\"port\":true}": "port" must be an integer 1...65535, got true"#),
        (#"{"host":"a","port":"8o"}"#, #"instance value "{\"host\":\"a\",\"port\":\"8o\"}": "port" must be an integer 1...65535, got "8o""#),
        (#"{"host":"a","port":80,"weight":0}"#, #"instance value "{\"host\":\"a\",\"port\":80,\"weight\":0}": "weight" must be an integer 1...1000, got 0"#),
        (#"{"host":"a","port":80,"weight":1001}"#, #"instance value "{\"host\":\"a\",\"port\":80,\"weight\":1001}": "weight" must be an integer 1...1000, got 1001"#),
        (#"{"host":"a","port":80"#, #"instance value "{\"host\":\"a\",\"port\":80": invalid JSON at offset 21: expected ',' or '}'"#),
        (#"{"host":"a","port":80,"port":81}"#, #"instance value "{\"host\":\"a\",\"port\":80,\"port\":81}": invalid JSON at offset 22: duplicate key "port""#),
        ("{\"host\":\"a\nb\",\"port\":1}", #"instance value "{\"host\":\"a\nb\",\"port\":1}": invalid JSON at offset 10: control character in string"#),
    ])
    func refuses(value: String, message: String) {
        #expect(parseError(value) == message)
    }

    @Test("a long value is quoted only in part")
    func truncatesQuotedValue() {
        let value = String(repeating: "x", count: 300)
        let expected = "instance value \"\(String(repeating: "x", count: 100))\"…: expected host:port, [ipv6]:port or a JSON object"
        #expect(parseError(value) == expected)
    }

    @Test("description brackets IPv6 and shows a non-default weight")
    func description() {
        #expect(InstanceEndpoint(host: "10.0.0.5", port: 80).description == "10.0.0.5:80")
        #expect(InstanceEndpoint(host: "::1", port: 80, weight: 3).description == "[::1]:80 weight=3")
    }
}
