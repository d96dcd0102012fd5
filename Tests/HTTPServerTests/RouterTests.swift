import HTTPServer
import HTTPTypes
import NIOCore
import TestSupport
import Testing

@Suite("Router")
struct RouterTests {
    static func template(_ resolution: Responder.Resolution) -> String? {
        if case .matched(let match) = resolution { return match.template }
        return nil
    }

    @Test("literal beats :param beats **, whatever the registration order", arguments: [false, true])
    func precedence(reversed: Bool) async throws {
        var router = Router()
        var routes: [(String, String)] = [("/files/readme", "literal"), ("/files/:id", "param"), ("/files/**", "tail")]
        if reversed { routes.reverse() }
        for (pattern, name) in routes { router.get(pattern, handler: echoRoute(name)) }
        let responder = router.buildResponder()

        #expect(try await responder.respondRendering(makeRequest("/files/readme")).body == "literal")
        #expect(try await responder.respondRendering(makeRequest("/files/other")).body == "param id=other")
        #expect(try await responder.respondRendering(makeRequest("/files/a/b")).body == "tail tail=a/b")
        #expect(try await responder.respondRendering(makeRequest("/files")).body == "tail tail=")
    }

    @Test("a literal branch that dead-ends falls back to the parameter branch")
    func backtracking() async throws {
        var router = Router()
        router.get("/a/b/c", handler: echoRoute("abc"))
        router.get("/a/:id/d", handler: echoRoute("a-param-d"))
        let responder = router.buildResponder()
        #expect(try await responder.respondRendering(makeRequest("/a/b/c")).body == "abc")
        #expect(try await responder.respondRendering(makeRequest("/a/b/d")).body == "a-param-d id=b")
        #expect(try await responder.respondRendering(makeRequest("/a/b/e")).status == .notFound)
    }

    @Test(
        "/v2/keys/** matches the directory itself, a trailing slash, and encoded slashes stay encoded",
        arguments: [
            ("/v2/keys", ""), ("/v2/keys/", ""), ("/v2/keys/a", "a"), ("/v2/keys/a/b/c", "a/b/c"),
            ("/v2/keys/a%2Fb/c", "a%2Fb/c"), ("/v2/keys/a//b", "a//b"), ("/v2/keys/dir/?recursive=true", "dir"),
        ]
    )
    func keysTail(path: String, tail: String) throws {
        var router = Router()
        router.get("/v2/keys/**", handler: echoRoute("keys"))
        router.get("/v2/keysight", handler: echoRoute("other"))
        let resolution = router.buildResponder().resolve(method: .get, path: makeRequest(path).path)
        guard case .matched(let match) = resolution else {
            Issue.record("\(path) did not match: \(resolution)")
            return
        }
        #expect(match.template == "/v2/keys/**")
        #expect(match.parameters.tail == Substring(tail))
    }

    @Test("parameters are captured raw, still percent-encoded, and the query is not part of the path")
    func rawParameters() async throws {
        var router = Router()
        router.get("/v2/members/:id", handler: echoRoute("member"))
        let responder = router.buildResponder()
        #expect(try await responder.respondRendering(makeRequest("/v2/members/a%20b?x=1")).body == "member id=a%20b")
        #expect(try await responder.respondRendering(makeRequest("/v2/members")).status == .notFound)
        #expect(try await responder.respondRendering(makeRequest("/v2/members/a/b")).status == .notFound)
    }

    @Test("a path with routes but not for this method is 405 with the allowed methods")
    func methodNotAllowed() async throws {
        var router = Router()
        router.put("/items/:id", handler: echoRoute("put"))
        router.get("/items/:id", handler: echoRoute("get"))
        router.delete("/items/:id", handler: echoRoute("delete"))
        let responder = router.buildResponder()

        guard case .methodNotAllowed(let template, let allowed) = responder.resolve(method: .post, path: "/items/1") else {
            Issue.record("expected 405")
            return
        }
        #expect(template == "/items/:id")
        #expect(allowed == [.delete, .get, .put])

        let answer = try await responder.respondRendering(makeRequest(.post, "/items/1"))
        #expect(answer.status == .methodNotAllowed)
        #expect(answer.fields[.allow] == "DELETE, GET, PUT")
        #expect(answer.body == "{\"message\":\"Method Not Allowed\"}\n")
    }

