import ProxyCore
import Testing

private let web1 = InstanceEndpoint(host: "10.0.0.1", port: 80)
private let web2 = InstanceEndpoint(host: "10.0.0.2", port: 80)
private let db1 = InstanceEndpoint(host: "10.0.1.1", port: 5432)

private func removed(_ service: String, _ instance: String, _ endpoint: InstanceEndpoint,
                     _ reason: RemovalReason = .deleted) -> RemovedInstance {
    RemovedInstance(service: service, instance: instance, endpoint: endpoint, reason: reason)
}

/// web: a, b; db: x; route api; tcp pg.
private func populated() -> RegistryView {
    var view = RegistryView()
    _ = view.set(key: "/services/web/a", value: "10.0.0.1:80")
    _ = view.set(key: "/services/web/b", value: #"{"host": "10.0.0.2", "port": 80}"#)
    _ = view.set(key: "/services/db/x", value: "10.0.1.1:5432")
    _ = view.set(key: "/proxy/routes/api", value: #"{"service": "web"}"#)
    _ = view.set(key: "/proxy/tcp/pg", value: #"{"listen": ":5433", "service": "db"}"#)
    return view
}

@Suite("RegistryView: the proxy's keys, as the watcher reports them")
struct RegistryViewTests {
    @Test("new keys of each kind")
    func newKeys() {
        var view = RegistryView()
        #expect(view.set(key: "/services/web/a", value: "10.0.0.1:80") == RegistryChange(servicesChanged: ["web"]))
        #expect(view.set(key: "/proxy/routes/api", value: #"{"service": "web"}"#) == RegistryChange(routesChanged: true))
        #expect(view.set(key: "/proxy/tcp/pg", value: #"{"listen": ":5433", "service": "db"}"#)
            == RegistryChange(tcpChanged: true))
        #expect(view.services == ["web": ["a": web1]])
        #expect(view.routes == ["api": RouteSpec(name: "api", service: "web")])
        #expect(view.tcpListeners == ["pg": TCPListenerSpec(name: "pg", listenPort: 5433, service: "db")])
        #expect(view.invalid.isEmpty)
    }

    @Test("a heartbeat re-setting the same value changes nothing")
    func heartbeat() {
        var view = populated()
        let before = view.services
        #expect(view.set(key: "/services/web/a", value: "10.0.0.1:80").isEmpty)
        #expect(view.set(key: "/services/web/b", value: #"{"host": "10.0.0.2", "port": 80}"#).isEmpty)
        #expect(view.set(key: "/proxy/routes/api", value: #"{"service": "web"}"#).isEmpty)
        #expect(view.set(key: "/proxy/tcp/pg", value: #"{"listen": ":5433", "service": "db"}"#).isEmpty)
        #expect(view.services == before)
        // Also an invalid value: it stays refused, once.
        #expect(view.set(key: "/services/web/c", value: "garbage").isEmpty)
        #expect(view.set(key: "/services/web/c", value: "garbage").isEmpty)
        #expect(view.invalid.keys.sorted() == ["/services/web/c"])
    }

    @Test("a different spelling of the same endpoint is not a change")
    func sameEndpointOtherText() {
        var view = populated()
        #expect(view.set(key: "/services/web/a", value: #"{"host": "10.0.0.1", "port": "80", "unit": "web@1"}"#).isEmpty)
        #expect(view.set(key: "/proxy/routes/api", value: #"{"service": "web", "path": "/"}"#).isEmpty)
    }

    @Test("a changed endpoint: the old one is removed (deleted), the service changed")
    func endpointChange() {
        var view = populated()
        let change = view.set(key: "/services/web/a", value: #"{"host": "10.0.0.1", "port": 80, "weight": 3}"#)
        #expect(change == RegistryChange(servicesChanged: ["web"], removedInstances: [removed("web", "a", web1)]))
        #expect(view.services["web"]?["a"] == InstanceEndpoint(host: "10.0.0.1", port: 80, weight: 3))
    }

    @Test("delete and expire carry their reason")
    func reasons() {
        var view = populated()
        #expect(view.remove(key: "/services/web/a", reason: .expired)
            == RegistryChange(servicesChanged: ["web"], removedInstances: [removed("web", "a", web1, .expired)]))
        #expect(view.remove(key: "/services/web/b", reason: .deleted)
            == RegistryChange(servicesChanged: ["web"], removedInstances: [removed("web", "b", web2, .deleted)]))
        #expect(view.services == ["db": ["x": db1]])
        #expect(view.remove(key: "/services/web/b", reason: .deleted).isEmpty)
        #expect(view.remove(key: "/proxy/routes/api", reason: .expired) == RegistryChange(routesChanged: true))
        #expect(view.remove(key: "/proxy/tcp/pg", reason: .deleted) == RegistryChange(tcpChanged: true))
        #expect(view.routes.isEmpty && view.tcpListeners.isEmpty)
    }

    @Test("removing a directory removes everything below it, sorted", arguments: [
        ("/services/web", RegistryChange(servicesChanged: ["web"],
                                         removedInstances: [removed("web", "a", web1, .expired), removed("web", "b", web2, .expired)])),
        ("/services/web/", RegistryChange(servicesChanged: ["web"],
                                          removedInstances: [removed("web", "a", web1, .expired), removed("web", "b", web2, .expired)])),
        ("/services", RegistryChange(servicesChanged: ["web", "db"],
                                     removedInstances: [removed("db", "x", db1, .expired), removed("web", "a", web1, .expired),
                                                        removed("web", "b", web2, .expired)])),
        ("/proxy/routes", RegistryChange(routesChanged: true)),
        ("/proxy", RegistryChange(routesChanged: true, tcpChanged: true)),
        ("/", RegistryChange(servicesChanged: ["web", "db"],
                             removedInstances: [removed("db", "x", db1, .expired), removed("web", "a", web1, .expired),
                                                removed("web", "b", web2, .expired)],
                             routesChanged: true, tcpChanged: true)),
        ("/services/we", RegistryChange()),
        ("/elsewhere", RegistryChange()),
    ])
    func directoryRemoval(directory: String, expected: RegistryChange) {
        var view = populated()
        #expect(view.remove(key: directory, reason: .expired) == expected)
    }

    @Test("replace() makes the subtree exactly the entries; absent keys count as deleted")
    func replaceDiff() {
        var view = populated()
        _ = view.set(key: "/services/web/bad", value: "nope")
        let change = view.replace(under: "/services", with: [
            (key: "/services/web/b", value: "10.0.0.2:81"),      // changed
            (key: "/services/web/c", value: "10.0.0.3:80"),      // new
            (key: "/services/db/x", value: "10.0.1.1:5432"),     // unchanged
            (key: "/proxy/routes/other", value: #"{"service": "x"}"#),   // outside the prefix: ignored
            (key: "/services/web", value: "10.9.9.9:1"),         // not an instance key: ignored
        ])
        #expect(change == RegistryChange(servicesChanged: ["web"],
                                         removedInstances: [removed("web", "a", web1), removed("web", "b", web2)]))
        #expect(view.services == [
            "web": ["b": InstanceEndpoint(host: "10.0.0.2", port: 81), "c": InstanceEndpoint(host: "10.0.0.3", port: 80)],
            "db": ["x": db1],
        ])
        #expect(view.invalid.isEmpty, "the invalid key was absent from the read")
        #expect(view.routes.keys.sorted() == ["api"])

        #expect(view.replace(under: "/proxy", with: []) == RegistryChange(routesChanged: true, tcpChanged: true))
        #expect(view.replace(under: "/proxy", with: []).isEmpty)
        #expect(view.replace(under: "/services/web", with: [(key: "/services/web/c", value: "10.0.0.3:80"),
                                                           (key: "/services/web/b", value: "10.0.0.2:81")]).isEmpty)
    }

    @Test("replace() of an empty view loads everything; a later duplicate wins")
    func initialLoad() {
        var view = RegistryView()
        let change = view.replace(under: "/", with: [
            (key: "/services/web/a", value: "10.0.0.9:80"),
            (key: "/services/web/a", value: "10.0.0.1:80"),
            (key: "/proxy/routes/api", value: #"{"service": "web"}"#),
        ])
        #expect(change == RegistryChange(servicesChanged: ["web"], routesChanged: true))
        #expect(view.services == ["web": ["a": web1]])
    }

    @Test("an invalid value is absent and recorded; a valid one clears the record")
    func invalidValues() {
        var view = populated()
        let change = view.set(key: "/services/web/a", value: "10.0.0.1")
        #expect(change == RegistryChange(servicesChanged: ["web"], removedInstances: [removed("web", "a", web1)]))
        #expect(view.services["web"]?["a"] == nil)
        #expect(view.invalid["/services/web/a"]?.message
            == #"instance value "10.0.0.1": expected host:port, [ipv6]:port or a JSON object"#)

        #expect(view.set(key: "/services/web/a", value: "10.0.0.1:80") == RegistryChange(servicesChanged: ["web"]))
        #expect(view.invalid.isEmpty)

        #expect(view.set(key: "/proxy/routes/api", value: #"{"service": "web", "retries": "x"}"#)
            == RegistryChange(routesChanged: true))
        #expect(view.routes["api"] == nil)
        #expect(view.invalid["/proxy/routes/api"]?.message == #"route "api": "retries" must be an integer 0...10, got "x""#)
        #expect(view.remove(key: "/proxy/routes/api", reason: .deleted).isEmpty, "nothing valid went away")
        #expect(view.invalid.isEmpty)

        #expect(view.set(key: "/proxy/tcp/new", value: "{}").isEmpty)
        #expect(view.invalid["/proxy/tcp/new"]?.message == #"tcp listener "new": missing required key "listen""#)
    }

    @Test("the last instance gone removes the service entry")
    func emptyServiceDropped() {
        var view = populated()
        _ = view.remove(key: "/services/db/x", reason: .expired)
        #expect(view.services["db"] == nil)
        _ = view.set(key: "/services/db/y", value: "bad")
        #expect(view.services["db"] == nil)
    }

    @Test("keys outside the layout are ignored", arguments: [
        "/services/web", "/services/web/a/deep", "/services", "/other/web/a", "/proxy/routes", "/proxy/routes/a/b",
        "/proxy/other/x", "/proxy/tcp", "/servicesx/web/a", "/", "",
    ])
    func ignoredKeys(key: String) {
        var view = RegistryView()
        #expect(view.set(key: key, value: "10.0.0.1:80").isEmpty)
        #expect(view.services.isEmpty && view.routes.isEmpty && view.invalid.isEmpty)
    }

    @Test("keys are compared after collapsing slashes; custom prefixes")
    func normalisationAndPrefixes() {
        var view = RegistryView(servicesPrefix: "/registry/services/", proxyPrefix: "lb")
        #expect(view.servicesPrefix == "/registry/services")
        #expect(view.proxyPrefix == "/lb")
        #expect(view.set(key: "/registry//services/web/a/", value: "10.0.0.1:80") == RegistryChange(servicesChanged: ["web"]))
        #expect(view.set(key: "/registry/services/web/a", value: "10.0.0.1:80").isEmpty)
        #expect(view.set(key: "/services/web/b", value: "10.0.0.2:80").isEmpty)
        #expect(view.set(key: "/lb/routes/r", value: #"{"service": "web"}"#) == RegistryChange(routesChanged: true))
        #expect(view.remove(key: "/registry", reason: .deleted)
            == RegistryChange(servicesChanged: ["web"], removedInstances: [removed("web", "a", web1)]))
    }
}
