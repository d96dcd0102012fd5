import ProxyCore
import SeededRandom
import Testing


private let instanceKeys = ["/services/web/a", "/services/web/b", "/services/web/c", "/services/db/x", "/services/db/y"]
private let routeKeys = ["/proxy/routes/api", "/proxy/routes/static"]
private let tcpKeys = ["/proxy/tcp/pg"]
private let ignoredKeys = ["/services/web", "/services/web/a/deep", "/proxy/routes", "/proxy/other/x", "/elsewhere/k"]
private let directories = ["/", "/services", "/services/web", "/services/db", "/proxy", "/proxy/routes", "/proxy/tcp",
                           "/elsewhere"]

private let instanceValues = [
    "10.0.0.1:80", "10.0.0.2:80", #"{"host": "10.0.0.1", "port": 80}"#, #"{"host": "10.0.0.1", "port": 80, "weight": 2}"#,
    "[::1]:80", "bad", "",
]
private let routeValues = [
    #"{"service": "web"}"#, #"{"service": "web", "path": "/"}"#, #"{"service": "db", "retries": 2}"#,
    #"{"service": "web", "retires": 1}"#,
]
private let tcpValues = [#"{"listen": ":1", "service": "db"}"#, #"{"listen": ":2", "service": "db"}"#, #"{"listen": "x"}"#]

private enum Op: CustomStringConvertible {
    case set(String, String)
    case remove(String, RemovalReason)
    case replace(String, [(key: String, value: String)])

    var description: String {
        switch self {
        case .set(let k, let v): "set \(k) = \(v)"
        case .remove(let k, let r): "remove \(k) (\(r))"
        case .replace(let p, let entries): "replace \(p) with \(entries.map { "\($0.key)=\($0.value)" })"
        }
    }
}

/// The obvious implementation: keep raw values, re-derive everything by parsing all of them.
private struct Model {
    var raw: [String: String] = [:]

    static func isUnder(_ key: String, _ dir: String) -> Bool {
        dir == "/" || key == dir || key.hasPrefix(dir + "/")
    }

    static func tracked(_ key: String) -> Bool {
        let c = key.split(separator: "/")
        return (c.count == 3 && c[0] == "services") || (c.count == 3 && c[0] == "proxy" && (c[1] == "routes" || c[1] == "tcp"))
    }

    var services: [String: [String: InstanceEndpoint]] {
        var out: [String: [String: InstanceEndpoint]] = [:]
        for (key, value) in raw {
            let c = key.split(separator: "/")
            if c[0] == "services", let endpoint = try? InstanceEndpoint.parse(value) {
                out[String(c[1]), default: [:]][String(c[2])] = endpoint
            }
        }
        return out
    }

    var routes: [String: RouteSpec] {
        var out: [String: RouteSpec] = [:]
        for (key, value) in raw where key.hasPrefix("/proxy/routes/") {
            let name = String(key.split(separator: "/")[2])
            out[name] = try? RouteSpec.parse(name: name, json: value)
        }
        return out
    }

    var tcp: [String: TCPListenerSpec] {
        var out: [String: TCPListenerSpec] = [:]
        for (key, value) in raw where key.hasPrefix("/proxy/tcp/") {
            let name = String(key.split(separator: "/")[2])
            out[name] = try? TCPListenerSpec.parse(name: name, json: value)
        }
        return out
    }

    var invalidKeys: Set<String> {
        Set(raw.keys.filter { key in
            let value = raw[key]!
            let name = String(key.split(separator: "/")[2])
            if key.hasPrefix("/services/") { return (try? InstanceEndpoint.parse(value)) == nil }
            if key.hasPrefix("/proxy/routes/") { return (try? RouteSpec.parse(name: name, json: value)) == nil }
            return (try? TCPListenerSpec.parse(name: name, json: value)) == nil
        })
    }

    /// Applies `op`; returns the keys it removed.
    mutating func apply(_ op: Op) -> Set<String> {
        switch op {
        case .set(let key, let value):
            if Self.tracked(key) { raw[key] = value }
            return []
        case .remove(let dir, _):
            let gone = Set(raw.keys.filter { Self.isUnder($0, dir) })
            for key in gone { raw[key] = nil }
            return gone
        case .replace(let prefix, let entries):
            for key in raw.keys where Self.isUnder(key, prefix) { raw[key] = nil }
            for entry in entries where Self.isUnder(entry.key, prefix) && Self.tracked(entry.key) {
                raw[entry.key] = entry.value
            }
            return []
        }
    }
}

private func randomKey(_ rng: inout SplitMix64) -> String {
    switch rng.below(10) {
    case 0..<6: rng.element(instanceKeys)
    case 6, 7: rng.element(routeKeys)
    case 8: rng.element(tcpKeys)
    default: rng.element(ignoredKeys)
    }
}

private func randomValue(for key: String, _ rng: inout SplitMix64) -> String {
    // Mostly a value of the key's kind, sometimes one of another kind (always invalid there).
    if rng.below(8) == 0 { return rng.element(instanceValues + routeValues + tcpValues) }
    if key.hasPrefix("/proxy/routes") { return rng.element(routeValues) }
    if key.hasPrefix("/proxy/tcp") { return rng.element(tcpValues) }
    return rng.element(instanceValues)
}

private func randomOp(_ rng: inout SplitMix64) -> Op {
    switch rng.below(10) {
    case 0..<6:
        let key = randomKey(&rng)
        return .set(key, randomValue(for: key, &rng))
    case 6, 7, 8:
        let target = rng.below(2) == 0 ? randomKey(&rng) : rng.element(directories)
        return .remove(target, rng.below(2) == 0 ? .deleted : .expired)
    default:
        let prefix = rng.element(directories)
        let entries = (0..<rng.below(6)).map { _ in
            let key = randomKey(&rng)
            return (key: key, value: randomValue(for: key, &rng))
        }
        return .replace(prefix, entries)
    }
}

@Suite("RegistryView agrees with a naive model over seeded random operations")
struct RegistryViewPropertyTests {
    @Test("state and reported changes match the model", arguments: 0..<UInt64(200))
    func agreesWithModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var view = RegistryView()
        var model = Model()
        for step in 0..<60 {
            let op = randomOp(&rng)
            let (servicesBefore, routesBefore, tcpBefore) = (model.services, model.routes, model.tcp)
            let removedKeys = model.apply(op)
            let change: RegistryChange
            switch op {
            case .set(let key, let value): change = view.set(key: key, value: value)
            case .remove(let key, let reason): change = view.remove(key: key, reason: reason)
            case .replace(let prefix, let entries): change = view.replace(under: prefix, with: entries)
            }
            let context = "seed \(seed) step \(step): \(op)"

            let servicesAfter = model.services
            #expect(view.services == servicesAfter, "\(context)")
            #expect(view.routes == model.routes, "\(context)")
            #expect(view.tcpListeners == model.tcp, "\(context)")
            #expect(Set(view.invalid.keys) == model.invalidKeys, "\(context)")

            let allServices = Set(servicesBefore.keys).union(servicesAfter.keys)
            #expect(change.servicesChanged == allServices.filter { servicesBefore[$0] != servicesAfter[$0] }, "\(context)")
            #expect(change.routesChanged == (routesBefore != model.routes), "\(context)")
            #expect(change.tcpChanged == (tcpBefore != model.tcp), "\(context)")
            var expectedRemovals: [RemovedInstance] = []
            for (service, instances) in servicesBefore {
                for (instance, endpoint) in instances where servicesAfter[service]?[instance] != endpoint {
                    var reason = RemovalReason.deleted
                    if case .remove(_, let r) = op, removedKeys.contains("/services/\(service)/\(instance)") { reason = r }
                    expectedRemovals.append(RemovedInstance(service: service, instance: instance, endpoint: endpoint, reason: reason))
                }
            }
            expectedRemovals.sort { ($0.service, $0.instance) < ($1.service, $1.instance) }
            #expect(change.removedInstances == expectedRemovals, "\(context)")

            if case .set(let key, let value) = op {
                #expect(view.set(key: key, value: value).isEmpty, "\(context): heartbeat")
            }
        }
    }
}