    @Test("HEAD falls back to GET, but an explicit HEAD route wins and HEAD on a GET-less path is 405")
    func headFallback() async throws {
        var router = Router()
        router.get("/a", handler: echoRoute("get-a"))
        router.get("/b", handler: echoRoute("get-b"))
        router.on(.head, "/b", handler: echoRoute("head-b"))
        router.post("/c", handler: echoRoute("post-c"))
        let responder = router.buildResponder()
        #expect(Self.template(responder.resolve(method: .head, path: "/a")) == "/a")
        #expect(try await responder.respondRendering(makeRequest(.head, "/a")).body == "get-a")
        #expect(try await responder.respondRendering(makeRequest(.head, "/b")).body == "head-b")
        let c = try await responder.respondRendering(makeRequest(.head, "/c"))
        #expect(c.status == .methodNotAllowed)
        #expect(c.fields[.allow] == "POST")
    }

    @Test("unmatched paths get the default 404 body")
    func defaultNotFound() async throws {
        let responder = Router().buildResponder()
        guard case .notFound = responder.resolve(method: .get, path: "/nope") else {
            Issue.record("expected not found")
            return
        }
        let answer = try await responder.respondRendering(makeRequest("/nope"))
        #expect(answer.status == .notFound)
        #expect(answer.fields[.contentType] == "application/json")
        #expect(answer.body == "{\"message\":\"Not found\"}\n")
    }

    @Test("notFound can be overridden, and middleware still wraps it")
    func customNotFound() async throws {
        var router = Router()
        router.notFound = { request, _ in
            Response(status: .notFound, body: ResponseBody(string: "no \(request.path)"))
        }
        let log = Observed<[String]>([])
        router.use(Recording(name: "m", log: log))
        let answer = try await router.buildResponder().respondRendering(makeRequest("/missing?q=1"))
        #expect(answer.status == .notFound)
        #expect(answer.body == "no /missing")
        #expect(log.value == ["m> (unmatched)", "m< 404"])
    }

    @Test("methodNotAllowed can be overridden; it is given the allowed methods, sorted")
    func customMethodNotAllowed() async throws {
        var router = Router()
        router.methodNotAllowed = { allowed in
            { _, _ in Response(status: .methodNotAllowed, body: ResponseBody(string: allowed.map(\.rawValue).joined(separator: "|"))) }
        }
        router.put("/k", handler: echoRoute("put"))
        router.get("/k", handler: echoRoute("get"))
        let answer = try await router.buildResponder().respondRendering(makeRequest(.post, "/k"))
        #expect(answer.status == .methodNotAllowed)
        #expect(answer.body == "GET|PUT")
    }

    @Test("middleware runs in the order added: the first added sees the request first and the response last")
    func middlewareOrder() async throws {
        let log = Observed<[String]>([])
        var router = Router()
        router.use(Recording(name: "outer", log: log))
        router.use(Recording(name: "inner", log: log))
        router.get("/items/:id") { _, _ in
            log.update { $0.append("handler") }
            return Response(status: .created)
        }
        let answer = try await router.buildResponder().respondRendering(makeRequest("/items/9"))
        #expect(answer.status == .created)
        #expect(
            log.value == ["outer> /items/:id", "inner> /items/:id", "handler", "inner< 201", "outer< 201"]
        )
    }

    @Test("middleware sees 405 answers with the matched template")
    func middlewareSees405() async throws {
        let log = Observed<[String]>([])
        var router = Router()
        router.use(Recording(name: "m", log: log))
        router.get("/only-get", handler: echoRoute("x"))
        let answer = try await router.buildResponder().respondRendering(makeRequest(.delete, "/only-get"))
        #expect(answer.status == .methodNotAllowed)
        #expect(log.value == ["m> /only-get", "m< 405"])
    }

    @Test("middleware can answer without calling next")
    func shortCircuit() async throws {
        struct Deny: Middleware {
            func handle(_ request: Request, context: RequestContext, next: RequestHandler) async throws -> Response {
                throw HTTPError(.forbidden, message: "denied")
            }
        }
        var router = Router()
        router.use(Deny())
        router.get("/", handler: { _, _ in Issue.record("handler must not run"); return Response() })
        let answer = try await router.buildResponder().respondRendering(makeRequest("/"))
        #expect(answer.status == .forbidden)
        #expect(answer.body == "{\"message\":\"denied\"}\n")
    }
}
