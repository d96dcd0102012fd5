import Logging
import Testing

@testable import ServiceKit

@Suite struct ObservabilityTests {
    @Test("JSON log lines are single-line objects with escaped fields and sorted metadata")
    func jsonLines() {
        let line = JSONLogHandler.render(
            timestamp: "2026-01-01T00:00:00.000000Z", level: .info, label: "kv", message: "a \"b\"\nc",
            metadata: ["z": "1", "a": "\u{1}"]
        )
        #expect(line == #"{"ts":"2026-01-01T00:00:00.000000Z","level":"info","label":"kv","msg":"a \"b\"\nc","a":"\u0001","z":"1"}"# + "\n")
    }

    @Test("the ready line names each endpoint")
    func readyLine() {
        #expect(ReadyLine.format([("client", "http://127.0.0.1:2379")]) == "listening client=http://127.0.0.1:2379")
        #expect(
            ReadyLine.format([("client", "http://127.0.0.1:1"), ("peer", "http://127.0.0.1:2")])
                == "listening client=http://127.0.0.1:1 peer=http://127.0.0.1:2"
        )
    }
}

@Suite struct ConcurrencyRuntimeTests {
    @Test("kernel CPU lists are counted as the affinity mask shows them", arguments: [
        ("0", 1), ("0-1", 2), ("0-3,8,10-11", 7), ("\t0-1\n", 2),
    ])
    func countsCPULists(list: String, expected: Int) {
        #expect(ConcurrencyRuntime.cpuCount(inList: list) == expected)
    }

    @Test("malformed lists are not guessed at")
    func rejectsMalformedLists() {
        #expect(ConcurrencyRuntime.cpuCount(inList: "") == nil)
        #expect(ConcurrencyRuntime.cpuCount(inList: "3-1") == nil)
        #expect(ConcurrencyRuntime.cpuCount(inList: "a") == nil)
    }

    @Test("this process has at least one allowed CPU")
    func allowedCPUs() {
        #expect((ConcurrencyRuntime.allowedCPUCount() ?? 1) >= 1)
    }
}
