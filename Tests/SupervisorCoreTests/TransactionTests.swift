import Testing
@testable import SupervisorCore

let webStack: [String: UnitDependencies] = [
    "db.service": UnitDependencies(),
    "cache.service": UnitDependencies(),
    "app.service": UnitDependencies(requires: ["db.service"], wants: ["cache.service"], after: ["db.service", "cache.service"]),
    "web.service": UnitDependencies(requires: ["app.service"], after: ["app.service"]),
    "sidekick.service": UnitDependencies(bindsTo: ["app.service"], after: ["app.service"]),
    "metrics.service": UnitDependencies(requires: ["db.service"]),
    "early.service": UnitDependencies(before: ["db.service"]),
]

@Test("start order follows After=/Before= and pulls in dependencies", arguments: [
    (["web.service"], Set<String>(), ["start db.service", "start cache.service", "start app.service", "start web.service"]),
    (["web.service"], Set(["db.service"]), ["start cache.service", "start app.service", "start web.service"]),
    (["db.service", "early.service"], Set<String>(), ["start early.service", "start db.service"]),
    (["metrics.service"], Set<String>(), ["start metrics.service", "start db.service"]),
] as [([String], Set<String>, [String])])
func startOrder(start: [String], active: Set<String>, expected: [String]) throws {
    let transaction = try Transaction(units: webStack, start: start, active: active)
    #expect(transaction.jobs.map(\.description) == expected)
}

@Test func stopOfRequiredUnitStopsDependentsFirst() throws {
    let active: Set<String> = ["db.service", "cache.service", "app.service", "web.service", "sidekick.service", "metrics.service"]
    let transaction = try Transaction(units: webStack, stop: ["db.service"], active: active)
    let order = transaction.jobs.map(\.description)
    #expect(Set(order) == ["stop db.service", "stop app.service", "stop metrics.service", "stop web.service", "stop sidekick.service"])
    let index = { (job: String) in order.firstIndex(of: job)! }
    #expect(index("stop web.service") < index("stop app.service"))
    #expect(index("stop sidekick.service") < index("stop app.service"))
    #expect(index("stop app.service") < index("stop db.service"))
}

@Test func runnableJobsRespectOrderingAndFailuresPropagateWithAfter() throws {
    var transaction = try Transaction(units: webStack, start: ["web.service", "sidekick.service", "metrics.service"])
    #expect(Set(transaction.runnable) == [.start("db.service"), .start("cache.service"), .start("metrics.service")])
    transaction.complete(.start("cache.service"), success: false)  // Wants=: ignored
    let failed = transaction.complete(.start("db.service"), success: false)
    // app requires db with After=; web and sidekick depend on app the same way. metrics has no After=.
    #expect(Set(failed) == [.start("app.service"), .start("web.service"), .start("sidekick.service")])
    #expect(transaction.results[.start("web.service")] == .dependency)
    #expect(transaction.runnable == [.start("metrics.service")])
    transaction.complete(.start("metrics.service"), success: true)
    #expect(transaction.isFinished)
}

@Test func wantsFailureDoesNotBlock() throws {
    var transaction = try Transaction(units: webStack, start: ["app.service"])
    transaction.complete(.start("db.service"), success: true)
    transaction.complete(.start("cache.service"), success: false)
    #expect(transaction.runnable == [.start("app.service")])
}

@Test func missingRequiredUnitFailsDependent() throws {
    let units = ["a.service": UnitDependencies(requires: ["ghost.service"], wants: ["phantom.service"])]
    let transaction = try Transaction(units: units, start: ["a.service"])
    #expect(transaction.results[.start("a.service")] == .dependency)
    #expect(transaction.runnable.isEmpty)
}

@Test func stopsComeBeforeStarts() throws {
    let transaction = try Transaction(units: webStack, start: ["cache.service"], stop: ["metrics.service"], active: ["metrics.service", "db.service"])
    #expect(transaction.jobs == [.stop("metrics.service"), .start("cache.service")])
    #expect(transaction.runnable == [.stop("metrics.service")])
}

@Test func orderingCycleIsAnError() {
    let units = [
        "a.service": UnitDependencies(requires: ["b.service"], after: ["b.service"]),
        "b.service": UnitDependencies(after: ["a.service"]),
    ]
    #expect(throws: TransactionError.self) {
        try Transaction(units: units, start: ["a.service"])
    }
}

@Test func bindsToPropagatesInactivity() {
    let units = [
        "app.service": UnitDependencies(),
        "sidekick.service": UnitDependencies(bindsTo: ["app.service"]),
        "sub.service": UnitDependencies(bindsTo: ["sidekick.service"]),
        "other.service": UnitDependencies(requires: ["app.service"]),
    ]
    let active: Set<String> = ["app.service", "sidekick.service", "sub.service", "other.service"]
    #expect(Transaction.unitsToStop(afterInactive: "app.service", units: units, active: active) == ["sidekick.service", "sub.service"])
    #expect(Transaction.unitsToStop(afterInactive: "app.service", units: units, active: ["app.service", "other.service"]).isEmpty)
}
