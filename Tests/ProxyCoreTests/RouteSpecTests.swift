import ProxyCore
import Testing

private func jsonError(_ json: String, name: String = "api") -> String? {
    do {
        let spec = try RouteSpec.parse(name: name, json: json)
        Issue.record("expected an error for \(json), got \(spec)")
        return nil
    } catch {
        return error.message
    }
}

private func flagError(_ flag: String) -> String? {
    do {
        let spec = try RouteSpec.parse(flag: flag)
        Issue.record("expected an error for \(flag), got \(spec)")
        return nil
    } catch {
        return error.message
    }
}

private let knownKeys = "connect_timeout, fail_timeout, health_check, host, idle_timeout, max_fails, path, policy, "
    + "response_header_timeout, retries, service"
private let durationRule = "must be a duration greater than 0 and at most 1h, such as \"250ms\", \"2s\" or \"1.5m\""
private let hostRule = "\"host\" must be a hostname, *.domain wildcard or IP address, optionally with :port"

@Suite("RouteSpec.parse(name:json:): /proxy/routes/<name> values")
struct RouteSpecJSONTests {
    @Test("only service is required; everything else has its default")
    func defaults() throws {
        let spec = try RouteSpec.parse(name: "api", json: #"{"service": "web"}"#)
        #expect(spec == RouteSpec(name: "api", service: "web"))
        #expect(spec.host == nil)
        #expect(spec.pathPrefix == "/")
        #expect(spec.policy == .roundRobin)
        #expect(spec.connectTimeout == .seconds(2))
        #expect(spec.responseHeaderTimeout == .seconds(60))
        #expect(spec.idleTimeout == .seconds(60))
        #expect(spec.retries == 1)
        #expect(spec.maxFails == 3)
        #expect(spec.failTimeout == .seconds(10))
        #expect(spec.healthCheck == nil)
    }

    @Test("every key")
    func everyKey() throws {
        let json = """
            {"host": "API.Example.com:8443", "path": "/v1", "service": "api", "policy": "least-connections",
             "connect_timeout": "250ms", "response_header_timeout": 30, "idle_timeout": "1.5m", "fail_timeout": 0.5,
             "retries": 2, "max_fails": "5",
             "health_check": {"path": "/healthz?full=1", "interval": "5s", "timeout": "500ms",
                              "healthy_threshold": 1, "unhealthy_threshold": 4}}
            """
        let expected = RouteSpec(
            name: "api", host: "api.example.com", pathPrefix: "/v1", service: "api", policy: .leastConnections,
            connectTimeout: .milliseconds(250), responseHeaderTimeout: .seconds(30), idleTimeout: .seconds(90),
            retries: 2, maxFails: 5, failTimeout: .milliseconds(500),
            healthCheck: HealthCheckSpec(path: "/healthz?full=1", interval: .seconds(5), timeout: .milliseconds(500),
                                         healthyThreshold: 1, unhealthyThreshold: 4))
        #expect(try RouteSpec.parse(name: "api", json: json) == expected)
    }

    @Test("host normalisation", arguments: [
        (#"{"service":"s","host":"Example.COM"}"#, "example.com" as String?),
        (#"{"service":"s","host":"example.com:8080"}"#, "example.com"),
        (#"{"service":"s","host":"example.com."}"#, "example.com"),
        (#"{"service":"s","host":"*.Example.com"}"#, "*.example.com"),
        (#"{"service":"s","host":"*.example.com:443"}"#, "*.example.com"),
        (#"{"service":"s","host":"[::1]:8080"}"#, "::1"),
        (#"{"service":"s","host":"10.0.0.1"}"#, "10.0.0.1"),
        (#"{"service":"s","host":"*"}"#, nil),
        (#"{"service":"s","host":null}"#, nil),
    ])
    func host(json: String, expected: String?) throws {
        #expect(try RouteSpec.parse(name: "r", json: json).host == expected)
    }

    @Test("health_check as a bare path takes the defaults")
    func healthCheckShorthand() throws {
        let spec = try RouteSpec.parse(name: "api", json: #"{"service": "web", "health_check": "/healthz"}"#)
        #expect(spec.healthCheck == HealthCheckSpec(path: "/healthz"))
        #expect(spec.healthCheck?.interval == .seconds(2))
        #expect(spec.healthCheck?.timeout == .seconds(1))
        #expect(spec.healthCheck?.healthyThreshold == 2)
        #expect(spec.healthCheck?.unhealthyThreshold == 3)
    }

    @Test("refused values", arguments: [
        (#"{"service": "web", "retries": "x"}"#, #"route "api": "retries" must be an integer 0...10, got "x""#),
        (#"{"service": "web", "retries": 11}"#, #"route "api": "retries" must be an integer 0...10, got 11"#),
        (#"{"service": "web", "retries": -1}"#, #"route "api": "retries" must be an integer 0...10, got -1"#),
        (#"{"service": "web", "max_fails": 0}"#, #"route "api": "max_fails" must be an integer 1...100, got 0"#),
        (#"{"service": "web", "retires": 3}"#, #"route "api": unknown key "retires" (known keys: \#(knownKeys))"#),
        (#"{"service": "web", "Host": "a", "zzz": 1}"#, #"route "api": unknown key "Host" (known keys: \#(knownKeys))"#),
        ("{}", #"route "api": missing required key "service""#),
        (#"{"service": null}"#, #"route "api": missing required key "service""#),
        (#"{"service": 7}"#, #"route "api": "service" must be a string, got 7"#),
        (#"{"service": "a/b"}"#, #"route "api": "service" must be a non-empty service name without "/", got "a/b""#),
        (#"{"service": ""}"#, #"route "api": "service" must be a non-empty service name without "/", got """#),
        (#"{"service": "web", "path": "api"}"#,
         ##"route "api": "path" must start with "/" and contain no spaces, "?" or "#", got "api""##),
        (#"{"service": "web", "path": "/a?b"}"#,
         ##"route "api": "path" must start with "/" and contain no spaces, "?" or "#", got "/a?b""##),
        (#"{"service": "web", "path": 1}"#,
         ##"route "api": "path" must start with "/" and contain no spaces, "?" or "#", got 1"##),
        (#"{"service": "web", "policy": "random"}"#,
         #"route "api": "policy" must be "round-robin" or "least-connections", got "random""#),
        (#"{"service": "web", "connect_timeout": "0s"}"#, #"route "api": "connect_timeout" \#(durationRule), got "0s""#),
        (#"{"service": "web", "connect_timeout": 0}"#, #"route "api": "connect_timeout" \#(durationRule), got 0"#),
        (#"{"service": "web", "idle_timeout": "61m"}"#, #"route "api": "idle_timeout" \#(durationRule), got "61m""#),
        (#"{"service": "web", "fail_timeout": "-1s"}"#, #"route "api": "fail_timeout" \#(durationRule), got "-1s""#),
        (#"{"service": "web", "response_header_timeout": true}"#,
         #"route "api": "response_header_timeout" \#(durationRule), got true"#),
        (#"{"service": "web", "host": "a.*.com"}"#, #"route "api": \#(hostRule), got "a.*.com""#),
        (#"{"service": "web", "host": "a b"}"#, #"route "api": \#(hostRule), got "a b""#),
        (#"{"service": "web", "host": "a.com:x"}"#, #"route "api": \#(hostRule), got "a.com:x""#),
        (#"{"service": "web", "host": ""}"#, #"route "api": \#(hostRule), got """#),
        (#"{"service": "web", "host": "*."}"#, #"route "api": \#(hostRule), got "*.""#),
        (#"{"service": "web", "host": ["a"]}"#, #"route "api": \#(hostRule), got an array"#),
        (#"{"service": "web", "health_check": {"interval": "1s"}}"#, #"route "api": missing required key "health_check.path""#),
        (#"{"service": "web", "health_check": {"path": "/h", "intervl": "1s"}}"#,
         #"route "api": unknown key "health_check.intervl" (known keys: healthy_threshold, interval, path, timeout, unhealthy_threshold)"#),
        (#"{"service": "web", "health_check": 5}"#, #"route "api": "health_check" must be an object or a path, got 5"#),
        (#"{"service": "web", "health_check": {"path": "/h", "healthy_threshold": 0}}"#,
         #"route "api": "health_check.healthy_threshold" must be an integer 1...100, got 0"#),
        (#"{"service": "web", "health_check": {"path": "/h", "timeout": "2h"}}"#,
         #"route "api": "health_check.timeout" \#(durationRule), got "2h""#),
        (#"{"service": "web", "health_check": "healthz"}"#,
         ##"route "api": "health_check.path" must start with "/" and contain no spaces or "#", got "healthz""##),
        ("[1]", #"route "api": value must be a JSON object, got an array"#),
        (#""web""#, #"route "api": value must be a JSON object, got "web""#),
        (#"{"service": }"#, #"route "api": invalid JSON at offset 12: unexpected character "}""#),
        (#"{"service": "a", "service": "b"}"#, #"route "api": invalid JSON at offset 17: duplicate key "service""#),
        (#"{"service": "a"} x"#, #"route "api": invalid JSON at offset 17: unexpected text after the value"#),
        ("", #"route "api": invalid JSON at offset 0: unexpected end of input"#),
    ])
    func refuses(json: String, message: String) {
        #expect(jsonError(json) == message)
    }

    @Test("JSON details: escapes, surrogate pairs, nesting limit")
    func jsonDetails() throws {
        let escaped = try RouteSpec.parse(name: "r", json: #"{"service": "w\u0065b", "path": "\/caf\u00e9\ud83d\ude00"}"#)
        #expect(escaped.service == "web")
        #expect(escaped.pathPrefix == "/café😀")
        #expect(jsonError(#"{"service": "web", "path": "/\ud83d"}"#)
            == #"route "api": invalid JSON at offset 35: unpaired surrogate"#)
        let deep = #"{"service": "web", "x": "# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"
        #expect(jsonError(deep) == #"route "api": invalid JSON at offset 55: nested deeper than 32 levels"#)
    }
}

@Suite("RouteSpec.parse(flag:): the --route flag")
struct RouteSpecFlagTests {
    @Test("all the keys, default name")
    func full() throws {
        let spec = try RouteSpec.parse(
            flag: "host=a.com,path=/api,service=web,policy=least-connections,retries=2,connect_timeout=500ms")
        #expect(spec == RouteSpec(name: "static-web-a.com/api", host: "a.com", pathPrefix: "/api", service: "web",
                                  policy: .leastConnections, connectTimeout: .milliseconds(500), retries: 2))
    }

    @Test("default names", arguments: [
        ("service=web", "static-web-*/"),
        ("service=web,host=*.A.com,path=/x/", "static-web-*.a.com/x/"),
        ("name=main,service=web", "main"),
    ])
    func names(flag: String, name: String) throws {
        #expect(try RouteSpec.parse(flag: flag).name == name)
    }

    @Test("spaces around pairs, empty pairs and health_check path")
    func lenientSpelling() throws {
        let spec = try RouteSpec.parse(flag: " name = main , service = web ,, health_check=/healthz, idle_timeout=90,")
        #expect(spec == RouteSpec(name: "main", service: "web", idleTimeout: .seconds(90),
                                  healthCheck: HealthCheckSpec(path: "/healthz")))
    }

    @Test("refused flags", arguments: [
        ("service=web,retries=x", #"--route "service=web,retries=x": "retries" must be an integer 0...10, got "x""#),
        ("service=web,path", #"--route "service=web,path": expected key=value, got "path""#),
        ("service=web,=x", #"--route "service=web,=x": expected key=value, got "=x""#),
        ("service=web,service=api", #"--route "service=web,service=api": duplicate key "service""#),
        ("name=a,service=web,name=b", #"--route "name=a,service=web,name=b": duplicate key "name""#),
        ("service=web,name=", #"--route "service=web,name=": "name" is empty"#),
        ("path=/x", #"--route "path=/x": missing required key "service""#),
        ("", #"--route "": missing required key "service""#),
        ("service=web,bogus=1", #"--route "service=web,bogus=1": unknown key "bogus" (known keys: \#(knownKeys))"#),
        ("service=web,connect_timeout=fast",
         #"--route "service=web,connect_timeout=fast": "connect_timeout" \#(durationRule), got "fast""#),
        ("service=web,health_check=healthz",
         ##"--route "service=web,health_check=healthz": "health_check.path" must start with "/" and contain no spaces or "#", got "healthz""##),
    ])
    func refuses(flag: String, message: String) {
        #expect(flagError(flag) == message)
    }
}
